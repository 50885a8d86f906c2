package main

import (
	"net/url"
	"testing"
)

// TestRoomUpgrade: POST /rooms/{roomId}/upgrade (content/client-server-api/
// modules/room_upgrades.md) from version 10 to 12 makes a replacement
// room that names its predecessor and carries the recommended state, moves
// the alias, tombstones the old room and closes it to those without power.
func TestRoomUpgrade(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "up.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "room_version": "10", "name": "Club", "topic": "t",
		"room_alias_name": "club"}, &room)
	old := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", old+"/join", map[string]any{}, nil)

	if code, err := bob.do("POST", old+"/upgrade", map[string]string{"new_version": "12"}, nil); code != 403 {
		t.Fatalf("bob (power 0) upgrading: %d %v", code, err)
	}
	if code, _ := alice.do("POST", old+"/upgrade", map[string]string{"new_version": "99"}, nil); code != 400 {
		t.Fatalf("unknown version: %d", code)
	}
	var up struct {
		ReplacementRoom string `json:"replacement_room"`
	}
	alice.must("POST", old+"/upgrade", map[string]string{"new_version": "12"}, &up)
	nr := "/rooms/" + url.PathEscape(up.ReplacementRoom)

	var create struct {
		RoomVersion string `json:"room_version"`
		Predecessor struct {
			RoomID  string  `json:"room_id"`
			EventID *string `json:"event_id"`
		} `json:"predecessor"`
	}
	alice.must("GET", nr+"/state/m.room.create", nil, &create)
	if create.RoomVersion != "12" || create.Predecessor.RoomID != room.RoomID || create.Predecessor.EventID != nil {
		t.Fatalf("new create %+v", create)
	}
	var name struct {
		Name string `json:"name"`
	}
	alice.must("GET", nr+"/state/m.room.name", nil, &name)
	var pl struct {
		Users map[string]int `json:"users"`
	}
	alice.must("GET", nr+"/state/m.room.power_levels", nil, &pl)
	if name.Name != "Club" || pl.Users["@alice:up.test"] != 0 {
		t.Fatalf("carried state: name %q, users %v (a v12 creator is not listed)", name.Name, pl.Users)
	}
	var tomb struct {
		ReplacementRoom string `json:"replacement_room"`
	}
	alice.must("GET", old+"/state/m.room.tombstone", nil, &tomb)
	if tomb.ReplacementRoom != up.ReplacementRoom {
		t.Fatalf("tombstone %+v", tomb)
	}
	var alias struct {
		RoomID string `json:"room_id"`
	}
	bob.must("GET", "/directory/room/"+url.PathEscape("#club:up.test"), nil, &alias)
	if alias.RoomID != up.ReplacementRoom {
		t.Fatalf("the alias leads to %s, want the new room", alias.RoomID)
	}
	var canonical struct {
		Alias string `json:"alias"`
	}
	alice.must("GET", nr+"/state/m.room.canonical_alias", nil, &canonical)
	if canonical.Alias != "#club:up.test" {
		t.Fatalf("canonical alias of the new room %+v", canonical)
	}
	// The old room is closed to bob; the new one is open (public join
	// rule carried over).
	if code, _ := bob.do("PUT", old+"/send/m.room.message/1", map[string]string{"msgtype": "m.text", "body": "hi"}, nil); code != 403 {
		t.Fatalf("bob sending in the old room: %d", code)
	}
	bob.must("POST", nr+"/join", map[string]any{}, nil)
	bob.must("PUT", nr+"/send/m.room.message/2", map[string]string{"msgtype": "m.text", "body": "hi"}, nil)
}
