package main

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestCanonicalSpecExamples runs every example of the specification
// appendix "Canonical JSON" through the tool, with and without --strict.
// Without --strict numbers follow room versions 1 to 5, where the
// reference server writes 1e10 as the float 10000000000.0.
func TestCanonicalSpecExamples(t *testing.T) {
	data, err := os.ReadFile("../../canonicaljson/testdata/spec_examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Examples []struct{ Input, Canonical, Lenient string }
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Examples) == 0 {
		t.Fatal("no examples")
	}
	for _, ex := range file.Examples {
		if r := runTool(t, ex.Input, "canonical", "--strict"); r.code != 0 || r.stdout != ex.Canonical+"\n" || r.stderr != "" {
			t.Errorf("--strict %q: status %d, stdout %q, stderr %q; want %q", ex.Input, r.code, r.stdout, r.stderr, ex.Canonical)
		}
		if r := runTool(t, ex.Input, "canonical"); r.code != 0 || r.stdout != ex.Lenient+"\n" {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want %q", ex.Input, r.code, r.stdout, r.stderr, ex.Lenient)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, c := range []struct {
		name, in string
		args     []string
		want     string
	}{
		{"any value: string", ` "a\/b" `, nil, `"a/b"`},
		{"any value: number", `12`, []string{"--strict"}, `12`},
		{"any value: array", `[ 1, {"b":2, "a":1} ]`, nil, `[1,{"a":1,"b":2}]`},
		{"escapes", `["\u0001\u001F\u007f\u2028", "\ud83d\ude00"]`, nil, "[\"\\u0001\\u001f\u007f\u2028\",\"\U0001F600\"]"},
		{"code point order", `{"\ud83d\ude00":1,"\uff61":2}`, nil, "{\"\uff61\":2,\"\U0001F600\":1}"},
		{"strict integral values", `{"a":-0,"b":1e10,"c":2.0}`, []string{"--strict"}, `{"a":0,"b":10000000000,"c":2}`},
		{"lenient numbers", `[-0, 1.5, 1e16, 0.00001, 12345678901234567890, -0.0]`, nil, `[0,1.5,1e+16,1e-05,12345678901234567890,-0.0]`},
		{"flag with =", `[1]`, []string{"--strict=true"}, `[1]`},
		{"flag false", `[1.5]`, []string{"--strict=false"}, `[1.5]`},
	} {
		r := runTool(t, c.in, append([]string{"canonical"}, c.args...)...)
		if r.code != 0 || r.stdout != c.want+"\n" || r.stderr != "" {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want %q", c.name, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

// TestCanonicalRefusals: unusable input is status 2, one line on standard
// error naming the problem, nothing on standard output.
func TestCanonicalRefusals(t *testing.T) {
	for _, c := range []struct {
		name, in string
		args     []string
		want     string // in the error line
	}{
		{"empty input", ``, nil, "end of input"},
		{"not JSON", `{a:1}`, nil, "offset 1"},
		{"trailing garbage", `{} {}`, nil, "after the top-level value"},
		{"duplicate keys", `{"a":1,"a":2}`, nil, "duplicate object key"},
		{"escaped duplicate keys", `{"a":1,"\u0061":2}`, []string{"--strict"}, "duplicate object key"},
		{"fraction in strict", `{"a":1.5}`, []string{"--strict"}, "not an integer"},
		{"out of range in strict", `[9007199254740992]`, []string{"--strict"}, "outside"},
		{"overflow", `[1e999]`, nil, "too large"},
		{"NaN", `[NaN]`, nil, "invalid character"},
		{"invalid UTF-8", "[\"\xff\"]", nil, "invalid UTF-8"},
		{"lone surrogate", `["\ud800"]`, nil, "surrogate"},
		{"too deep", strings.Repeat("[", 100000), nil, "nesting"},
		{"unknown flag", `{}`, []string{"--lenient"}, "flag"},
		{"positional argument", `{}`, []string{"x"}, "unexpected argument"},
	} {
		r := runTool(t, c.in, append([]string{"canonical"}, c.args...)...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, c.want) || !strings.HasPrefix(r.stderr, "mxtool canonical: ") {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want status 2 and %q", c.name, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

// TestWriteJSON checks the output helper the other subcommands use.
func TestWriteJSON(t *testing.T) {
	var out strings.Builder
	e := &env{stdout: &out}
	v := struct {
		Valid bool   `json:"valid"`
		Error string `json:"error,omitempty"`
		Raw   any    `json:"raw"`
	}{Valid: false, Error: "bad <sig>", Raw: map[string]any{"z": 1, "a": "é"}}
	if err := writeJSON(e, v); err != nil {
		t.Fatal(err)
	}
	if want := `{"error":"bad <sig>","raw":{"a":"é","z":1},"valid":false}` + "\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	if err := writeJSON(e, func() {}); err == nil {
		t.Fatal("writeJSON of a func succeeded")
	}
	out.Reset()
	err := writeCanonical(e, []byte(`{"a":1,"a":1}`), 0)
	var ue *usageError
	if !errors.As(err, &ue) || out.Len() != 0 {
		t.Fatalf("writeCanonical of duplicate keys: %v (want a usage error), wrote %q", err, out.String())
	}
}
