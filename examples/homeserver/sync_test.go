package main

import (
	"fmt"
	"net/url"
	"testing"
)

// TestSyncLimitedState checks the state block of an incremental sync
// whose timeline is limited: it holds the state changes between the token
// and the start of the timeline (the topic set just after the token), and
// not the state that did not change (the create event).
func TestSyncLimitedState(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "sync.localhost", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"name": "limited"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	since := syncToken(t, alice)
	var topic struct {
		EventID string `json:"event_id"`
	}
	alice.must("PUT", rp+"/state/m.room.topic/", map[string]string{"topic": "before the gap"}, &topic)
	for i := range 30 {
		alice.must("PUT", rp+"/send/m.room.message/"+fmt.Sprint(i), map[string]string{"msgtype": "m.text", "body": fmt.Sprint(i)}, nil)
	}
	var r struct {
		Rooms struct {
			Join map[string]struct {
				State struct {
					Events []struct {
						Type    string `json:"type"`
						EventID string `json:"event_id"`
					} `json:"events"`
				} `json:"state"`
				Timeline struct {
					Limited bool `json:"limited"`
					Events  []struct {
						EventID string `json:"event_id"`
					} `json:"events"`
				} `json:"timeline"`
			} `json:"join"`
		} `json:"rooms"`
	}
	alice.must("GET", "/sync?since="+url.QueryEscape(since)+"&filter="+url.QueryEscape(`{"room":{"timeline":{"limit":10}}}`), nil, &r)
	jr := r.Rooms.Join[room.RoomID]
	if !jr.Timeline.Limited || len(jr.Timeline.Events) != 10 {
		t.Fatalf("timeline limited=%v with %d events, want limited with 10", jr.Timeline.Limited, len(jr.Timeline.Events))
	}
	var types []string
	for _, ev := range jr.State.Events {
		types = append(types, ev.Type)
	}
	if len(jr.State.Events) != 1 || jr.State.Events[0].EventID != topic.EventID {
		t.Fatalf("state block %v, want only the topic %s", types, topic.EventID)
	}
}
