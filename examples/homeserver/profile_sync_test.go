package main

import (
	"net/url"
	"testing"
)

// TestProfilePropagatesToRooms: a new display name and avatar reach the
// user's member event in each room they are in; extended profile keys are
// served.
func TestProfilePropagatesToRooms(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "prof.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	alice.must("PUT", "/profile/@alice:prof.test/displayname", map[string]string{"displayname": "Alice L."}, nil)
	alice.must("PUT", "/profile/@alice:prof.test/avatar_url", map[string]string{"avatar_url": "mxc://prof.test/me"}, nil)
	var m struct {
		Membership  string `json:"membership"`
		DisplayName string `json:"displayname"`
		AvatarURL   string `json:"avatar_url"`
	}
	alice.must("GET", "/rooms/"+url.PathEscape(room.RoomID)+"/state/m.room.member/@alice:prof.test", nil, &m)
	if m.Membership != "join" || m.DisplayName != "Alice L." || m.AvatarURL != "mxc://prof.test/me" {
		t.Fatalf("member event after the profile change: %+v", m)
	}
	alice.must("PUT", "/profile/@alice:prof.test/m.tz", map[string]string{"m.tz": "Europe/London"}, nil)
	var tz map[string]string
	alice.must("GET", "/profile/@alice:prof.test/m.tz", nil, &tz)
	if tz["m.tz"] != "Europe/London" {
		t.Fatalf("m.tz: %v", tz)
	}
}
