package main

import (
	"bytes"
	"strings"
	"testing"
)

// result is what one run of the tool produced.
type result struct {
	stdout, stderr string
	code           int
}

// runTool runs mxtool in-process with the given arguments and input.
func runTool(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	r := result{stdout: out.String(), stderr: errb.String(), code: code}
	// The contract: nothing on standard output for status 2 (and for
	// status 1 only a command's report, as conform writes), and exactly
	// one line on standard error for status 2.
	if code == 2 && r.stdout != "" {
		t.Errorf("mxtool %v: status %d with output %q", args, code, r.stdout)
	}
	if code == 2 && strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("mxtool %v: status 2 with stderr %q, want one line", args, r.stderr)
	}
	return r
}

func TestUnknownSubcommand(t *testing.T) {
	if r := runTool(t, "", "frobnicate"); r.code != 2 {
		t.Fatalf("status %d, want 2", r.code)
	}
	if r := runTool(t, ""); r.code != 2 {
		t.Fatalf("no subcommand: status %d, want 2", r.code)
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	r := runTool(t, "", "help")
	if r.code != 0 {
		t.Fatalf("status %d", r.code)
	}
	for name := range commands {
		if !strings.Contains(r.stdout, name) {
			t.Errorf("help does not list %q", name)
		}
	}
}
