package client

import (
	"context"
	"errors"
	"net/http"
)

// RefreshedTokens is the answer of POST /refresh
// (content/client-server-api/_index.md "Refreshing access tokens").
type RefreshedTokens struct {
	AccessToken string `json:"access_token"`
	// RefreshToken is the new refresh token; empty: the old one stays
	// in use.
	RefreshToken string `json:"refresh_token,omitempty"`
	// ExpiresInMS is the new access token's lifetime; 0: it does not
	// expire.
	ExpiresInMS int64 `json:"expires_in_ms,omitempty"`
}

// ErrNoRefreshToken is returned by Refresh when the client has no
// refresh token.
var ErrNoRefreshToken = errors.New("client: no refresh token")

// Refresh exchanges the client's refresh token for a new access token
// (POST /refresh), makes the client use the new tokens and calls
// OnTokenRefresh. Requests refresh by themselves when the server answers
// that the access token expired (401 M_UNKNOWN_TOKEN with soft_logout);
// Refresh is for a client that wants to refresh ahead of the expiry.
func (c *Client) Refresh(ctx context.Context) (*RefreshedTokens, error) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	return c.refreshLocked(ctx)
}

func (c *Client) refreshLocked(ctx context.Context) (*RefreshedTokens, error) {
	if c.RefreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	var t RefreshedTokens
	// The refresh token authenticates; the expired access token is not
	// sent.
	body := map[string]string{"refresh_token": c.RefreshToken}
	if err := c.call(ctx, request{method: http.MethodPost, path: v3("refresh"), body: body, noAuth: true}, &t); err != nil {
		return nil, err
	}
	if t.AccessToken == "" {
		return nil, errors.New("client: POST /refresh answered no access_token")
	}
	c.AccessToken = t.AccessToken
	if t.RefreshToken != "" {
		c.RefreshToken = t.RefreshToken
	}
	if c.OnTokenRefresh != nil {
		c.OnTokenRefresh(ctx, &t)
	}
	return &t, nil
}

// accessToken is the access token to send, read under the lock a
// refresh holds while it replaces it.
func (c *Client) accessToken() string {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	return c.AccessToken
}

// needsRefresh: the answer says the access token expired (soft logout)
// and the client can refresh it ("Soft logout": refresh if possible,
// else log in again keeping the device).
func (c *Client) needsRefresh(r request, me *Error) bool {
	if r.noAuth || me.Status != http.StatusUnauthorized || me.Code != CodeUnknownToken {
		return false
	}
	if soft, _ := me.Fields["soft_logout"].(bool); !soft {
		return false
	}
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	return c.RefreshToken != ""
}

// refreshFrom refreshes the access token a request was refused with
// (its Authorization header), unless another request has refreshed it
// meanwhile: concurrent requests that fail together refresh once, since
// a second refresh with the same refresh token fails once the first new
// token has been used.
func (c *Client) refreshFrom(ctx context.Context, usedAuthorization string) error {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if usedAuthorization != "Bearer "+c.AccessToken {
		return nil
	}
	_, err := c.refreshLocked(ctx)
	return err
}
