package redact_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
)

// FuzzRedact checks, for any input and room version: no panic (also in
// the fast path); an output only for input that canonicaljson accepts;
// an output that is canonical, idempotent, the same through
// AppendValidated (and AppendCanonical on the input made canonical), and the same as a plain map-based rendering of the
// spec's lists (reference below).
func FuzzRedact(f *testing.F) {
	for i, c := range loadVectors(f) {
		f.Add([]byte(c.input()), uint8(i))
	}
	files, _ := filepath.Glob("testdata/*.json")
	for i, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(i))
	}
	f.Add(deep(canonicaljson.MaxDepth-1), uint8(0))
	f.Add(deep(canonicaljson.MaxDepth), uint8(11))
	f.Add([]byte(`{"type":"m.room.member","content":{"third_party_invite":{"signed":{"a":[1,{"b":"\u00e9"}]}},"membership":"join"}}`), uint8(10))
	f.Add([]byte(`{"type":"m.room.create","content":{"creator":"@a:b","x":1e2,"y":-0}}`), uint8(11))
	f.Add([]byte(`{"type":"m.room.power_levels","content":{"users":{"@a:b":1.5e3},"ban":1e400}}`), uint8(2))

	f.Fuzz(func(t *testing.T, in []byte, which uint8) {
		checkRedaction(t, in, which)
	})
}

// FuzzRedactContent puts fuzzed content (and a fuzzed value beside it)
// into events of the types with content rules, in both key orders (type
// first, as Synapse writes events, and content first, as canonical JSON
// has it), so that the content rules are reached far more often than from
// random bytes.
func FuzzRedactContent(f *testing.F) {
	for i, c := range loadVectors(f) {
		var ev struct {
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(c.input(), &ev) == nil && ev.Content != nil {
			f.Add([]byte(ev.Content), []byte(`"x"`), uint8(i), uint8(i))
		}
	}
	f.Add([]byte(`{"third_party_invite":{"signed":{"b":1,"a":[]}},"membership":"invite"}`), []byte(`[1]`), uint8(0), uint8(10))
	f.Add([]byte(`{"users":{"@b:x":1,"@a:x":2},"invite":0,"ban":1e2}`), []byte(`{"z":1,"a":2}`), uint8(3), uint8(11))
	types := []string{"m.room.member", "m.room.create", "m.room.join_rules", "m.room.power_levels",
		"m.room.history_visibility", "m.room.aliases", "m.room.redaction", "m.room.message"}
	f.Fuzz(func(t *testing.T, content, other []byte, which, version uint8) {
		typ := types[int(which)%len(types)]
		var ev []byte
		if which&0x80 == 0 {
			ev = fmt.Appendf(nil, `{"type":%q,"content":%s,"sender":%s}`, typ, content, other)
		} else {
			ev = fmt.Appendf(nil, `{"sender":%s,"content":%s,"type":%q}`, other, content, typ)
		}
		checkRedaction(t, ev, version)
	})
}

var versions = roomversion.Known()

// checkRedaction checks the properties every redaction must have.
func checkRedaction(t *testing.T, in []byte, which uint8) {
	v := versions[int(which)%len(versions)]
	mode := redact.Mode(v)
	out, err := redact.Redact(v, in)
	fast, fastErr := redact.AppendValidated(nil, v, in)
	redact.AppendCanonical(nil, v, in) // any input: no panic
	validErr := canonicaljson.Valid(in, mode)
	if err != nil {
		if out != nil {
			t.Fatalf("error %v with output %s", err, out)
		}
		var re *redact.Error
		if !errors.As(err, &re) {
			t.Fatalf("error %T %v is not a *redact.Error", err, err)
		}
		shape := errors.Is(err, redact.ErrNotObject) || errors.Is(err, redact.ErrType) || errors.Is(err, redact.ErrContent)
		if !shape && validErr == nil {
			t.Fatalf("Redact refused with %v what canonicaljson accepts", err)
		}
		return
	}
	if validErr != nil {
		t.Fatalf("Redact accepted what canonicaljson refuses (%v): %s", validErr, out)
	}
	if !canonicaljson.IsCanonical(out, mode) {
		t.Fatalf("output not canonical: %s", out)
	}
	again, err := redact.Redact(v, out)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("not idempotent:\n once  %s\n twice %s (%v)", out, again, err)
	}
	if fastErr != nil || !bytes.Equal(fast, out) {
		t.Fatalf("AppendValidated: %s (%v), Redact: %s", fast, fastErr, out)
	}
	canon, err := canonicaljson.Canonicalize(in, mode)
	if err != nil {
		t.Fatalf("canonicalize what Redact accepted: %v", err)
	}
	if got, err := redact.AppendCanonical(nil, v, canon); err != nil || !bytes.Equal(got, out) {
		t.Fatalf("AppendCanonical: %s (%v), Redact: %s", got, err, out)
	}
	ref, err := reference(v, in)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	if !bytes.Equal(ref, out) {
		t.Fatalf("differs from the reference:\n got %s\nwant %s", out, ref)
	}
}

// reference is the algorithm written as plainly as possible, on maps, from
// the lists of the room version pages, for comparison in the fuzz test.
// It is only called on input that Redact accepted.
func reference(v roomversion.Version, raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return nil, err
	}
	r := v.Redaction
	keys := []string{"event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
		"signatures", "depth", "prev_events", "auth_events", "origin_server_ts"}
	if r.KeepOriginMembershipPrevState {
		keys = append(keys, "prev_state", "origin", "membership")
	}
	out := map[string]any{}
	for _, k := range keys {
		if val, ok := ev[k]; ok {
			out[k] = val
		}
	}
	content, _ := ev["content"].(map[string]any)
	kept := map[string]any{}
	keep := func(names ...string) {
		for _, k := range names {
			if val, ok := content[k]; ok {
				kept[k] = val
			}
		}
	}
	switch ev["type"].(string) {
	case "m.room.member":
		keep("membership")
		if r.KeepJoinAuthorisedVia {
			keep("join_authorised_via_users_server")
		}
		if tpi, ok := content["third_party_invite"].(map[string]any); ok && r.KeepThirdPartyInviteSigned {
			signed := map[string]any{}
			if s, ok := tpi["signed"]; ok {
				signed["signed"] = s
			}
			kept["third_party_invite"] = signed
		}
	case "m.room.create":
		if r.KeepAllCreateContent {
			kept = content
		} else {
			keep("creator")
		}
	case "m.room.join_rules":
		keep("join_rule")
		if r.KeepJoinRulesAllow {
			keep("allow")
		}
	case "m.room.power_levels":
		keep("ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default")
		if r.KeepPowerLevelsInvite {
			keep("invite")
		}
	case "m.room.history_visibility":
		keep("history_visibility")
	case "m.room.aliases":
		if r.KeepAliases {
			keep("aliases")
		}
	case "m.room.redaction":
		if r.KeepRedactionRedacts {
			keep("redacts")
		}
	}
	if kept == nil {
		kept = map[string]any{}
	}
	out["content"] = kept
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return canonicaljson.Canonicalize(b, redact.Mode(v))
}
