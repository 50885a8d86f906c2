package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/internal/specendpoints"
)

// TestCoverageUpToDate fails while docs/coverage.md is not what the
// command writes: regenerate it with `go run ./internal/cmd/coverage`.
func TestCoverageUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the example homeserver")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	touchSources(t, filepath.Join(root, "examples", "homeserver"))
	got, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "docs", "coverage.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("docs/coverage.md is stale (line %d: have %q, now %q): run go run ./internal/cmd/coverage", i+1, wl[i], gl[i])
			}
		}
		t.Fatalf("docs/coverage.md is stale (%d lines, now %d): run go run ./internal/cmd/coverage", len(wl), len(gl))
	}
}

// touchSources opens the homeserver's sources, so that go test's cache
// of this test's result is invalidated when they change (the homeserver
// is built by a subprocess, which the cache does not see).
func touchSources(t *testing.T, dir string) {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "node_modules" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			f.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRender(t *testing.T) {
	rows := []row{
		{Endpoint: specendpoints.Endpoint{Method: "GET", Path: "/a", Module: "m1", Added: "v1.1"}, routed: true, served: true},
		{Endpoint: specendpoints.Endpoint{Method: "PUT", Path: "/b", Module: "m1", Added: "v1.2", Deprecated: true}, routed: true},
		{Endpoint: specendpoints.Endpoint{Method: "GET", Path: "/c", Module: "m0", Added: "v1.1"}},
	}
	doc := string(render(rows, []string{"v1.1"}))
	for _, want := range []string{
		"| **all** | 3 | 2 (66%) | 1 (33%) |",
		"advertises: v1.1.",
		"| m0 | 1 | 0 | 0 |\n| m1 | 2 | 2 | 1 |",
		"| PUT | `/b` (deprecated) | v1.2 | yes | no |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("render lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "Deliberate exceptions") {
		t.Errorf("exceptions section without exceptions:\n%s", doc)
	}
}

// TestRenderExceptions: an exception is shown as such and never counted
// as served, and the line of the exceptions gives the share of the rest.
func TestRenderExceptions(t *testing.T) {
	x := exceptions[0]
	rows := []row{
		{Endpoint: specendpoints.Endpoint{Method: "GET", Path: "/a", Module: "m1", Added: "v1.1"}, routed: true, served: true},
		{Endpoint: specendpoints.Endpoint{Method: x.Method, Path: x.Path, Module: "m2", Added: "v1.1"}, routed: true, exception: x.Why},
	}
	doc := string(render(rows, nil))
	for _, want := range []string{
		"| **all** | 2 | 2 (100%) | 1 (50%) |",
		"With the 1 deliberate exceptions below, the example homeserver serves 1 of the other 1\nendpoints (100%).",
		"| " + x.Method + " | `" + x.Path + "` | v1.1 | yes | exception |",
		"| " + x.Method + " | `" + x.Path + "` | 404 `M_UNRECOGNIZED` | ",
		"| m2 | 1 | 1 | 0 |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("render lacks %q:\n%s", want, doc)
		}
	}
}
