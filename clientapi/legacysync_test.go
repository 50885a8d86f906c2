package clientapi

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// eventRooms is an EventLocator over the fake's rooms.
type eventRooms struct{ f *fake }

func (l eventRooms) EventRoom(_ context.Context, eventID string) (string, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	for id, r := range l.f.rooms {
		for _, ev := range r.events {
			if strings.Contains(string(ev), `"event_id":"`+eventID+`"`) {
				return id, nil
			}
		}
	}
	return "", NotFound("event not found")
}

func TestLegacySyncEndpoints(t *testing.T) {
	f, s, roomID := setup(t)
	s.EventRooms = eventRooms{f}
	rp := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID)
	sent := do(t, s, "PUT", rp+"/send/m.room.message/t1", "tok_alice", `{"msgtype":"m.text","body":"hello"}`)
	eventID := sent.body["event_id"].(string)

	init := do(t, s, "GET", "/_matrix/client/v3/initialSync", "tok_alice", "")
	if init.status != 200 {
		t.Fatalf("initialSync: %d %s", init.status, init.raw)
	}
	for _, k := range []string{"end", "rooms", "presence", "account_data"} {
		if _, ok := init.body[k]; !ok {
			t.Errorf("initialSync lacks %s: %s", k, init.raw)
		}
	}
	rooms := init.body["rooms"].([]any)
	if len(rooms) != 1 {
		t.Fatalf("initialSync rooms: %s", init.raw)
	}
	r0 := rooms[0].(map[string]any)
	msgs := r0["messages"].(map[string]any)
	if r0["room_id"] != roomID || r0["membership"] != "join" || r0["visibility"] != "private" || msgs["end"] != init.body["end"] {
		t.Fatalf("initialSync room: %v", r0)
	}
	// The fake's sync has no state block: the current state comes from
	// the timeline's state events, one per (type, state_key).
	names := 0
	for _, ev := range r0["state"].([]any) {
		if ev.(map[string]any)["type"] == "m.room.name" {
			names++
		}
	}
	if names != 1 {
		t.Fatalf("initialSync state has %d m.room.name events", names)
	}

	cases := []struct {
		name, path, token string
		status            int
		errcode           string
		check             func(t *testing.T, r result)
	}{
		{name: "events now", path: "/_matrix/client/v3/events?timeout=0", token: "tok_alice", status: 200, check: func(t *testing.T, r result) {
			if r.body["end"] == "" || len(r.body["chunk"].([]any)) != 0 {
				t.Errorf("events from now: %s", r.raw)
			}
		}},
		{name: "events from start", path: "/_matrix/client/v3/events?from=s0", token: "tok_alice", status: 200, check: func(t *testing.T, r result) {
			chunk := r.body["chunk"].([]any)
			if r.body["start"] != "s0" || len(chunk) == 0 || chunk[len(chunk)-1].(map[string]any)["event_id"] != eventID {
				t.Errorf("events from s0: %s", r.raw)
			}
		}},
		{name: "events bad timeout", path: "/_matrix/client/v3/events?timeout=-1", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "events bad room", path: "/_matrix/client/v3/events?room_id=nope", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "events no token", path: "/_matrix/client/v3/events", status: 401, errcode: "M_MISSING_TOKEN"},
		{name: "event by id", path: "/_matrix/client/v3/events/" + url.PathEscape(eventID), token: "tok_alice", status: 200, check: func(t *testing.T, r result) {
			if r.body["event_id"] != eventID || r.body["room_id"] != roomID {
				t.Errorf("event: %s", r.raw)
			}
		}},
		{name: "event unknown", path: "/_matrix/client/v3/events/%24nope", token: "tok_alice", status: 404, errcode: "M_NOT_FOUND"},
		{name: "event bad id", path: "/_matrix/client/v3/events/nope", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "initialSync bad archived", path: "/_matrix/client/v3/initialSync?archived=maybe", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "room initialSync", path: rp + "/initialSync?limit=1", token: "tok_alice", status: 200, check: func(t *testing.T, r result) {
			m := r.body["messages"].(map[string]any)
			chunk := m["chunk"].([]any)
			if r.body["room_id"] != roomID || r.body["membership"] != "join" || len(chunk) != 1 ||
				chunk[0].(map[string]any)["event_id"] != eventID || len(r.body["state"].([]any)) == 0 {
				t.Errorf("room initialSync: %s", r.raw)
			}
		}},
		{name: "room initialSync unknown room", path: "/_matrix/client/v3/rooms/%21nope:example.org/initialSync", token: "tok_alice", status: 404, errcode: "M_NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, s, "GET", tc.path, tc.token, "")
			if r.status != tc.status || tc.errcode != "" && r.body["errcode"] != tc.errcode {
				t.Fatalf("%d %s, want %d %s", r.status, r.raw, tc.status, tc.errcode)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}

	// The stream long-polls from its end until an event arrives.
	now := do(t, s, "GET", "/_matrix/client/v3/events", "tok_alice", "")
	done := make(chan result, 1)
	go func() {
		done <- do(t, s, "GET", "/_matrix/client/v3/events?timeout=5000&from="+url.QueryEscape(now.body["end"].(string)), "tok_alice", "")
	}()
	time.Sleep(50 * time.Millisecond)
	do(t, s, "PUT", rp+"/send/m.room.message/t2", "tok_alice", `{"msgtype":"m.text","body":"later"}`)
	select {
	case r := <-done:
		if r.status != 200 || !strings.Contains(r.raw, `"later"`) {
			t.Fatalf("long-poll: %d %s", r.status, r.raw)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll did not return")
	}

	// Without an EventLocator the endpoint is not served.
	s2 := f.handler()
	if r := do(t, s2, "GET", "/_matrix/client/v3/events/"+url.PathEscape(eventID), "tok_alice", ""); r.status != 404 || r.body["errcode"] != "M_UNRECOGNIZED" {
		t.Fatalf("no locator: %d %s", r.status, r.raw)
	}
}

func TestWithRoomIDAndCurrentState(t *testing.T) {
	in := EventList{
		json.RawMessage(`{"type":"m.room.name","state_key":"","content":{"name":"a"}}`),
		json.RawMessage(`{"type":"m.room.message","content":{}}`),
		json.RawMessage(`{"type":"m.room.name","state_key":"","content":{"name":"b"}}`),
		json.RawMessage(`{"type":"x","room_id":"!kept:example.org","state_key":"k","content":{}}`),
		json.RawMessage(`not json`),
	}
	out := withRoomID(in, "!r:example.org")
	if len(out) != 4 || !strings.Contains(string(out[0]), `"room_id":"!r:example.org"`) || !strings.Contains(string(out[3]), `"!kept:example.org"`) {
		t.Fatalf("withRoomID: %s", out)
	}
	st := currentState(out)
	if len(st) != 2 || !strings.Contains(string(st[0]), `"name":"b"`) {
		t.Fatalf("currentState: %s", st)
	}
}
