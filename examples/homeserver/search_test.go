package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
)

type searchAnswer struct {
	SearchCategories struct {
		RoomEvents struct {
			Count   int `json:"count"`
			Results []struct {
				Rank   float64 `json:"rank"`
				Result struct {
					EventID string `json:"event_id"`
					Type    string `json:"type"`
				} `json:"result"`
				Context *struct {
					EventsBefore []struct {
						EventID string `json:"event_id"`
					} `json:"events_before"`
					EventsAfter []struct {
						EventID string `json:"event_id"`
					} `json:"events_after"`
					ProfileInfo map[string]struct {
						DisplayName string `json:"displayname"`
					} `json:"profile_info"`
				} `json:"context"`
			} `json:"results"`
			State  map[string][]json.RawMessage `json:"state"`
			Groups map[string]map[string]struct {
				Order   int      `json:"order"`
				Results []string `json:"results"`
			} `json:"groups"`
			NextBatch string `json:"next_batch"`
		} `json:"room_events"`
	} `json:"search_categories"`
}

func (s searchAnswer) ids() []string {
	var out []string
	for _, r := range s.SearchCategories.RoomEvents.Results {
		out = append(out, r.Result.EventID)
	}
	return out
}

// TestSearch: POST /search over FTS5 finds the searched keys of the events
// a user may see (a former member up to the leave, a stranger nothing),
// ranks and orders them, pages, and gives context, profiles, state and
// groups.
func TestSearch(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "search.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	carol := register(t, hs.hs.ClientURL(), "carol")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "name": "Lunch club", "topic": "where to eat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	alice.must("PUT", rp+"/state/m.room.member/@alice:search.test", map[string]string{"membership": "join", "displayname": "Alice A."}, nil)
	send := func(who *api, txn, body string) string {
		var r struct {
			EventID string `json:"event_id"`
		}
		who.must("PUT", rp+"/send/m.room.message/"+txn, map[string]string{"msgtype": "m.text", "body": body}, &r)
		return r.EventID
	}
	e1 := send(alice, "1", "Lunch at noon? The Köln place")
	e2 := send(bob, "2", "lunch lunch LUNCH")
	e3 := send(alice, "3", "something else")
	bob.must("POST", rp+"/leave", map[string]any{}, nil)
	e4 := send(alice, "4", "lunch after bob left")

	search := func(who *api, body string, query string) searchAnswer {
		t.Helper()
		var a searchAnswer
		who.must("POST", "/search"+query, json.RawMessage(body), &a)
		return a
	}
	term := func(s string) string {
		return `{"search_categories":{"room_events":{"search_term":` + fmt.Sprintf("%q", s) + `%s}}}`
	}
	q := func(s, extra string) string { return fmt.Sprintf(term(s), extra) }

	// Alice sees all; the most relevant first; the room name counts.
	a := search(alice, q("lunch", ""), "")
	if ids := a.ids(); len(ids) != 4 || ids[0] != e2 {
		t.Fatalf("alice, by rank: %v (e2=%s)", ids, e2)
	}
	// Recent first, and only the message bodies.
	a = search(alice, q("lunch", `,"order_by":"recent","keys":["content.body"]`), "")
	if ids := a.ids(); len(ids) != 3 || ids[0] != e4 || ids[1] != e2 || ids[2] != e1 {
		t.Fatalf("alice, recent, bodies: %v", ids)
	}
	// Bob left: nothing after his leave. Carol was never in the room.
	if ids := search(bob, q("lunch", `,"keys":["content.body"]`), "").ids(); len(ids) != 2 {
		t.Fatalf("bob after leaving: %v", ids)
	}
	if ids := search(carol, q("lunch", ""), "").ids(); len(ids) != 0 {
		t.Fatalf("carol, never a member: %v", ids)
	}
	// Case and accents fold; prefixes match; FTS syntax in the term is text.
	if ids := search(alice, q("KÖLN", ""), "").ids(); len(ids) != 1 || ids[0] != e1 {
		t.Fatalf("Köln: %v", ids)
	}
	if ids := search(alice, q("somethi", ""), "").ids(); len(ids) != 1 || ids[0] != e3 {
		t.Fatalf("prefix: %v", ids)
	}
	for _, s := range []string{`lunch" OR "x`, `NEAR(lunch`, `*`, `"`, ``} {
		search(alice, q(s, ""), "")
	}
	// Pages of one.
	p1 := search(alice, q("lunch", `,"order_by":"recent","filter":{"limit":1}`), "")
	if len(p1.ids()) != 1 || p1.SearchCategories.RoomEvents.NextBatch == "" || p1.SearchCategories.RoomEvents.Count != 4 {
		t.Fatalf("page 1: %+v", p1)
	}
	p2 := search(alice, q("lunch", `,"order_by":"recent","filter":{"limit":1}`), "?next_batch="+p1.SearchCategories.RoomEvents.NextBatch)
	if ids := p2.ids(); len(ids) != 1 || ids[0] != e2 {
		t.Fatalf("page 2: %v", ids)
	}
	// Filters by sender.
	if ids := search(alice, q("lunch", `,"filter":{"senders":["@bob:search.test"]}`), "").ids(); len(ids) != 1 || ids[0] != e2 {
		t.Fatalf("senders filter: %v", ids)
	}
	// Context, profiles, state, groups.
	a = search(alice, q("noon", `,"event_context":{"before_limit":1,"after_limit":2,"include_profile":true},"include_state":true,"groupings":{"group_by":[{"key":"room_id"},{"key":"sender"}]}`), "")
	if len(a.SearchCategories.RoomEvents.Results) != 1 {
		t.Fatalf("noon: %+v", a)
	}
	r := a.SearchCategories.RoomEvents.Results[0]
	if r.Context == nil || len(r.Context.EventsBefore) != 1 || len(r.Context.EventsAfter) != 2 || r.Context.EventsAfter[0].EventID != e2 ||
		r.Context.ProfileInfo["@alice:search.test"].DisplayName != "Alice A." {
		t.Fatalf("context %+v", r.Context)
	}
	if len(a.SearchCategories.RoomEvents.State[room.RoomID]) == 0 {
		t.Fatalf("no state for the room")
	}
	// History visibility applies: in a "joined" room, what was said before
	// bob joined is not found by him.
	var joinedRoom struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "initial_state": []map[string]any{
		{"type": "m.room.history_visibility", "state_key": "", "content": map[string]string{"history_visibility": "joined"}}}}, &joinedRoom)
	jp := "/rooms/" + url.PathEscape(joinedRoom.RoomID)
	alice.must("PUT", jp+"/send/m.room.message/early", map[string]string{"msgtype": "m.text", "body": "zebra before"}, nil)
	bob.must("POST", jp+"/join", map[string]any{}, nil)
	alice.must("PUT", jp+"/send/m.room.message/late", map[string]string{"msgtype": "m.text", "body": "zebra after"}, nil)
	if ids := search(bob, q("zebra", ""), "").ids(); len(ids) != 1 {
		t.Fatalf("bob in a joined-visibility room finds %d zebras, want only the one after his join", len(ids))
	}
	g := a.SearchCategories.RoomEvents.Groups
	if len(g["room_id"][room.RoomID].Results) != 1 || g["sender"]["@alice:search.test"].Results[0] != e1 {
		t.Fatalf("groups %+v", g)
	}
}
