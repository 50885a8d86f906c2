//go:build goexperiment.jsonv2

package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	jsonv2 "encoding/json/v2"
	"os"
	"testing"
	"time"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	mcanonicaljson "maunium.net/go/mautrix/crypto/canonicaljson"
	"maunium.net/go/mautrix/federation/pdu"
	"maunium.net/go/mautrix/id"
)

// The events of the event package's own benchmarks: a ~1 KB message and a
// power levels event with 50 users, room version 10, signed by
// example.org with the specification's test key.
var pduFiles = []struct{ name, file string }{
	{"message", "../event/testdata/bench_message.json"},
	{"power_levels", "../event/testdata/bench_power_levels.json"},
}

const pduServer = "example.org"

var (
	pduVersion     = roomversion.V10
	pduRoomVersion = id.RoomVersion("10")
)

func loadPDU(tb testing.TB, file string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.TrimSpace(raw)
}

// pduKey is the specification's test signing key (content/appendices.md,
// "Cryptographic Test Vectors").
func pduKey(tb testing.TB) *signing.SigningKey {
	tb.Helper()
	seed, err := base64.DecodeString("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
	if err != nil {
		tb.Fatal(err)
	}
	k, err := signing.NewSigningKey("ed25519:1", seed)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func mxkitVerifier(tb testing.TB) *event.Verifier {
	k := pduKey(tb)
	ring := signing.NewMemoryKeyRing()
	ring.Add(pduServer, k.ID, signing.PublicKey{Key: k.Public(), ValidUntilTS: 1 << 50})
	return &event.Verifier{KeyRing: ring}
}

func mautrixGetKey(tb testing.TB) pdu.GetKeyFunc {
	pub := id.SigningKey(base64.EncodeToString(pduKey(tb).Public()))
	return func(serverName string, keyID id.KeyID, _ time.Time) (id.SigningKey, time.Time, error) {
		if serverName == pduServer && keyID == "ed25519:1" {
			return pub, time.UnixMilli(1 << 50), nil
		}
		return "", time.Time{}, nil
	}
}

// pduSignedBytes returns what the event's signature covers: the redacted
// event without its signatures, as canonical JSON.
func pduSignedBytes(tb testing.TB, raw []byte) []byte {
	red, err := redact.Redact(pduVersion, raw)
	if err != nil {
		tb.Fatal(err)
	}
	msg, err := canonicaljson.AppendWithout(nil, red, canonicaljson.Strict, "signatures")
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

func mautrixParse(tb testing.TB, raw []byte) *pdu.PDU {
	var p pdu.PDU
	if err := jsonv2.Unmarshal(raw, &p); err != nil {
		tb.Fatal(err)
	}
	return &p
}

// TestPDUAgreement checks that both libraries compute the same hashes and
// ID and accept the same signatures on the benchmark events, so that the
// figures compare the same work.
func TestPDUAgreement(t *testing.T) {
	getKey := mautrixGetKey(t)
	vr := mxkitVerifier(t)
	for _, f := range pduFiles {
		raw := loadPDU(t, f.file)
		e, err := event.Parse(pduVersion, raw)
		if err != nil {
			t.Fatal(err)
		}
		p := mautrixParse(t, raw)
		mh, err := p.CalculateContentHash()
		if err != nil || mh != e.ContentHash() {
			t.Errorf("%s: content hash: mautrix %x %v, mxkit %x", f.name, mh, err, e.ContentHash())
		}
		mid, err := p.GetEventID(pduRoomVersion)
		if err != nil || string(mid) != e.ID() {
			t.Errorf("%s: event ID: mautrix %s %v, mxkit %s", f.name, mid, err, e.ID())
		}
		k := pduKey(t)
		if !ed25519.Verify(k.Public(), pduSignedBytes(t, raw), mustSig(t, p)) {
			t.Errorf("%s: the baseline's bytes are not what the signature covers", f.name)
		}
		if err := p.VerifySignature(pduRoomVersion, pduServer, getKey); err != nil || !p.VerifyContentHash() {
			t.Errorf("%s: mautrix does not verify it: %v", f.name, err)
		}
		if r := vr.Verify(context.Background(), e); r.Verdict != event.Valid {
			t.Errorf("%s: mxkit does not verify it: %v", f.name, r.Err)
		}
		// Both sign it to the same bytes.
		signed, err := event.Sign(pduVersion, raw, pduServer, pduKey(t))
		if err != nil || !bytes.Equal(signed, raw) {
			t.Errorf("%s: mxkit re-signing changed the event: %v", f.name, err)
		}
		c := p.Clone()
		c.Signatures = nil
		if err := c.Sign(pduRoomVersion, pduServer, "ed25519:1", pduKey(t).Private); err != nil {
			t.Fatal(err)
		}
		if c.Signatures[pduServer]["ed25519:1"] != p.Signatures[pduServer]["ed25519:1"] {
			t.Errorf("%s: mautrix signs differently", f.name)
		}
	}
}

// BenchmarkPDUParse: parsing and validating a PDU. mautrix decodes it
// into its PDU struct with encoding/json/v2.
func BenchmarkPDUParse(b *testing.B) {
	for _, f := range pduFiles {
		raw := loadPDU(b, f.file)
		b.Run("lib=mxkit/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := event.Parse(pduVersion, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("lib=mautrix/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var p pdu.PDU
				if err := jsonv2.Unmarshal(raw, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPDUContentHash(b *testing.B) {
	for _, f := range pduFiles {
		raw := loadPDU(b, f.file)
		e, err := event.Parse(pduVersion, raw)
		if err != nil {
			b.Fatal(err)
		}
		p := mautrixParse(b, raw)
		b.Run("lib=mxkit/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.ContentHash()
			}
		})
		b.Run("lib=mautrix/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.CalculateContentHash(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPDUEventID computes a version 10 event ID from scratch: mxkit
// from the raw bytes (its parsed events keep the ID once computed),
// mautrix from its parsed PDU (it recomputes on every call).
func BenchmarkPDUEventID(b *testing.B) {
	for _, f := range pduFiles {
		raw := loadPDU(b, f.file)
		p := mautrixParse(b, raw)
		b.Run("lib=mxkit/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := event.EventID(pduVersion, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("lib=mautrix/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.GetEventID(pduRoomVersion); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPDURedact: the redacted event as canonical JSON.
func BenchmarkPDURedact(b *testing.B) {
	for _, f := range pduFiles {
		raw := loadPDU(b, f.file)
		p := mautrixParse(b, raw)
		b.Run("lib=mxkit/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := redact.Redact(pduVersion, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("lib=mautrix/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := mcanonicaljson.Marshal(p.Clone().Redact(pduRoomVersion)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPDUSign: content hash, redaction and signature of an event.
func BenchmarkPDUSign(b *testing.B) {
	key := pduKey(b)
	for _, f := range pduFiles {
		raw := loadPDU(b, f.file)
		p := mautrixParse(b, raw)
		b.Run("lib=mxkit/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := event.Sign(pduVersion, raw, pduServer, key); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("lib=mautrix/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := p.Clone()
				c.Hashes, c.Signatures = nil, nil
				if err := c.Sign(pduRoomVersion, pduServer, "ed25519:1", key.Private); err != nil {
					b.Fatal(err)
				}
			}
		})
		msg := pduSignedBytes(b, raw)
		b.Run("baseline=ed25519.Sign/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ed25519.Sign(key.Private, msg)
			}
		})
	}
}

// BenchmarkPDUVerify: what a server does with one received event: parse,
// check the sender's signature over the redacted form, check the content
// hash, compute the event ID.
func BenchmarkPDUVerify(b *testing.B) {
	vr := mxkitVerifier(b)
	getKey := mautrixGetKey(b)
	key := pduKey(b)
	for _, f := range pduFiles {
		raw := loadPDU(b, f.file)
		b.Run("lib=mxkit/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e, err := event.Parse(pduVersion, raw)
				if err != nil {
					b.Fatal(err)
				}
				if r := vr.Verify(b.Context(), e); r.Verdict != event.Valid {
					b.Fatal(r.Err)
				}
				if e.ID() == "" {
					b.Fatal("no ID")
				}
			}
		})
		b.Run("lib=mautrix/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var p pdu.PDU
				if err := jsonv2.Unmarshal(raw, &p); err != nil {
					b.Fatal(err)
				}
				if err := p.VerifySignature(pduRoomVersion, pduServer, getKey); err != nil {
					b.Fatal(err)
				}
				if !p.VerifyContentHash() {
					b.Fatal("content hash")
				}
				if _, err := p.GetEventID(pduRoomVersion); err != nil {
					b.Fatal(err)
				}
			}
		})
		msg := pduSignedBytes(b, raw)
		sig := ed25519.Sign(key.Private, msg)
		b.Run("baseline=ed25519.Verify/event="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !ed25519.Verify(key.Public(), msg, sig) {
					b.Fatal("bad")
				}
			}
		})
	}
}

func mustSig(tb testing.TB, p *pdu.PDU) []byte {
	sig, err := base64.DecodeString(p.Signatures[pduServer]["ed25519:1"])
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}
