package clientapi

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// moderation is an AccountModeration and Whois over a map.
type moderation struct {
	admins map[string]bool
	status map[string]AccountStatus // known local users
	sets   int
}

func (m *moderation) IsServerAdmin(_ context.Context, userID string) (bool, error) {
	return m.admins[userID], nil
}

func (m *moderation) AccountStatus(_ context.Context, userID string) (AccountStatus, error) {
	st, ok := m.status[userID]
	if !ok {
		return st, NotFound("user not found")
	}
	return st, nil
}

func (m *moderation) SetAccountStatus(_ context.Context, userID string, st AccountStatus) error {
	m.sets++
	m.status[userID] = st
	return nil
}

func (m *moderation) Whois(_ context.Context, userID string) (map[string]WhoisDevice, error) {
	if _, ok := m.status[userID]; !ok {
		return nil, NotFound("user not found")
	}
	return map[string]WhoisDevice{"DEV": {Sessions: []WhoisSession{{Connections: []WhoisConnection{{IP: "192.0.2.1", LastSeen: 5, UserAgent: "ua"}}}}}}, nil
}

func TestAdminEndpoints(t *testing.T) {
	f, s, roomID := setup(t)
	f.addUser("root", "x")
	f.addUser("ops", "x")
	m := &moderation{
		admins: map[string]bool{"@root:example.org": true, "@ops:example.org": true},
		status: map[string]AccountStatus{"@alice:example.org": {}, "@bob:example.org": {Locked: true}, "@root:example.org": {}, "@ops:example.org": {}},
	}
	s.Whois, s.AccountModeration = m, m
	u := url.PathEscape
	cases := []struct {
		name, method, path, token, body string
		status                          int
		errcode                         string
		want                            string // a substring of the answer
	}{
		{"whois self", "GET", "/_matrix/client/v3/admin/whois/" + u("@alice:example.org"), "tok_alice", "", 200, "", `"ip":"192.0.2.1"`},
		{"whois other by user", "GET", "/_matrix/client/v3/admin/whois/" + u("@bob:example.org"), "tok_alice", "", 403, "M_FORBIDDEN", ""},
		{"whois other by admin", "GET", "/_matrix/client/r0/admin/whois/" + u("@bob:example.org"), "tok_root", "", 200, "", `"user_id":"@bob:example.org"`},
		{"whois remote", "GET", "/_matrix/client/v3/admin/whois/" + u("@bob:elsewhere.org"), "tok_root", "", 400, "M_INVALID_PARAM", ""},
		{"whois unknown", "GET", "/_matrix/client/v3/admin/whois/" + u("@x:example.org"), "tok_root", "", 404, "M_NOT_FOUND", ""},
		{"whois bad id", "GET", "/_matrix/client/v3/admin/whois/bob", "tok_root", "", 400, "M_INVALID_PARAM", ""},
		{"lock status", "GET", "/_matrix/client/v1/admin/lock/" + u("@bob:example.org"), "tok_root", "", 200, "", `{"locked":true}`},
		{"suspend status", "GET", "/_matrix/client/v1/admin/suspend/" + u("@bob:example.org"), "tok_root", "", 200, "", `{"suspended":false}`},
		{"not admin before lookup", "GET", "/_matrix/client/v1/admin/lock/" + u("@x:example.org"), "tok_alice", "", 403, "M_FORBIDDEN", ""},
		{"unknown user", "GET", "/_matrix/client/v1/admin/lock/" + u("@x:example.org"), "tok_root", "", 404, "M_NOT_FOUND", ""},
		{"remote user", "PUT", "/_matrix/client/v1/admin/suspend/" + u("@x:elsewhere.org"), "tok_root", `{"suspended":true}`, 400, "M_INVALID_PARAM", ""},
		{"another admin", "GET", "/_matrix/client/v1/admin/lock/" + u("@ops:example.org"), "tok_root", "", 403, "M_FORBIDDEN", ""},
		{"own status", "GET", "/_matrix/client/v1/admin/lock/" + u("@root:example.org"), "tok_root", "", 200, "", `{"locked":false}`},
		{"lock self", "PUT", "/_matrix/client/v1/admin/lock/" + u("@root:example.org"), "tok_root", `{"locked":true}`, 403, "M_FORBIDDEN", ""},
		{"missing field", "PUT", "/_matrix/client/v1/admin/suspend/" + u("@alice:example.org"), "tok_root", `{"locked":true}`, 400, "M_MISSING_PARAM", ""},
		{"wrong type", "PUT", "/_matrix/client/v1/admin/suspend/" + u("@alice:example.org"), "tok_root", `{"suspended":"yes"}`, 400, "M_BAD_JSON", ""},
		{"not v3", "GET", "/_matrix/client/v3/admin/lock/" + u("@bob:example.org"), "tok_root", "", 404, "M_UNRECOGNIZED", ""},
		{"suspend", "PUT", "/_matrix/client/v1/admin/suspend/" + u("@alice:example.org"), "tok_root", `{"suspended":true}`, 200, "", `{"suspended":true}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, s, tc.method, tc.path, tc.token, tc.body)
			if r.status != tc.status || tc.errcode != "" && r.body["errcode"] != tc.errcode {
				t.Fatalf("%d %s, want %d %s", r.status, r.raw, tc.status, tc.errcode)
			}
			if tc.want != "" && !strings.Contains(r.raw, tc.want) {
				t.Fatalf("answer %s lacks %s", r.raw, tc.want)
			}
		})
	}
	if !m.status["@alice:example.org"].Suspended || m.status["@alice:example.org"].Locked || m.sets != 1 {
		t.Fatalf("after suspend: %+v (%d writes)", m.status["@alice:example.org"], m.sets)
	}

	// The effects come from the Identity the TokenLookup returns.
	f.mu.Lock()
	f.tokens["tok_locked"] = Identity{UserID: "@bob:example.org", DeviceID: "D", Locked: true}
	f.tokens["tok_susp"] = Identity{UserID: "@alice:example.org", DeviceID: "D2", Suspended: true}
	f.mu.Unlock()
	rp := "/_matrix/client/v3/rooms/" + u(roomID)
	own := do(t, s, "PUT", rp+"/send/m.room.message/own", "tok_alice", `{"msgtype":"m.text","body":"x"}`).body["event_id"].(string)
	effects := []struct {
		name, method, path, token, body string
		status                          int
		errcode                         string
	}{
		{"locked whoami", "GET", "/_matrix/client/v3/account/whoami", "tok_locked", "", 401, "M_USER_LOCKED"},
		{"locked sync", "GET", "/_matrix/client/v3/sync", "tok_locked", "", 401, "M_USER_LOCKED"},
		{"locked logout", "POST", "/_matrix/client/v3/logout", "tok_locked", "{}", 200, ""},
		{"suspended whoami", "GET", "/_matrix/client/v3/account/whoami", "tok_susp", "", 200, ""},
		{"suspended createRoom", "POST", "/_matrix/client/v3/createRoom", "tok_susp", "{}", 403, "M_USER_SUSPENDED"},
		{"suspended send", "PUT", rp + "/send/m.room.message/t", "tok_susp", `{"msgtype":"m.text","body":"x"}`, 403, "M_USER_SUSPENDED"},
		{"suspended redaction of own via send", "PUT", rp + "/send/m.room.redaction/t2", "tok_susp", `{"redacts":"` + own + `"}`, 200, ""},
		{"suspended redact own", "PUT", rp + "/redact/" + u(own) + "/t3", "tok_susp", "{}", 200, ""},
		{"suspended displayname", "PUT", "/_matrix/client/v3/profile/" + u("@alice:example.org") + "/displayname", "tok_susp", `{"displayname":"x"}`, 403, "M_USER_SUSPENDED"},
		{"suspended join", "POST", "/_matrix/client/r0/join/" + u(roomID), "tok_susp", "{}", 403, "M_USER_SUSPENDED"},
		{"suspended leave", "POST", rp + "/leave", "tok_susp", "{}", 200, ""},
	}
	for _, tc := range effects {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, s, tc.method, tc.path, tc.token, tc.body)
			if r.status != tc.status || tc.errcode != "" && r.body["errcode"] != tc.errcode {
				t.Fatalf("%d %s, want %d %s", r.status, r.raw, tc.status, tc.errcode)
			}
			if tc.errcode == "M_USER_LOCKED" && r.body["soft_logout"] != true {
				t.Fatalf("no soft_logout: %s", r.raw)
			}
		})
	}
	// Redacting another user's event while suspended is refused.
	if r := do(t, s, "POST", rp+"/join", "tok_root", "{}"); r.status != 200 {
		t.Fatalf("root joins: %s", r.raw)
	}
	other := do(t, s, "PUT", rp+"/send/m.room.message/r", "tok_root", `{"msgtype":"m.text","body":"y"}`)
	otherID, _ := other.body["event_id"].(string)
	if otherID == "" {
		t.Fatalf("send as root: %s", other.raw)
	}
	if r := do(t, s, "PUT", rp+"/redact/"+u(otherID)+"/t4", "tok_susp", "{}"); r.status != 403 || r.body["errcode"] != "M_USER_SUSPENDED" {
		t.Fatalf("redacting another user's event while suspended: %d %s", r.status, r.raw)
	}
}

// FuzzAccountBodies sends arbitrary bodies to the refresh, moderation
// and token-registration adapters: no panic, every answer JSON, errors
// with an errcode, no server error for client input.
func FuzzAccountBodies(f *testing.F) {
	endpoints := []struct{ method, path, token string }{
		{"POST", "/_matrix/client/v3/refresh", ""},
		{"PUT", "/_matrix/client/v1/admin/lock/%40alice%3Aexample.org", "tok_root"},
		{"PUT", "/_matrix/client/v1/admin/suspend/%40alice%3Aexample.org", "tok_root"},
		{"POST", "/_matrix/client/v3/register", ""},
	}
	for _, seed := range []string{``, `{}`, `null`, `[]`, `{"refresh_token":"rt-good"}`, `{"refresh_token":null}`,
		`{"locked":true}`, `{"suspended":1}`, `{"username":"zed","auth":{"type":"m.login.registration_token","token":"many"}}`,
		`{"auth":{"type":"m.login.registration_token","token":5}}`, `{"auth":"x"}`, "{\"refresh_token\":\"\xff\"}"} {
		for i := range endpoints {
			f.Add(i, seed)
		}
	}
	fk := newFake()
	fk.addUser("alice", "x")
	fk.addUser("root", "x")
	acc := &refreshingAccounts{fake: fk}
	s := fk.handler()
	m := &moderation{admins: map[string]bool{"@root:example.org": true}, status: map[string]AccountStatus{"@alice:example.org": {}}}
	tokens := &MemoryRegistrationTokens{}
	tokens.Add("many", 0)
	s.Accounts, s.Refresher, s.Whois, s.AccountModeration, s.RegistrationTokens = acc, acc, m, m, tokens
	f.Fuzz(func(t *testing.T, i int, body string) {
		if i < 0 {
			i = -i
		}
		e := endpoints[i%len(endpoints)]
		r := do(t, s, e.method, e.path, e.token, body)
		if !json.Valid([]byte(r.raw)) {
			t.Fatalf("%s %s: answer is not JSON: %q", e.method, e.path, r.raw)
		}
		if r.status >= 400 {
			if _, ok := r.body["errcode"].(string); !ok && !(r.status == 401 && r.body["flows"] != nil) {
				t.Fatalf("%s %s: error without errcode: %d %s", e.method, e.path, r.status, r.raw)
			}
		}
		if r.status >= 500 {
			t.Fatalf("%s %s: server error for client input: %d %s", e.method, e.path, r.status, r.raw)
		}
	})
}
