package client_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxkit/mxkit/client"
	"github.com/mxkit/mxkit/internal/hstest"
)

// TestRefreshAgainstHomeserver runs the refresh token flow against the
// example homeserver with two-second access tokens: registration with
// refresh_token: true, the soft logout of an expired token, the
// transparent refresh and retry, the hook, and the rotation (the old
// refresh token is revoked once the new access token has been used).
func TestRefreshAgainstHomeserver(t *testing.T) {
	const lifetime = 2 * time.Second
	url := hstest.Start(t, "refresh.test", "--access-token-lifetime", lifetime.String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(url, "")
	if err != nil {
		t.Fatal(err)
	}
	cr, err := c.RegisterWithDummyAuth(ctx, &client.RegisterRequest{Username: "rita", Password: "pw", RefreshToken: true})
	if err != nil {
		t.Fatal(err)
	}
	if cr.RefreshToken == "" || cr.ExpiresInMS != lifetime.Milliseconds() || c.RefreshToken != cr.RefreshToken {
		t.Fatalf("registration credentials: %+v", cr)
	}
	// A client that did not ask for a refresh token gets one that does
	// not expire.
	plain, _ := client.New(url, "")
	if pcr, err := plain.LoginWithPassword(ctx, "rita", "pw"); err != nil || pcr.RefreshToken != "" || pcr.ExpiresInMS != 0 {
		t.Fatalf("login without refresh_token: %+v %v", pcr, err)
	}
	var persisted atomic.Int32
	var saved client.RefreshedTokens
	c.OnTokenRefresh = func(_ context.Context, tk *client.RefreshedTokens) {
		persisted.Add(1)
		saved = *tk
	}
	stale, _ := client.New(url, cr.AccessToken) // the same token, no refresh token
	oldRefresh := cr.RefreshToken

	time.Sleep(lifetime + 500*time.Millisecond)
	// Expired: 401 M_UNKNOWN_TOKEN with soft_logout true.
	_, err = stale.WhoAmI(ctx)
	var me *client.Error
	if !errors.As(err, &me) || me.Status != http.StatusUnauthorized || me.Code != client.CodeUnknownToken || me.Fields["soft_logout"] != true {
		t.Fatalf("expired token: %v", err)
	}
	// The refreshing client refreshes once and retries.
	who, err := c.WhoAmI(ctx)
	if err != nil || who.UserID != "@rita:refresh.test" {
		t.Fatalf("whoami after expiry: %+v %v", who, err)
	}
	if persisted.Load() != 1 || saved.AccessToken != c.AccessToken || saved.RefreshToken != c.RefreshToken ||
		c.AccessToken == cr.AccessToken || c.RefreshToken == oldRefresh || saved.ExpiresInMS != lifetime.Milliseconds() {
		t.Fatalf("refresh: hook called %d times with %+v; client has %q %q", persisted.Load(), saved, c.AccessToken, c.RefreshToken)
	}
	// The new access token has been used: the old refresh token is
	// revoked, and refreshing with it fails.
	old, _ := client.New(url, "")
	old.RefreshToken = oldRefresh
	if _, err := old.Refresh(ctx); !client.IsCode(err, client.CodeUnknownToken) {
		t.Fatalf("refresh with the revoked token: %v", err)
	}
	// An explicit refresh works with the current refresh token.
	if _, err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if persisted.Load() != 2 {
		t.Fatalf("hook called %d times", persisted.Load())
	}
	// Logging out ends the refresh token too.
	rt := c.RefreshToken
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := client.New(url, "")
	after.RefreshToken = rt
	if _, err := after.Refresh(ctx); !client.IsCode(err, client.CodeUnknownToken) {
		t.Fatalf("refresh after logout: %v", err)
	}
	// Without a refresh token, Refresh says so.
	if _, err := plain.Refresh(ctx); !errors.Is(err, client.ErrNoRefreshToken) {
		t.Fatalf("refresh without a token: %v", err)
	}
}
