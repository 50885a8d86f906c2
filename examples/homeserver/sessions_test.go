package main

import (
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mxkit/mxkit/clientapi"
)

// TestRefreshRotation checks the rules of "Refreshing access tokens":
// the old access token ends at the refresh; the old refresh token stays
// valid until the new tokens are used (a client that lost the answer
// refreshes again, and the unused tokens of the lost answer end); once
// the new access token is used, the old refresh token is revoked.
func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "refresh.localhost", false, nil)
	base := hs.hs.ClientURL()
	register(t, base, "rob")
	anon := &api{t: t, base: base}
	var cr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresInMS  int64  `json:"expires_in_ms"`
	}
	anon.must("POST", "/login", map[string]any{"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": "rob"},
		"password": "pw-rob", "refresh_token": true}, &cr)
	if cr.RefreshToken == "" || cr.ExpiresInMS != defaultAccessTokenLifetime.Milliseconds() {
		t.Fatalf("login: %+v", cr)
	}
	refresh := func(rt string) (at, next string, code int) {
		var r struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		code, _ = anon.do("POST", "/refresh", map[string]string{"refresh_token": rt}, &r)
		return r.AccessToken, r.RefreshToken, code
	}
	whoami := func(tok string) int {
		code, _ := (&api{t: t, base: base, token: tok}).do("GET", "/account/whoami", nil, nil)
		return code
	}
	at2, rt2, code := refresh(cr.RefreshToken)
	if code != 200 || at2 == "" || rt2 == "" || at2 == cr.AccessToken || rt2 == cr.RefreshToken {
		t.Fatalf("first refresh: %d %q %q", code, at2, rt2)
	}
	if whoami(cr.AccessToken) != 401 {
		t.Fatal("the old access token still works after the refresh")
	}
	// The answer was "lost": refresh again with the first token.
	at3, rt3, code := refresh(cr.RefreshToken)
	if code != 200 || at3 == at2 {
		t.Fatalf("second refresh with the unrevoked token: %d", code)
	}
	if whoami(at2) != 401 {
		t.Fatal("the unused access token of the lost answer still works")
	}
	if _, _, code := refresh(rt2); code != 401 {
		t.Fatalf("the unused refresh token of the lost answer: %d", code)
	}
	if whoami(at3) != 200 {
		t.Fatal("the new access token does not work")
	}
	// at3 was used: the first refresh token is revoked.
	if _, _, code := refresh(cr.RefreshToken); code != 401 {
		t.Fatalf("the old refresh token after the new access token was used: %d", code)
	}
	// Using the new refresh token (without using its access token)
	// revokes its parent too.
	_, rt4, code := refresh(rt3)
	if code != 200 {
		t.Fatalf("refresh with rt3: %d", code)
	}
	_, _, code = refresh(rt4)
	if code != 200 {
		t.Fatalf("refresh with rt4: %d", code)
	}
	if _, _, code := refresh(rt3); code != 401 {
		t.Fatalf("rt3 after rt4 was used: %d", code)
	}
	if !strings.HasPrefix(rt4, "mxr_") {
		t.Fatalf("refresh token %q", rt4)
	}
}

func TestSessionFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(*Config) bool
	}{
		{nil, "", func(c *Config) bool {
			return c.AccessTokenLifetime == defaultAccessTokenLifetime && len(c.ServerAdmins) == 0
		}},
		{[]string{"--access-token-lifetime", "90s"}, "", func(c *Config) bool { return c.AccessTokenLifetime.Seconds() == 90 }},
		{[]string{"--access-token-lifetime", "0"}, "", func(c *Config) bool { return c.AccessTokenLifetime < 0 }},
		{[]string{"--access-token-lifetime", "soon"}, "invalid value", nil},
		{[]string{"--server-name", "a.test", "--server-admin", "@root:a.test", "--server-admin", "@ops:a.test"}, "", func(c *Config) bool {
			return strings.Join(c.ServerAdmins, ",") == "@root:a.test,@ops:a.test"
		}},
		{[]string{"--server-name", "a.test", "--server-admin", "@root:b.test"}, "not a user of a.test", nil},
		{[]string{"--server-admin", "root"}, "--server-admin", nil},
	}
	for _, tt := range tests {
		c, err := parseFlags(tt.args, io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(c) {
			t.Errorf("%v: %+v %v", tt.args, c, err)
		}
	}
}

// TestClientJSRefresh runs clients/js/refresh.mjs: matrix-js-sdk's token
// refresher meets an expired access token, refreshes it through POST
// /v3/refresh and retries, and the first refresh token is then revoked.
func TestClientJSRefresh(t *testing.T) {
	t.Parallel()
	requireJS(t)
	const lifetime = 2 * time.Second
	hs := startConfig(t, &Config{ServerName: "jsrefresh.localhost", AccessTokenLifetime: lifetime})
	runClient(t, 60*time.Second, filepath.Join("clients", "js"), "node", "refresh.mjs", hs.ClientURL(), strconv.FormatInt(lifetime.Milliseconds(), 10))
}

// BenchmarkLookupToken measures the access token lookup every request
// makes (the token row with its expiry and the account's moderation
// state), beside the baseline of reading the token row alone.
func BenchmarkLookupToken(b *testing.B) {
	db, err := OpenStore(filepath.Join(b.TempDir(), "hs.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	a := &Accounts{name: "bench.localhost", db: db, admins: map[string]bool{}}
	if err := a.Register(ctx, "@u:bench.localhost", "", ""); err != nil {
		b.Fatal(err)
	}
	cr, err := a.Login(ctx, clientapi.LoginRequest{UserID: "@u:bench.localhost", RefreshToken: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("LookupToken", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.LookupToken(ctx, cr.AccessToken, clientapi.Masquerade{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-token-row", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var u, d string
			if err := db.queryRow(ctx, `SELECT user_id, device_id FROM tokens WHERE token = ?`, cr.AccessToken).Scan(&u, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
