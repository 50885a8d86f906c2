package clientapi

import "context"

// Refresher refreshes access tokens (content/client-server-api/_index.md
// "Refreshing access tokens", data/api/client-server/refresh.yaml, v1.3).
// Optional: without it POST /refresh answers 404 M_UNRECOGNIZED, and
// Accounts.Login sees LoginRequest.RefreshToken to decide whether to
// issue refresh tokens at all.
//
// The rules the backend keeps: the new tokens are bound to the device of
// the refresh token; the old refresh token stays valid until the new
// access token or the new refresh token is first used, then it is
// revoked; an expired access token is refused with UnknownToken(true)
// (soft logout) by TokenLookup.
type Refresher interface {
	// Refresh exchanges refreshToken for a new access token (and a new
	// refresh token, or "" to keep using the old one). An unknown or
	// revoked refresh token is a 401 M_UNKNOWN_TOKEN *Error.
	Refresh(ctx context.Context, refreshToken string) (RefreshedTokens, error)
}

// RefreshedTokens is the answer of POST /refresh.
type RefreshedTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// ExpiresInMS is the new access token's lifetime; 0: it does not
	// expire.
	ExpiresInMS int64 `json:"expires_in_ms,omitempty"`
}

func (s *Server) refreshRoutes(add addFunc) {
	add(legacyPrefixes, "POST", "/refresh", authNone, (*call).refresh)
}

// refresh is POST /refresh. It takes no access token: the refresh token
// authenticates, and application service identity assertion does not
// apply.
func (c *call) refresh() (any, error) {
	if err := need(c.s.Refresher != nil); err != nil {
		return nil, err
	}
	var b struct {
		RefreshToken *string `json:"refresh_token"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.RefreshToken == nil {
		return nil, MissingParam("refresh_token is required")
	}
	if *b.RefreshToken == "" {
		return nil, UnknownToken(false)
	}
	t, err := c.s.Refresher.Refresh(c.ctx, *b.RefreshToken)
	if err != nil {
		return nil, err
	}
	if t.AccessToken == "" {
		return nil, errNoAnswer
	}
	return t, nil
}
