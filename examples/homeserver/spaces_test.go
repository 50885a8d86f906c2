package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestSpaceHierarchy: GET /_matrix/client/v1/rooms/{roomId}/hierarchy walks
// a space's children depth-first in the spec's order, leaves out rooms the
// user may not see, asks another server for a child this server is not in
// (federation /hierarchy), and pages with a token tied to its options.
func TestSpaceHierarchy(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	carol := register(t, p.a.hs.ClientURL(), "carol")
	bob := register(t, p.b.hs.ClientURL(), "bob")
	create := func(who *api, body map[string]any) string {
		var r struct {
			RoomID string `json:"room_id"`
		}
		who.must("POST", "/createRoom", body, &r)
		return r.RoomID
	}
	space := create(alice, map[string]any{"preset": "public_chat", "name": "Space", "creation_content": map[string]any{"type": "m.space"}})
	sub := create(alice, map[string]any{"preset": "public_chat", "name": "Sub", "creation_content": map[string]any{"type": "m.space"}})
	open := create(alice, map[string]any{"preset": "public_chat", "name": "Open"})
	hidden := create(alice, map[string]any{"preset": "private_chat", "name": "Hidden"})
	remote := create(bob, map[string]any{"preset": "public_chat", "name": "Elsewhere"})
	child := func(parent, room string, content map[string]any) {
		alice.must("PUT", "/rooms/"+url.PathEscape(parent)+"/state/m.space.child/"+url.PathEscape(room), content, nil)
	}
	child(space, sub, map[string]any{"via": []string{"a.test"}, "order": "b"})
	child(space, hidden, map[string]any{"via": []string{"a.test"}, "order": "c"})
	child(space, remote, map[string]any{"via": []string{"b.test"}, "order": "d", "suggested": true})
	child(space, "!gone:a.test", map[string]any{}) // no via: not a child
	child(sub, open, map[string]any{"via": []string{"a.test"}})

	type hier struct {
		Rooms []struct {
			RoomID        string `json:"room_id"`
			Name          string `json:"name"`
			RoomType      string `json:"room_type"`
			ChildrenState []struct {
				StateKey string `json:"state_key"`
				TS       int64  `json:"origin_server_ts"`
			} `json:"children_state"`
		} `json:"rooms"`
		NextBatch string `json:"next_batch"`
	}
	get := func(who *api, q string) (hier, int) {
		req, _ := http.NewRequest("GET", who.base+"/_matrix/client/v1/rooms/"+url.PathEscape(space)+"/hierarchy"+q, nil)
		req.Header.Set("Authorization", "Bearer "+who.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h hier
		json.NewDecoder(resp.Body).Decode(&h)
		return h, resp.StatusCode
	}
	names := func(h hier) (out []string) {
		for _, r := range h.Rooms {
			out = append(out, r.Name)
		}
		return out
	}
	h, code := get(carol, "")
	if got := names(h); code != 200 || len(got) != 4 || got[0] != "Space" || got[1] != "Sub" || got[2] != "Open" || got[3] != "Elsewhere" {
		t.Fatalf("carol's walk: %d %v", code, got)
	}
	if len(h.Rooms[0].ChildrenState) != 3 || h.Rooms[0].RoomType != "m.space" || h.Rooms[0].ChildrenState[0].TS == 0 {
		t.Fatalf("the space's children_state: %+v", h.Rooms[0])
	}
	// Alice is in the hidden room: she sees it.
	if h, _ := get(alice, ""); len(h.Rooms) != 5 {
		t.Fatalf("alice's walk: %v", names(h))
	}
	if h, _ := get(carol, "?suggested_only=true"); len(h.Rooms) != 2 || h.Rooms[1].Name != "Elsewhere" {
		t.Fatalf("suggested only: %v", names(h))
	}
	if h, _ := get(carol, "?max_depth=1"); len(h.Rooms) != 3 {
		t.Fatalf("max_depth 1: %v", names(h))
	}
	p1, _ := get(carol, "?limit=2")
	if len(p1.Rooms) != 2 || p1.NextBatch == "" {
		t.Fatalf("page 1: %+v", p1)
	}
	p2, _ := get(carol, "?limit=2&from="+url.QueryEscape(p1.NextBatch))
	if got := names(p2); len(got) != 2 || got[0] != "Open" || p2.NextBatch != "" {
		t.Fatalf("page 2: %v %q", got, p2.NextBatch)
	}
	if _, code := get(carol, "?limit=2&max_depth=3&from="+url.QueryEscape(p1.NextBatch)); code != 400 {
		t.Fatalf("changing max_depth while paging: %d", code)
	}
	if _, code := get(carol, "?limit=0"); code != 400 {
		t.Fatalf("limit 0: %d", code)
	}
}
