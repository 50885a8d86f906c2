//go:build goexperiment.jsonv2

package bench

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	"os"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
	mautrix "maunium.net/go/mautrix/crypto/canonicaljson"
)

// canonicalInputs are the benchmark events of the canonicaljson package: a
// ~1 KB message event and a ~32 KB power-levels event, both with their
// keys out of order.
var canonicalInputs = []struct{ name, file string }{
	{"1k", "../canonicaljson/testdata/event_1k.json"},
	{"32k", "../canonicaljson/testdata/event_32k.json"},
}

func readInput(tb testing.TB, file string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// mautrixCanonical runs mautrix's canonicalizer, which works in place, on
// a copy of raw kept in buf.
func mautrixCanonical(buf, raw []byte) ([]byte, error) {
	v := jsontext.Value(append(buf[:0], raw...))
	err := mautrix.Canonicalize(&v)
	return v, err
}

// TestCanonicalSameOutput checks that both libraries agree, byte for byte,
// on the benchmark inputs and on the specification's examples, so that the
// benchmark compares the same work.
func TestCanonicalSameOutput(t *testing.T) {
	inputs := map[string][]byte{}
	for _, in := range canonicalInputs {
		inputs[in.name] = readInput(t, in.file)
	}
	var spec struct {
		Examples []struct{ Input, Canonical string }
	}
	if err := json.Unmarshal(readInput(t, "../canonicaljson/testdata/spec_examples.json"), &spec); err != nil {
		t.Fatal(err)
	}
	for _, ex := range spec.Examples {
		inputs[ex.Input] = []byte(ex.Input)
	}
	for name, raw := range inputs {
		ours, err := canonicaljson.Canonicalize(raw, canonicaljson.Strict)
		if err != nil {
			t.Fatalf("%s: mxkit: %v", name, err)
		}
		theirs, err := mautrixCanonical(nil, raw)
		if err != nil {
			t.Fatalf("%s: mautrix: %v", name, err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("%s: outputs differ\nmxkit   %s\nmautrix %s", name, ours, theirs)
		}
	}
}

// BenchmarkCanonicalJSON canonicalizes the same inputs with mxkit (Strict,
// room versions 6+) and mautrix, appending into a reused buffer, beside
// encoding/json's Valid on the same bytes.
func BenchmarkCanonicalJSON(b *testing.B) {
	for _, in := range canonicalInputs {
		raw := readInput(b, in.file)
		b.Run(in.name+"/mxkit", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			buf := make([]byte, 0, len(raw))
			for b.Loop() {
				var err error
				if buf, err = canonicaljson.Append(buf[:0], raw, canonicaljson.Strict); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/mautrix", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			buf := make([]byte, 0, len(raw))
			for b.Loop() {
				var err error
				if buf, err = mautrixCanonical(buf, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/baseline=json.Valid", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if !json.Valid(raw) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
