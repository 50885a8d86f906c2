package clientapi

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRoomEventFilterMatches(t *testing.T) {
	msg := json.RawMessage(`{"msgtype":"m.text","body":"hi"}`)
	img := json.RawMessage(`{"msgtype":"m.image","body":"a.png","url":"mxc://x/y"}`)
	cases := []struct {
		filter, room, sender, typ string
		content                   json.RawMessage
		want                      bool
	}{
		{``, "!r", "@a", "m.room.message", msg, true},
		{`{}`, "!r", "@a", "m.room.message", msg, true},
		{`{"types":[]}`, "!r", "@a", "m.room.message", msg, false}, // an empty list keeps nothing
		{`{"types":["m.room.*"]}`, "!r", "@a", "m.room.message", msg, true},
		{`{"types":["m.room.*"]}`, "!r", "@a", "m.reaction", msg, false},
		{`{"types":["*"]}`, "!r", "@a", "m.reaction", msg, true},
		{`{"types":["m.*.message"]}`, "!r", "@a", "m.room.message", msg, true},
		{`{"types":["m.room.?essage"]}`, "!r", "@a", "m.room.message", msg, false}, // ? is literal
		{`{"types":["m.room.*"],"not_types":["m.room.message"]}`, "!r", "@a", "m.room.message", msg, false},
		{`{"not_types":["*"]}`, "!r", "@a", "m.room.message", msg, false},
		{`{"senders":["@a"]}`, "!r", "@a", "m.room.message", msg, true},
		{`{"senders":["@a"]}`, "!r", "@b", "m.room.message", msg, false},
		{`{"senders":["@a"],"not_senders":["@a"]}`, "!r", "@a", "m.room.message", msg, false},
		{`{"senders":["@*"]}`, "!r", "@a", "m.room.message", msg, false}, // senders match exactly
		{`{"rooms":["!r"]}`, "!r", "@a", "m.room.message", msg, true},
		{`{"not_rooms":["!r"]}`, "!r", "@a", "m.room.message", msg, false},
		{`{"contains_url":true}`, "!r", "@a", "m.room.message", img, true},
		{`{"contains_url":true}`, "!r", "@a", "m.room.message", msg, false},
		{`{"contains_url":false}`, "!r", "@a", "m.room.message", img, false},
		{`{"contains_url":false}`, "!r", "@a", "m.room.message", msg, true},
	}
	for _, c := range cases {
		f, err := ParseRoomEventFilter(json.RawMessage(c.filter))
		if err != nil {
			t.Fatalf("%s: %v", c.filter, err)
		}
		if got := f.Matches(c.room, c.sender, c.typ, c.content); got != c.want {
			t.Errorf("%s on %s from %s in %s: %v, want %v", c.filter, c.typ, c.sender, c.room, got, c.want)
		}
	}
	f, err := ParseRoomEventFilter(json.RawMessage(`{"limit":5,"lazy_load_members":true,"include_redundant_members":true,"unread_thread_notifications":true}`))
	if err != nil || f.Limit != 5 || !f.LazyLoadMembers || !f.IncludeRedundantMembers || !f.UnreadThreadNotifications {
		t.Fatalf("flags: %+v %v", f, err)
	}
	if _, err := ParseRoomEventFilter(json.RawMessage(`{"types":"m.room.message"}`)); err == nil {
		t.Fatal("a types string was accepted")
	}
}

// FuzzRoomEventFilter: parsing never panics, and the type patterns
// match as the regular expression they stand for.
func FuzzRoomEventFilter(f *testing.F) {
	f.Add(`{"types":["m.*"],"not_senders":["@a"],"contains_url":true}`, "m.room.message")
	f.Add(`{"types":["*a*b*"]}`, "xaxb")
	f.Add(`{"types":["a*a"]}`, "a")
	f.Add(`{"types":["[?]*"]}`, "[?]x")
	f.Fuzz(func(t *testing.T, raw, typ string) {
		flt, err := ParseRoomEventFilter(json.RawMessage(raw))
		if err != nil {
			return
		}
		flt.Matches("!r", "@a", typ, json.RawMessage(raw))
		if !utf8.ValidString(typ) {
			return // event types come from JSON: valid UTF-8 (regexp reads bad bytes as U+FFFD)
		}
		for _, p := range flt.Types {
			parts := strings.Split(p, "*")
			for i := range parts {
				parts[i] = regexp.QuoteMeta(parts[i])
			}
			re := regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
			if globMatch(p, typ) != re.MatchString(typ) {
				t.Fatalf("pattern %q on %q: glob %v, regexp %v", p, typ, globMatch(p, typ), re.MatchString(typ))
			}
		}
	})
}

// BenchmarkRoomEventFilterMatches: a filter with types (a wildcard),
// not_senders and contains_url against one event, beside the baseline of
// the empty filter (the cost of the call alone).
func BenchmarkRoomEventFilterMatches(b *testing.B) {
	content := json.RawMessage(`{"msgtype":"m.image","body":"a.png","url":"mxc://example.org/abc","info":{"w":300,"h":200,"mimetype":"image/png"}}`)
	full, _ := ParseRoomEventFilter(json.RawMessage(`{"types":["m.room.*","m.reaction"],"not_senders":["@spam:example.org"],"contains_url":true}`))
	typesOnly, _ := ParseRoomEventFilter(json.RawMessage(`{"types":["m.room.*","m.reaction"],"not_senders":["@spam:example.org"]}`))
	empty, _ := ParseRoomEventFilter(nil)
	for _, c := range []struct {
		name string
		f    *RoomEventFilter
	}{{"baseline-empty", empty}, {"types-senders", typesOnly}, {"types-senders-url", full}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.f.Matches("!r:example.org", "@a:example.org", "m.room.message", content) {
					b.Fatal("no match")
				}
			}
		})
	}
}
