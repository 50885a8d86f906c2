package event

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"os"
	"runtime"
	"testing"

	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// The benchmark events: a message of about 1 KB and a power levels event
// with 50 users, both room version 10, signed with the specification's
// test key for the server example.org.
var benchEvents = []struct{ name, file string }{
	{"message", "testdata/bench_message.json"},
	{"power_levels", "testdata/bench_power_levels.json"},
}

var benchVersion = roomversion.V10

func loadBench(b *testing.B, file string) []byte {
	b.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	return bytes.TrimSpace(raw)
}

func benchRing(b *testing.B) *signing.MemoryKeyRing {
	ring := signing.NewMemoryKeyRing()
	k := specKey(b)
	ring.Add("example.org", k.ID, signing.PublicKey{Key: k.Public(), ValidUntilTS: 1 << 50})
	return ring
}

// signedForm returns the bytes the event's signature covers.
func signedForm(b *testing.B, raw []byte) []byte {
	e, err := Parse(benchVersion, raw)
	if err != nil {
		b.Fatal(err)
	}
	s, err := e.appendSigned(nil)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkParse(b *testing.B) {
	for _, be := range benchEvents {
		raw := loadBench(b, be.file)
		b.Run("event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Parse(benchVersion, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("baseline=json.Valid/event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if !json.Valid(raw) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run("baseline=sha256/event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				sha256.Sum256(raw)
			}
		})
	}
}

func BenchmarkContentHash(b *testing.B) {
	for _, be := range benchEvents {
		raw := loadBench(b, be.file)
		e, err := Parse(benchVersion, raw)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				e.ContentHash()
			}
		})
		// The package function canonicalizes; the event's method copies
		// the members of its canonical bytes.
		b.Run("raw/event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := ContentHash(benchVersion, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("baseline=sha256/event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				sha256.Sum256(raw)
			}
		})
	}
}

// BenchmarkEventID computes the ID of a parsed event (redaction, then the
// reference hash); each iteration uses a fresh copy of the parsed event,
// since the ID is kept once computed.
func BenchmarkEventID(b *testing.B) {
	for _, be := range benchEvents {
		raw := loadBench(b, be.file)
		parsed, err := Parse(benchVersion, raw)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e := freshCopy(parsed)
				if e.ID() == "" {
					b.Fatal("no ID")
				}
			}
		})
		b.Run("raw/event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EventID(benchVersion, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		signed := signedForm(b, raw)
		b.Run("baseline=sha256/event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sha256.Sum256(signed)
			}
		})
	}
}

// freshCopy copies an event without its computed ID (the copy shares the
// immutable bytes).
func freshCopy(e *Event) *Event {
	c := &Event{}
	*c = Event{
		v: e.v, raw: e.raw, sender: e.sender, typ: e.typ, roomID: e.roomID, hasRoomID: e.hasRoomID,
		stateKey: e.stateKey, isState: e.isState, redacts: e.redacts, membership: e.membership,
		content: e.content, depth: e.depth, ts: e.ts, prev: e.prev, auth: e.auth,
		hashes: e.hashes, signatures: e.signatures, unsigned: e.unsigned,
		hashesMember: e.hashesMember, signaturesMember: e.signaturesMember, unsignedMember: e.unsignedMember,
		canonical: e.canonical, canonLen: e.canonLen,
	}
	return c
}

func BenchmarkRedact(b *testing.B) {
	for _, be := range benchEvents {
		raw := loadBench(b, be.file)
		e, err := Parse(benchVersion, raw)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Redacted(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("baseline=sha256/event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sha256.Sum256(raw)
			}
		})
	}
}

// BenchmarkSign builds and signs an event like the benchmark events.
func BenchmarkSign(b *testing.B) {
	key := specKey(b)
	for _, be := range benchEvents {
		raw := loadBench(b, be.file)
		e, err := Parse(benchVersion, raw)
		if err != nil {
			b.Fatal(err)
		}
		sk, isState := e.StateKey()
		bl := Builder{Type: e.Type(), Sender: e.Sender(), RoomID: e.RoomID(), Content: e.Content(),
			AuthRefs: e.AuthEvents(), PrevRefs: e.PrevEvents(), PrevDepth: e.Depth() - 1, OriginServerTS: e.OriginServerTS()}
		if isState {
			bl.StateKey = &sk
		}
		b.Run("event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bl.Build(benchVersion, "example.org", key); err != nil {
					b.Fatal(err)
				}
			}
		})
		signed := signedForm(b, raw)
		b.Run("baseline=ed25519.Sign/event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ed25519.Sign(key.Private, signed)
			}
		})
	}
}

// BenchmarkVerify is the work on one received event: parse, signature
// check over the redacted form (which gives the reference hash too), and
// the content hash.
func BenchmarkVerify(b *testing.B) {
	key := specKey(b)
	vr := &Verifier{KeyRing: benchRing(b)}
	for _, be := range benchEvents {
		raw := loadBench(b, be.file)
		b.Run("event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e, err := Parse(benchVersion, raw)
				if err != nil {
					b.Fatal(err)
				}
				if r := vr.Verify(b.Context(), e); r.Verdict != Valid {
					b.Fatal(r.Verdict, r.Err)
				}
				if e.ID() == "" {
					b.Fatal("no ID")
				}
			}
		})
		signed := signedForm(b, raw)
		sig := ed25519.Sign(key.Private, signed)
		pub := key.Public()
		b.Run("baseline=ed25519.Verify/event="+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !ed25519.Verify(pub, signed, sig) {
					b.Fatal("bad")
				}
			}
		})
	}
}

// BenchmarkVerifyBatch verifies the 50 events of a full transaction one by
// one and through VerifyAll, which fetches keys once and uses every core.
func BenchmarkVerifyBatch(b *testing.B) {
	vr := &Verifier{KeyRing: benchRing(b)}
	var raws [][]byte
	for i := range 50 {
		raws = append(raws, loadBench(b, benchEvents[i%2].file))
	}
	parseAll := func() []*Event {
		events := make([]*Event, len(raws))
		for i, raw := range raws {
			e, err := Parse(benchVersion, raw)
			if err != nil {
				b.Fatal(err)
			}
			events[i] = e
		}
		return events
	}
	b.Run("mode=one_by_one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, e := range parseAll() {
				if r := vr.Verify(b.Context(), e); r.Verdict != Valid {
					b.Fatal(r.Err)
				}
			}
		}
	})
	b.Run("mode=batch", func(b *testing.B) {
		b.ReportAllocs()
		b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
		for b.Loop() {
			for _, r := range vr.VerifyAll(b.Context(), parseAll()) {
				if r.Verdict != Valid {
					b.Fatal(r.Err)
				}
			}
		}
	})
}
