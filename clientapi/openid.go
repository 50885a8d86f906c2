package clientapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// OpenIDTokens issues the OpenID tokens of POST
// /user/{userId}/openid/request_token (content/client-server-api/
// _index.md "OpenID"; data/api/client-server/openid.yaml), which a third
// party checks with the user's homeserver over federation (GET
// /_matrix/federation/v1/openid/userinfo). Optional: without it the
// endpoint answers 404 M_UNRECOGNIZED.
type OpenIDTokens interface {
	RequestOpenIDToken(ctx context.Context, userID string) (token string, expiresIn time.Duration, err error)
}

// OpenIDToken is the answer of request_token.
type OpenIDToken struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	MatrixServerName string `json:"matrix_server_name"`
	ExpiresIn        int64  `json:"expires_in"`
}

func (c *call) requestOpenIDToken() (any, error) {
	if err := need(c.s.OpenID != nil); err != nil {
		return nil, err
	}
	if err := c.selfParam("userId", "request OpenID tokens"); err != nil {
		return nil, err
	}
	if _, err := c.object(true); err != nil {
		return nil, err
	}
	tok, exp, err := c.s.OpenID.RequestOpenIDToken(c.ctx, c.who.UserID)
	if err != nil {
		return nil, err
	}
	return OpenIDToken{AccessToken: tok, TokenType: "Bearer", MatrixServerName: c.s.ServerName, ExpiresIn: int64(exp / time.Second)}, nil
}

// MemoryOpenID issues OpenID tokens and answers for them, in memory:
// OpenIDTokens for the client API and, through UserInfo, what a
// federation OpenID backend needs. Tokens live for TTL (0: one hour, the
// reference server's default); expired ones are dropped as new ones are
// issued.
type MemoryOpenID struct {
	TTL time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time

	mu     sync.Mutex
	tokens map[string]openIDGrant
}

type openIDGrant struct {
	user    string
	expires time.Time
}

func (m *MemoryOpenID) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// RequestOpenIDToken implements OpenIDTokens.
func (m *MemoryOpenID) RequestOpenIDToken(_ context.Context, userID string) (string, time.Duration, error) {
	ttl := m.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", 0, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = map[string]openIDGrant{}
	}
	for t, g := range m.tokens {
		if !now.Before(g.expires) {
			delete(m.tokens, t)
		}
	}
	m.tokens[tok] = openIDGrant{user: userID, expires: now.Add(ttl)}
	return tok, ttl, nil
}

// ErrUnknownOpenIDToken is returned by UserInfo for a token that was never
// issued or has expired.
var ErrUnknownOpenIDToken = errors.New("unknown or expired OpenID token")

// UserInfo returns the user a live token was issued to.
func (m *MemoryOpenID) UserInfo(_ context.Context, token string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.tokens[token]
	if !ok || !m.now().Before(g.expires) {
		return "", ErrUnknownOpenIDToken
	}
	return g.user, nil
}
