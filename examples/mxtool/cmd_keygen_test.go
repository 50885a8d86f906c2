package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/signing"
)

func TestKeygen(t *testing.T) {
	r := runTool(t, "", "keygen", "--server", "example.org")
	if r.code != 0 {
		t.Fatalf("status %d, stderr %q", r.code, r.stderr)
	}
	if !strings.HasSuffix(r.stdout, "\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("output %q is not one line", r.stdout)
	}
	if !regexp.MustCompile(`^ed25519 a_[a-zA-Z0-9]{4} [A-Za-z0-9+/]{43}\n$`).MatchString(r.stdout) {
		t.Errorf("output %q does not have the documented form", r.stdout)
	}
	key, err := signing.ParseKeyFile([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(key.ID), "ed25519:a_") {
		t.Errorf("key ID %q", key.ID)
	}
	// Two runs give two keys.
	r2 := runTool(t, "", "keygen", "--server", "example.org")
	if r2.code != 0 || r2.stdout == r.stdout {
		t.Errorf("second run: status %d, same key %v", r2.code, r2.stdout == r.stdout)
	}
	// Input is not read: whatever is on standard input does not matter.
	if r3 := runTool(t, "not json", "keygen", "--server", "example.org"); r3.code != 0 {
		t.Errorf("with input: status %d", r3.code)
	}
}

func TestKeygenUsage(t *testing.T) {
	cases := [][]string{
		{"keygen"},
		{"keygen", "--server", ""},
		{"keygen", "--server", "a b"},
		{"keygen", "--server", "example.org", "extra"},
		{"keygen", "--server"},
		{"keygen", "--bogus", "x", "--server", "example.org"},
	}
	for _, args := range cases {
		if r := runTool(t, "", args...); r.code != 2 {
			t.Errorf("%q: status %d, want 2", args, r.code)
		}
	}
}

func TestRandomKeyVersion(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		v, err := randomKeyVersion()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signing.ParseKeyID("ed25519:" + v); err != nil || len(v) != 6 || !strings.HasPrefix(v, "a_") {
			t.Fatalf("version %q: %v", v, err)
		}
		seen[v] = true
	}
	if len(seen) < 190 {
		t.Errorf("only %d distinct versions in 200", len(seen))
	}
}
