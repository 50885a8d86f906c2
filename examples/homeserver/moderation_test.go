package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// call sends a request below /_matrix/client (path starts with the
// version) and returns the status and the decoded body.
func (a *api) call(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, a.base+"/_matrix/client"+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestServerAdministration covers admin.yaml against the homeserver:
// whois with the connections it records, and the lock and suspension of
// accounts with their effects ("Account locking", "Account suspension").
func TestServerAdministration(t *testing.T) {
	t.Parallel()
	hs := startConfig(t, &Config{ServerName: "mod.localhost", ServerAdmins: []string{"@root:mod.localhost", "@ops:mod.localhost"}})
	base := hs.ClientURL()
	root := register(t, base, "root")
	register(t, base, "ops")
	alice := register(t, base, "alice")
	bob := register(t, base, "bob")

	expect := func(what string, code int, body map[string]any, wantCode int, wantErr string) {
		t.Helper()
		if code != wantCode || wantErr != "" && body["errcode"] != wantErr {
			t.Fatalf("%s: %d %v, want %d %s", what, code, body, wantCode, wantErr)
		}
	}

	// whois: oneself or an administrator.
	code, w := alice.call("GET", "/v3/admin/whois/"+url.PathEscape("@alice:mod.localhost"), nil)
	expect("whois self", code, w, 200, "")
	devices, _ := w["devices"].(map[string]any)
	if w["user_id"] != "@alice:mod.localhost" || len(devices) != 1 {
		t.Fatalf("whois: %v", w)
	}
	for _, d := range devices {
		sessions := d.(map[string]any)["sessions"].([]any)
		conns := sessions[0].(map[string]any)["connections"].([]any)
		c := conns[0].(map[string]any)
		if c["ip"] != "127.0.0.1" || c["user_agent"] != "Go-http-client/1.1" || c["last_seen"].(float64) <= 0 {
			t.Fatalf("whois connection: %v", c)
		}
	}
	// A second session, used and logged out: whois forgets it, and its
	// connections are dropped.
	second := login(t, base, "alice")
	second.must("GET", "/account/whoami", nil, nil)
	second.must("POST", "/logout", map[string]any{}, nil)
	code, w = alice.call("GET", "/v3/admin/whois/"+url.PathEscape("@alice:mod.localhost"), nil)
	if d, _ := w["devices"].(map[string]any); code != 200 || len(d) != 1 {
		t.Fatalf("whois after a logout: %d %v", code, w)
	}
	var stale int
	if err := hs.db.r.QueryRow(`SELECT count(*) FROM connections WHERE token NOT IN (SELECT token FROM tokens)`).Scan(&stale); err != nil || stale != 0 {
		t.Fatalf("%d connections of ended sessions kept (%v)", stale, err)
	}
	code, w = alice.call("GET", "/v3/admin/whois/"+url.PathEscape("@bob:mod.localhost"), nil)
	expect("whois of another user", code, w, 403, "M_FORBIDDEN")
	code, w = root.call("GET", "/v3/admin/whois/"+url.PathEscape("@bob:mod.localhost"), nil)
	expect("whois by an admin", code, w, 200, "")
	code, w = root.call("GET", "/v3/admin/whois/"+url.PathEscape("@nobody:mod.localhost"), nil)
	expect("whois of nobody", code, w, 404, "M_NOT_FOUND")

	// Authority before lookups: a non-admin learns nothing of accounts.
	code, w = alice.call("GET", "/v1/admin/lock/"+url.PathEscape("@nobody:mod.localhost"), nil)
	expect("lock status by a non-admin", code, w, 403, "M_FORBIDDEN")
	code, w = root.call("GET", "/v1/admin/lock/"+url.PathEscape("@nobody:mod.localhost"), nil)
	expect("lock status of nobody", code, w, 404, "M_NOT_FOUND")
	code, w = root.call("GET", "/v1/admin/suspend/"+url.PathEscape("@bob:elsewhere.test"), nil)
	expect("suspend status of a remote user", code, w, 400, "M_INVALID_PARAM")
	code, w = root.call("PUT", "/v1/admin/lock/"+url.PathEscape("@root:mod.localhost"), map[string]bool{"locked": true})
	expect("locking oneself", code, w, 403, "M_FORBIDDEN")
	code, w = root.call("PUT", "/v1/admin/suspend/"+url.PathEscape("@ops:mod.localhost"), map[string]bool{"suspended": true})
	expect("suspending another admin", code, w, 403, "M_FORBIDDEN")
	code, w = root.call("PUT", "/v1/admin/lock/"+url.PathEscape("@bob:mod.localhost"), map[string]any{})
	expect("lock without locked", code, w, 400, "M_MISSING_PARAM")

	// Capabilities tell administrators they may moderate.
	_, caps := root.call("GET", "/v3/capabilities", nil)
	if m, _ := caps["capabilities"].(map[string]any)["m.account_moderation"].(map[string]any); m["lock"] != true || m["suspend"] != true {
		t.Fatalf("admin capabilities: %v", caps)
	}
	_, caps = alice.call("GET", "/v3/capabilities", nil)
	if _, ok := caps["capabilities"].(map[string]any)["m.account_moderation"]; ok {
		t.Fatalf("non-admin capabilities: %v", caps)
	}

	var bobLogin struct {
		RefreshToken string `json:"refresh_token"`
	}
	(&api{t: t, base: base}).must("POST", "/login", map[string]any{"type": "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": "bob"}, "password": "pw-bob", "refresh_token": true}, &bobLogin)
	bobRefresh := bobLogin.RefreshToken

	// Lock bob: every request but logout is 401 M_USER_LOCKED with
	// soft_logout, and he cannot log in.
	code, w = root.call("GET", "/v1/admin/lock/"+url.PathEscape("@bob:mod.localhost"), nil)
	if code != 200 || w["locked"] != false {
		t.Fatalf("lock status: %d %v", code, w)
	}
	code, w = root.call("PUT", "/v1/admin/lock/"+url.PathEscape("@bob:mod.localhost"), map[string]bool{"locked": true})
	if code != 200 || w["locked"] != true {
		t.Fatalf("lock: %d %v", code, w)
	}
	code, w = bob.call("GET", "/v3/account/whoami", nil)
	expect("whoami while locked", code, w, 401, "M_USER_LOCKED")
	if w["soft_logout"] != true {
		t.Fatalf("locked answer lacks soft_logout: %v", w)
	}
	code, w = bob.call("GET", "/v3/sync", nil)
	expect("sync while locked", code, w, 401, "M_USER_LOCKED")
	code, w = (&api{t: t, base: base}).call("POST", "/v3/login", map[string]any{"type": "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": "bob"}, "password": "pw-bob"})
	expect("login while locked", code, w, 401, "M_USER_LOCKED")
	// Nor refresh a token: a refresh token from a login before the lock
	// is refused, and kept for after it.
	code, w = bob.call("POST", "/v3/refresh", map[string]string{"refresh_token": bobRefresh})
	expect("refresh while locked", code, w, 401, "M_USER_LOCKED")
	code, w = root.call("PUT", "/v1/admin/lock/"+url.PathEscape("@bob:mod.localhost"), map[string]bool{"locked": false})
	if code != 200 || w["locked"] != false {
		t.Fatalf("unlock: %d %v", code, w)
	}
	code, w = bob.call("POST", "/v3/refresh", map[string]string{"refresh_token": bobRefresh})
	expect("refresh after the unlock", code, w, 200, "")
	code, w = bob.call("GET", "/v3/account/whoami", nil)
	expect("whoami after the unlock (the token was kept)", code, w, 200, "")

	// Suspend alice: she reads and leaves, but does not create, send,
	// or change her profile; she may redact her own events.
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{}, &room)
	rp := "/v3/rooms/" + url.PathEscape(room.RoomID)
	var sent struct {
		EventID string `json:"event_id"`
	}
	alice.must("PUT", "/rooms/"+url.PathEscape(room.RoomID)+"/send/m.room.message/1", map[string]string{"msgtype": "m.text", "body": "before"}, &sent)
	code, w = root.call("PUT", "/v1/admin/suspend/"+url.PathEscape("@alice:mod.localhost"), map[string]bool{"suspended": true})
	if code != 200 || w["suspended"] != true {
		t.Fatalf("suspend: %d %v", code, w)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v3/createRoom", map[string]any{}},
		{"PUT", rp + "/send/m.room.message/2", map[string]string{"msgtype": "m.text", "body": "after"}},
		{"PUT", rp + "/state/m.room.topic/", map[string]string{"topic": "x"}},
		{"PUT", "/v3/profile/" + url.PathEscape("@alice:mod.localhost") + "/displayname", map[string]string{"displayname": "A"}},
		{"POST", rp + "/invite", map[string]string{"user_id": "@bob:mod.localhost"}},
	} {
		code, w = alice.call(c.method, c.path, c.body)
		expect("suspended "+c.method+" "+c.path, code, w, 403, "M_USER_SUSPENDED")
	}
	code, w = alice.call("GET", "/v3/sync", nil)
	expect("sync while suspended", code, w, 200, "")
	code, w = alice.call("PUT", rp+"/redact/"+url.PathEscape(sent.EventID)+"/r1", map[string]any{})
	expect("redacting one's own event while suspended", code, w, 200, "")
	code, w = alice.call("POST", rp+"/leave", map[string]any{})
	expect("leaving while suspended", code, w, 200, "")
	code, w = root.call("PUT", "/v1/admin/suspend/"+url.PathEscape("@alice:mod.localhost"), map[string]bool{"suspended": false})
	if code != 200 || w["suspended"] != false {
		t.Fatalf("unsuspend: %d %v", code, w)
	}
	code, w = alice.call("POST", "/v3/createRoom", map[string]any{})
	expect("createRoom after the suspension", code, w, 200, "")

	// A locked user may still log out.
	code, w = root.call("PUT", "/v1/admin/lock/"+url.PathEscape("@bob:mod.localhost"), map[string]bool{"locked": true})
	expect("lock again", code, w, 200, "")
	code, w = bob.call("GET", "/v3/account/whoami", nil)
	expect("whoami while locked again", code, w, 401, "M_USER_LOCKED")
	code, w = bob.call("POST", "/v3/logout", map[string]any{})
	expect("logout while locked", code, w, 200, "")
}
