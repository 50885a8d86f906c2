package clientapi

import (
	"encoding/json"
	"testing"
)

// TestSearch: POST /search checks its body (data/api/client-server/
// search.yaml) and gives the room_events category to the Searcher; the
// MemorySearch answers with the events of the searched keys that the user
// may see.
func TestSearch(t *testing.T) {
	ms := &MemorySearch{}
	f := newFake()
	f.addUser("alice", "secret")
	f.addUser("bob", "hunter2")
	s := f.handler()
	s.Searcher = ms
	for _, ev := range []string{
		`{"type":"m.room.message","room_id":"!a:x","sender":"@alice:example.org","event_id":"$1","content":{"body":"lunch at noon"}}`,
		`{"type":"m.room.topic","room_id":"!a:x","sender":"@alice:example.org","event_id":"$2","content":{"topic":"Lunch plans, lunch talk"}}`,
		`{"type":"m.room.message","room_id":"!b:x","sender":"@carol:example.org","event_id":"$3","content":{"body":"lunch elsewhere"}}`,
		`{"type":"m.room.member","room_id":"!a:x","sender":"@alice:example.org","event_id":"$4","content":{"body":"lunch","membership":"join"}}`,
	} {
		ms.Add(json.RawMessage(ev))
	}
	ms.Allow("!a:x", "@alice:example.org")
	ms.Allow("!b:x", "@alice:example.org")
	ms.Allow("!a:x", "@bob:example.org")

	bad := []struct{ name, body, code string }{
		{"no categories", `{}`, "M_MISSING_PARAM"},
		{"no term", `{"search_categories":{"room_events":{}}}`, "M_MISSING_PARAM"},
		{"unknown key", `{"search_categories":{"room_events":{"search_term":"x","keys":["content.foo"]}}}`, "M_INVALID_PARAM"},
		{"bad order", `{"search_categories":{"room_events":{"search_term":"x","order_by":"oldest"}}}`, "M_INVALID_PARAM"},
		{"bad group", `{"search_categories":{"room_events":{"search_term":"x","groupings":{"group_by":[{"key":"type"}]}}}}`, "M_INVALID_PARAM"},
		{"negative context", `{"search_categories":{"room_events":{"search_term":"x","event_context":{"before_limit":-1}}}}`, "M_INVALID_PARAM"},
		{"filter not an object", `{"search_categories":{"room_events":{"search_term":"x","filter":[1]}}}`, "M_BAD_JSON"},
		{"filter of wrong types", `{"search_categories":{"room_events":{"search_term":"x","filter":{"rooms":"!a:x"}}}}`, "M_BAD_JSON"},
		{"term not a string", `{"search_categories":{"room_events":{"search_term":5}}}`, "M_BAD_JSON"},
	}
	for _, tc := range bad {
		if r := do(t, s, "POST", "/_matrix/client/v3/search", "tok_alice", tc.body); r.status != 400 || r.body["errcode"] != tc.code {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, r.status, r.raw, tc.code)
		}
	}
	if r := do(t, s, "POST", "/_matrix/client/v3/search", "tok_alice", `{"search_categories":{}}`); r.status != 200 || r.raw != `{"search_categories":{}}` {
		t.Errorf("no category: %d %s", r.status, r.raw)
	}

	type answer struct {
		SearchCategories struct {
			RoomEvents struct {
				Count   int `json:"count"`
				Results []struct {
					Rank   float64 `json:"rank"`
					Result struct {
						EventID string `json:"event_id"`
					} `json:"result"`
				} `json:"results"`
				Highlights []string `json:"highlights"`
				NextBatch  string   `json:"next_batch"`
			} `json:"room_events"`
		} `json:"search_categories"`
	}
	search := func(tok, body, query string) answer {
		t.Helper()
		r := do(t, s, "POST", "/_matrix/client/v3/search"+query, tok, body)
		if r.status != 200 {
			t.Fatalf("search %s: %d %s", body, r.status, r.raw)
		}
		var a answer
		json.Unmarshal([]byte(r.raw), &a)
		return a
	}
	ids := func(a answer) (out []string) {
		for _, r := range a.SearchCategories.RoomEvents.Results {
			out = append(out, r.Result.EventID)
		}
		return out
	}
	// Rank first: the topic says lunch twice.
	a := search("tok_alice", `{"search_categories":{"room_events":{"search_term":"LUNCH"}}}`, "")
	if got := ids(a); len(got) != 3 || got[0] != "$2" || a.SearchCategories.RoomEvents.Highlights[0] != "lunch" {
		t.Errorf("alice, by rank: %v %+v", got, a)
	}
	// Recent first, bob sees only room a, member events are never searched.
	if got := ids(search("tok_bob", `{"search_categories":{"room_events":{"search_term":"lunch","order_by":"recent"}}}`, "")); len(got) != 2 || got[0] != "$2" || got[1] != "$1" {
		t.Errorf("bob, recent: %v", got)
	}
	// Keys and filters narrow it.
	if got := ids(search("tok_alice", `{"search_categories":{"room_events":{"search_term":"lunch","keys":["content.body"],"filter":{"not_rooms":["!b:x"]}}}}`, "")); len(got) != 1 || got[0] != "$1" {
		t.Errorf("body only, not room b: %v", got)
	}
	// Pages.
	p1 := search("tok_alice", `{"search_categories":{"room_events":{"search_term":"lunch","order_by":"recent","filter":{"limit":2}}}}`, "")
	if len(ids(p1)) != 2 || p1.SearchCategories.RoomEvents.NextBatch == "" || p1.SearchCategories.RoomEvents.Count != 3 {
		t.Fatalf("first page: %+v", p1)
	}
	p2 := search("tok_alice", `{"search_categories":{"room_events":{"search_term":"lunch","order_by":"recent","filter":{"limit":2}}}}`, "?next_batch="+p1.SearchCategories.RoomEvents.NextBatch)
	if got := ids(p2); len(got) != 1 || got[0] != "$1" || p2.SearchCategories.RoomEvents.NextBatch != "" {
		t.Errorf("second page: %v %+v", got, p2)
	}
}
