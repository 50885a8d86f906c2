package canonicaljson_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
)

var benchInputs = []struct{ name, file string }{
	{"1k", "event_1k.json"},
	{"32k", "event_32k.json"},
}

func loadBench(b *testing.B, file string) []byte {
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkCanonicalize measures canonicalization of a ~1 KB message event
// and a ~32 KB power-levels event (keys not in order, as a typical
// encoder writes them), beside encoding/json's Valid and Compact on the
// same bytes: the goal is to be no slower than Valid.
func BenchmarkCanonicalize(b *testing.B) {
	for _, in := range benchInputs {
		raw := loadBench(b, in.file)
		b.Run(in.name+"/Canonicalize", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := canonicaljson.Canonicalize(raw, canonicaljson.Strict); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/Append", func(b *testing.B) {
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
		b.Run(in.name+"/baseline=json.Valid", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if !json.Valid(raw) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(in.name+"/baseline=json.Compact", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := json.Compact(&buf, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendWithout is the signing and content-hash path: leave out
// signatures, unsigned (and hashes) in the same pass.
func BenchmarkAppendWithout(b *testing.B) {
	for _, in := range benchInputs {
		raw := loadBench(b, in.file)
		b.Run(in.name+"/AppendWithout", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			buf := make([]byte, 0, len(raw))
			for b.Loop() {
				var err error
				if buf, err = canonicaljson.AppendWithout(buf[:0], raw, canonicaljson.Strict, "signatures", "unsigned", "hashes"); err != nil {
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

// BenchmarkIsCanonical checks already-canonical input, the common case for
// events received from other servers.
func BenchmarkIsCanonical(b *testing.B) {
	for _, in := range benchInputs {
		raw, err := canonicaljson.Canonicalize(loadBench(b, in.file), canonicaljson.Strict)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(in.name+"/IsCanonical", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if !canonicaljson.IsCanonical(raw, canonicaljson.Strict) {
					b.Fatal("not canonical")
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
