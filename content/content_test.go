package content_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/content"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// roundTrip decodes raw into a T, encodes it again, and reports whether
// the JSON means the same: every field of the example must be named by T.
func roundTrip[T any](t *testing.T, raw []byte) {
	t.Helper()
	var c T
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var want, got any
	_ = json.Unmarshal(raw, &want)
	_ = json.Unmarshal(out, &got)
	if !reflect.DeepEqual(want, got) {
		t.Errorf("round trip changed the content\n got %s\nwant %s", out, raw)
	}
}

// The examples of the specification (data/event-schemas/examples of
// matrix-org/matrix-spec, copied into testdata/spec), each decoded into
// its type and encoded back without losing or changing a field.
func TestSpecExamplesRoundTrip(t *testing.T) {
	types := map[string]func(*testing.T, []byte){
		"m.room.message":            roundTrip[content.Message],
		"m.room.member":             roundTrip[content.Member],
		"m.room.power_levels":       roundTrip[content.PowerLevels],
		"m.room.create":             roundTrip[content.Create],
		"m.room.join_rules":         roundTrip[content.JoinRules],
		"m.room.history_visibility": roundTrip[content.HistoryVisibility],
		"m.room.topic":              roundTrip[content.Topic],
		"m.room.name":               roundTrip[content.Name],
		"m.room.avatar":             roundTrip[content.Avatar],
		"m.room.canonical_alias":    roundTrip[content.CanonicalAlias],
		"m.room.encryption":         roundTrip[content.Encryption],
		"m.room.redaction":          roundTrip[content.Redaction],
		"m.reaction":                roundTrip[content.Reaction],
		"m.room.pinned_events":      roundTrip[content.PinnedEvents],
		"m.room.tombstone":          roundTrip[content.Tombstone],
		"m.room.server_acl":         roundTrip[content.ServerACL],
		"m.room.guest_access":       roundTrip[content.GuestAccess],
		"m.typing":                  roundTrip[content.Typing],
		"m.receipt":                 roundTrip[content.Receipts],
		"m.presence":                roundTrip[content.Presence],
		"m.space.child":             roundTrip[content.SpaceChild],
		"m.space.parent":            roundTrip[content.SpaceParent],
		"m.sticker":                 roundTrip[content.Sticker],
		"m.room.encrypted":          roundTrip[content.Encrypted],
	}
	files, _ := filepath.Glob("testdata/spec/*.json")
	seen := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ex struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(raw, &ex); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if ex.Type == "" {
			// An example that refers to another ("$ref") is of that
			// example's type, named before the "_" of its file name.
			ex.Type, _, _ = strings.Cut(filepath.Base(f), "_")
		}
		check := types[ex.Type]
		if check == nil {
			t.Errorf("%s: no type for %s", f, ex.Type)
			continue
		}
		seen[ex.Type] = true
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) { check(t, ex.Content) })
	}
	for typ := range types {
		if !seen[typ] {
			t.Errorf("no example of %s in testdata/spec", typ)
		}
	}
}

func exampleKey() *signing.SigningKey { return testKey() }

func testKey() *signing.SigningKey {
	seed, _ := base64.DecodeString("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
	key, _ := signing.NewSigningKey("ed25519:1", seed)
	return key
}

func TestParseFromEventKeepsRawBytes(t *testing.T) {
	// A field this package does not know stays in the event's bytes.
	raw := `{"body":"hi","msgtype":"m.text","com.example.extra":[1,2]}`
	b := event.Builder{Type: "m.room.message", Sender: "@a:example.org", RoomID: "!r:example.org", Content: []byte(raw), OriginServerTS: 1}
	ev, err := b.Build(roomversion.V11, "example.org", testKey())
	if err != nil {
		t.Fatal(err)
	}
	m, err := content.Parse[content.Message](ev)
	if err != nil || m.Body != "hi" || m.MsgType != content.MsgText {
		t.Fatalf("got %+v, %v", m, err)
	}
	if !strings.Contains(string(ev.Content()), `"com.example.extra":[1,2]`) {
		t.Errorf("event content lost a field: %s", ev.Content())
	}
	if _, err := content.Parse[content.Member](ev); err == nil {
		t.Error("parsed an m.room.message as m.room.member")
	}
}

func TestNewBuilderRedaction(t *testing.T) {
	for _, v := range []roomversion.Version{roomversion.V10, roomversion.V11} {
		b, err := content.NewBuilder(content.Redaction{Redacts: "$x", Reason: "spam"}, "@a:example.org", nil)
		if err != nil {
			t.Fatal(err)
		}
		b.RoomID = "!r:example.org"
		ev, err := b.Build(v, "example.org", testKey())
		if err != nil {
			t.Fatal(err)
		}
		if ev.Redacts() != "$x" {
			t.Errorf("v%s: redacts %q", v.ID, ev.Redacts())
		}
		r, err := content.Parse[content.Redaction](ev)
		if err != nil || r.Reason != "spam" {
			t.Errorf("v%s: %+v %v", v.ID, r, err)
		}
	}
}

func TestLevelExact(t *testing.T) {
	// Room versions 1 to 5 allow any number, 1 to 9 strings: the level
	// must come back exactly as written, never truncated.
	raw := `{"users":{"@a:x":123456789012345678901234567890,"@b:x":"50","@c:x":-3},"ban":1e3}`
	var pl content.PowerLevels
	if err := json.Unmarshal([]byte(raw), &pl); err != nil {
		t.Fatal(err)
	}
	if _, ok := pl.Users["@a:x"].Int64(); ok {
		t.Error("a 30-digit level fits in an int64?")
	}
	if n, ok := pl.Users["@b:x"].Int64(); !ok || n != 50 {
		t.Errorf("string level: %d %v", n, ok)
	}
	if n, ok := pl.Users["@c:x"].Int64(); !ok || n != -3 {
		t.Errorf("negative level: %d %v", n, ok)
	}
	out, _ := json.Marshal(pl)
	if !strings.Contains(string(out), "123456789012345678901234567890") || !strings.Contains(string(out), `"ban":1e3`) {
		t.Errorf("levels changed: %s", out)
	}
	if err := json.Unmarshal([]byte(`{"ban":true}`), &pl); err == nil {
		t.Error("a boolean power level was accepted")
	}
}

func TestRelations(t *testing.T) {
	edit := content.Edit("$orig", content.Message{MsgType: content.MsgText, Body: "fixed"})
	out, _ := json.Marshal(edit)
	want := `{"msgtype":"m.text","body":"* fixed","m.relates_to":{"rel_type":"m.replace","event_id":"$orig"},"m.new_content":{"msgtype":"m.text","body":"fixed"}}`
	if string(out) != want {
		t.Errorf("edit:\n got %s\nwant %s", out, want)
	}
	th, _ := json.Marshal(content.Thread("$root", "$last"))
	if string(th) != `{"rel_type":"m.thread","event_id":"$root","m.in_reply_to":{"event_id":"$last"},"is_falling_back":true}` {
		t.Errorf("thread: %s", th)
	}
	r, _ := json.Marshal(content.React("$e", "👍"))
	if string(r) != `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$e","key":"👍"}}` {
		t.Errorf("reaction: %s", r)
	}
}

// FuzzParse decodes arbitrary content into the types with many fields:
// an error or a value, never a panic, and a value encodes again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/spec/*.json")
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		var ex struct{ Content json.RawMessage }
		if json.Unmarshal(raw, &ex) == nil {
			f.Add([]byte(ex.Content))
		}
	}
	f.Add([]byte(`{"users":{"@a:x":"1e999"}}`))
	f.Add([]byte(`{"msgtype":"m.text","body":"x","Body":"y","x.c":{"a":[1]},"info":{"x.i":null}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var pl content.PowerLevels
		if json.Unmarshal(raw, &pl) == nil {
			if _, err := json.Marshal(pl); err != nil {
				t.Errorf("decoded power levels do not encode: %v", err)
			}
		}
		var m content.Message
		if json.Unmarshal(raw, &m) == nil {
			out, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("decoded message does not encode: %v", err)
			}
			// Encoding is stable: what was encoded decodes and encodes
			// to the same bytes (Extra included).
			var again content.Message
			if err := json.Unmarshal(out, &again); err != nil {
				t.Fatalf("encoded message %s does not decode: %v", out, err)
			}
			if out2, err := json.Marshal(again); err != nil || string(out2) != string(out) {
				t.Errorf("unstable encoding:\n%s\n%s (%v)", out, out2, err)
			}
		}
	})
}

// A level too large for an int64, legal in room version 5, reads the same
// through content.Level as through the authorization rules' eventauth.Level.
func TestLevelAgreesWithEventAuth(t *testing.T) {
	v := roomversion.V5
	key := testKey()
	sk := ""
	create, err := (&event.Builder{Type: "m.room.create", StateKey: &sk, Sender: "@a:x", RoomID: "!r:x",
		Content: []byte(`{"creator":"@a:x"}`), OriginServerTS: 1}).Build(v, "x", key)
	if err != nil {
		t.Fatal(err)
	}
	huge := "123456789012345678901234567890"
	pl, err := (&event.Builder{Type: "m.room.power_levels", StateKey: &sk, Sender: "@a:x", RoomID: "!r:x",
		Content: []byte(`{"users":{"@a:x":` + huge + `}}`), OriginServerTS: 2, PrevEvents: []*event.Event{create}}).Build(v, "x", key)
	if err != nil {
		t.Fatal(err)
	}
	want, err := eventauth.UserLevelIn(v, pl, create, "@a:x")
	if err != nil {
		t.Fatal(err)
	}
	c, err := content.Parse[content.PowerLevels](pl)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Users["@a:x"].String(); got != want.String() || got != huge {
		t.Errorf("content level %s, eventauth level %s, written %s", got, want, huge)
	}
}
