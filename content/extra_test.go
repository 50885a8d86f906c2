package content_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/content"
)

// withKey adds key: value to the JSON object raw.
func withKey(t *testing.T, raw []byte, key, value string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m[key] = json.RawMessage(value)
	out, _ := json.Marshal(m)
	return out
}

// Every example of the specification, with a custom key added at the top
// (as clients add to m.room.message, e.g. "com.example.mentions"), still
// round-trips: the key and its value come back and the named fields are
// unchanged. m.receipt's top level is a map of event IDs: its custom key
// goes in a receipt (TestReceiptKeepsUnknown).
func TestSpecExamplesKeepUnknownFields(t *testing.T) {
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
		"m.presence":                roundTrip[content.Presence],
		"m.space.child":             roundTrip[content.SpaceChild],
		"m.space.parent":            roundTrip[content.SpaceParent],
		"m.sticker":                 roundTrip[content.Sticker],
		"m.room.encrypted":          roundTrip[content.Encrypted],
	}
	files, _ := filepath.Glob("testdata/spec/*.json")
	n := 0
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var ex struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(raw, &ex); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if ex.Type == "" {
			ex.Type, _, _ = strings.Cut(filepath.Base(f), "_")
		}
		check := types[ex.Type]
		if check == nil {
			continue
		}
		n++
		custom := withKey(t, ex.Content, "com.example.custom", `{"nested":[1,"two",{"three":3.5}],"n":null}`)
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) { check(t, custom) })
	}
	if n < len(types) {
		t.Errorf("%d examples checked, want at least %d", n, len(types))
	}
}

// Custom keys inside nested objects of a message (its info, its relation,
// the replacement content of an edit, a thumbnail's info) are kept too,
// and Extra holds exactly the unknown keys of the top level.
func TestMessageKeepsNestedUnknown(t *testing.T) {
	raw := []byte(`{"msgtype":"m.image","body":"cat.png","url":"mxc://example.org/cat","x.top":true,
		"info":{"mimetype":"image/png","w":10,"h":20,"x.info":"i","thumbnail_info":{"w":1,"x.thumb":[1]}},
		"m.relates_to":{"rel_type":"m.replace","event_id":"$e","x.rel":{"a":1}},
		"m.new_content":{"msgtype":"m.text","body":"new","x.new":1},
		"m.mentions":{"user_ids":["@a:example.org"]}}`)
	roundTrip[content.Message](t, raw)
	var m content.Message
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Extra) != 2 || string(m.Extra["x.top"]) != "true" || string(m.Extra["m.mentions"]) != `{"user_ids":["@a:example.org"]}` {
		t.Errorf("Extra %q, want x.top and m.mentions", m.Extra)
	}
	if m.Body != "cat.png" || m.Info == nil || string(m.Info.Extra["x.info"]) != `"i"` {
		t.Errorf("decoded %+v", m)
	}
}

func TestReceiptKeepsUnknown(t *testing.T) {
	roundTrip[content.Receipts](t, []byte(`{"$e":{"m.read":{"@a:example.org":{"ts":1,"thread_id":"main","x.r":"kept"}}}}`))
}

// A message built in code with Extra encodes it; Extra cannot shadow a
// named field, nor hold what is not JSON.
func TestExtraEncode(t *testing.T) {
	m := content.Message{MsgType: content.MsgText, Body: "hi", Extra: map[string]json.RawMessage{"org.example.b": json.RawMessage(` [1] `), "org.example.a": json.RawMessage(`"x"`)}}
	out, err := json.Marshal(m)
	if err != nil || string(out) != `{"msgtype":"m.text","body":"hi","org.example.a":"x","org.example.b":[1]}` {
		t.Errorf("encoded %s, %v", out, err)
	}
	for _, extra := range []map[string]json.RawMessage{
		{"body": json.RawMessage(`"shadow"`)},
		{"Body": json.RawMessage(`"shadow"`)},
		{"x": json.RawMessage(`{`)},
		{"x": nil},
	} {
		m.Extra = extra
		if out, err := json.Marshal(m); err == nil {
			t.Errorf("Extra %q encoded as %s", extra, out)
		}
	}
	// Empty structs and no Extra: the plain encoding.
	if out, _ := json.Marshal(content.Typing{}); string(out) != `{"user_ids":null}` {
		t.Errorf("empty typing: %s", out)
	}
	if out, _ := json.Marshal(content.Name{Extra: map[string]json.RawMessage{"a": json.RawMessage(`1`)}}); string(out) != `{"name":"","a":1}` {
		t.Errorf("name with extra: %s", out)
	}
}

// A key the decoder reads into a field regardless of case is that field,
// not an unknown one (encoding/json matches names without regard to case).
func TestExtraCaseFold(t *testing.T) {
	var tp content.Topic
	if err := json.Unmarshal([]byte(`{"TOPIC":"t"}`), &tp); err != nil || tp.Topic != "t" || tp.Extra != nil {
		t.Errorf("decoded %+v, %v", tp, err)
	}
}

// TestEveryStructKeepsExtra: every struct type of the package has an
// Extra field, so that no content drops unknown fields, and decodes into
// it (a type without the methods would leave Extra empty).
func TestEveryStructKeepsExtra(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var structs []string
	for _, f := range pkgs["content"].Files {
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.IsExported() {
				if st, ok := ts.Type.(*ast.StructType); ok && len(st.Fields.List) > 1 {
					structs = append(structs, ts.Name.Name)
				}
			}
			return true
		})
	}
	byName := map[string]any{}
	for _, v := range []any{content.Typing{}, content.Receipt{}, content.Presence{}, content.Message{}, content.MediaInfo{},
		content.EncryptedFile{}, content.JWK{}, content.RelatesTo{}, content.InReplyTo{}, content.Reaction{}, content.Redaction{},
		content.Member{}, content.ThirdPartyInvite{}, content.PowerLevels{}, content.Create{}, content.Predecessor{},
		content.JoinRules{}, content.AllowCondition{}, content.HistoryVisibility{}, content.Topic{}, content.TextBlock{},
		content.TextRepresentation{}, content.Name{}, content.Avatar{}, content.CanonicalAlias{}, content.Encryption{},
		content.PinnedEvents{}, content.Tombstone{}, content.ServerACL{}, content.GuestAccess{},
		content.SpaceChild{}, content.SpaceParent{}, content.Sticker{}, content.Encrypted{}} {
		byName[reflect.TypeOf(v).Name()] = v
	}
	for _, name := range structs {
		v, ok := byName[name]
		if !ok {
			t.Errorf("struct %s is not in this test's list", name)
			continue
		}
		p := reflect.New(reflect.TypeOf(v))
		if err := json.Unmarshal([]byte(`{"x.unknown":7}`), p.Interface()); err != nil {
			// A type with a required shape may refuse {}: decode its
			// zero value's encoding with the key added instead.
			zero, _ := json.Marshal(v)
			if err := json.Unmarshal(withKey(t, zero, "x.unknown", "7"), p.Interface()); err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
		}
		extra := p.Elem().FieldByName("Extra")
		if !extra.IsValid() || extra.Len() != 1 {
			t.Errorf("%s does not keep unknown fields in Extra", name)
		}
	}
	if len(structs) < 30 {
		t.Errorf("found %d struct types, want at least 30", len(structs))
	}
}
