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

// TestMembersAt: GET /members?at= gives the members at that point of the
// timeline.
func TestMembersAt(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "mat.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	before := syncToken(t, alice)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	count := func(q string) int {
		var r struct {
			Chunk []any `json:"chunk"`
		}
		alice.must("GET", rp+"/members"+q, nil, &r)
		return len(r.Chunk)
	}
	if n := count(""); n != 2 {
		t.Fatalf("members now: %d", n)
	}
	if n := count("?at=" + url.QueryEscape(before)); n != 1 {
		t.Fatalf("members at the token before bob joined: %d", n)
	}
}
