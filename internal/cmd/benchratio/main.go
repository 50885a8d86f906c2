// Command benchratio reads `go test -bench` output and prints, for every
// benchmark that has a sibling sub-benchmark named "baseline=<what>", the
// median time of each sub-benchmark over all runs (-count) and its ratio
// to the baseline's median from the same output. BENCHMARKS.md records
// figures this way: a ratio to a baseline measured in the same run is
// much steadier on a small, noisy machine than a time alone.
//
// Usage:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./... | tee bench.txt
//	go run ./internal/cmd/benchratio < bench.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

type sample struct{ ns, bytes, allocs []float64 }

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	pkg := ""
	samples := map[string]*sample{}
	var order []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/mxkit/mxkit/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := pkg + " " + trimProcs(f[0])
		s := samples[name]
		if s == nil {
			s = &sample{}
			samples[name] = s
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintln(out, "| package | benchmark | median | allocs/op | baseline | ratio |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, name := range order {
		s := samples[name]
		if len(s.ns) == 0 {
			continue
		}
		pkgName, bench, _ := strings.Cut(name, " ")
		base, baseName := findBaseline(samples, pkgName, bench)
		ratio, baseCol := "", ""
		if base != nil && !strings.Contains(bench, "baseline=") {
			ratio = fmt.Sprintf("%.2f", median(s.ns)/median(base.ns))
			baseCol = fmt.Sprintf("%s (%s)", baseName, dur(median(base.ns)))
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s |\n", pkgName, strings.TrimPrefix(bench, "Benchmark"), dur(median(s.ns)), allocs(s.allocs), baseCol, ratio)
	}
	return nil
}

// findBaseline returns the "baseline=" sibling of bench: the sub-benchmark
// of the same parent whose last element starts with "baseline=".
func findBaseline(samples map[string]*sample, pkg, bench string) (*sample, string) {
	parent := bench
	if i := strings.LastIndex(bench, "/"); i >= 0 {
		parent = bench[:i]
	}
	var best string
	for name := range samples {
		p, b, _ := strings.Cut(name, " ")
		if p != pkg || !strings.HasPrefix(b, parent+"/baseline=") || strings.Count(b, "/") != strings.Count(bench, "/") {
			continue
		}
		if best == "" || b < best {
			best = b
		}
	}
	if best == "" {
		return nil, ""
	}
	return samples[pkg+" "+best], strings.TrimPrefix(best, parent+"/")
}

// trimProcs drops the -N GOMAXPROCS suffix of a benchmark name.
func trimProcs(name string) string {
	if i := strings.LastIndex(name, "-"); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

func median(v []float64) float64 {
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	n := len(c)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

func allocs(v []float64) string {
	if len(v) == 0 {
		return ""
	}
	return strconv.FormatFloat(median(v), 'f', -1, 64)
}

func dur(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
