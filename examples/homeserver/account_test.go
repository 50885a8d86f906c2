package main

import (
	"net/url"
	"testing"
)

// TestAccountManagement: changing the password (with the old one through
// user-interactive auth) logs the other devices out and the new password
// in; deactivation parts the user from their rooms, ends every login and
// keeps the user ID from being registered again.
func TestAccountManagement(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "acct.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	phone := login(t, hs.hs.ClientURL(), "alice")
	auth := func(pw string) map[string]any {
		return map[string]any{"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": "alice"}, "password": pw}
	}
	alice.must("POST", "/account/password", map[string]any{"new_password": "fresh", "auth": auth("pw-alice")}, nil)
	if code, _ := phone.do("GET", "/account/whoami", nil, nil); code != 401 {
		t.Fatalf("the other device after a password change: %d", code)
	}
	alice.must("GET", "/account/whoami", nil, nil)
	l := &api{t: t, base: hs.hs.ClientURL()}
	if code, _ := l.do("POST", "/login", map[string]any{"type": "m.login.password", "user": "alice", "password": "pw-alice"}, nil); code != 403 {
		t.Fatalf("login with the old password: %d", code)
	}
	l.must("POST", "/login", map[string]any{"type": "m.login.password", "user": "alice", "password": "fresh"}, nil)

	var room struct {
		RoomID string `json:"room_id"`
	}
	bob.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	alice.must("POST", "/rooms/"+url.PathEscape(room.RoomID)+"/join", map[string]any{}, nil)
	alice.must("POST", "/account/deactivate", map[string]any{"auth": auth("fresh")}, nil)
	var m struct {
		Membership string `json:"membership"`
	}
	bob.must("GET", "/rooms/"+url.PathEscape(room.RoomID)+"/state/m.room.member/@alice:acct.test", nil, &m)
	if m.Membership != "leave" {
		t.Fatalf("alice's membership after deactivation: %q", m.Membership)
	}
	if code, _ := alice.do("GET", "/account/whoami", nil, nil); code != 401 {
		t.Fatalf("alice's token after deactivation: %d", code)
	}
	if code, _ := l.do("POST", "/login", map[string]any{"type": "m.login.password", "user": "alice", "password": "fresh"}, nil); code != 403 {
		t.Fatalf("login after deactivation: %d", code)
	}
	if code, _ := l.do("POST", "/register", map[string]any{"username": "alice", "password": "x", "auth": map[string]string{"type": "m.login.dummy"}}, nil); code != 400 {
		t.Fatalf("registering a deactivated ID again: %d", code)
	}
}
