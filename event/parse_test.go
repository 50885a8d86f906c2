package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/roomversion"
)

// The two base events the tables under testdata/ start from: one in the
// event format of room versions 1 and 2, one in the format of 3 and later.
const (
	baseV1 = `{"auth_events":[["$a:x",{"sha256":"aGFzaA"}]],"content":{"body":"hello","msgtype":"m.text"},"depth":5,"event_id":"$e:x","hashes":{"sha256":"aGFzaA"},"origin_server_ts":1000,"prev_events":[["$p:x",{"sha256":"aGFzaA"}]],"room_id":"!r:x","sender":"@u:x","signatures":{"x":{"ed25519:1":"c2ln"}},"type":"m.room.message"}`
	baseV3 = `{"auth_events":["$a"],"content":{"body":"hello","msgtype":"m.text"},"depth":5,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1000,"prev_events":["$p"],"room_id":"!r:x","sender":"@u:x","signatures":{"x":{"ed25519:1":"c2ln"}},"type":"m.room.message"}`
)

// tableCase is one entry of testdata/valid.json or testdata/invalid.json.
type tableCase struct {
	Name      string         `json:"name"`
	Versions  []string       `json:"versions"`
	Set       map[string]any `json:"set"`
	Delete    []string       `json:"delete"`
	Raw       *string        `json:"raw"`         // the whole input, instead of a base event
	Replace   []*string      `json:"raw_replace"` // [old, new] on the encoded event; old null: append new
	PadTo     int            `json:"pad_to"`      // pad content.body so the event is this many bytes
	HashValid *bool          `json:"hash_valid"`  // the expected ContentHashValid, when given
	Field     string         `json:"field"`
	Rule      string         `json:"rule"`
}

func loadTable(t *testing.T, name string) []tableCase {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep 2^63-1 and friends exact
	var cases []tableCase
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cases
}

// build makes the input of a case for room version v.
func (c *tableCase) build(t *testing.T, v roomversion.Version) []byte {
	t.Helper()
	if c.Raw != nil {
		return []byte(*c.Raw)
	}
	base := baseV3
	if v.Event.Format == roomversion.EventFormatV1 {
		base = baseV1
	}
	dec := json.NewDecoder(strings.NewReader(base))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	for k, val := range c.Set {
		m[k] = val
	}
	for _, k := range c.Delete {
		delete(m, k)
	}
	out := marshal(t, m)
	if c.PadTo > 0 {
		content, _ := m["content"].(map[string]any)
		if content == nil {
			t.Fatal("pad_to needs a content object")
		}
		content["body"] = ""
		n := len(marshal(t, m))
		content["body"] = strings.Repeat("x", c.PadTo-n)
		out = marshal(t, m)
		if len(out) != c.PadTo {
			t.Fatalf("padded to %d bytes, want %d", len(out), c.PadTo)
		}
	}
	if len(c.Replace) == 2 {
		if c.Replace[0] == nil {
			out = append(out, *c.Replace[1]...)
		} else {
			if !bytes.Contains(out, []byte(*c.Replace[0])) {
				t.Fatalf("raw_replace: %q not in %s", *c.Replace[0], out)
			}
			out = bytes.Replace(out, []byte(*c.Replace[0]), []byte(*c.Replace[1]), 1)
		}
	}
	return out
}

// marshal encodes sorted and compact, without HTML escaping: for the
// ASCII inputs of the tables that is canonical JSON.
func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func versions(t *testing.T, ids []string) []roomversion.Version {
	t.Helper()
	if len(ids) == 0 {
		t.Fatal("case lists no room versions")
	}
	out := make([]roomversion.Version, len(ids))
	for i, id := range ids {
		v, err := roomversion.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = v
	}
	return out
}

func TestParseValidTable(t *testing.T) {
	for _, c := range loadTable(t, "valid.json") {
		for _, v := range versions(t, c.Versions) {
			t.Run(c.Name+"/v"+v.ID, func(t *testing.T) {
				raw := c.build(t, v)
				e, err := Parse(v, raw)
				if err != nil {
					t.Fatalf("Parse: %v\n%s", err, raw)
				}
				if !bytes.Equal(e.JSON(), raw) {
					t.Error("JSON() differs from the input")
				}
				if c.HashValid != nil && e.ContentHashValid() != *c.HashValid {
					t.Errorf("ContentHashValid = %v", !*c.HashValid)
				}
			})
		}
	}
}

func TestParseInvalidTable(t *testing.T) {
	for _, c := range loadTable(t, "invalid.json") {
		for _, v := range versions(t, c.Versions) {
			t.Run(c.Name+"/v"+v.ID, func(t *testing.T) {
				raw := c.build(t, v)
				e, err := Parse(v, raw)
				if err == nil {
					t.Fatalf("Parse accepted it: %s", raw)
				}
				if e != nil {
					t.Error("Parse returned an event with its error")
				}
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("error %T %v is not a *ValidationError", err, err)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Error("error does not wrap ErrInvalid")
				}
				if ve.Rule != c.Rule || ve.Field != c.Field {
					t.Errorf("got field %q rule %q (%v), want field %q rule %q", ve.Field, ve.Rule, err, c.Field, c.Rule)
				}
			})
		}
	}
}

func TestParseAccessorsV3(t *testing.T) {
	raw := `{"auth_events":["$create","$pl","$mem"],"content":{"membership":"join","displayname":"A\u00e9"},` +
		`"depth":42,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1700000000000,"prev_events":["$p1","$p2"],` +
		`"room_id":"!room:example.org","sender":"@alice:example.org","signatures":{},"state_key":"@alice:example.org",` +
		`"type":"m.room.member","unsigned":{"age":5}}`
	for _, v := range roomversion.Known()[2:] {
		e, err := Parse(v, []byte(raw))
		if err != nil {
			t.Fatalf("v%s: %v", v.ID, err)
		}
		check := func(name, got, want string) {
			t.Helper()
			if got != want {
				t.Errorf("v%s %s = %q, want %q", v.ID, name, got, want)
			}
		}
		check("Sender", e.Sender(), "@alice:example.org")
		check("SenderServer", e.SenderServer(), "example.org")
		check("Type", e.Type(), "m.room.member")
		check("RoomID", e.RoomID(), "!room:example.org")
		check("Membership", e.Membership(), "join")
		check("Redacts", e.Redacts(), "")
		sk, ok := e.StateKey()
		if !ok || sk != "@alice:example.org" || !e.IsState() {
			t.Errorf("StateKey = %q, %v", sk, ok)
		}
		check("Content", string(e.Content()), `{"membership":"join","displayname":"A\u00e9"}`)
		check("Unsigned", string(e.Unsigned()), `{"age":5}`)
		check("Hashes", string(e.Hashes()), `{"sha256":"aGFzaA"}`)
		check("Signatures", string(e.Signatures()), `{}`)
		if e.Depth() != 42 || e.OriginServerTS() != 1700000000000 {
			t.Errorf("Depth %d OriginServerTS %d", e.Depth(), e.OriginServerTS())
		}
		if got := strings.Join(e.PrevEventIDs(), ","); got != "$p1,$p2" {
			t.Errorf("PrevEventIDs = %s", got)
		}
		if got := strings.Join(e.AuthEventIDs(), ","); got != "$create,$pl,$mem" {
			t.Errorf("AuthEventIDs = %s", got)
		}
		if refs := e.PrevEvents(); len(refs) != 2 || refs[1].EventID != "$p2" || refs[1].Hashes != nil {
			t.Errorf("PrevEvents = %+v", refs)
		}
		if e.Version().ID != v.ID {
			t.Errorf("Version = %s", e.Version().ID)
		}
		if val, ok := e.ContentField("displayname"); !ok || string(val) != `"A\u00e9"` {
			t.Errorf("ContentField = %s, %v", val, ok)
		}
		if _, ok := e.ContentField("avatar_url"); ok {
			t.Error("ContentField found an absent key")
		}
	}
}

func TestParseAccessorsV1(t *testing.T) {
	raw := `{"auth_events":[["$a:x",{"sha256":"aGFzaA"}]],"content":{},"depth":1,"event_id":"$ev:x",` +
		`"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1,"prev_events":[["$p:x",{"sha256":"cHJldg"}]],` +
		`"redacts":"$target:x","room_id":"!r:x","sender":"@u:y","signatures":{},"type":"m.room.redaction"}`
	for _, v := range []roomversion.Version{roomversion.V1, roomversion.V2} {
		e, err := Parse(v, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if e.ID() != "$ev:x" {
			t.Errorf("ID = %q", e.ID())
		}
		if e.Redacts() != "$target:x" {
			t.Errorf("Redacts = %q", e.Redacts())
		}
		if e.IsState() {
			t.Error("IsState for an event without state_key")
		}
		if got := e.PrevEventIDs(); len(got) != 1 || got[0] != "$p:x" {
			t.Errorf("PrevEventIDs = %v", got)
		}
		refs := e.PrevEvents()
		if len(refs) != 1 || string(refs[0].Hashes) != `{"sha256":"cHJldg"}` {
			t.Errorf("PrevEvents = %+v", refs)
		}
		if got := e.AuthEventIDs(); len(got) != 1 || got[0] != "$a:x" {
			t.Errorf("AuthEventIDs = %v", got)
		}
	}
}

// Redacts reads the top-level key up to room version 10 and the content
// key from 11; the other place is ignored.
func TestRedactsByVersion(t *testing.T) {
	raw := []byte(`{"auth_events":[],"content":{"redacts":"$in_content"},"depth":1,"hashes":{},` +
		`"origin_server_ts":1,"prev_events":[],"redacts":"$top_level","room_id":"!r:x","sender":"@u:x",` +
		`"signatures":{},"type":"m.room.redaction"}`)
	for _, v := range roomversion.Known()[2:] {
		e, err := Parse(v, raw)
		if err != nil {
			t.Fatal(err)
		}
		want := "$top_level"
		if v.Event.RedactsInContent {
			want = "$in_content"
		}
		if e.Redacts() != want {
			t.Errorf("v%s: Redacts = %q, want %q", v.ID, e.Redacts(), want)
		}
	}
}

func TestParseWithID(t *testing.T) {
	raw := []byte(strings.Replace(baseV3, `"depth"`, `"event_id":"$readable","depth"`, 1))
	if _, err := Parse(roomversion.V10, raw); err == nil {
		t.Fatal("Parse accepted event_id in room version 10")
	}
	e, err := ParseWithID(roomversion.V10, raw, "$readable")
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != "$readable" {
		t.Errorf("ID = %q", e.ID())
	}
	for _, bad := range []struct{ id, rule string }{
		{"", "event_id.missing"},
		{"noSigil", "event_id.format"},
		{"$" + strings.Repeat("a", 255), "event_id.size"},
	} {
		_, err := ParseWithID(roomversion.V10, raw, bad.id)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Rule != bad.rule {
			t.Errorf("ParseWithID(%q): %v, want rule %s", bad.id, err, bad.rule)
		}
	}
	// The given ID wins over the event's own in versions 1 and 2 too.
	e, err = ParseWithID(roomversion.V1, []byte(baseV1), "$other:x")
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != "$other:x" {
		t.Errorf("ID = %q", e.ID())
	}
}

func TestParseCopiesInput(t *testing.T) {
	raw := []byte(baseV3)
	e, err := Parse(roomversion.V10, raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = ' '
	}
	if e.Sender() != "@u:x" || e.Type() != "m.room.message" || string(e.Content()) != `{"body":"hello","msgtype":"m.text"}` {
		t.Errorf("event changed with its input: %q %q %s", e.Sender(), e.Type(), e.Content())
	}
}

// Escapes in identifiers are decoded: the field holds the string, not
// its JSON spelling.
func TestParseEscapedFields(t *testing.T) {
	raw := []byte(`{"auth_events":["$\u0061"],"content":{"membership":"j\u006fin"},"depth":1,"hashes":{},` +
		`"origin_server_ts":1,"prev_events":[],"room_id":"!r:x","sender":"@\u00e9:x","signatures":{},` +
		`"state_key":"\"q\"","type":"m.room.member"}`)
	e, err := Parse(roomversion.V10, raw)
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := e.StateKey()
	if e.Sender() != "@é:x" || sk != `"q"` || e.Membership() != "join" || e.AuthEventIDs()[0] != "$a" {
		t.Errorf("got sender %q state key %q membership %q auth %v", e.Sender(), sk, e.Membership(), e.AuthEventIDs())
	}
}

// Sizes count bytes, not characters, and the escapes of the input do not
// count: "\u00e9" is two bytes of UTF-8 in the identifier.
func TestParseSizeCountsBytes(t *testing.T) {
	ok := "@" + strings.Repeat("é", 126) + ":x" // 1 + 252 + 2 = 255 bytes
	over := "@" + strings.Repeat("é", 127) + ":x"
	escaped := "@" + strings.Repeat(`\u00e9`, 126) + ":x"
	for _, c := range []struct {
		sender string
		ok     bool
	}{{ok, true}, {over, false}, {escaped, true}} {
		raw := strings.Replace(baseV3, `"@u:x"`, `"`+c.sender+`"`, 1)
		_, err := Parse(roomversion.V10, []byte(raw))
		if (err == nil) != c.ok {
			t.Errorf("sender of %d input bytes: %v", len(c.sender), err)
		}
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	raw := strings.Replace(baseV3, "hello", "hel\xfflo", 1)
	_, err := Parse(roomversion.V10, []byte(raw))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Rule != "json.utf8" {
		t.Errorf("got %v, want json.utf8", err)
	}
}

// Whitespace is not part of the canonical size: an event that is over the
// limit only because of its whitespace is accepted.
func TestParseSizeIsCanonical(t *testing.T) {
	var m map[string]any
	json.Unmarshal([]byte(baseV3), &m)
	m["content"] = map[string]any{"body": strings.Repeat("x", 60000)}
	compact := marshal(t, m)
	var indented bytes.Buffer
	json.Indent(&indented, compact, "", strings.Repeat(" ", 1000))
	if indented.Len() <= MaxEventSize {
		t.Fatalf("indented input is only %d bytes", indented.Len())
	}
	if _, err := Parse(roomversion.V10, indented.Bytes()); err != nil {
		t.Fatal(err)
	}
}
