// Command specendpoints lists the endpoints of the client-server API from
// the specification's OpenAPI files (data/api/client-server/*.yaml of
// matrix-org/matrix-spec) at every release from v1.1 on, as a TSV file:
// one line per method and path, with the file (module) it is defined in
// at the newest release that has it, the first release that has it, the
// first release after that which no longer has it, and whether it is
// deprecated. The list is the input of the coverage table and of the
// versions clientapi advertises (internal/specendpoints); nothing of the
// specification's text is kept.
//
//	go run ./internal/cmd/specendpoints -repo PATH > internal/specendpoints/endpoints.tsv
//
// PATH is a git clone of matrix-org/matrix-spec with its release tags
// (vX.Y); the files are read with git archive.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// openAPI is the part of an OpenAPI 3 document that is read.
type openAPI struct {
	BasePath string                          `yaml:"basePath"`
	Paths    map[string]map[string]operation `yaml:"paths"`
	Servers  []struct {
		Variables struct {
			BasePath struct {
				Default string `yaml:"default"`
			} `yaml:"basePath"`
		} `yaml:"variables"`
	} `yaml:"servers"`
}

type operation struct {
	Deprecated bool `yaml:"deprecated"`
}

var methods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true}

func main() {
	repo := flag.String("repo", "", "a git clone of matrix-org/matrix-spec")
	flag.Parse()
	if *repo == "" {
		fmt.Fprintln(os.Stderr, "usage: specendpoints -repo DIR")
		os.Exit(2)
	}
	if err := run(os.Stdout, *repo); err != nil {
		fmt.Fprintln(os.Stderr, "specendpoints:", err)
		os.Exit(1)
	}
}

// releases returns the v1.N tags in order.
func releases(repo string) ([]string, error) {
	out, err := exec.Command("git", "-C", repo, "tag", "--list", "v1.*").Output()
	if err != nil {
		return nil, fmt.Errorf("git tag: %w", err)
	}
	var minors []int
	for _, t := range strings.Fields(string(out)) {
		if n, err := strconv.Atoi(strings.TrimPrefix(t, "v1.")); err == nil && n >= 1 {
			minors = append(minors, n)
		}
	}
	sort.Ints(minors)
	var tags []string
	for _, n := range minors {
		tags = append(tags, "v1."+strconv.Itoa(n))
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("no v1.N tags in %s", repo)
	}
	return tags, nil
}

type endpoint struct {
	module     string
	deprecated bool
}

// endpoints reads the client-server OpenAPI files of one release.
func endpoints(repo, tag string) (map[string]endpoint, error) {
	data, err := exec.Command("git", "-C", repo, "archive", tag, "data/api/client-server").Output()
	if err != nil {
		return nil, fmt.Errorf("git archive %s: %w", tag, err)
	}
	eps := map[string]endpoint{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if path.Dir(h.Name) != "data/api/client-server" || !strings.HasSuffix(h.Name, ".yaml") {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		var doc openAPI
		if err := yaml.Unmarshal(body, &doc); err != nil {
			return nil, fmt.Errorf("%s %s: %w", tag, h.Name, err)
		}
		base := ""
		if len(doc.Servers) > 0 {
			base = doc.Servers[0].Variables.BasePath.Default
		}
		if base == "" {
			base = doc.BasePath // Swagger 2 (older releases)
		}
		module := strings.TrimSuffix(path.Base(h.Name), ".yaml")
		for p, ops := range doc.Paths {
			// A path written twice in one file is told apart by
			// trailing spaces (two definitions of one endpoint).
			p = strings.TrimSpace(p)
			for m, op := range ops {
				if !methods[m] {
					continue
				}
				k := strings.ToUpper(m) + "\t" + base + p
				if prev, ok := eps[k]; ok {
					// Defined in two files (the 3PID invite beside the
					// invite; /events of peeking beside the old sync):
					// the first file in name order names the module, and
					// it is deprecated only if both say so.
					prev.deprecated = prev.deprecated && op.Deprecated
					eps[k] = prev
					continue
				}
				eps[k] = endpoint{module, op.Deprecated}
			}
		}
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("%s: no endpoints", tag)
	}
	return eps, nil
}

func run(w io.Writer, repo string) error {
	tags, err := releases(repo)
	if err != nil {
		return err
	}
	type row struct {
		endpoint
		added, removed string
	}
	rows := map[string]*row{}
	for _, tag := range tags {
		eps, err := endpoints(repo, tag)
		if err != nil {
			return err
		}
		for k, e := range eps {
			r := rows[k]
			if r == nil || r.removed != "" {
				// New, or back after a removal (counted from its return).
				r = &row{added: tag}
				rows[k] = r
			}
			r.endpoint = e
		}
		for k, r := range rows {
			if _, ok := eps[k]; !ok && r.removed == "" {
				r.removed = tag
			}
		}
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "# Client-server API endpoints of the Matrix specification, releases %s to %s (data/api/client-server/*.yaml).\n", tags[0], tags[len(tags)-1])
	fmt.Fprintf(w, "# Generated by internal/cmd/specendpoints. Columns: method, path, module (OpenAPI file), first release, first release without it, deprecated.\n")
	for _, k := range keys {
		r := rows[k]
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\n", k, r.module, r.added, r.removed, r.deprecated)
	}
	return nil
}
