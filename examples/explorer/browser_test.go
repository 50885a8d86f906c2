package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The pages are checked in a real browser: Debian's chromium, headless,
// with no network. The page's own script writes data-status="rendered"
// on <body> when it has drawn the graph and the trace (or "error" and the
// message when anything throws), which --dump-dom shows.

// chromium returns the browser's path, or fails (in CI) or skips the test
// when it is not installed.
func chromium(t *testing.T) string {
	t.Helper()
	if raceEnabled {
		// The browser runs the page's JavaScript, not the Go code under
		// the race detector; the test's plain run covers it.
		t.Skip("the browser test runs without the race detector only")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; CI must install it with .ci/install-browser (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (on Debian: apt-get install chromium, or run .ci/install-browser); skipping the browser test")
	return ""
}

type browserRun struct {
	dom    string
	stderr string
}

// browse loads the page at path (with the fragment frag) in headless
// chromium, dumps its DOM and, when shot is not empty, takes a screenshot.
func browse(t *testing.T, bin, path, frag, shot string) browserRun {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	u := (&url.URL{Scheme: "file", Path: abs}).String()
	if frag != "" {
		u += "#" + frag
	}
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--window-size=1400,900", "--dump-dom",
	}
	if shot != "" {
		args = append(args, "--screenshot="+shot)
	}
	// A bound on a browser that hangs, so that CI ends with a message; it
	// measures nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, u)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", u, err, errb.String())
	}
	r := browserRun{dom: out.String(), stderr: errb.String()}
	if !strings.Contains(r.dom, `data-status="rendered"`) {
		status := regexp.MustCompile(`<div id="status"[^>]*>([^<]*)<`).FindStringSubmatch(r.dom)
		t.Fatalf("%s did not render: status %q\nbrowser log:\n%s", u, status, r.stderr)
	}
	for _, bad := range []string{"Uncaught", "Refused to", "ERR_"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("%s: the browser reports %q:\n%s", u, bad, r.stderr)
		}
	}
	return r
}

func writePageFile(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if r := runExplorer(t, append(args, "-o", path)...); r.code != 0 {
		t.Fatalf("explorer %q: status %d: %s", args, r.code, r.stderr)
	}
	return path
}

func nodes(dom string) int {
	m := regexp.MustCompile(`data-nodes="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || len(data) < 20_000 {
		t.Fatalf("%s: not a plausible screenshot (%d bytes)", path, len(data))
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(data))
}

func TestBrowser(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	// Screenshots go to the test's temporary directory, or to
	// $EXPLORER_SCREENSHOTS to keep them.
	shots := dir
	if d := os.Getenv("EXPLORER_SCREENSHOTS"); d != "" {
		shots = d
	}

	t.Run("scenario", func(t *testing.T) {
		t.Parallel()
		page := writePageFile(t, dir, "scenario.html", "-in", "testdata/msc4297_b_v21.json")
		shot := filepath.Join(shots, "scenario.png")
		r := browse(t, bin, page, "event=$power_levels.01&auth=1", shot)
		if n := nodes(r.dom); n != 11 {
			t.Errorf("%d nodes drawn, want the 11 events", n)
		}
		for _, want := range []string{
			`<svg xmlns="http://www.w3.org/2000/svg" id="dag"`,
			"11 events (11 state), 1 forks, 2 forward extremities",
			`<h3 id="conflicts">Conflicted keys (3)</h3>`,
			`<h3 id="conflicted">Conflicted set (4)</h3>`,
			`<h3 id="auth-difference">Auth difference (3)</h3>`,
			`<h3 id="subgraph">Conflicted state subgraph (8)</h3>`,
			`<h3 id="power-order">Power events, reverse topological power order (5)</h3>`,
			`<h3 id="checks">Iterative auth checks (8)</h3>`,
			"fork ×2", ">tip<",
			// The selected event's JSON and facts.
			`"type": "m.room.power_levels"`, "in the conflicted subgraph", "check #3 (power): allowed",
		} {
			if !strings.Contains(r.dom, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if n := strings.Count(r.dom, `class="auth"`); n < 10 {
			t.Errorf("%d auth edges drawn", n)
		}
		if n := strings.Count(r.dom, `class="hl subgraph"`); n != 8 {
			t.Errorf("%d events marked as in the subgraph, want 8", n)
		}
		checkPNG(t, shot)
	})

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		page := writePageFile(t, dir, "refused.html", "-in", "testdata/ban_vs_power_levels_v10.json")
		r := browse(t, bin, page, "", "")
		for _, want := range []string{
			`refused by <span class="rule">sender.not_joined</span>`,
			`class="refused-x"`, `<tr class="refused">`,
		} {
			if !strings.Contains(r.dom, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})

	t.Run("10 events", func(t *testing.T) {
		t.Parallel()
		page := writePageFile(t, dir, "small.html", "-gen", "-members", "1", "-fork-events", "2")
		r := browse(t, bin, page, "", "")
		m := regexp.MustCompile(`(\d+) events \(\d+ state\)`).FindStringSubmatch(r.dom)
		if m == nil {
			t.Fatal("no summary")
		}
		events, _ := strconv.Atoi(m[1])
		if events < 10 || events > 20 || nodes(r.dom) < 5 || nodes(r.dom) > events {
			t.Errorf("%s events, %d nodes", m[1], nodes(r.dom))
		}
	})

	t.Run("10000 events", func(t *testing.T) {
		t.Parallel()
		page := writePageFile(t, dir, "large.html", "-gen", "-members", "8300")
		shot := filepath.Join(shots, "large.png")
		r := browse(t, bin, page, "", shot)
		m := regexp.MustCompile(`rendered (\d+) nodes for (\d+) events \((\d+) collapsed runs\)`).FindStringSubmatch(r.dom)
		if m == nil {
			t.Fatal("no status")
		}
		drawn, _ := strconv.Atoi(m[1])
		events, _ := strconv.Atoi(m[2])
		if events < 10000 || drawn > 200 || m[3] == "0" {
			t.Errorf("%d events drawn as %d nodes with %s collapsed runs; want over 10000 events in at most 200 nodes", events, drawn, m[3])
		}
		if !strings.Contains(r.dom, "events (") || !strings.Contains(r.dom, "click to expand") {
			t.Error("no collapsed run on the page")
		}
		checkPNG(t, shot)
	})

	t.Run("10000 events expanded", func(t *testing.T) {
		t.Parallel()
		page := writePageFile(t, dir, "expanded.html", "-gen", "-members", "8300")
		r := browse(t, bin, page, "collapse=0", "")
		if n := nodes(r.dom); n < 10000 {
			t.Errorf("%d nodes drawn with collapsing off", n)
		}
		if got := len(regexp.MustCompile(`<g class="node ev-node[^"]*" data-k=`).FindAllStringIndex(r.dom, -1)); got != nodes(r.dom) {
			t.Errorf("%d event nodes in the SVG, status says %d", got, nodes(r.dom))
		}
	})
}
