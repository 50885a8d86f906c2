package event

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

func mustKey(t testing.TB, version string) *signing.SigningKey {
	t.Helper()
	k, err := signing.GenerateKey(version)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testServers are two servers with a key each, in a key ring.
type testServers struct {
	a, b *signing.SigningKey
	ring *signing.MemoryKeyRing
}

func newTestServers(t testing.TB) *testServers {
	s := &testServers{a: mustKey(t, "a1"), b: mustKey(t, "b1"), ring: signing.NewMemoryKeyRing()}
	s.ring.Add("a.example", s.a.ID, signing.PublicKey{Key: s.a.Public(), ValidUntilTS: 1 << 50})
	s.ring.Add("b.example", s.b.ID, signing.PublicKey{Key: s.b.Public(), ValidUntilTS: 1 << 50})
	return s
}

func build(t testing.TB, v roomversion.Version, b Builder, server string, key *signing.SigningKey) *Event {
	t.Helper()
	if b.Type == "" {
		b.Type = "m.room.message"
	}
	if b.Sender == "" {
		b.Sender = "@u:a.example"
	}
	if b.RoomID == "" {
		b.RoomID = "!r:a.example"
	}
	if b.OriginServerTS == 0 {
		b.OriginServerTS = 1_700_000_000_000
	}
	e, err := b.Build(v, server, key)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// cosign adds server's signature to e.
func cosign(t testing.TB, e *Event, server string, key *signing.SigningKey) *Event {
	t.Helper()
	raw, err := Sign(e.v, e.raw, server, key)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Parse(e.v, raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func reparse(t testing.TB, e *Event, raw []byte) *Event {
	t.Helper()
	out, err := Parse(e.v, raw)
	if err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return out
}

func TestVerifyBuiltEvents(t *testing.T) {
	s := newTestServers(t)
	vr := &Verifier{KeyRing: s.ring}
	for _, v := range roomversion.Known() {
		e := build(t, v, Builder{Content: []byte(`{"body":"hi","msgtype":"m.text"}`)}, "a.example", s.a)
		if v.Event.Format == roomversion.EventFormatV1 {
			if got := e.ID(); !regexp.MustCompile(`:a\.example$`).MatchString(got) {
				t.Errorf("v%s: ID %s", v.ID, got)
			}
		}
		r := vr.Verify(t.Context(), e)
		if r.Verdict != Valid || r.Err != nil {
			t.Errorf("v%s: %v %v", v.ID, r.Verdict, r.Err)
		}
	}
}

func TestVerifyRedactsOnContentHashMismatch(t *testing.T) {
	s := newTestServers(t)
	vr := &Verifier{KeyRing: s.ring}
	for _, v := range roomversion.Known() {
		e := build(t, v, Builder{Content: []byte(`{"body":"hi"}`)}, "a.example", s.a)
		// The content is not signed (it is redacted away), only hashed.
		tampered := reparse(t, e, bytes.Replace(e.raw, []byte(`"body":"hi"`), []byte(`"body":"bye"`), 1))
		r := vr.Verify(t.Context(), tampered)
		if r.Verdict != Redact || !errors.Is(r.Err, ErrContentHash) || r.Redacted == nil {
			t.Fatalf("v%s: %v %v", v.ID, r.Verdict, r.Err)
		}
		if string(r.Redacted.Content()) != "{}" {
			t.Errorf("v%s: redacted content %s", v.ID, r.Redacted.Content())
		}
		if r.Redacted.ID() != e.ID() {
			t.Errorf("v%s: redacted ID %s, want %s", v.ID, r.Redacted.ID(), e.ID())
		}
		// The redacted copy verifies, and itself needs redacting again
		// (its content hash covers the original content).
		if r2 := vr.Verify(t.Context(), r.Redacted); r2.Verdict != Redact {
			t.Errorf("v%s: redacted copy: %v %v", v.ID, r2.Verdict, r2.Err)
		}
	}
}

func TestVerifyFailures(t *testing.T) {
	s := newTestServers(t)
	vr := &Verifier{KeyRing: s.ring}
	v := roomversion.V10
	good := build(t, v, Builder{}, "a.example", s.a)
	sigRe := regexp.MustCompile(`"signatures":\{.*?\}\}`)
	withSigs := func(sigs string) *Event {
		return reparse(t, good, sigRe.ReplaceAll(good.raw, []byte(`"signatures":`+sigs)))
	}
	otherA := mustKey(t, "a1") // same key ID, different key
	forged := build(t, v, Builder{}, "a.example", otherA)

	for _, c := range []struct {
		name string
		e    *Event
		want error
	}{
		{"no signature by the sender's server", withSigs(`{}`), signing.ErrNoSignature},
		{"signed by another server only", build(t, v, Builder{}, "b.example", s.b), signing.ErrNoSignature},
		{"only other algorithms", withSigs(`{"a.example":{"curve25519:x":"AAAA"}}`), signing.ErrUnsupportedAlgorithm},
		{"unknown key", withSigs(`{"a.example":{"ed25519:zz":"AAAA"}}`), signing.ErrUnknownKey},
		{"bad base64", withSigs(`{"a.example":{"ed25519:a1":"é"}}`), signing.ErrBadBase64},
		// Junk is skipped as the reference server's decoder does: nothing
		// is left, which is not a signature.
		{"only junk", withSigs(`{"a.example":{"ed25519:a1":"!!!"}}`), signing.ErrBadSignature},
		{"signature not a string", withSigs(`{"a.example":{"ed25519:a1":5}}`), signing.ErrBadBase64},
		{"entry not an object", withSigs(`{"a.example":"x"}`), signing.ErrMalformed},
		{"wrong key", forged, signing.ErrBadSignature},
	} {
		r := vr.Verify(t.Context(), c.e)
		if r.Verdict != Invalid || !errors.Is(r.Err, c.want) {
			t.Errorf("%s: %v %v, want Invalid %v", c.name, r.Verdict, r.Err, c.want)
		}
	}

	// A signature on a field that changed: type is kept by redaction,
	// so it is signed.
	changed := reparse(t, good, bytes.Replace(good.raw, []byte(`"type":"m.room.message"`), []byte(`"type":"m.room.messagf"`), 1))
	if r := vr.Verify(t.Context(), changed); r.Verdict != Invalid || !errors.Is(r.Err, signing.ErrBadSignature) {
		t.Errorf("changed type: %v %v", r.Verdict, r.Err)
	}
}

// Signatures are decoded as the reference server decodes them: padded,
// in the URL-safe alphabet, with junk in between.
func TestVerifyLenientBase64(t *testing.T) {
	s := newTestServers(t)
	vr := &Verifier{KeyRing: s.ring}
	good := build(t, roomversion.V10, Builder{}, "a.example", s.a)
	sig := regexp.MustCompile(`"ed25519:a1":"([^"]*)"`).FindSubmatch(good.raw)[1]
	for name, f := range map[string]func(string) string{
		"padded":          func(s string) string { return s + "==" },
		"URL-safe":        func(s string) string { return strings.NewReplacer("+", "-", "/", "_").Replace(s) },
		"spaced":          func(s string) string { return s[:10] + " !! " + s[10:] }, // 4 junk bytes: the padding the decoder adds counts them
		"mixed alphabets": func(s string) string { return strings.NewReplacer("+", "-").Replace(s) },
	} {
		alt := f(string(sig))
		e := reparse(t, good, bytes.Replace(good.raw, sig, []byte(alt), 1))
		if r := vr.Verify(t.Context(), e); r.Verdict != Valid {
			t.Errorf("%s (%s): %v %v", name, alt, r.Verdict, r.Err)
		}
	}
}

// Keys that are not valid at the event's time are skipped from room
// version 5; before, valid_until_ts is ignored.
func TestVerifyKeyValidity(t *testing.T) {
	a := mustKey(t, "a1")
	const ts = 1_700_000_000_000
	for _, c := range []struct {
		v       roomversion.Version
		until   int64
		expired int64
		want    Verdict
	}{
		{roomversion.V4, ts - 1, 0, Valid},
		{roomversion.V5, ts - 1, 0, Invalid},
		{roomversion.V5, ts, 0, Valid}, // valid until the event's very millisecond
		{roomversion.V12, ts + 1000, 0, Valid},
		{roomversion.V10, 1 << 50, ts - 1, Invalid}, // an old key, expired before
		{roomversion.V10, 1 << 50, ts, Valid},
		{roomversion.V3, 1 << 50, ts - 1, Valid},
	} {
		ring := signing.NewMemoryKeyRing()
		ring.Add("a.example", a.ID, signing.PublicKey{Key: a.Public(), ValidUntilTS: c.until, ExpiredTS: c.expired})
		vr := &Verifier{KeyRing: ring, Now: func() time.Time { return time.UnixMilli(ts) }}
		e := build(t, c.v, Builder{OriginServerTS: ts}, "a.example", a)
		r := vr.Verify(t.Context(), e)
		if r.Verdict != c.want {
			t.Errorf("v%s until %d expired %d: %v %v, want %v", c.v.ID, c.until, c.expired, r.Verdict, r.Err, c.want)
		}
		if c.want == Invalid && !errors.Is(r.Err, signing.ErrUnknownKey) {
			t.Errorf("v%s: error %v, want ErrUnknownKey", c.v.ID, r.Err)
		}
	}
	// The cap at now + 7 days: a key claimed valid for years is only
	// trusted a week ahead.
	ring := signing.NewMemoryKeyRing()
	ring.Add("a.example", a.ID, signing.PublicKey{Key: a.Public(), ValidUntilTS: 1 << 50})
	vr := &Verifier{KeyRing: ring, Now: func() time.Time { return time.UnixMilli(ts) }}
	future := build(t, roomversion.V10, Builder{OriginServerTS: ts + int64(8*24*time.Hour/time.Millisecond)}, "a.example", a)
	if r := vr.Verify(t.Context(), future); r.Verdict != Invalid {
		t.Errorf("event 8 days ahead: %v", r.Verdict)
	}
}

// An expired key is skipped even when its signature is bad, as long as a
// valid key's signature verifies.
func TestVerifySkipsInvalidKeysButNeedsOne(t *testing.T) {
	a, old := mustKey(t, "a1"), mustKey(t, "old")
	const ts = 1_700_000_000_000
	ring := signing.NewMemoryKeyRing()
	ring.Add("a.example", a.ID, signing.PublicKey{Key: a.Public(), ValidUntilTS: ts + 1000})
	ring.Add("a.example", old.ID, signing.PublicKey{Key: mustKey(t, "x").Public(), ValidUntilTS: ts - 1}) // does not match the signature
	vr := &Verifier{KeyRing: ring, Now: func() time.Time { return time.UnixMilli(ts) }}
	e := build(t, roomversion.V10, Builder{OriginServerTS: ts}, "a.example", a)
	e = cosign(t, e, "a.example", old)
	if r := vr.Verify(t.Context(), e); r.Verdict != Valid {
		t.Errorf("v10: %v %v", r.Verdict, r.Err)
	}
	// Before version 5 the same key counts, and its bad signature fails.
	e4 := cosign(t, build(t, roomversion.V4, Builder{OriginServerTS: ts}, "a.example", a), "a.example", old)
	if r := vr.Verify(t.Context(), e4); r.Verdict != Invalid || !errors.Is(r.Err, signing.ErrBadSignature) {
		t.Errorf("v4: %v %v", r.Verdict, r.Err)
	}
}

// In room versions 1 and 2 the server of the event_id signs too.
func TestVerifyEventIDServer(t *testing.T) {
	s := newTestServers(t)
	vr := &Verifier{KeyRing: s.ring}
	for _, v := range []roomversion.Version{roomversion.V1, roomversion.V2} {
		// Made by b.example (so the event_id is b's) for a sender of a.
		e := build(t, v, Builder{Sender: "@u:a.example"}, "b.example", s.b)
		want, _ := e.RequiredSigners()
		if fmt.Sprint(want) != "[a.example b.example]" {
			t.Errorf("v%s: RequiredSigners %v", v.ID, want)
		}
		if r := vr.Verify(t.Context(), e); r.Verdict != Invalid || !errors.Is(r.Err, signing.ErrNoSignature) {
			t.Errorf("v%s only b: %v %v", v.ID, r.Verdict, r.Err)
		}
		both := cosign(t, e, "a.example", s.a)
		if r := vr.Verify(t.Context(), both); r.Verdict != Valid {
			t.Errorf("v%s both: %v %v", v.ID, r.Verdict, r.Err)
		}
	}
	// From version 3 only the sender's server.
	e := build(t, roomversion.V3, Builder{Sender: "@u:a.example"}, "a.example", s.a)
	if got, _ := e.RequiredSigners(); fmt.Sprint(got) != "[a.example]" {
		t.Errorf("v3: RequiredSigners %v", got)
	}
}

// A restricted join is signed by the authorising user's server too, from
// room version 8.
func TestVerifyRestrictedJoin(t *testing.T) {
	s := newTestServers(t)
	vr := &Verifier{KeyRing: s.ring}
	sk := "@u:a.example"
	join := Builder{Type: TypeMember, StateKey: &sk, Sender: sk, Content: []byte(`{"join_authorised_via_users_server":"@admin:b.example","membership":"join"}`)}
	for _, v := range roomversion.Known() {
		e := build(t, v, join, "a.example", s.a)
		r := vr.Verify(t.Context(), e)
		if v.Auth.RestrictedJoins {
			if r.Verdict != Invalid || !errors.Is(r.Err, signing.ErrNoSignature) {
				t.Errorf("v%s: %v %v, want b.example's signature missing", v.ID, r.Verdict, r.Err)
			}
			if r := vr.Verify(t.Context(), cosign(t, e, "b.example", s.b)); r.Verdict != Valid {
				t.Errorf("v%s cosigned: %v %v", v.ID, r.Verdict, r.Err)
			}
		} else if r.Verdict != Valid {
			t.Errorf("v%s: %v %v", v.ID, r.Verdict, r.Err)
		}
	}
	// Only joins: a leave carrying the key needs no second signature.
	leave := join
	leave.Content = []byte(`{"join_authorised_via_users_server":"@admin:b.example","membership":"leave"}`)
	if r := vr.Verify(t.Context(), build(t, roomversion.V10, leave, "a.example", s.a)); r.Verdict != Valid {
		t.Errorf("leave: %v %v", r.Verdict, r.Err)
	}
	bad := join
	bad.Content = []byte(`{"join_authorised_via_users_server":"nobody","membership":"join"}`)
	if r := vr.Verify(t.Context(), build(t, roomversion.V10, bad, "a.example", s.a)); r.Verdict != Invalid {
		t.Errorf("authorising user without a server: %v", r.Verdict)
	}
}

// A third-party invite may come from a server other than the sender's
// (content/server-server-api.md); the reference server then does not ask
// for the sender's server's signature.
func TestVerifyThirdPartyInvite(t *testing.T) {
	s := newTestServers(t)
	vr := &Verifier{KeyRing: s.ring}
	sk := "@invitee:c.example"
	invite := Builder{Type: TypeMember, StateKey: &sk, Sender: "@inviter:a.example",
		Content: []byte(`{"membership":"invite","third_party_invite":{"display_name":"x","signed":{"mxid":"@invitee:c.example","token":"t","signatures":{}}}}`)}
	e := build(t, roomversion.V10, invite, "b.example", s.b)
	if got, _ := e.RequiredSigners(); len(got) != 0 {
		t.Errorf("RequiredSigners %v, want none", got)
	}
	if r := vr.Verify(t.Context(), e); r.Verdict != Valid {
		t.Errorf("%v %v", r.Verdict, r.Err)
	}
	// A plain invite needs the sender's server.
	plain := invite
	plain.Content = []byte(`{"membership":"invite"}`)
	if r := vr.Verify(t.Context(), build(t, roomversion.V10, plain, "b.example", s.b)); r.Verdict != Invalid {
		t.Errorf("plain invite from another server: %v", r.Verdict)
	}
	// In version 1 the event_id's server still signs.
	e1 := build(t, roomversion.V1, invite, "b.example", s.b)
	if got, _ := e1.RequiredSigners(); fmt.Sprint(got) != "[b.example]" {
		t.Errorf("v1 RequiredSigners %v", got)
	}
}

// countingRing counts calls and can fail.
type countingRing struct {
	signing.KeyRing
	calls atomic.Int32
	reqs  atomic.Int32
	err   error
}

func (r *countingRing) PublicKeys(ctx context.Context, reqs []signing.KeyRequest) (map[signing.ServerKeyID]signing.PublicKey, error) {
	r.calls.Add(1)
	r.reqs.Add(int32(len(reqs)))
	if r.err != nil {
		return nil, r.err
	}
	return r.KeyRing.PublicKeys(ctx, reqs)
}

func TestVerifyAll(t *testing.T) {
	s := newTestServers(t)
	ring := &countingRing{KeyRing: s.ring}
	vr := &Verifier{KeyRing: ring, Workers: 4}
	var events []*Event
	var want []Verdict
	for i := range 50 {
		v := roomversion.Known()[i%12]
		e := build(t, v, Builder{Content: fmt.Appendf(nil, `{"body":"%d"}`, i)}, "a.example", s.a)
		switch i % 5 {
		case 1: // redacted in transit
			e = reparse(t, e, bytes.Replace(e.raw, fmt.Appendf(nil, `"body":"%d"`, i), []byte(`"body":"x"`), 1))
			want = append(want, Redact)
		case 3: // signed by the wrong server
			e = build(t, v, Builder{}, "b.example", s.b)
			want = append(want, Invalid)
		default:
			want = append(want, Valid)
		}
		events = append(events, e)
	}
	results := vr.VerifyAll(t.Context(), events)
	if ring.calls.Load() != 1 {
		t.Errorf("key ring called %d times, want 1", ring.calls.Load())
	}
	// 40 events signed by a.example's one key: one request. The events
	// that lack a.example's signature need no key to be refused.
	if ring.reqs.Load() != 1 {
		t.Errorf("key ring asked for %d keys, want 1 (deduplicated)", ring.reqs.Load())
	}
	for i, r := range results {
		if r.Verdict != want[i] {
			t.Errorf("event %d: %v %v, want %v", i, r.Verdict, r.Err, want[i])
		}
		one := (&Verifier{KeyRing: s.ring}).Verify(t.Context(), events[i])
		if one.Verdict != r.Verdict {
			t.Errorf("event %d: batch %v, alone %v", i, r.Verdict, one.Verdict)
		}
	}

	ring.err = errors.New("network down")
	for i, r := range vr.VerifyAll(t.Context(), events[:3]) {
		if r.Verdict != Invalid || !errors.Is(r.Err, ring.err) {
			t.Errorf("event %d with a failing ring: %v %v", i, r.Verdict, r.Err)
		}
	}
	if got := vr.VerifyAll(t.Context(), nil); len(got) != 0 {
		t.Errorf("no events: %v", got)
	}
}

// The lazily computed ID is safe to ask for from many goroutines (run
// with -race).
func TestIDConcurrent(t *testing.T) {
	e, err := Parse(roomversion.V10, []byte(baseV3))
	if err != nil {
		t.Fatal(err)
	}
	ids := make(chan string, 8)
	for range 8 {
		go func() { ids <- e.ID() }()
	}
	first := <-ids
	for range 7 {
		if id := <-ids; id != first {
			t.Errorf("IDs differ: %s %s", id, first)
		}
	}
	if !idURL.MatchString(first) {
		t.Errorf("ID %s", first)
	}
}
