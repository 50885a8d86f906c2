package canonicaljson_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
)

// seeds are the inputs of every test vector and the benchmark events.
func seeds(f *testing.F) [][]byte {
	var out [][]byte
	var file struct{ Cases []map[string]string }
	readJSON(f, "vectors.json", &file)
	for _, c := range file.Cases {
		if in, ok := c["input"]; ok {
			out = append(out, []byte(in))
		} else if b, err := hex.DecodeString(c["input_hex"]); err == nil {
			out = append(out, b)
		}
	}
	var spec struct{ Examples []struct{ Input string } }
	readJSON(f, "spec_examples.json", &spec)
	for _, ex := range spec.Examples {
		out = append(out, []byte(ex.Input))
	}
	for _, name := range []string{"event_1k.json", "event_32k.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// FuzzCanonicalize checks, for any input and both modes: no panic; an
// accepted input gives valid JSON that is canonical (canonicalizing it
// again changes nothing) and equal to the independent reference
// canonicalizer's output; Valid and IsCanonical agree with Canonicalize;
// and the decision agrees with encoding/json's Valid except for the
// documented extra refusals (duplicate keys, invalid UTF-8 and lone
// surrogates, numbers, depth), never for syntax.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		mode := canonicaljson.Strict
		if lenient {
			mode = canonicaljson.Lenient
		}
		out, err := canonicaljson.Canonicalize(data, mode)
		if verr := canonicaljson.Valid(data, mode); (verr == nil) != (err == nil) {
			t.Fatalf("Valid = %v, Canonicalize = %v", verr, err)
		}
		if is := canonicaljson.IsCanonical(data, mode); is != (err == nil && bytes.Equal(out, data)) {
			t.Fatalf("IsCanonical = %v, Canonicalize = %q, %v", is, out, err)
		}
		stdValid := json.Valid(data)
		if err != nil {
			var e *canonicaljson.Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > int64(len(data)) {
				t.Fatalf("error %#v", err)
			}
			if stdValid && errors.Is(err, canonicaljson.ErrSyntax) {
				t.Fatalf("encoding/json accepts %q but got %v", data, err)
			}
			return
		}
		if !stdValid {
			t.Fatalf("accepted %q, which encoding/json refuses", data)
		}
		if !json.Valid(out) {
			t.Fatalf("output %q is not JSON", out)
		}
		again, err := canonicaljson.Canonicalize(out, mode)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", data, out, again, err)
		}
		if !canonicaljson.IsCanonical(out, mode) {
			t.Fatalf("IsCanonical(%q) = false", out)
		}
		want, err := reference(data, mode)
		if err != nil || !bytes.Equal(out, want) {
			t.Fatalf("%q: got %q, reference %q (%v)", data, out, want, err)
		}
	})
}

// FuzzAppendWithout checks that leaving out a key gives the canonical
// form of the object without that member, and that the rest of the
// decision is that of Canonicalize.
func FuzzAppendWithout(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, "signatures")
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, data []byte, drop string) {
		out, err := canonicaljson.AppendWithout(nil, data, canonicaljson.Strict, drop)
		full, ferr := canonicaljson.Canonicalize(data, canonicaljson.Strict)
		if err != nil {
			if ferr == nil && len(full) > 0 && full[0] == '{' {
				t.Fatalf("AppendWithout refused an object Canonicalize accepts: %v", err)
			}
			return
		}
		if ferr != nil {
			t.Fatalf("AppendWithout accepted what Canonicalize refuses: %v", ferr)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(full, &obj); err != nil {
			t.Fatalf("not an object: %q", full)
		}
		delete(obj, drop)
		want, err := canonicaljson.Marshal(obj, canonicaljson.Strict)
		if err != nil || !bytes.Equal(out, want) {
			t.Fatalf("%q without %q: got %q, want %q (%v)", data, drop, out, want, err)
		}
	})
}
