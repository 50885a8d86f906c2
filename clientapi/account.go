package clientapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// AccountManager changes passwords and deactivates accounts
// (content/client-server-api/_index.md "Account registration and
// management"; data/api/client-server/registration.yaml,
// administrative_contact.yaml). Both endpoints run user-interactive
// authentication with the user's password first. Optional: without it
// the endpoints answer 404 M_UNRECOGNIZED.
type AccountManager interface {
	// ChangePassword sets the user's password; with logoutDevices, every
	// access token of the user but who's own is invalidated.
	ChangePassword(ctx context.Context, who Identity, newPassword string, logoutDevices bool) error
	// Deactivate makes the account unusable for good (no login, the
	// user ID never reused), logs out every device and leaves every
	// room; erase also forgets the profile.
	Deactivate(ctx context.Context, who Identity, erase bool) error
}

// LoginTokens issues and redeems the short-lived tokens of POST
// /_matrix/client/v1/login/get_token and the m.login.token login type
// (content/client-server-api/_index.md "Token-based"; v1.7). Optional:
// without it m.login.token is not offered.
type LoginTokens interface {
	CreateLoginToken(ctx context.Context, userID string) (token string, ttl time.Duration, err error)
	// ConsumeLoginToken returns the user of a live token and invalidates
	// it; a 403 M_FORBIDDEN *Error for an unknown or expired one.
	ConsumeLoginToken(ctx context.Context, token string) (userID string, err error)
}

// AuthTypeToken is the m.login.token login type.
const AuthTypeToken = "m.login.token"

// MaxPasswordBytes bounds a new password (bcrypt-era servers cap at 512;
// a password is hashed on every login, so it is kept bounded).
const MaxPasswordBytes = 512

type passwordBody struct {
	NewPassword   *string         `json:"new_password"`
	LogoutDevices *bool           `json:"logout_devices"`
	Auth          json.RawMessage `json:"auth"`
}

func (c *call) changePassword() (any, error) {
	if err := need(c.s.AccountManager != nil); err != nil {
		return nil, err
	}
	var b passwordBody
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if err := c.userUIA("POST /account/password", b.Auth); err != nil {
		return nil, err
	}
	if b.NewPassword == nil || *b.NewPassword == "" {
		return nil, MissingParam("new_password is required")
	}
	if len(*b.NewPassword) > MaxPasswordBytes {
		return nil, NewError(http.StatusBadRequest, "M_PASSWORD_TOO_LONG", "the password is longer than 512 bytes")
	}
	logout := b.LogoutDevices == nil || *b.LogoutDevices // default true
	return struct{}{}, c.s.AccountManager.ChangePassword(c.ctx, c.who, *b.NewPassword, logout)
}

func (c *call) deactivate() (any, error) {
	if err := need(c.s.AccountManager != nil); err != nil {
		return nil, err
	}
	var b struct {
		Auth  json.RawMessage `json:"auth"`
		Erase bool            `json:"erase"`
	}
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	if err := c.userUIA("POST /account/deactivate", b.Auth); err != nil {
		return nil, err
	}
	if err := c.s.AccountManager.Deactivate(c.ctx, c.who, b.Erase); err != nil {
		return nil, err
	}
	// No identity server is ever bound here.
	return map[string]string{"id_server_unbind_result": "no-support"}, nil
}

// Third-party identifiers: the server keeps none and lets none be added
// (the capabilities say m.3pid_changes is disabled); reading answers an
// empty list, removing answers that no identity server was asked.
func (c *call) threepids() (any, error) {
	return map[string][]any{"threepids": {}}, nil
}

func (c *call) threepidUnbind() (any, error) {
	if _, err := c.object(false); err != nil {
		return nil, err
	}
	return map[string]string{"id_server_unbind_result": "no-support"}, nil
}

func (c *call) threepidRefused() (any, error) {
	if _, err := c.object(false); err != nil {
		return nil, err
	}
	return nil, NewError(http.StatusForbidden, "M_THREEPID_DENIED", "third-party identifiers are not supported by this server")
}

func (c *call) getLoginToken() (any, error) {
	if err := need(c.s.LoginTokens != nil); err != nil {
		return nil, err
	}
	var b struct {
		Auth json.RawMessage `json:"auth"`
	}
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	if err := c.userUIA("POST /login/get_token", b.Auth); err != nil {
		return nil, err
	}
	tok, ttl, err := c.s.LoginTokens.CreateLoginToken(c.ctx, c.who.UserID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"login_token": tok, "expires_in_ms": ttl.Milliseconds()}, nil
}

// MemoryLoginTokens is LoginTokens in memory; tokens live TTL (0: two
// minutes, the reference server's default) and are single-use.
type MemoryLoginTokens struct {
	TTL time.Duration
	Now func() time.Time

	mu     sync.Mutex
	tokens map[string]openIDGrant
}

func (m *MemoryLoginTokens) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// CreateLoginToken implements LoginTokens.
func (m *MemoryLoginTokens) CreateLoginToken(_ context.Context, userID string) (string, time.Duration, error) {
	ttl := m.TTL
	if ttl <= 0 {
		ttl = 2 * time.Minute
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

// ConsumeLoginToken implements LoginTokens.
func (m *MemoryLoginTokens) ConsumeLoginToken(_ context.Context, token string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.tokens[token]
	delete(m.tokens, token)
	if !ok || !m.now().Before(g.expires) {
		return "", Forbidden("invalid or expired login token")
	}
	return g.user, nil
}
