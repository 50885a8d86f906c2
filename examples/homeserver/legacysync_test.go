package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type legacyEvent struct {
	Type     string         `json:"type"`
	EventID  string         `json:"event_id"`
	RoomID   string         `json:"room_id"`
	StateKey *string        `json:"state_key"`
	Content  map[string]any `json:"content"`
}

// TestLegacySync drives the legacy endpoints (old_sync.yaml,
// room_initial_sync.yaml, peeking_events.yaml): initialSync, the event
// stream from its end token, one event by ID, and the room initial sync
// and event stream of a world_readable room peeked at by a non-member.
func TestLegacySync(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "legacy.localhost", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"name": "old ways"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	var sent []string
	for _, body := range []string{"one", "two", "three"} {
		var r struct {
			EventID string `json:"event_id"`
		}
		alice.must("PUT", rp+"/send/m.room.message/"+body, map[string]string{"msgtype": "m.text", "body": body}, &r)
		sent = append(sent, r.EventID)
	}

	var initial struct {
		End   string `json:"end"`
		Rooms []struct {
			RoomID     string `json:"room_id"`
			Membership string `json:"membership"`
			Visibility string `json:"visibility"`
			Messages   struct {
				Start, End string
				Chunk      []legacyEvent `json:"chunk"`
			} `json:"messages"`
			State []legacyEvent `json:"state"`
		} `json:"rooms"`
		Presence    []any `json:"presence"`
		AccountData []any `json:"account_data"`
	}
	alice.must("GET", "/initialSync?limit=2", nil, &initial)
	if initial.End == "" || initial.Presence == nil || initial.AccountData == nil || len(initial.Rooms) != 1 {
		t.Fatalf("initialSync: %+v", initial)
	}
	r0 := initial.Rooms[0]
	if r0.RoomID != room.RoomID || r0.Membership != "join" || r0.Visibility != "private" {
		t.Fatalf("initialSync room: %+v", r0)
	}
	if len(r0.Messages.Chunk) != 2 || r0.Messages.Chunk[1].EventID != sent[2] || r0.Messages.Chunk[0].RoomID != room.RoomID || r0.Messages.Start == "" {
		t.Fatalf("initialSync messages: %+v", r0.Messages)
	}
	// The state is the current state, so it holds the name and
	// alice's membership, once each.
	seen := map[string]int{}
	for _, ev := range r0.State {
		seen[ev.Type+"|"+*ev.StateKey]++
	}
	if seen["m.room.name|"] != 1 || seen["m.room.create|"] != 1 || seen["m.room.member|@alice:legacy.localhost"] != 1 {
		t.Fatalf("initialSync state: %v", seen)
	}

	// The event stream from the end of the initial sync waits for the
	// next event.
	type stream struct {
		Start, End string
		Chunk      []legacyEvent `json:"chunk"`
	}
	got := make(chan stream, 1)
	go func() {
		var s stream
		alice.do("GET", "/events?timeout=10000&from="+url.QueryEscape(initial.End), nil, &s)
		got <- s
	}()
	time.Sleep(200 * time.Millisecond)
	alice.must("PUT", rp+"/send/m.room.message/four", map[string]string{"msgtype": "m.text", "body": "four"}, nil)
	select {
	case s := <-got:
		if s.Start != initial.End || s.End == "" || s.End == s.Start {
			t.Fatalf("events tokens: %+v", s)
		}
		found := false
		for _, ev := range s.Chunk {
			found = found || ev.Content["body"] == "four" && ev.RoomID == room.RoomID
		}
		if !found {
			t.Fatalf("events chunk lacks the new message: %+v", s.Chunk)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("GET /events did not answer")
	}
	// Without from, the stream starts now: nothing old comes back.
	var fromNow stream
	alice.must("GET", "/events?timeout=0", nil, &fromNow)
	if fromNow.End == "" || len(fromNow.Chunk) != 0 {
		t.Fatalf("events from now: %+v", fromNow)
	}

	// One event by ID: the member sees it, bob (not in the room, history
	// shared with members only) does not.
	var ev legacyEvent
	alice.must("GET", "/events/"+url.PathEscape(sent[0]), nil, &ev)
	if ev.EventID != sent[0] || ev.Content["body"] != "one" {
		t.Fatalf("events/{eventId}: %+v", ev)
	}
	if code, _ := bob.do("GET", "/events/"+url.PathEscape(sent[0]), nil, nil); code != 404 && code != 403 {
		t.Fatalf("events/{eventId} for a non-member: %d", code)
	}
	if code, _ := alice.do("GET", "/events/"+url.PathEscape("$nosuchevent"), nil, nil); code != 404 {
		t.Fatalf("events/{eventId} unknown: %d", code)
	}
	if code, _ := bob.do("GET", rp+"/initialSync", nil, nil); code != 403 {
		t.Fatalf("room initialSync for a non-member of a private room: %d", code)
	}

	// World-readable history: bob peeks.
	alice.must("PUT", rp+"/state/m.room.history_visibility/", map[string]string{"history_visibility": "world_readable"}, nil)
	var peek struct {
		RoomID     string `json:"room_id"`
		Membership string `json:"membership"`
		Messages   struct {
			Start, End string
			Chunk      []legacyEvent `json:"chunk"`
		} `json:"messages"`
		State []legacyEvent `json:"state"`
	}
	bob.must("GET", rp+"/initialSync?limit=3", nil, &peek)
	// History visibility applies per event: what was sent while the
	// history was shared stays hidden from the peeker.
	if peek.RoomID != room.RoomID || peek.Membership != "" || len(peek.Messages.Chunk) != 1 ||
		peek.Messages.Chunk[0].Type != "m.room.history_visibility" || len(peek.State) == 0 || peek.Messages.End == "" {
		t.Fatalf("peeking room initialSync: %+v", peek)
	}
	var mine struct {
		Membership string `json:"membership"`
		Messages   struct {
			Chunk []legacyEvent `json:"chunk"`
		} `json:"messages"`
	}
	alice.must("GET", rp+"/initialSync?limit=2", nil, &mine)
	if mine.Membership != "join" || len(mine.Messages.Chunk) != 2 || mine.Messages.Chunk[1].Type != "m.room.history_visibility" {
		t.Fatalf("room initialSync of a member (oldest first): %+v", mine)
	}
	pgot := make(chan stream, 1)
	go func() {
		var s stream
		bob.do("GET", "/events?timeout=10000&room_id="+url.QueryEscape(room.RoomID)+"&from="+url.QueryEscape(peek.Messages.End), nil, &s)
		pgot <- s
	}()
	time.Sleep(200 * time.Millisecond)
	alice.must("PUT", rp+"/send/m.room.message/five", map[string]string{"msgtype": "m.text", "body": "five"}, nil)
	select {
	case s := <-pgot:
		var bodies []string
		for _, ev := range s.Chunk {
			if b, ok := ev.Content["body"].(string); ok {
				bodies = append(bodies, b)
			}
		}
		if strings.Join(bodies, ",") != "five" || s.End == "" {
			t.Fatalf("peeking events: %v %+v", bodies, s)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("GET /events?room_id= did not answer")
	}

	// archived=true adds the rooms the user left, with their membership.
	var gone struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"name": "left behind"}, &gone)
	alice.must("POST", "/rooms/"+url.PathEscape(gone.RoomID)+"/leave", map[string]any{}, nil)
	type roomsOnly struct {
		Rooms []struct {
			RoomID     string `json:"room_id"`
			Membership string `json:"membership"`
		} `json:"rooms"`
	}
	var now, archived roomsOnly
	alice.must("GET", "/initialSync", nil, &now)
	alice.must("GET", "/initialSync?archived=true", nil, &archived)
	if len(now.Rooms) != 1 || now.Rooms[0].RoomID != room.RoomID {
		t.Fatalf("initialSync lists a left room: %+v", now.Rooms)
	}
	found := false
	for _, r := range archived.Rooms {
		found = found || r.RoomID == gone.RoomID && r.Membership == "leave"
	}
	if len(archived.Rooms) != 2 || !found {
		t.Fatalf("initialSync?archived=true: %+v", archived.Rooms)
	}
}

// TestClientJSPeek runs clients/js/peek.mjs: matrix-js-sdk peeks into a
// world_readable room through the legacy room initial sync and receives
// a new message through its GET /events?room_id= poll.
func TestClientJSPeek(t *testing.T) {
	t.Parallel()
	requireJS(t)
	hs := startInProcess(t, "jspeek.localhost", false, nil)
	runClient(t, 60*time.Second, filepath.Join("clients", "js"), "node", "peek.mjs", hs.hs.ClientURL())
}
