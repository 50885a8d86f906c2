package redact_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
)

// BenchmarkRedactMessage redacts a 1.2 KB m.room.message, whose content is
// dropped entirely: Redact and Append check what they drop,
// AppendValidated only skips it.
//
// The benchmark events are compact JSON with their keys in the order
// Synapse writes them (type before content, map keys in insertion order);
// the "canonical input" runs take the canonical form instead, as the event
// package does when it computes a reference hash.
func BenchmarkRedactMessage(b *testing.B) { benchRedact(b, "testdata/bench_message.json") }

// BenchmarkRedactPowerLevels redacts a 2.7 KB m.room.power_levels event
// with 50 users (not in key order), nearly all of which is kept.
func BenchmarkRedactPowerLevels(b *testing.B) { benchRedact(b, "testdata/bench_power_levels.json") }

func benchRedact(b *testing.B, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	v := roomversion.V11
	mode := redact.Mode(v)
	buf := make([]byte, 0, 2*len(raw))
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("Redact", func() error { _, err := redact.Redact(v, raw); return err })
	run("Append", func() error { _, err := redact.Append(buf[:0], v, raw); return err })
	run("AppendValidated", func() error { _, err := redact.AppendValidated(buf[:0], v, raw); return err })
	canon, err := canonicaljson.Canonicalize(raw, mode)
	if err != nil {
		b.Fatal(err)
	}
	run("AppendValidated/canonical_input", func() error { _, err := redact.AppendValidated(buf[:0], v, canon); return err })
	run("AppendCanonical/canonical_input", func() error { _, err := redact.AppendCanonical(buf[:0], v, canon); return err })
	run("baseline=canonicaljson.Append", func() error { _, err := canonicaljson.Append(buf[:0], raw, mode); return err })
	run("baseline=canonicaljson.Valid", func() error { return canonicaljson.Valid(raw, mode) })
	run("baseline=json.Valid", func() error {
		if !json.Valid(raw) {
			b.Fatal("invalid")
		}
		return nil
	})
}
