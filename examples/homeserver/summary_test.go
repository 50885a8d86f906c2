package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestRoomSummary: GET /_matrix/client/v1/room_summary/{roomIdOrAlias}
// summarises a public room for anyone (also without a token), a private
// room for its members and invitees only, and hides the rest as not found.
func TestRoomSummary(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "sum.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var pub, priv struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "name": "Open", "topic": "all welcome", "room_alias_name": "open",
		"creation_content": map[string]any{"type": "m.space"}}, &pub)
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "name": "Secret"}, &priv)
	get := func(token, idOrAlias string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", hs.hs.ClientURL()+"/_matrix/client/v1/room_summary/"+url.PathEscape(idOrAlias), nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, s := get("", "#open:sum.test")
	if code != 200 || s["room_id"] != pub.RoomID || s["name"] != "Open" || s["topic"] != "all welcome" || s["join_rule"] != "public" ||
		s["room_type"] != "m.space" || s["num_joined_members"] != float64(1) || s["room_version"] != "12" || s["membership"] != nil {
		t.Fatalf("public room, unauthenticated: %d %v", code, s)
	}
	if code, s := get(alice.token, pub.RoomID); code != 200 || s["membership"] != "join" {
		t.Fatalf("public room, member: %d %v", code, s)
	}
	if code, _ := get(bob.token, priv.RoomID); code != 404 {
		t.Fatalf("private room, stranger: %d", code)
	}
	if code, _ := get("", priv.RoomID); code != 404 {
		t.Fatalf("private room, unauthenticated: %d", code)
	}
	alice.must("POST", "/rooms/"+url.PathEscape(priv.RoomID)+"/invite", map[string]string{"user_id": "@bob:sum.test"}, nil)
	if code, s := get(bob.token, priv.RoomID); code != 200 || s["membership"] != "invite" || s["name"] != "Secret" {
		t.Fatalf("private room, invitee: %d %v", code, s)
	}
	if code, _ := get(bob.token, "!unknown:sum.test"); code != 404 {
		t.Fatalf("unknown room: %d", code)
	}
}
