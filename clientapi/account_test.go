package clientapi

import (
	"strings"
	"testing"
	"time"
)

// TestChangePasswordAndDeactivate: both need the user's password through
// user-interactive authentication; a password change logs out the other
// devices unless asked not to; a deactivated account cannot log in.
func TestChangePasswordAndDeactivate(t *testing.T) {
	f, s, _ := setup(t)
	other := do(t, s, "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","user":"alice","password":"secret"}`)
	otherTok := other.body["access_token"].(string)
	r := do(t, s, "POST", "/_matrix/client/v3/account/password", "tok_alice", `{"new_password":"n3w"}`)
	if r.status != 401 || r.body["flows"] == nil {
		t.Fatalf("without auth: %d %s", r.status, r.raw)
	}
	session := r.body["session"].(string)
	bad := `{"new_password":"n3w","auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"wrong","session":"` + session + `"}}`
	if r := do(t, s, "POST", "/_matrix/client/v3/account/password", "tok_alice", bad); r.status != 401 {
		t.Fatalf("wrong password: %d %s", r.status, r.raw)
	}
	good := `{"new_password":"n3w","auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"secret","session":"` + session + `"}}`
	if r := do(t, s, "POST", "/_matrix/client/v3/account/password", "tok_alice", good); r.status != 200 {
		t.Fatalf("change: %d %s", r.status, r.raw)
	}
	if f.users["@alice:example.org"] != "n3w" {
		t.Fatalf("password not changed")
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/account/whoami", otherTok, ""); r.status != 401 {
		t.Fatalf("the other device is still logged in: %d", r.status)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/account/whoami", "tok_alice", ""); r.status != 200 {
		t.Fatalf("the changing device was logged out: %d", r.status)
	}
	long := `{"new_password":"` + strings.Repeat("x", MaxPasswordBytes+1) + `","auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"n3w"}}`
	if r := do(t, s, "POST", "/_matrix/client/v3/account/password", "tok_alice", long); r.status != 400 || r.body["errcode"] != "M_PASSWORD_TOO_LONG" {
		t.Fatalf("too long: %d %s", r.status, r.raw)
	}
	deact := `{"auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"n3w"}}`
	r = do(t, s, "POST", "/_matrix/client/v3/account/deactivate", "tok_alice", deact)
	if r.status != 200 || r.body["id_server_unbind_result"] != "no-support" {
		t.Fatalf("deactivate: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","user":"alice","password":"n3w"}`); r.status != 403 {
		t.Fatalf("login after deactivation: %d", r.status)
	}
}

func TestThreepids(t *testing.T) {
	_, s, _ := setup(t)
	if r := do(t, s, "GET", "/_matrix/client/v3/account/3pid", "tok_alice", ""); r.status != 200 || r.raw != `{"threepids":[]}` {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "POST", "/_matrix/client/v3/account/3pid/add", "tok_alice", `{"sid":"x","client_secret":"y"}`); r.status != 403 || r.body["errcode"] != "M_THREEPID_DENIED" {
		t.Fatalf("add: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "POST", "/_matrix/client/v3/register/email/requestToken", "", `{"email":"a@b","client_secret":"y","send_attempt":1}`); r.status != 403 {
		t.Fatalf("requestToken: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "POST", "/_matrix/client/v3/account/3pid/delete", "tok_alice", `{"medium":"email","address":"a@b"}`); r.status != 200 || r.body["id_server_unbind_result"] != "no-support" {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
}

// TestLoginToken: POST /login/get_token (after user-interactive auth)
// gives a single-use token for m.login.token, offered by GET /login.
func TestLoginToken(t *testing.T) {
	_, s, _ := setup(t)
	now := time.Unix(1000, 0)
	s.LoginTokens = &MemoryLoginTokens{Now: func() time.Time { return now }}
	if r := do(t, s, "GET", "/_matrix/client/v3/login", "", ""); !strings.Contains(r.raw, `"get_login_token":true`) {
		t.Fatalf("flows: %s", r.raw)
	}
	if r := do(t, s, "POST", "/_matrix/client/v1/login/get_token", "tok_alice", `{}`); r.status != 401 {
		t.Fatalf("without auth: %d", r.status)
	}
	r := do(t, s, "POST", "/_matrix/client/v1/login/get_token", "tok_alice", `{"auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"secret"}}`)
	if r.status != 200 || r.body["expires_in_ms"] != float64(120000) {
		t.Fatalf("get_token: %d %s", r.status, r.raw)
	}
	tok := r.body["login_token"].(string)
	login := `{"type":"m.login.token","token":"` + tok + `"}`
	if r := do(t, s, "POST", "/_matrix/client/v3/login", "", login); r.status != 200 || r.body["user_id"] != "@alice:example.org" {
		t.Fatalf("token login: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "POST", "/_matrix/client/v3/login", "", login); r.status != 403 {
		t.Fatalf("the token worked twice: %d", r.status)
	}
	r = do(t, s, "POST", "/_matrix/client/v1/login/get_token", "tok_alice", `{"auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"secret"}}`)
	now = now.Add(3 * time.Minute)
	if r := do(t, s, "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.token","token":"`+r.body["login_token"].(string)+`"}`); r.status != 403 {
		t.Fatalf("an expired token worked: %d", r.status)
	}
}
