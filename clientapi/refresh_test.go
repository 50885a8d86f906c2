package clientapi

import (
	"context"
	"testing"
)

// refreshingAccounts issues refresh tokens when asked, over the fake.
type refreshingAccounts struct {
	*fake
	asked []bool
}

func (a *refreshingAccounts) Login(ctx context.Context, req LoginRequest) (Credentials, error) {
	a.asked = append(a.asked, req.RefreshToken)
	c, err := a.fake.Login(ctx, req)
	if req.RefreshToken {
		c.RefreshToken, c.ExpiresInMS = "rt-"+c.AccessToken, 60000
	}
	return c, err
}

func (a *refreshingAccounts) Refresh(_ context.Context, rt string) (RefreshedTokens, error) {
	if rt != "rt-good" {
		return RefreshedTokens{}, UnknownToken(false)
	}
	return RefreshedTokens{AccessToken: "new-at", RefreshToken: "new-rt", ExpiresInMS: 60000}, nil
}

func TestRefresh(t *testing.T) {
	f := newFake()
	f.addUser("alice", "secret")
	acc := &refreshingAccounts{fake: f}
	s := f.handler()
	s.Accounts, s.Refresher = acc, acc

	login := do(t, s, "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"secret","refresh_token":true}`)
	if login.status != 200 || login.body["refresh_token"] == nil || login.body["expires_in_ms"] != float64(60000) {
		t.Fatalf("login with refresh_token: %d %s", login.status, login.raw)
	}
	plain := do(t, s, "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"secret"}`)
	if _, ok := plain.body["refresh_token"]; ok || plain.body["expires_in_ms"] != nil {
		t.Fatalf("login without refresh_token: %s", plain.raw)
	}
	reg := do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"bob","password":"pw","auth":{"type":"m.login.dummy"},"refresh_token":true}`)
	if reg.status != 200 || reg.body["refresh_token"] == nil {
		t.Fatalf("register with refresh_token: %d %s", reg.status, reg.raw)
	}
	if len(acc.asked) != 3 || !acc.asked[0] || acc.asked[1] || !acc.asked[2] {
		t.Fatalf("LoginRequest.RefreshToken seen as %v", acc.asked)
	}

	cases := []struct {
		name, body string
		status     int
		errcode    string
	}{
		{"good", `{"refresh_token":"rt-good"}`, 200, ""},
		{"unknown", `{"refresh_token":"rt-bad"}`, 401, "M_UNKNOWN_TOKEN"},
		{"empty", `{"refresh_token":""}`, 401, "M_UNKNOWN_TOKEN"},
		{"missing", `{}`, 400, "M_MISSING_PARAM"},
		{"wrong type", `{"refresh_token":5}`, 400, "M_BAD_JSON"},
		{"not json", `{`, 400, "M_NOT_JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, s, "POST", "/_matrix/client/v3/refresh", "", tc.body)
			if r.status != tc.status || tc.errcode != "" && r.body["errcode"] != tc.errcode {
				t.Fatalf("%d %s, want %d %s", r.status, r.raw, tc.status, tc.errcode)
			}
			if tc.status == 200 && (r.body["access_token"] != "new-at" || r.body["refresh_token"] != "new-rt" || r.body["expires_in_ms"] != float64(60000)) {
				t.Fatalf("refresh answer: %s", r.raw)
			}
		})
	}
	// No access token is needed, and an invalid one does not matter.
	if r := do(t, s, "POST", "/_matrix/client/v3/refresh", "expired", `{"refresh_token":"rt-good"}`); r.status != 200 {
		t.Fatalf("refresh with an expired access token: %d %s", r.status, r.raw)
	}
	// Without a Refresher the endpoint is not served.
	if r := do(t, f.handler(), "POST", "/_matrix/client/v3/refresh", "", `{"refresh_token":"x"}`); r.status != 404 || r.body["errcode"] != "M_UNRECOGNIZED" {
		t.Fatalf("no Refresher: %d %s", r.status, r.raw)
	}
}
