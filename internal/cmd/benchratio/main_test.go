package main

import (
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
pkg: github.com/mxkit/mxkit/event
BenchmarkVerify/message/mxkit-2         	   20000	     60000 ns/op	     512 B/op	      10 allocs/op
BenchmarkVerify/message/baseline=ed25519.Verify-2	   20000	     50000 ns/op	       0 B/op	       0 allocs/op
BenchmarkVerify/message/mxkit-2         	   20000	     66000 ns/op	     512 B/op	      10 allocs/op
BenchmarkVerify/message/baseline=ed25519.Verify-2	   20000	     60000 ns/op	       0 B/op	       0 allocs/op
BenchmarkVerify/message/mxkit-2         	   20000	     70000 ns/op	     512 B/op	      10 allocs/op
BenchmarkVerify/message/baseline=ed25519.Verify-2	   20000	     55000 ns/op	       0 B/op	       0 allocs/op
BenchmarkAlone-2	1000	1500 ns/op
pkg: github.com/mxkit/mxkit/redact
BenchmarkVerify/message/mxkit-2	10	1000 ns/op
`

func TestRatios(t *testing.T) {
	var out strings.Builder
	if err := run(strings.NewReader(sampleOutput), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	// Medians 66000 and 55000: ratio 1.20, allocs 10.
	for _, want := range []string{
		"| event | Verify/message/mxkit | 66.00 µs | 10 | baseline=ed25519.Verify (55.00 µs) | 1.20 |",
		"| event | Verify/message/baseline=ed25519.Verify | 55.00 µs | 0 |  |  |",
		"| event | Alone | 1.50 µs |  |  |  |",
		// Same name in another package: no baseline there.
		"| redact | Verify/message/mxkit | 1.00 µs |  |  |  |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestMedianEven(t *testing.T) {
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatalf("median = %v", m)
	}
	if trimProcs("BenchmarkX/a-b-2") != "BenchmarkX/a-b" || trimProcs("BenchmarkX/a-b") != "BenchmarkX/a-b" {
		t.Fatal("trimProcs")
	}
}

// FuzzRun: any input is read without panicking, and every benchmark line
// it reads gives a table row.
func FuzzRun(f *testing.F) {
	f.Add(sampleOutput)
	f.Add("pkg: x\nBenchmarkA/baseline=b-2 1 NaN ns/op\nBenchmarkA/c-2 1 0 ns/op\n")
	f.Add("BenchmarkX-2 1 5 ns/op 7 allocs/op")
	f.Fuzz(func(t *testing.T, in string) {
		var out strings.Builder
		if err := run(strings.NewReader(in), &out); err != nil {
			return // a line over the scanner's limit
		}
		if !strings.HasPrefix(out.String(), "| package |") {
			t.Fatalf("no table header: %q", out.String())
		}
	})
}
