package clientapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOrderSpaceChildren is the example of "Ordering of children within a
// space", plus ties and invalid orders.
func TestOrderSpaceChildren(t *testing.T) {
	raw := []struct {
		key, content string
		ts           int64
	}{
		{"!b:example.org", `{"order":" ","via":["example.org"]}`, 1640341000000},
		{"!a:example.org", `{"order":"aaaa","via":["example.org"]}`, 1640141000000},
		{"!c:example.org", `{"order":"first","via":["example.org"]}`, 1640841000000},
		{"!e:example.org", `{"via":["example.org"]}`, 1640641000000},
		{"!d:example.org", `{"via":["example.org"]}`, 1640741000000},
		// Invalid orders count as none: a non-ASCII one, one too long, a number.
		{"!f:example.org", `{"order":"é","via":["example.org"]}`, 1640641000000},
		{"!g:example.org", `{"order":"` + strings.Repeat("a", 51) + `","via":["example.org"]}`, 1640941000000},
		{"!h:example.org", `{"order":5,"via":["example.org"]}`, 1640000000000},
		// Same order: by timestamp, then by room ID.
		{"!j:example.org", `{"order":"first","via":["example.org"]}`, 1640841000000},
	}
	var children []SpaceChild
	for _, r := range raw {
		c, ok := ParseSpaceChild(r.key, json.RawMessage(r.content), r.ts)
		if !ok {
			t.Fatalf("%s not a child", r.key)
		}
		children = append(children, c)
	}
	OrderSpaceChildren(children)
	var got []string
	for _, c := range children {
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(c.RoomID, "!"), ":example.org"))
	}
	if want := "b a c j h e f d g"; strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

func TestParseSpaceChild(t *testing.T) {
	for _, tc := range []struct {
		key, content string
		ok           bool
	}{
		{"!a:x", `{"via":["x"]}`, true},
		{"!a:x", `{"via":["x"],"suggested":true}`, true},
		{"!a:x", `{}`, false},
		{"!a:x", `{"via":[]}`, false},
		{"!a:x", `{"via":"x"}`, false},
		{"!a:x", `{"via":[1]}`, false},
		{"#a:x", `{"via":["x"]}`, false},
		{"!a:x", `[1]`, false},
	} {
		if _, ok := ParseSpaceChild(tc.key, json.RawMessage(tc.content), 1); ok != tc.ok {
			t.Errorf("%s %s: %v", tc.key, tc.content, ok)
		}
	}
	c, _ := ParseSpaceChild("!a:x", json.RawMessage(`{"via":["x"],"suggested":true,"order":"z"}`), 7)
	if !c.Suggested || c.Order != "z" || c.OriginServerTS != 7 || c.Via[0] != "x" {
		t.Errorf("%+v", c)
	}
}
