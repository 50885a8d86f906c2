package main

import (
	"net/url"
	"testing"
)

// TestRestrictedLocalJoin: a local join of a restricted room is vouched for
// by a local user who may invite (join_authorised_via_users_server), when
// the joining user is in an allowed room; otherwise it is refused.
func TestRestrictedLocalJoin(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "rj.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var space, room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "name": "Space"}, &space)
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "initial_state": []map[string]any{{
		"type": "m.room.join_rules", "state_key": "",
		"content": map[string]any{"join_rule": "restricted", "allow": []map[string]string{{"type": "m.room_membership", "room_id": space.RoomID}}},
	}}}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	if code, _ := bob.do("POST", rp+"/join", map[string]any{}, nil); code != 403 {
		t.Fatalf("bob, in no allowed room: %d, want 403", code)
	}
	bob.must("POST", "/rooms/"+url.PathEscape(space.RoomID)+"/join", map[string]any{}, nil)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	var m struct {
		Membership string `json:"membership"`
		Via        string `json:"join_authorised_via_users_server"`
	}
	bob.must("GET", rp+"/state/m.room.member/@bob:rj.test", nil, &m)
	if m.Membership != "join" || m.Via != "@alice:rj.test" {
		t.Fatalf("bob's join %+v", m)
	}
}
