package main

import (
	"net/url"
	"testing"
)

// TestUnsignedPrevContentAndMembership: a state event served to a client
// carries prev_content, prev_sender and replaces_state of the event it
// replaced, and every event the user's membership at it (v1.11).
func TestUnsignedPrevContentAndMembership(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "uns.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "topic": "first"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	var first, second struct {
		EventID string `json:"event_id"`
	}
	alice.must("PUT", rp+"/state/m.room.topic", map[string]string{"topic": "second"}, &first)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	alice.must("PUT", rp+"/state/m.room.topic", map[string]string{"topic": "third"}, &second)
	var ev struct {
		Unsigned struct {
			PrevContent struct {
				Topic string `json:"topic"`
			} `json:"prev_content"`
			PrevSender    string `json:"prev_sender"`
			ReplacesState string `json:"replaces_state"`
			Membership    string `json:"membership"`
		} `json:"unsigned"`
	}
	bob.must("GET", rp+"/event/"+url.PathEscape(second.EventID), nil, &ev)
	u := ev.Unsigned
	if u.PrevContent.Topic != "second" || u.PrevSender != "@alice:uns.test" || u.ReplacesState != first.EventID || u.Membership != "join" {
		t.Fatalf("unsigned %+v", u)
	}
}
