package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// TestSyncRoomFilter: /sync applies the room part of its filter
// ("Filtering"): room.rooms and not_rooms choose the rooms, the timeline
// and state RoomEventFilters choose their events.
func TestSyncRoomFilter(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "syncfilter.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var a, b struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "name": "A"}, &a)
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "name": "B"}, &b)
	bob.must("POST", "/rooms/"+url.PathEscape(a.RoomID)+"/join", map[string]any{}, nil)
	alice.must("PUT", "/rooms/"+url.PathEscape(a.RoomID)+"/send/m.room.message/1", map[string]any{"msgtype": "m.text", "body": "hi"}, nil)
	bob.must("PUT", "/rooms/"+url.PathEscape(a.RoomID)+"/send/m.room.message/2", map[string]any{"msgtype": "m.text", "body": "yo"}, nil)

	type ev struct {
		Type   string `json:"type"`
		Sender string `json:"sender"`
	}
	sync := func(filter any) map[string]struct {
		Timeline struct{ Events []ev } `json:"timeline"`
		State    struct{ Events []ev } `json:"state"`
	} {
		f, _ := json.Marshal(filter)
		var r struct {
			Rooms struct {
				Join map[string]struct {
					Timeline struct{ Events []ev } `json:"timeline"`
					State    struct{ Events []ev } `json:"state"`
				} `json:"join"`
			} `json:"rooms"`
		}
		alice.must("GET", "/sync?filter="+url.QueryEscape(string(f)), nil, &r)
		return r.Rooms.Join
	}
	types := func(evs []ev) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Type)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}

	if j := sync(map[string]any{}); len(j) != 2 {
		t.Fatalf("no filter: %d rooms", len(j))
	}
	if j := sync(map[string]any{"room": map[string]any{"rooms": []string{a.RoomID}}}); len(j) != 1 || j[a.RoomID].Timeline.Events == nil {
		t.Fatalf("rooms [A]: %v", j)
	}
	if j := sync(map[string]any{"room": map[string]any{"not_rooms": []string{a.RoomID}}}); len(j) != 1 || j[b.RoomID].Timeline.Events == nil {
		t.Fatalf("not_rooms [A]: %v", j)
	}
	j := sync(map[string]any{"room": map[string]any{"rooms": []string{a.RoomID},
		"timeline": map[string]any{"types": []string{"m.room.message"}, "not_senders": []string{"@bob:syncfilter.test"}}}})
	r := j[a.RoomID]
	if len(r.Timeline.Events) != 1 || r.Timeline.Events[0].Type != "m.room.message" || r.Timeline.Events[0].Sender != "@alice:syncfilter.test" {
		t.Fatalf("timeline types [m.room.message], not bob: %v", r.Timeline.Events)
	}
	// With a one-event timeline the state block holds the room's state;
	// the state filter keeps the name alone.
	j = sync(map[string]any{"room": map[string]any{"rooms": []string{a.RoomID}, "timeline": map[string]any{"limit": 1}}})
	if got := types(j[a.RoomID].State.Events); !slices.Contains(got, "m.room.create") || !slices.Contains(got, "m.room.name") {
		t.Fatalf("unfiltered state: %v", got)
	}
	j = sync(map[string]any{"room": map[string]any{"rooms": []string{a.RoomID}, "timeline": map[string]any{"limit": 1},
		"state": map[string]any{"types": []string{"m.room.n*"}}}})
	if got := types(j[a.RoomID].State.Events); !slices.Equal(got, []string{"m.room.name"}) {
		t.Fatalf("state types [m.room.n*]: %v", got)
	}
}

// TestSyncLazyLoadMembers: with the state filter's lazy_load_members the
// state block holds only the member events of the timeline's senders and
// the user's own; an incremental sync brings the member event of a
// sender the client has not been sent ("Lazy-loading room members").
func TestSyncLazyLoadMembers(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "lazysync.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	carol := register(t, hs.hs.ClientURL(), "carol")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	carol.must("POST", rp+"/join", map[string]any{}, nil)
	carol.must("PUT", rp+"/send/m.room.message/1", map[string]any{"msgtype": "m.text", "body": "hi"}, nil)

	type ev struct {
		Type     string  `json:"type"`
		StateKey *string `json:"state_key"`
	}
	type resp struct {
		NextBatch string `json:"next_batch"`
		Rooms     struct {
			Join map[string]struct {
				State *struct{ Events []ev } `json:"state"`
			} `json:"join"`
		} `json:"rooms"`
	}
	sync := func(since string, lazy bool) (members []string, hasState bool, next string) {
		f, _ := json.Marshal(map[string]any{"room": map[string]any{"timeline": map[string]any{"limit": 1}, "state": map[string]any{"lazy_load_members": lazy}}})
		q := "/sync?filter=" + url.QueryEscape(string(f))
		if since != "" {
			q += "&since=" + url.QueryEscape(since)
		}
		var r resp
		alice.must("GET", q, nil, &r)
		jr, ok := r.Rooms.Join[room.RoomID]
		if !ok || jr.State == nil {
			return nil, false, r.NextBatch
		}
		for _, e := range jr.State.Events {
			if e.Type == "m.room.member" {
				members = append(members, *e.StateKey)
			}
		}
		slices.Sort(members)
		return members, true, r.NextBatch
	}
	a, b, c := "@alice:lazysync.test", "@bob:lazysync.test", "@carol:lazysync.test"
	if m, _, _ := sync("", false); !slices.Equal(m, []string{a, b, c}) {
		t.Fatalf("without lazy loading: members %v", m)
	}
	m, _, next := sync("", true)
	if !slices.Equal(m, []string{a, c}) {
		t.Fatalf("lazy first sync: members %v, want the sender and the user", m)
	}
	bob.must("PUT", rp+"/send/m.room.message/2", map[string]any{"msgtype": "m.text", "body": "yo"}, nil)
	if m, _, _ := sync(next, true); !slices.Equal(m, []string{b}) {
		t.Fatalf("lazy incremental sync: members %v, want bob's", m)
	}
	if m, _, _ := sync(next, false); len(m) != 0 {
		t.Fatalf("an incremental sync without lazy loading sent members %v", m)
	}
}
