package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type result struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

func do(t testing.TB, h http.Handler, method, path, token, body string) result {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := result{status: w.Code, raw: w.Body.String(), header: w.Header()}
	json.Unmarshal(w.Body.Bytes(), &res.body)
	return res
}

// setup returns a server with alice (in room) and bob (not), and the room.
func setup(t testing.TB) (*fake, *Server, string) {
	f := newFake()
	f.addUser("alice", "secret")
	f.addUser("bob", "hunter2")
	s := f.handler()
	res := do(t, s, "POST", "/_matrix/client/v3/createRoom", "tok_alice", `{"name":"Room","room_alias_name":"room"}`)
	if res.status != 200 {
		t.Fatalf("createRoom: %d %s", res.status, res.raw)
	}
	return f, s, res.body["room_id"].(string)
}

func TestEndpoints(t *testing.T) {
	long := `{"body":"` + strings.Repeat("x", MaxEventSize) + `"}`
	cases := []struct {
		name, method, path, token, body string
		status                          int
		errcode                         string
		check                           func(t *testing.T, f *fake, r result)
	}{
		// Discovery.
		{name: "versions", method: "GET", path: "/_matrix/client/versions", status: 200, check: func(t *testing.T, _ *fake, r result) {
			// Only releases all of whose endpoints are served are
			// advertised (versions_test.go); the adapter does not route
			// the v1.1 endpoints of third-party identifiers, so none is.
			if !strings.Contains(r.raw, `"versions":[]`) || !strings.Contains(r.raw, `"unstable_features":{}`) {
				t.Errorf("versions: %s", r.raw)
			}
		}},
		{name: "well-known", method: "GET", path: "/.well-known/matrix/client", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"m.homeserver":{"base_url":"https://matrix.example.org"}}` {
				t.Errorf("well-known: %s", r.raw)
			}
		}},
		{name: "capabilities", method: "GET", path: "/_matrix/client/v3/capabilities", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			rv := r.body["capabilities"].(map[string]any)["m.room_versions"].(map[string]any)
			if rv["default"] != "12" || rv["available"].(map[string]any)["1"] != "stable" {
				t.Errorf("capabilities: %s", r.raw)
			}
		}},
		// Routing and errors.
		{name: "unknown endpoint", method: "GET", path: "/_matrix/client/v3/nope", token: "tok_alice", status: 404, errcode: "M_UNRECOGNIZED"},
		{name: "unknown method", method: "DELETE", path: "/_matrix/client/v3/login", status: 405, errcode: "M_UNRECOGNIZED", check: func(t *testing.T, _ *fake, r result) {
			if r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		}},
		{name: "options runs no logic", method: "OPTIONS", path: "/_matrix/client/v3/createRoom", status: 200, check: func(t *testing.T, f *fake, r result) {
			if r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
				t.Errorf("CORS headers: %v", r.header)
			}
			if len(f.plans) != 1 {
				t.Errorf("OPTIONS created a room")
			}
		}},
		{name: "cors on errors", method: "GET", path: "/_matrix/client/v3/sync", status: 401, errcode: "M_MISSING_TOKEN", check: func(t *testing.T, _ *fake, r result) {
			if r.header.Get("Access-Control-Allow-Methods") == "" {
				t.Error("no CORS on an error")
			}
		}},
		// Tokens.
		{name: "unknown token", method: "GET", path: "/_matrix/client/v3/account/whoami", token: "nope", status: 401, errcode: "M_UNKNOWN_TOKEN", check: func(t *testing.T, _ *fake, r result) {
			if r.body["soft_logout"] != false {
				t.Errorf("soft_logout: %s", r.raw)
			}
		}},
		{name: "soft logout", method: "GET", path: "/_matrix/client/v3/account/whoami", token: "expired", status: 401, errcode: "M_UNKNOWN_TOKEN", check: func(t *testing.T, _ *fake, r result) {
			if r.body["soft_logout"] != true {
				t.Errorf("soft_logout: %s", r.raw)
			}
		}},
		{name: "whoami", method: "GET", path: "/_matrix/client/v3/account/whoami", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["user_id"] != "@alice:example.org" || r.body["device_id"] != "DEValice" || r.body["is_guest"] != false {
				t.Errorf("whoami: %s", r.raw)
			}
		}},
		{name: "whoami r0 query token", method: "GET", path: "/_matrix/client/r0/account/whoami?access_token=tok_bob", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["user_id"] != "@bob:example.org" {
				t.Errorf("whoami: %s", r.raw)
			}
		}},
		{name: "appservice masquerade", method: "GET", path: "/_matrix/client/v3/account/whoami?user_id=%40bridge_x%3Aexample.org&device_id=D1", token: "as_token", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["user_id"] != "@bridge_x:example.org" || r.body["device_id"] != "D1" {
				t.Errorf("whoami: %s", r.raw)
			}
		}},
		{name: "appservice outside namespace", method: "GET", path: "/_matrix/client/v3/account/whoami?user_id=%40alice%3Aexample.org", token: "as_token", status: 403, errcode: "M_EXCLUSIVE"},
		// Login.
		{name: "login flows", method: "GET", path: "/_matrix/client/v3/login", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if !strings.Contains(r.raw, `{"type":"m.login.password"}`) {
				t.Errorf("flows: %s", r.raw)
			}
		}},
		{name: "login identifier", method: "POST", path: "/_matrix/client/v3/login", body: `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"secret"}`, status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["user_id"] != "@alice:example.org" || r.body["access_token"] == "" || r.body["device_id"] == "" {
				t.Errorf("login: %s", r.raw)
			}
		}},
		{name: "login legacy user", method: "POST", path: "/_matrix/client/r0/login", body: `{"type":"m.login.password","user":"@bob:example.org","password":"hunter2","device_id":"PHONE"}`, status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["device_id"] != "PHONE" {
				t.Errorf("login: %s", r.raw)
			}
		}},
		{name: "login bad password", method: "POST", path: "/_matrix/client/v3/login", body: `{"type":"m.login.password","user":"alice","password":"x"}`, status: 403, errcode: "M_FORBIDDEN"},
		{name: "login unknown type", method: "POST", path: "/_matrix/client/v3/login", body: `{"type":"org.example.unknown","token":"x"}`, status: 400, errcode: "M_UNKNOWN"},
		{name: "login not json", method: "POST", path: "/_matrix/client/v3/login", body: `{"type":`, status: 400, errcode: "M_NOT_JSON"},
		{name: "login wrong type", method: "POST", path: "/_matrix/client/v3/login", body: `{"type":1}`, status: 400, errcode: "M_BAD_JSON"},
		{name: "login array", method: "POST", path: "/_matrix/client/v3/login", body: `[]`, status: 400, errcode: "M_BAD_JSON"},
		{name: "logout", method: "POST", path: "/_matrix/client/v3/logout", token: "tok_bob", status: 200, check: func(t *testing.T, f *fake, r result) {
			if _, ok := f.tokens["tok_bob"]; ok {
				t.Error("token still valid after logout")
			}
		}},
		{name: "logout all", method: "POST", path: "/_matrix/client/v3/logout/all", token: "tok_bob", status: 200},
		{name: "login appservice", method: "POST", path: "/_matrix/client/v3/login", token: "as_token", body: `{"type":"m.login.application_service","identifier":{"type":"m.id.user","user":"bridge_z"}}`, status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["user_id"] != "@bridge_z:example.org" {
				t.Errorf("login: %s", r.raw)
			}
		}},
		{name: "login appservice outside namespace", method: "POST", path: "/_matrix/client/v3/login", token: "as_token", body: `{"type":"m.login.application_service","identifier":{"type":"m.id.user","user":"alice"}}`, status: 400, errcode: "M_EXCLUSIVE"},
		{name: "login appservice user token", method: "POST", path: "/_matrix/client/v3/login", token: "tok_alice", body: `{"type":"m.login.application_service","identifier":{"type":"m.id.user","user":"bridge_z"}}`, status: 401, errcode: "M_UNKNOWN_TOKEN"},
		{name: "login appservice no token", method: "POST", path: "/_matrix/client/v3/login", body: `{"type":"m.login.application_service","identifier":{"type":"m.id.user","user":"bridge_z"}}`, status: 401, errcode: "M_MISSING_TOKEN"},
		// Registration.
		{name: "register available", method: "GET", path: "/_matrix/client/v3/register/available?username=carol", status: 200},
		{name: "register taken", method: "GET", path: "/_matrix/client/v3/register/available?username=alice", status: 400, errcode: "M_USER_IN_USE"},
		{name: "register bad name", method: "GET", path: "/_matrix/client/v3/register/available?username=Carol", status: 400, errcode: "M_INVALID_USERNAME"},
		{name: "register guest", method: "POST", path: "/_matrix/client/v3/register?kind=guest", body: `{}`, status: 403, errcode: "M_FORBIDDEN"},
		{name: "register no auth", method: "POST", path: "/_matrix/client/v3/register", body: `{"username":"carol","password":"p"}`, status: 401, check: func(t *testing.T, _ *fake, r result) {
			if r.body["session"] == "" || !strings.Contains(r.raw, `"flows":[{"stages":["m.login.dummy"]}]`) {
				t.Errorf("challenge: %s", r.raw)
			}
		}},
		{name: "register dummy without session", method: "POST", path: "/_matrix/client/r0/register", body: `{"username":"dave","password":"p","auth":{"type":"m.login.dummy"}}`, status: 200, check: func(t *testing.T, f *fake, r result) {
			if r.body["user_id"] != "@dave:example.org" || r.body["access_token"] == nil {
				t.Errorf("register: %s", r.raw)
			}
		}},
		{name: "register appservice", method: "POST", path: "/_matrix/client/v3/register", token: "as_token", body: `{"type":"m.login.application_service","username":"bridge_y","inhibit_login":true}`, status: 200, check: func(t *testing.T, f *fake, r result) {
			if r.body["user_id"] != "@bridge_y:example.org" || r.body["access_token"] != nil {
				t.Errorf("register: %s", r.raw)
			}
		}},
		{name: "register appservice no token", method: "POST", path: "/_matrix/client/v3/register", body: `{"type":"m.login.application_service","username":"bridge_y"}`, status: 401, errcode: "M_MISSING_TOKEN"},
		{name: "register appservice user token", method: "POST", path: "/_matrix/client/v3/register", token: "tok_alice", body: `{"type":"m.login.application_service","username":"bridge_y"}`, status: 401, errcode: "M_UNKNOWN_TOKEN"},
		{name: "register appservice outside namespace", method: "POST", path: "/_matrix/client/v3/register", token: "as_token", body: `{"type":"m.login.application_service","username":"carol"}`, status: 400, errcode: "M_EXCLUSIVE"},
		{name: "register user in exclusive namespace", method: "POST", path: "/_matrix/client/v3/register", body: `{"username":"bridge_q","auth":{"type":"m.login.dummy"}}`, status: 400, errcode: "M_EXCLUSIVE"},
		// Rooms.
		{name: "createRoom unknown version", method: "POST", path: "/_matrix/client/v3/createRoom", token: "tok_alice", body: `{"room_version":"999"}`, status: 400, errcode: "M_UNSUPPORTED_ROOM_VERSION"},
		{name: "createRoom wrong type", method: "POST", path: "/_matrix/client/v3/createRoom", token: "tok_alice", body: `{"invite":"@bob:example.org"}`, status: 400, errcode: "M_BAD_JSON"},
		{name: "createRoom bad invitee", method: "POST", path: "/_matrix/client/v3/createRoom", token: "tok_alice", body: `{"invite":["bob"]}`, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "createRoom alias taken", method: "POST", path: "/_matrix/client/v3/createRoom", token: "tok_alice", body: `{"room_alias_name":"room"}`, status: 400, errcode: "M_ROOM_IN_USE"},
		{name: "createRoom no token", method: "POST", path: "/_matrix/client/v3/createRoom", body: `{}`, status: 401, errcode: "M_MISSING_TOKEN"},
		{name: "join by alias", method: "POST", path: "/_matrix/client/v3/join/%23room:example.org?server_name=example.org", token: "tok_bob", status: 200, check: func(t *testing.T, f *fake, r result) {
			if !strings.HasPrefix(r.body["room_id"].(string), "!") {
				t.Errorf("join: %s", r.raw)
			}
		}},
		{name: "join bad via", method: "POST", path: "/_matrix/client/v3/join/%23room:example.org?via=bad%20server", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "join by id", method: "POST", path: "/_matrix/client/v3/rooms/{room}/join", token: "tok_bob", body: `{"reason":"hi"}`, status: 200},
		{name: "join bad room id", method: "POST", path: "/_matrix/client/v3/rooms/notaroom/join", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "invite", method: "POST", path: "/_matrix/client/v3/rooms/{room}/invite", token: "tok_alice", body: `{"user_id":"@bob:example.org"}`, status: 200},
		{name: "invite missing user", method: "POST", path: "/_matrix/client/v3/rooms/{room}/invite", token: "tok_alice", body: `{}`, status: 400, errcode: "M_MISSING_PARAM"},
		{name: "kick", method: "POST", path: "/_matrix/client/v3/rooms/{room}/kick", token: "tok_alice", body: `{"user_id":"@bob:example.org","reason":"r"}`, status: 200},
		{name: "ban", method: "POST", path: "/_matrix/client/v3/rooms/{room}/ban", token: "tok_alice", body: `{"user_id":"@bob:example.org"}`, status: 200},
		{name: "unban", method: "POST", path: "/_matrix/client/v3/rooms/{room}/unban", token: "tok_alice", body: `{"user_id":"@bob:example.org"}`, status: 200},
		{name: "leave not member", method: "POST", path: "/_matrix/client/v3/rooms/{room}/leave", token: "tok_bob", status: 403, errcode: "M_FORBIDDEN"},
		{name: "knock", method: "POST", path: "/_matrix/client/v3/knock/{room}", token: "tok_bob", body: `{}`, status: 200},
		{name: "forget while joined", method: "POST", path: "/_matrix/client/v3/rooms/{room}/forget", token: "tok_alice", status: 400, errcode: "M_UNKNOWN"},
		{name: "joined rooms", method: "GET", path: "/_matrix/client/v3/joined_rooms", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if len(r.body["joined_rooms"].([]any)) != 1 {
				t.Errorf("joined_rooms: %s", r.raw)
			}
		}},
		// Sending.
		{name: "send", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/send/m.room.message/t1", token: "tok_alice", body: `{"msgtype":"m.text","body":"hi"}`, status: 200, check: func(t *testing.T, _ *fake, r result) {
			if !strings.HasPrefix(r.body["event_id"].(string), "$") {
				t.Errorf("send: %s", r.raw)
			}
		}},
		{name: "send not object", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/send/m.room.message/t2", token: "tok_alice", body: `"hi"`, status: 400, errcode: "M_BAD_JSON"},
		{name: "send too large", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/send/m.room.message/t3", token: "tok_alice", body: long, status: 413, errcode: "M_TOO_LARGE"},
		{name: "send not member", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/send/m.room.message/t4", token: "tok_bob", body: `{}`, status: 403, errcode: "M_FORBIDDEN"},
		{name: "send long type", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/send/" + strings.Repeat("t", 256) + "/t5", token: "tok_alice", body: `{}`, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "state put", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/state/m.room.topic", token: "tok_alice", body: `{"topic":"t"}`, status: 200},
		{name: "state get trailing slash", method: "GET", path: "/_matrix/client/v3/rooms/{room}/state/m.room.name/", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"name":"Room"}` {
				t.Errorf("state: %s", r.raw)
			}
		}},
		{name: "state key with slash", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/state/org.example/a%2Fb", token: "tok_alice", body: `{"k":1}`, status: 200, check: func(t *testing.T, f *fake, r result) {
			for id, room := range f.rooms {
				if _, ok := room.state[StateKey{"org.example", "a/b"}]; !ok {
					t.Errorf("state key a/b missing in %s", id)
				}
			}
		}},
		{name: "state get member event format", method: "GET", path: "/_matrix/client/v3/rooms/{room}/state/m.room.member/@alice:example.org?format=event", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["type"] != "m.room.member" {
				t.Errorf("state: %s", r.raw)
			}
		}},
		{name: "state get missing", method: "GET", path: "/_matrix/client/v3/rooms/{room}/state/m.room.avatar", token: "tok_alice", status: 404, errcode: "M_NOT_FOUND"},
		{name: "full state", method: "GET", path: "/_matrix/client/v3/rooms/{room}/state", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if !strings.HasPrefix(r.raw, "[{") {
				t.Errorf("state: %s", r.raw)
			}
		}},
		{name: "redact", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/redact/$e3/r1", token: "tok_alice", body: `{"reason":"spam"}`, status: 200},
		{name: "redact bad event id", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/redact/e3/r2", token: "tok_alice", body: `{}`, status: 400, errcode: "M_INVALID_PARAM"},
		// Reading.
		{name: "event", method: "GET", path: "/_matrix/client/v3/rooms/{room}/event/%24e3", token: "tok_alice", status: 200},
		{name: "event missing", method: "GET", path: "/_matrix/client/v3/rooms/{room}/event/$nope", token: "tok_alice", status: 404, errcode: "M_NOT_FOUND"},
		{name: "members", method: "GET", path: "/_matrix/client/v3/rooms/{room}/members?membership=join", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if len(r.body["chunk"].([]any)) != 1 {
				t.Errorf("members: %s", r.raw)
			}
		}},
		{name: "members bad filter", method: "GET", path: "/_matrix/client/v3/rooms/{room}/members?membership=joined", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "joined members", method: "GET", path: "/_matrix/client/v3/rooms/{room}/joined_members", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"joined":{"@alice:example.org":{"display_name":null,"avatar_url":null}}}` {
				t.Errorf("joined_members: %s", r.raw)
			}
		}},
		{name: "messages", method: "GET", path: "/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=2", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if len(r.body["chunk"].([]any)) != 2 {
				t.Errorf("messages: %s", r.raw)
			}
		}},
		{name: "messages no dir", method: "GET", path: "/_matrix/client/v3/rooms/{room}/messages", token: "tok_alice", status: 400, errcode: "M_MISSING_PARAM"},
		{name: "messages bad filter", method: "GET", path: "/_matrix/client/v3/rooms/{room}/messages?dir=f&filter=%7B", token: "tok_alice", status: 400, errcode: "M_NOT_JSON"},
		{name: "messages bad limit", method: "GET", path: "/_matrix/client/v3/rooms/{room}/messages?dir=f&limit=x", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "context", method: "GET", path: "/_matrix/client/v3/rooms/{room}/context/$e3?limit=1", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if len(r.body["events_before"].([]any)) != 1 || r.body["state"] == nil {
				t.Errorf("context: %s", r.raw)
			}
		}},
		// Filters.
		{name: "filter put", method: "POST", path: "/_matrix/client/v3/user/@alice:example.org/filter", token: "tok_alice", body: `{"room":{"timeline":{"limit":5}}}`, status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["filter_id"] != "0" {
				t.Errorf("filter: %s", r.raw)
			}
		}},
		{name: "filter wrong type", method: "POST", path: "/_matrix/client/v3/user/@alice:example.org/filter", token: "tok_alice", body: `{"room":{"timeline":{"limit":"5"}}}`, status: 400, errcode: "M_BAD_JSON"},
		{name: "filter bad format", method: "POST", path: "/_matrix/client/v3/user/@alice:example.org/filter", token: "tok_alice", body: `{"event_format":"xml"}`, status: 400, errcode: "M_BAD_JSON"},
		{name: "filter unknown fields kept", method: "POST", path: "/_matrix/client/v3/user/@alice:example.org/filter", token: "tok_alice", body: `{"org.example":1,"room":{"rooms":["!a:b"]}}`, status: 200},
		{name: "sync inline filter wrong type", method: "GET", path: "/_matrix/client/v3/sync?filter=%7B%22presence%22%3A%7B%22types%22%3A1%7D%7D", token: "tok_alice", status: 400, errcode: "M_BAD_JSON"},
		{name: "messages filter wrong type", method: "GET", path: "/_matrix/client/v3/rooms/{room}/messages?dir=f&filter=%7B%22lazy_load_members%22%3A%22y%22%7D", token: "tok_alice", status: 400, errcode: "M_BAD_JSON"},
		{name: "filter other user", method: "POST", path: "/_matrix/client/v3/user/@bob:example.org/filter", token: "tok_alice", body: `{}`, status: 403, errcode: "M_FORBIDDEN"},
		{name: "filter get unknown", method: "GET", path: "/_matrix/client/v3/user/@alice:example.org/filter/7", token: "tok_alice", status: 404, errcode: "M_NOT_FOUND"},
		// Directory.
		{name: "alias get", method: "GET", path: "/_matrix/client/v3/directory/room/%23room%3Aexample.org", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["servers"].([]any)[0] != "example.org" {
				t.Errorf("alias: %s", r.raw)
			}
		}},
		{name: "alias put", method: "PUT", path: "/_matrix/client/v3/directory/room/%23other%3Aexample.org", token: "tok_alice", body: `{"room_id":"{room}"}`, status: 200},
		{name: "alias put remote", method: "PUT", path: "/_matrix/client/v3/directory/room/%23other%3Aelsewhere.org", token: "tok_alice", body: `{"room_id":"{room}"}`, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "alias put exists", method: "PUT", path: "/_matrix/client/v3/directory/room/%23room%3Aexample.org", token: "tok_alice", body: `{"room_id":"{room}"}`, status: 409, errcode: "M_UNKNOWN"},
		{name: "alias bad", method: "GET", path: "/_matrix/client/v3/directory/room/room", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "alias delete", method: "DELETE", path: "/_matrix/client/v3/directory/room/%23room%3Aexample.org", token: "tok_alice", status: 200},
		{name: "room aliases", method: "GET", path: "/_matrix/client/v3/rooms/{room}/aliases", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"aliases":["#room:example.org"]}` {
				t.Errorf("aliases: %s", r.raw)
			}
		}},
		// Published room directory.
		{name: "visibility default", method: "GET", path: "/_matrix/client/v3/directory/list/room/{room}", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"visibility":"private"}` {
				t.Errorf("visibility: %s", r.raw)
			}
		}},
		{name: "publish", method: "PUT", path: "/_matrix/client/v3/directory/list/room/{room}", token: "tok_alice", body: `{}`, status: 200, check: func(t *testing.T, f *fake, r result) {
			if len(f.published) != 1 {
				t.Errorf("not published (visibility defaults to public)")
			}
		}},
		{name: "publish bad", method: "PUT", path: "/_matrix/client/v3/directory/list/room/{room}", token: "tok_alice", body: `{"visibility":"hidden"}`, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "visibility unknown room", method: "GET", path: "/_matrix/client/v3/directory/list/room/!nope:example.org", status: 404, errcode: "M_NOT_FOUND"},
		{name: "public rooms get", method: "GET", path: "/_matrix/client/v3/publicRooms?limit=5", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"chunk":[]}` {
				t.Errorf("publicRooms: %s", r.raw)
			}
		}},
		{name: "public rooms post", method: "POST", path: "/_matrix/client/v3/publicRooms", token: "tok_alice", body: `{"limit":10,"filter":{"generic_search_term":"x","room_types":[null,"m.space"]}}`, status: 200},
		{name: "public rooms post no token", method: "POST", path: "/_matrix/client/v3/publicRooms", body: `{}`, status: 401, errcode: "M_MISSING_TOKEN"},
		{name: "public rooms bad limit", method: "GET", path: "/_matrix/client/v3/publicRooms?limit=-1", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "public rooms bad server", method: "GET", path: "/_matrix/client/v3/publicRooms?server=a%20b", status: 400, errcode: "M_INVALID_PARAM"},
		// Profile.
		{name: "displayname put", method: "PUT", path: "/_matrix/client/v3/profile/@alice:example.org/displayname", token: "tok_alice", body: `{"displayname":"Alice"}`, status: 200, check: func(t *testing.T, f *fake, r result) {
			if f.profiles["@alice:example.org"]["displayname"] != "Alice" {
				t.Error("displayname not stored")
			}
		}},
		{name: "displayname wrong type", method: "PUT", path: "/_matrix/client/v3/profile/@alice:example.org/displayname", token: "tok_alice", body: `{"displayname":5}`, status: 400, errcode: "M_BAD_JSON"},
		{name: "displayname other user", method: "PUT", path: "/_matrix/client/v3/profile/@bob:example.org/displayname", token: "tok_alice", body: `{"displayname":"B"}`, status: 403, errcode: "M_FORBIDDEN"},
		{name: "avatar unset", method: "GET", path: "/_matrix/client/v3/profile/@alice:example.org/avatar_url", status: 404, errcode: "M_NOT_FOUND"},
		{name: "profile unknown user", method: "GET", path: "/_matrix/client/v3/profile/@zed:example.org", status: 404, errcode: "M_NOT_FOUND"},
		// Account data.
		{name: "account data put", method: "PUT", path: "/_matrix/client/v3/user/@alice:example.org/account_data/m.direct", token: "tok_alice", body: `{"@bob:example.org":["!x:example.org"]}`, status: 200},
		{name: "account data room", method: "PUT", path: "/_matrix/client/v3/user/@alice:example.org/rooms/{room}/account_data/m.tag", token: "tok_alice", body: `{"tags":{}}`, status: 200},
		{name: "account data fully_read", method: "PUT", path: "/_matrix/client/v3/user/@alice:example.org/account_data/m.fully_read", token: "tok_alice", body: `{}`, status: 405, errcode: "M_BAD_JSON"},
		{name: "account data other", method: "GET", path: "/_matrix/client/v3/user/@bob:example.org/account_data/m.direct", token: "tok_alice", status: 403, errcode: "M_FORBIDDEN"},
		{name: "account data missing", method: "GET", path: "/_matrix/client/v3/user/@alice:example.org/account_data/x.y", token: "tok_alice", status: 404, errcode: "M_NOT_FOUND"},
		// Tags.
		{name: "tag put", method: "PUT", path: "/_matrix/client/v3/user/@alice:example.org/rooms/{room}/tags/m.favourite", token: "tok_alice", body: `{"order":0.25}`, status: 200, check: func(t *testing.T, f *fake, r result) {
			for k, v := range f.acct {
				if k[2] == "m.tag" && string(v) == `{"tags":{"m.favourite":{"order":0.25}}}` {
					return
				}
			}
			t.Errorf("m.tag account data: %v", f.acct)
		}},
		{name: "tag put bad order", method: "PUT", path: "/_matrix/client/v3/user/@alice:example.org/rooms/{room}/tags/u.x", token: "tok_alice", body: `{"order":"first"}`, status: 400, errcode: "M_BAD_JSON"},
		{name: "tag other user", method: "GET", path: "/_matrix/client/v3/user/@bob:example.org/rooms/{room}/tags", token: "tok_alice", status: 403, errcode: "M_FORBIDDEN"},
		{name: "tags empty", method: "GET", path: "/_matrix/client/v3/user/@alice:example.org/rooms/{room}/tags", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"tags":{}}` {
				t.Errorf("tags: %s", r.raw)
			}
		}},
		{name: "tag delete absent", method: "DELETE", path: "/_matrix/client/v3/user/@alice:example.org/rooms/{room}/tags/u.x", token: "tok_alice", status: 200},
		// Ephemeral.
		{name: "typing", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/typing/@alice:example.org", token: "tok_alice", body: `{"typing":true,"timeout":5000}`, status: 200, check: func(t *testing.T, f *fake, r result) {
			if len(f.typing) != 1 || !strings.HasSuffix(f.typing[0], "true 5s") {
				t.Errorf("typing: %v", f.typing)
			}
		}},
		{name: "typing missing", method: "PUT", path: "/_matrix/client/v3/rooms/{room}/typing/@alice:example.org", token: "tok_alice", body: `{}`, status: 400, errcode: "M_MISSING_PARAM"},
		{name: "receipt", method: "POST", path: "/_matrix/client/v3/rooms/{room}/receipt/m.read/$e3", token: "tok_alice", body: `{"thread_id":"main"}`, status: 200},
		{name: "receipt empty thread", method: "POST", path: "/_matrix/client/v3/rooms/{room}/receipt/m.read/$e3", token: "tok_alice", body: `{"thread_id":""}`, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "receipt bad thread", method: "POST", path: "/_matrix/client/v3/rooms/{room}/receipt/m.read/$e3", token: "tok_alice", body: `{"thread_id":"thread"}`, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "receipt thread root", method: "POST", path: "/_matrix/client/v3/rooms/{room}/receipt/m.read.private/$e3", token: "tok_alice", body: `{"thread_id":"$root"}`, status: 200, check: func(t *testing.T, f *fake, r result) {
			if len(f.receipts) != 1 || !strings.Contains(f.receipts[0], "$root") {
				t.Errorf("threaded receipt: %v", f.receipts)
			}
		}},
		{name: "fully read with a thread", method: "POST", path: "/_matrix/client/v3/rooms/{room}/receipt/m.fully_read/$e3", token: "tok_alice", body: `{"thread_id":"main"}`, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "receipt bad type", method: "POST", path: "/_matrix/client/v3/rooms/{room}/receipt/m.nope/$e3", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "read markers", method: "POST", path: "/_matrix/client/v3/rooms/{room}/read_markers", token: "tok_alice", body: `{"m.fully_read":"$e3","m.read":"$e3"}`, status: 200, check: func(t *testing.T, f *fake, r result) {
			if len(f.receipts) != 1 || len(f.acct) != 1 {
				t.Errorf("read markers: %v %v", f.receipts, f.acct)
			}
		}},
		// Push rules and start-up stubs.
		{name: "pushrules", method: "GET", path: "/_matrix/client/v3/pushrules/", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if !strings.Contains(r.raw, `"pattern":"@alice:example.org"`) || !strings.Contains(r.raw, `{"key":"state_key","kind":"event_match","pattern":""}`) {
				t.Errorf("pushrules: %s", r.raw)
			}
		}},
		{name: "pushrule enabled", method: "GET", path: "/_matrix/client/v3/pushrules/global/override/.m.rule.master/enabled", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"enabled":false}` {
				t.Errorf("pushrule: %s", r.raw)
			}
		}},
		{name: "pushrule unknown", method: "GET", path: "/_matrix/client/v3/pushrules/global/override/.nope", token: "tok_alice", status: 404, errcode: "M_NOT_FOUND"},
		{name: "keys upload", method: "POST", path: "/_matrix/client/v3/keys/upload", token: "tok_alice", body: `{"one_time_keys":{"signed_curve25519:A":{},"signed_curve25519:B":{}}}`, status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"one_time_key_counts":{"signed_curve25519":2}}` {
				t.Errorf("keys/upload: %s", r.raw)
			}
		}},
		{name: "keys query", method: "POST", path: "/_matrix/client/v3/keys/query", token: "tok_alice", body: `{"device_keys":{"@bob:example.org":[]}}`, status: 200},
		{name: "keys changes", method: "GET", path: "/_matrix/client/v3/keys/changes?from=0&to=0", token: "tok_alice", status: 200},
		{name: "room keys", method: "GET", path: "/_matrix/client/v3/room_keys/version", token: "tok_alice", status: 404, errcode: "M_NOT_FOUND"},
		{name: "turn", method: "GET", path: "/_matrix/client/v3/voip/turnServer", token: "tok_alice", status: 200},
		{name: "thirdparty", method: "GET", path: "/_matrix/client/v3/thirdparty/protocols", token: "tok_alice", status: 200},
		{name: "presence", method: "GET", path: "/_matrix/client/v3/presence/@bob:example.org/status", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["presence"] != "offline" {
				t.Errorf("presence: %s", r.raw)
			}
		}},
		{name: "presence put bad", method: "PUT", path: "/_matrix/client/v3/presence/@alice:example.org/status", token: "tok_alice", body: `{"presence":"busy"}`, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "user directory", method: "POST", path: "/_matrix/client/v3/user_directory/search", token: "tok_alice", body: `{"search_term":"b"}`, status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.raw != `{"limited":false,"results":[]}` {
				t.Errorf("user directory: %s", r.raw)
			}
		}},
		{name: "media config", method: "GET", path: "/_matrix/client/v1/media/config", token: "tok_alice", status: 200},
		{name: "sync initial", method: "GET", path: "/_matrix/client/v3/sync", token: "tok_alice", status: 200, check: func(t *testing.T, _ *fake, r result) {
			if r.body["next_batch"] == "" || r.body["rooms"] == nil || r.body["device_one_time_keys_count"] == nil {
				t.Errorf("sync: %s", r.raw)
			}
		}},
		{name: "sync bad filter id", method: "GET", path: "/_matrix/client/v3/sync?filter=42", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "sync bad timeout", method: "GET", path: "/_matrix/client/v3/sync?timeout=-1", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "sync bad full_state", method: "GET", path: "/_matrix/client/v3/sync?full_state=yes", token: "tok_alice", status: 400, errcode: "M_INVALID_PARAM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, s, room := setup(t)
			path := strings.ReplaceAll(tc.path, "{room}", url.PathEscape(room))
			body := strings.ReplaceAll(tc.body, "{room}", room)
			r := do(t, s, tc.method, path, tc.token, body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.errcode != "" {
				if r.body["errcode"] != tc.errcode {
					t.Fatalf("errcode %v, want %s: %s", r.body["errcode"], tc.errcode, r.raw)
				}
				if _, ok := r.body["error"].(string); !ok {
					t.Fatalf("no error message: %s", r.raw)
				}
			} else if tc.status < 300 && tc.method != "OPTIONS" && r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
			}
			if tc.check != nil {
				tc.check(t, f, r)
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	_, s, _ := setup(t)
	s = &Server{ServerName: "example.org", Accounts: s.Accounts, MaxBodyBytes: 64}
	r := do(t, s, "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","user":"alice","password":"`+strings.Repeat("x", 100)+`"}`)
	if r.status != 413 || r.body["errcode"] != "M_TOO_LARGE" {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
}

func TestTokenSources(t *testing.T) {
	// Mixing the header and the parameter is refused as the reference
	// server refuses it (M_MISSING_TOKEN).
	_, s, _ := setup(t)
	for _, tc := range []struct {
		name, path, header string
		status             int
		code               string
	}{
		{"header", "/_matrix/client/v3/account/whoami", "Bearer tok_alice", 200, ""},
		{"lowercase scheme", "/_matrix/client/v3/account/whoami", "bearer tok_alice", 200, ""},
		{"query", "/_matrix/client/v3/account/whoami?access_token=tok_alice", "", 200, ""},
		{"both", "/_matrix/client/v3/account/whoami?access_token=tok_alice", "Bearer tok_alice", 401, "M_MISSING_TOKEN"},
		{"basic", "/_matrix/client/v3/account/whoami", "Basic abc", 401, "M_MISSING_TOKEN"},
		{"empty query", "/_matrix/client/v3/account/whoami?access_token=", "", 401, "M_MISSING_TOKEN"},
		{"none", "/_matrix/client/v3/account/whoami", "", 401, "M_MISSING_TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tc.status || tc.code != "" && !strings.Contains(w.Body.String(), tc.code) {
				t.Fatalf("got %d %s", w.Code, w.Body)
			}
		})
	}
}

func TestIdentityInContext(t *testing.T) {
	f := newFake()
	tok := f.addUser("alice", "pw")
	var got Identity
	s := &Server{ServerName: "example.org", Tokens: f, Rooms: ctxRooms{fake: f, seen: &got}}
	do(t, s, "GET", "/_matrix/client/v3/joined_rooms", tok, "")
	if got.UserID != "@alice:example.org" || got.DeviceID != "DEValice" {
		t.Fatalf("identity in context: %+v", got)
	}
}

type ctxRooms struct {
	*fake
	seen *Identity
}

func (c ctxRooms) JoinedRooms(ctx context.Context, _ Identity) ([]string, error) {
	*c.seen, _ = IdentityFromContext(ctx)
	return nil, nil
}

func TestMissingBackends(t *testing.T) {
	// A Server with only tokens: endpoints without a backend are 404
	// M_UNRECOGNIZED, those with defaults answer.
	f := newFake()
	tok := f.addUser("alice", "pw")
	s := &Server{ServerName: "example.org", Tokens: f}
	for _, p := range []string{"/_matrix/client/v3/sync", "/_matrix/client/v3/joined_rooms", "/_matrix/client/v3/rooms/!a:b/state"} {
		if r := do(t, s, "GET", p, tok, ""); r.status != 404 || r.body["errcode"] != "M_UNRECOGNIZED" {
			t.Errorf("%s: %d %s", p, r.status, r.raw)
		}
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/pushrules/", tok, ""); r.status != 200 {
		t.Errorf("pushrules: %d", r.status)
	}
	if r := do(t, s, "GET", "/.well-known/matrix/client", "", ""); r.status != 404 || r.body["errcode"] != "M_NOT_FOUND" {
		t.Errorf("well-known without BaseURL: %d %s", r.status, r.raw)
	}
}

// errRooms answers joins with the error the test chooses.
type errRooms struct {
	*fake
	err error
}

func (e errRooms) Join(context.Context, Identity, JoinRequest) (string, error) { return "", e.err }

func TestBackendErrors(t *testing.T) {
	f := newFake()
	tok := f.addUser("alice", "pw")
	for _, tc := range []struct {
		name   string
		err    error
		status int
		want   map[string]any
		header map[string]string
	}{
		{"rate limited", LimitExceeded(1500 * time.Millisecond), 429,
			map[string]any{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": float64(1500)}, map[string]string{"Retry-After": "2"}},
		{"incompatible version", IncompatibleRoomVersion("12"), 400,
			map[string]any{"errcode": "M_INCOMPATIBLE_ROOM_VERSION", "room_version": "12"}, nil},
		{"wrapped", fmt.Errorf("joining: %w", Forbidden("banned")), 403,
			map[string]any{"errcode": "M_FORBIDDEN", "error": "banned"}, nil},
		{"internal", errors.New("database is on fire"), 500,
			map[string]any{"errcode": "M_UNKNOWN", "error": "internal server error"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{ServerName: "example.org", Tokens: f, Rooms: errRooms{f, tc.err}}
			r := do(t, s, "POST", "/_matrix/client/v3/join/!a:example.org", tok, "")
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			for k, v := range tc.want {
				if r.body[k] != v {
					t.Errorf("%s = %v, want %v (%s)", k, r.body[k], v, r.raw)
				}
			}
			for k, v := range tc.header {
				if r.header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, r.header.Get(k), v)
				}
			}
		})
	}
}

// nilReader answers with neither a response nor an error.
type nilReader struct{ *fake }

func (nilReader) Messages(context.Context, Identity, MessagesRequest) (*MessagesResponse, error) {
	return nil, nil
}
func (nilReader) Context(context.Context, Identity, ContextRequest) (*ContextResponse, error) {
	return nil, nil
}
func (nilReader) Event(context.Context, Identity, string, string) (json.RawMessage, error) {
	return nil, nil
}
func (nilReader) Sync(context.Context, Identity, SyncRequest) (*SyncResponse, error) {
	return nil, nil
}

func TestBackendAnswersNothing(t *testing.T) {
	// A backend bug is a 500 M_UNKNOWN, never a panic.
	f := newFake()
	tok := f.addUser("alice", "pw")
	s := &Server{ServerName: "example.org", Tokens: f, Reader: nilReader{f}, Syncer: nilReader{f}}
	for _, p := range []string{"/rooms/!a:b/messages?dir=b", "/rooms/!a:b/context/$e", "/rooms/!a:b/event/$e", "/sync"} {
		if r := do(t, s, "GET", "/_matrix/client/v3"+p, tok, ""); r.status != 500 || r.body["errcode"] != "M_UNKNOWN" {
			t.Errorf("%s: %d %s", p, r.status, r.raw)
		}
	}
}

func TestEmptyListsEncodeAsArrays(t *testing.T) {
	// Backends may return nil lists; the spec's required arrays are
	// still sent.
	f, s, room := setup(t)
	_ = f
	s.Reader = emptyReader{f}
	for _, tc := range []struct{ path, want string }{
		{"/rooms/" + room + "/messages?dir=b", `{"start":"","chunk":[]}`},
		{"/rooms/" + room + "/context/$e", `{"events_before":[],"event":{},"events_after":[],"state":[]}`},
		{"/rooms/" + room + "/members", `{"chunk":[]}`},
		{"/rooms/" + room + "/state", `[]`},
	} {
		if r := do(t, s, "GET", "/_matrix/client/v3"+tc.path, "tok_alice", ""); r.raw != tc.want {
			t.Errorf("%s: %s, want %s", tc.path, r.raw, tc.want)
		}
	}
}

type emptyReader struct{ *fake }

func (emptyReader) Messages(context.Context, Identity, MessagesRequest) (*MessagesResponse, error) {
	return &MessagesResponse{}, nil
}
func (emptyReader) Context(context.Context, Identity, ContextRequest) (*ContextResponse, error) {
	return &ContextResponse{Event: json.RawMessage(`{}`)}, nil
}
func (emptyReader) Members(context.Context, Identity, MembersRequest) ([]json.RawMessage, error) {
	return nil, nil
}
func (emptyReader) State(context.Context, Identity, string, *StateKey) ([]json.RawMessage, error) {
	return nil, nil
}

func TestTagsRoundTrip(t *testing.T) {
	_, s, room := setup(t)
	base := "/_matrix/client/v3/user/@alice:example.org/rooms/" + room + "/tags"
	do(t, s, "PUT", base+"/m.favourite", "tok_alice", `{"order":0.5}`)
	do(t, s, "PUT", base+"/u.work", "tok_alice", `{}`)
	if r := do(t, s, "GET", base, "tok_alice", ""); r.raw != `{"tags":{"m.favourite":{"order":0.5},"u.work":{}}}` {
		t.Fatalf("tags: %s", r.raw)
	}
	do(t, s, "DELETE", base+"/m.favourite", "tok_alice", "")
	if r := do(t, s, "GET", base, "tok_alice", ""); r.raw != `{"tags":{"u.work":{}}}` {
		t.Fatalf("after delete: %s", r.raw)
	}
	// The tags are the room's m.tag account data, as clients see in sync.
	if r := do(t, s, "GET", "/_matrix/client/v3/user/@alice:example.org/rooms/"+room+"/account_data/m.tag", "tok_alice", ""); r.raw != `{"tags":{"u.work":{}}}` {
		t.Fatalf("m.tag: %s", r.raw)
	}
}

func TestPublishedRooms(t *testing.T) {
	_, s, room := setup(t)
	do(t, s, "PUT", "/_matrix/client/v3/directory/list/room/"+room, "tok_alice", `{"visibility":"public"}`)
	if r := do(t, s, "GET", "/_matrix/client/v3/directory/list/room/"+room, "", ""); r.raw != `{"visibility":"public"}` {
		t.Fatalf("visibility: %s", r.raw)
	}
	r := do(t, s, "GET", "/_matrix/client/v3/publicRooms", "", "")
	if r.raw != `{"chunk":[{"room_id":"`+room+`","num_joined_members":1,"world_readable":false,"guest_can_join":false}]}` {
		t.Fatalf("publicRooms: %s", r.raw)
	}
	// Without a backend the directory is empty and nothing is public.
	bare := &Server{ServerName: "example.org"}
	if r := do(t, bare, "GET", "/_matrix/client/r0/publicRooms", "", ""); r.raw != `{"chunk":[],"total_room_count_estimate":0}` {
		t.Fatalf("bare publicRooms: %s", r.raw)
	}
	if r := do(t, bare, "GET", "/_matrix/client/v3/directory/list/room/"+room, "", ""); r.raw != `{"visibility":"private"}` {
		t.Fatalf("bare visibility: %s", r.raw)
	}
}
