package conformance_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mxkit/mxkit/conformance"
)

func TestLoad(t *testing.T) {
	suites, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"auth": 1000, "canonicaljson": 1000, "events": 100, "redaction": 300, "signing": 10, "stateres": 30}
	for _, s := range suites {
		if n, ok := want[s.Area]; !ok || len(s.Cases) < n {
			t.Errorf("area %s: %d cases", s.Area, len(s.Cases))
		}
		delete(want, s.Area)
		for _, c := range s.Cases {
			if c.Spec == "" || !strings.HasPrefix(c.Spec, "content/") {
				t.Errorf("%s/%s: spec %q", s.Area, c.Name, c.Spec)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("areas missing: %v", want)
	}
}

func TestCheck(t *testing.T) {
	out := func(s string) conformance.Expect { return conformance.Expect{Output: json.RawMessage(s)} }
	text := func(s string) conformance.Expect { return conformance.Expect{OutputText: &s} }
	for _, c := range []struct {
		name    string
		expect  conformance.Expect
		result  conformance.Result
		mention string // "" passes
	}{
		{"equal", out(`{"a":1,"b":[true]}`), conformance.Result{Stdout: []byte("{\"a\":1,\"b\":[true]}\n")}, ""},
		{"equal as canonical JSON", out(`{"b": [true], "a": 1}`), conformance.Result{Stdout: []byte("{\"a\":1,\"b\":[true]}\n")}, ""},
		{"value differs", out(`{"a":1}`), conformance.Result{Stdout: []byte("{\"a\":2}\n")}, "-   \"a\": 1\n+   \"a\": 2"},
		{"no newline", out(`{"a":1}`), conformance.Result{Stdout: []byte(`{"a":1}`)}, "newline"},
		{"not JSON", out(`{"a":1}`), conformance.Result{Stdout: []byte("{\"a\":\n")}, "not usable JSON"},
		{"exit status", out(`{"a":1}`), conformance.Result{Status: 2, Stderr: []byte("bad input\n")}, "exit status 2 (standard error: \"bad input\")"},
		{"compare keys", conformance.Expect{Output: json.RawMessage(`{"allowed":false}`), Compare: []string{"allowed"}}, conformance.Result{Stdout: []byte("{\"allowed\":false,\"reason\":\"x\"}\n")}, ""},
		{"compare keys differ", conformance.Expect{Output: json.RawMessage(`{"allowed":false}`), Compare: []string{"allowed"}}, conformance.Result{Stdout: []byte("{\"allowed\":true}\n")}, "comparing allowed"},
		{"compare keys absent", conformance.Expect{Output: json.RawMessage(`{"allowed":false}`), Compare: []string{"allowed"}}, conformance.Result{Stdout: []byte("{\"reason\":\"x\"}\n")}, "-   \"allowed\": false"},
		{"text equal", text(`{"a":1.0}`), conformance.Result{Stdout: []byte("{\"a\":1.0}\n")}, ""},
		{"text differs", text(`{"a":1.0}`), conformance.Result{Stdout: []byte("{\"a\":1}\n")}, "first difference at byte 6"},
		{"usage refused", conformance.Expect{Error: conformance.ErrorUsage}, conformance.Result{Status: 2, Stderr: []byte("x\n")}, ""},
		{"usage accepted", conformance.Expect{Error: conformance.ErrorUsage}, conformance.Result{Stdout: []byte("{}\n")}, "exit status 2"},
		{"usage with output", conformance.Expect{Error: conformance.ErrorUsage}, conformance.Result{Status: 2, Stdout: []byte("{}\n")}, "with output"},
	} {
		cs := conformance.Case{Name: c.name, Command: "x", Input: json.RawMessage(`{}`), Expect: c.expect}
		err := cs.Check(c.result)
		if c.mention == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var m *conformance.Mismatch
		if !errors.As(err, &m) || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: %v; want a mismatch mentioning %q", c.name, err, c.mention)
		}
	}
}

func TestArgsAndStdin(t *testing.T) {
	in := "{\"a\":1}"
	c := conformance.Case{Command: "sign", RoomVersion: "10", Key: "ed25519 1 AAAA", Server: "x", InputText: &in}
	var files []string
	args, err := c.Args(func(name string, content []byte) (string, error) {
		files = append(files, name+"="+string(content))
		return "/tmp/" + name, nil
	})
	if err != nil || strings.Join(args, " ") != "sign --room-version 10 --key /tmp/signing.key --server x" || files[0] != "signing.key=ed25519 1 AAAA" {
		t.Fatalf("%q %v %q", args, err, files)
	}
	c = conformance.Case{Command: "canonical", Strict: true, InputHex: "22ff22"}
	args, _ = c.Args(nil)
	stdin, err := c.Stdin()
	if strings.Join(args, " ") != "canonical --strict" || string(stdin) != "\"\xff\"" || err != nil {
		t.Fatalf("%q %q %v", args, stdin, err)
	}
}

func TestLoadFSRefuses(t *testing.T) {
	for _, c := range []struct{ doc, mention string }{
		{`{"area":"x","description":"","cases":[{"name":"a","spec":"s","command":"c","expect":{"output":{}}}]}`, "exactly one of input"},
		{`{"area":"x","description":"","cases":[{"name":"a","spec":"s","command":"c","input":{},"expect":{}}]}`, "exactly one of output"},
		{`{"area":"x","description":"","cases":[{"name":"a","spec":"s","command":"c","input":{},"expect":{"error":"crash"}}]}`, `expect.error "crash"`},
		{`{"area":"x","description":"","cases":[{"name":"a","spec":"s","command":"c","input_hex":"zz","expect":{"output":{}}}]}`, "input_hex"},
		{`{"area":"x","description":"","cases":[{"name":"a","spec":"s","command":"c","input":{},"expect":{"output":{}}},{"name":"a","spec":"s","command":"c","input":{},"expect":{"output":{}}}]}`, "appears twice"},
		{`{"area":"y","description":"","cases":[]}`, `area "y", want "x"`},
		{`{"area":"x","description":"","cases":[],"extra":1}`, "unknown field"},
		{`{"area":"x","description":"","cases":[{"name":"a","spec":"s","input":{},"expect":{"output":{}}}]}`, "no command"},
	} {
		_, err := conformance.LoadFS(fstest.MapFS{"suite/x.json": {Data: []byte(c.doc)}})
		if err == nil || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: %v, want an error mentioning %q", c.doc, err, c.mention)
		}
	}
}

// FuzzLoadFS: any file content gives suites or an error, never a panic,
// and a loaded case's Stdin and Args work.
func FuzzLoadFS(f *testing.F) {
	f.Add(`{"area":"x","description":"","cases":[{"name":"a","spec":"s","command":"c","input_text":"1","expect":{"output_text":"1"}}]}`)
	f.Add(`{"area":"x","cases":[{"name":"a","command":"c","input_hex":"00","keys":{},"key":"k","expect":{"error":"usage"}}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, doc string) {
		suites, err := conformance.LoadFS(fstest.MapFS{"suite/x.json": {Data: []byte(doc)}})
		if err != nil {
			return
		}
		for _, s := range suites {
			for _, c := range s.Cases {
				if _, err := c.Stdin(); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Args(func(n string, _ []byte) (string, error) { return n, nil }); err != nil {
					t.Fatal(err)
				}
				c.Check(conformance.Result{Stdout: []byte("{}\n")})
			}
		}
	})
}

func TestLineDiff(t *testing.T) {
	got := conformance.LineDiff("a\nb\nc\nd\ne\nf\ng\nh", "a\nb\nc\nd\nE\nf\ng\nh")
	want := "  …\n  c\n  d\n- e\n+ E\n  f\n  g\n  …"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
