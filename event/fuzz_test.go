package event

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// FuzzParse checks that Parse never panics, that every rejection is a
// *ValidationError, and that parsing the bytes of a parsed event again
// gives an equal event.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		baseV1, baseV3, `{}`, `[]`, `{"a":1,"a":2}`, `{"content":{"a":"\ud800"}}`,
		`{"auth_events":[],"content":{},"depth":0,"hashes":{},"origin_server_ts":0,"prev_events":[],"sender":"@a:b","signatures":{},"state_key":"","type":"m.room.create"}`,
		`{"auth_events":[],"content":{"n":1.5e3,"m":-0},"depth":9223372036854775807,"hashes":{},"origin_server_ts":-1,"prev_events":[],"room_id":"!r:x","sender":"@a:b","signatures":{},"type":"t"}`,
	} {
		for v := range 12 {
			f.Add(uint8(v), []byte(seed))
		}
	}
	known := roomversion.Known()
	f.Fuzz(func(t *testing.T, vi uint8, raw []byte) {
		v := known[int(vi)%len(known)]
		e, err := Parse(v, raw)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Rule == "" {
				t.Fatalf("error %T %v is not a *ValidationError with a rule", err, err)
			}
			return
		}
		// The single pass agrees with the canonical JSON package.
		mode := redact.Mode(v)
		c, err := canonicaljson.Canonicalize(raw, mode)
		if err != nil {
			t.Fatalf("Parse accepted what canonicaljson refuses: %v", err)
		}
		if e.canonLen != len(c) {
			t.Fatalf("canonical size %d, canonicaljson gives %d", e.canonLen, len(c))
		}
		if e.canonical != bytes.Equal(c, raw) {
			t.Fatalf("canonical flag %v for %q", e.canonical, raw)
		}
		checkHashes(t, e)
		// Redacting a valid event gives a valid event with the same ID.
		red, err := e.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		if red.ID() != e.ID() {
			t.Fatalf("redacted ID %s, want %s", red.ID(), e.ID())
		}
		if want, err := redact.Redact(v, raw); err != nil || !bytes.Equal(red.JSON(), want) {
			t.Fatalf("Redacted gives %s, redact.Redact %s (%v)", red.JSON(), want, err)
		}
		// Checking it never panics; with no keys it is never valid unless
		// no server needs to sign it.
		r := (&Verifier{KeyRing: signing.NewMemoryKeyRing()}).Verify(t.Context(), e)
		if r.Verdict != Invalid {
			if n, _ := e.RequiredSigners(); len(n) != 0 {
				t.Fatalf("verdict %v with no keys", r.Verdict)
			}
		}
		again, err := Parse(v, e.JSON())
		if err != nil {
			t.Fatalf("re-parse of a parsed event failed: %v", err)
		}
		if got, want := snapshot(again), snapshot(e); !reflect.DeepEqual(got, want) {
			t.Fatalf("re-parse differs:\n got %+v\nwant %+v", got, want)
		}
	})
}

// snapshotOf is everything an Event exposes.
type snapshotOf struct {
	ID, RoomID, Sender, Type, StateKey, Redacts, Membership string
	IsState                                                 bool
	Content, JSON                                           string
	Depth, TS                                               int64
	Prev, Auth                                              []string
}

func snapshot(e *Event) snapshotOf {
	sk, _ := e.StateKey()
	return snapshotOf{
		ID: e.ID(), RoomID: e.RoomID(), Sender: e.Sender(), Type: e.Type(), StateKey: sk,
		Redacts: e.Redacts(), Membership: e.Membership(), IsState: e.IsState(),
		Content: string(e.Content()), JSON: string(e.JSON()), Depth: e.Depth(), TS: e.OriginServerTS(),
		Prev: e.PrevEventIDs(), Auth: e.AuthEventIDs(),
	}
}

// FuzzScan compares the scanner's verdict on any JSON object with the
// canonical JSON package's, in both modes. The scanner is stricter in
// one way only: in strict mode it refuses every fraction and exponent.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a":1}`, `{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a":{"x":[1,2,{"y":"\u00e9\ud83d\ude00"}]}}`,
		`{"a":-0}`, `{"a":1e2}`, `{"a":9007199254740992}`, `{"a":"\u001F\/"}`, ` { "a" : true , "b":null}`,
		`{"\u0061":1,"a":2}`, `{"a":"\ud800"}`, `{"a":1.5}`, `{"a":[]}`, `{"a":"\x"}`,
	} {
		f.Add(true, []byte(seed))
		f.Add(false, []byte(seed))
	}
	f.Fuzz(func(t *testing.T, strict bool, raw []byte) {
		var s scanner
		ok := s.scanEvent(raw, strict)
		mode := canonicaljson.Lenient
		if strict {
			mode = canonicaljson.Strict
		}
		c, err := canonicaljson.Canonicalize(raw, mode)
		isObject := err == nil && len(c) > 0 && c[0] == '{'
		// Inexact numbers (lenient mode) are judged by canonicalizing,
		// which Parse does next.
		if ok && err != nil && !s.inexact {
			t.Fatalf("scanner accepts, canonicaljson refuses: %v", err)
		}
		if !ok && isObject {
			if !(strict && s.err.rule == "json.float") {
				t.Fatalf("scanner refuses (%s: %s), canonicaljson accepts", s.err.rule, s.err.msg)
			}
			return
		}
		if !ok {
			return
		}
		if !s.inexact && s.canonLen != len(c) {
			t.Fatalf("canonical size %d, want %d", s.canonLen, len(c))
		}
		if !s.inexact && !s.nonCanon != bytes.Equal(c, raw) {
			t.Fatalf("nonCanon %v for %q", s.nonCanon, raw)
		}
	})
}
