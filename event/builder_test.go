package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/roomversion"
)

func TestBuilderDepth(t *testing.T) {
	key := specKey(t)
	v := roomversion.V10
	at := func(depth int64) *Event {
		raw := strings.Replace(baseV3, `"depth":5`, `"depth":`+itoa(depth), 1)
		e, err := Parse(v, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, c := range []struct {
		name      string
		prev      []*Event
		refs      []Reference
		prevDepth int64
		want      int64
	}{
		{"no previous events (a create event)", nil, nil, 0, 1},
		{"one more than the deepest", []*Event{at(5), at(9), at(2)}, nil, 0, 10},
		{"references count with PrevDepth", []*Event{at(5)}, []Reference{{EventID: "$x"}}, 20, 21},
		{"held at the limit", []*Event{at(v.MaxDepth())}, nil, 0, v.MaxDepth()},
		{"one below the limit reaches it", []*Event{at(v.MaxDepth() - 1)}, nil, 0, v.MaxDepth()},
	} {
		b := Builder{Type: "m.room.message", Sender: "@u:x", RoomID: "!r:x", PrevEvents: c.prev, PrevRefs: c.refs, PrevDepth: c.prevDepth, OriginServerTS: 1}
		e, err := b.Build(v, "x", key)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if e.Depth() != c.want {
			t.Errorf("%s: depth %d, want %d", c.name, e.Depth(), c.want)
		}
		if got := len(e.PrevEventIDs()); got != len(c.prev)+len(c.refs) {
			t.Errorf("%s: %d prev events", c.name, got)
		}
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// In room versions 1 and 2 references carry the referenced event's
// reference hash.
func TestBuilderV1References(t *testing.T) {
	key := specKey(t)
	v := roomversion.V1
	parent, err := (&Builder{Type: "m.room.message", Sender: "@u:x", RoomID: "!r:x", OriginServerTS: 1}).Build(v, "x", key)
	if err != nil {
		t.Fatal(err)
	}
	rh, _ := parent.ReferenceHash()
	child, err := (&Builder{Type: "m.room.message", Sender: "@u:x", RoomID: "!r:x", OriginServerTS: 2,
		PrevEvents: []*Event{parent}, AuthRefs: []Reference{{EventID: "$a:x", Hashes: []byte(`{ "sha256" : "abc" }`)}}}).Build(v, "x", key)
	if err != nil {
		t.Fatal(err)
	}
	refs := child.PrevEvents()
	if len(refs) != 1 || refs[0].EventID != parent.ID() || string(refs[0].Hashes) != `{"sha256":"`+base64.EncodeToString(rh[:])+`"}` {
		t.Errorf("prev_events %+v", refs)
	}
	if a := child.AuthEvents(); len(a) != 1 || string(a[0].Hashes) != `{"sha256":"abc"}` {
		t.Errorf("auth_events %+v", a)
	}
	if child.Depth() != 2 {
		t.Errorf("depth %d", child.Depth())
	}
	_, err = (&Builder{Type: "m.room.message", Sender: "@u:x", RoomID: "!r:x", PrevRefs: []Reference{{EventID: "$p:x"}}}).Build(v, "x", key)
	if err == nil {
		t.Error("a version 1 reference without hashes was accepted")
	}
}

func TestBuilderFields(t *testing.T) {
	key := specKey(t)
	sk := "@u:x"
	for _, v := range []roomversion.Version{roomversion.V10, roomversion.V11} {
		b := Builder{Type: TypeRedaction, Sender: "@u:x", RoomID: "!r:x", Redacts: "$target", Content: []byte(` { "reason" : "spam" } `), OriginServerTS: 7, Unsigned: []byte(`{"age": 3}`)}
		e, err := b.Build(v, "x", key)
		if err != nil {
			t.Fatal(err)
		}
		if e.Redacts() != "$target" {
			t.Errorf("v%s: Redacts %q", v.ID, e.Redacts())
		}
		inContent := bytes.Contains(e.Content(), []byte(`"redacts":"$target"`))
		if inContent != v.Event.RedactsInContent {
			t.Errorf("v%s: content %s", v.ID, e.Content())
		}
		if string(e.Unsigned()) != `{"age":3}` || e.OriginServerTS() != 7 {
			t.Errorf("v%s: unsigned %s ts %d", v.ID, e.Unsigned(), e.OriginServerTS())
		}
		if !e.ContentHashValid() {
			t.Errorf("v%s: content hash", v.ID)
		}
		if !bytes.Equal(canon(t, e.JSON()), e.JSON()) {
			t.Errorf("v%s: built event is not canonical JSON", v.ID)
		}
	}
	m, err := (&Builder{Type: TypeMember, StateKey: &sk, Sender: sk, RoomID: "!r:x", Content: []byte(`{"membership":"join"}`)}).Build(roomversion.V12, "x", key)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := m.StateKey(); !ok || got != sk || m.Membership() != "join" || m.OriginServerTS() == 0 {
		t.Errorf("member: %q %v %q %d", got, ok, m.Membership(), m.OriginServerTS())
	}
	for name, b := range map[string]Builder{
		"content not an object": {Type: "t", Sender: "@u:x", RoomID: "!r:x", Content: []byte(`[]`)},
		"content not JSON":      {Type: "t", Sender: "@u:x", RoomID: "!r:x", Content: []byte(`{`)},
		"float in version 10":   {Type: "t", Sender: "@u:x", RoomID: "!r:x", Content: []byte(`{"n":1.5}`)},
		"no room":               {Type: "t", Sender: "@u:x"},
		"sender without server": {Type: "t", Sender: "@u", RoomID: "!r:x"},
	} {
		if _, err := b.Build(roomversion.V10, "x", key); err == nil {
			t.Errorf("%s: built", name)
		}
	}
	if _, err := (&Builder{Type: "t", Sender: "@u:x", RoomID: "!r:x"}).Build(roomversion.V10, "x", nil); err == nil {
		t.Error("built without a key")
	}
}
