package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"testing"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// The event package's benchmark message: ~1 KB, room version 10, signed
// by example.org with the specification's test key.
const (
	pduFile   = "../../event/testdata/bench_message.json"
	pduServer = "example.org"
)

var pduVersion = roomversion.V10

func mxkitVerifier(tb testing.TB) *event.Verifier {
	k := testKey(tb)
	ring := signing.NewMemoryKeyRing()
	ring.Add(pduServer, k.ID, signing.PublicKey{Key: k.Public(), ValidUntilTS: 1 << 50})
	return &event.Verifier{KeyRing: ring}
}

// gmslVerifier is a gomatrixserverlib JSONVerifier that knows the one key,
// as its KeyRing does once the key is fetched: it checks the signature
// with gomatrixserverlib's VerifyJSON.
type gmslVerifier struct{ pub ed25519.PublicKey }

func (v gmslVerifier) VerifyJSONs(_ context.Context, reqs []gmsl.VerifyJSONRequest) ([]gmsl.VerifyJSONResult, error) {
	res := make([]gmsl.VerifyJSONResult, len(reqs))
	for i, r := range reqs {
		if r.ServerName != pduServer {
			res[i].Error = errUnknownServer
			continue
		}
		res[i].Error = gmsl.VerifyJSON(pduServer, "ed25519:1", v.pub, r.Message)
	}
	return res, nil
}

var errUnknownServer = &gmsl.NotAllowed{Message: "unknown server"}

// tamper changes the message body, so that the content hash no longer
// matches (the signature, over the redacted form, still does).
func tamper(raw []byte) []byte {
	out := bytes.Replace(raw, []byte("The quick brown fox"), []byte("The quick brown cat"), 1)
	if bytes.Equal(out, raw) {
		panic("tamper: nothing replaced")
	}
	return out
}

// TestEventSameOutputs checks that both libraries compute the same event
// ID, accept the signature and the content hash of the benchmark event,
// and both see a changed body as a content hash mismatch (gomatrixserverlib
// then keeps the event redacted, mxkit gives the verdict Redact).
func TestEventSameOutputs(t *testing.T) {
	gv := gmslVersion(t, pduVersion.ID)
	vr := mxkitVerifier(t)
	gvr := gmslVerifier{testKey(t).Public()}
	for _, c := range []struct {
		name string
		raw  []byte
		ok   bool
	}{
		{"message", loadFile(t, pduFile), true},
		{"message_changed_body", tamper(loadFile(t, pduFile)), false},
	} {
		e, err := event.Parse(pduVersion, c.raw)
		if err != nil {
			t.Fatalf("%s: mxkit: %v", c.name, err)
		}
		p, err := gv.NewEventFromUntrustedJSON(c.raw)
		if err != nil {
			t.Fatalf("%s: gomatrixserverlib: %v", c.name, err)
		}
		if e.ContentHashValid() != c.ok {
			t.Errorf("%s: mxkit content hash valid = %v", c.name, e.ContentHashValid())
		}
		if p.Redacted() == c.ok {
			t.Errorf("%s: gomatrixserverlib redacted = %v", c.name, p.Redacted())
		}
		// gomatrixserverlib computes the ID of the event as received,
		// before it redacts it; so does mxkit.
		if p.EventID() != e.ID() {
			t.Errorf("%s: event ID: gomatrixserverlib %s, mxkit %s", c.name, p.EventID(), e.ID())
		}
		if id, err := event.EventID(pduVersion, c.raw); err != nil || id != e.ID() {
			t.Errorf("%s: event.EventID %s %v, parsed %s", c.name, id, err, e.ID())
		}
		r := vr.Verify(context.Background(), e)
		want := event.Valid
		if !c.ok {
			want = event.Redact
		}
		if r.Verdict != want {
			t.Errorf("%s: mxkit verdict %v (%v), want %v", c.name, r.Verdict, r.Err, want)
		}
		if err := gmsl.VerifyEventSignatures(context.Background(), p, gvr, userIDForSender); err != nil {
			t.Errorf("%s: gomatrixserverlib does not verify the signature: %v", c.name, err)
		}
	}
	// A signature that does not match is refused by both.
	bad := bytes.Replace(loadFile(t, pduFile), []byte(`"origin_server_ts":`), []byte(`"origin_server_ts":1`), 1)
	e, err := event.Parse(pduVersion, bad)
	if err != nil {
		t.Fatal(err)
	}
	if r := vr.Verify(context.Background(), e); r.Verdict != event.Invalid {
		t.Errorf("changed timestamp: mxkit verdict %v", r.Verdict)
	}
	p, err := gv.NewEventFromUntrustedJSON(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := gmsl.VerifyEventSignatures(context.Background(), p, gvr, userIDForSender); err == nil {
		t.Error("changed timestamp: gomatrixserverlib verifies the signature")
	}
}

// BenchmarkEventParse: reading a received event. mxkit's Parse validates
// the PDU; gomatrixserverlib's NewEventFromUntrustedJSON checks canonical
// JSON and the content hash too (mxkit: Parse then ContentHashValid),
// its NewEventFromTrustedJSON only decodes.
func BenchmarkEventParse(b *testing.B) {
	raw := loadFile(b, pduFile)
	gv := gmslVersion(b, pduVersion.ID)
	b.Run("lib=mxkit/Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := event.Parse(pduVersion, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=mxkit/Parse+ContentHashValid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, err := event.Parse(pduVersion, raw)
			if err != nil || !e.ContentHashValid() {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=gmsl/NewEventFromUntrustedJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := gv.NewEventFromUntrustedJSON(raw)
			if err != nil || p.Redacted() {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=gmsl/NewEventFromTrustedJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gv.NewEventFromTrustedJSON(raw, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=json.Valid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !json.Valid(raw) {
				b.Fatal("invalid")
			}
		}
	})
}

// BenchmarkEventID computes a version 10 event ID from the received
// bytes. gomatrixserverlib computes it from a parsed event (and keeps it),
// so its figure includes NewEventFromTrustedJSON; mxkit's event.EventID
// works on the bytes. The baseline is SHA-256 of the bytes.
func BenchmarkEventID(b *testing.B) {
	raw := loadFile(b, pduFile)
	gv := gmslVersion(b, pduVersion.ID)
	b.Run("lib=mxkit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := event.EventID(pduVersion, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=gmsl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := gv.NewEventFromTrustedJSON(raw, false)
			if err != nil {
				b.Fatal(err)
			}
			if p.EventID() == "" {
				b.Fatal("no ID")
			}
		}
	})
	b.Run("baseline=sha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sha256.Sum256(raw)
		}
	})
}

// BenchmarkEventContentHash: gomatrixserverlib exports no content hash
// function (NewEventFromUntrustedJSON checks it, see BenchmarkEventParse),
// so mxkit's package function stands beside the canonical JSON it hashes.
func BenchmarkEventContentHash(b *testing.B) {
	raw := loadFile(b, pduFile)
	b.Run("lib=mxkit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := event.ContentHash(pduVersion, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=canonicaljson+sha256", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			buf, err = canonicaljson.AppendWithout(buf[:0], raw, canonicaljson.Strict, "unsigned", "signatures", "hashes")
			if err != nil {
				b.Fatal(err)
			}
			sha256.Sum256(buf)
		}
	})
}

// BenchmarkEventVerify: what a server does with one received event: parse
// it, check the sender's signature over its redacted form and its content
// hash, and compute its ID.
func BenchmarkEventVerify(b *testing.B) {
	raw := loadFile(b, pduFile)
	gv := gmslVersion(b, pduVersion.ID)
	vr := mxkitVerifier(b)
	key := testKey(b)
	gvr := gmslVerifier{key.Public()}
	b.Run("lib=mxkit", func(b *testing.B) {
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
	b.Run("lib=gmsl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := gv.NewEventFromUntrustedJSON(raw)
			if err != nil || p.Redacted() {
				b.Fatal(err)
			}
			if err := gmsl.VerifyEventSignatures(b.Context(), p, gvr, userIDForSender); err != nil {
				b.Fatal(err)
			}
			if p.EventID() == "" {
				b.Fatal("no ID")
			}
		}
	})
	red, err := redact.Redact(pduVersion, raw)
	if err != nil {
		b.Fatal(err)
	}
	msg, err := canonicaljson.AppendWithout(nil, red, canonicaljson.Strict, "signatures")
	if err != nil {
		b.Fatal(err)
	}
	sig := ed25519.Sign(key.Private, msg)
	b.Run("baseline=ed25519.Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(key.Public(), msg, sig) {
				b.Fatal("bad")
			}
		}
	})
}
