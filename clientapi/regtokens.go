package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/mxkit/mxkit/internal/mxerr"
)

// AuthTypeRegistrationToken is the UIA stage of registration with a
// pre-shared token (content/client-server-api/_index.md "Token-authenticated
// registration", v1.2).
const AuthTypeRegistrationToken = "m.login.registration_token"

// MaxRegistrationTokenLength is the longest registration token: an opaque
// identifier of at most 64 characters.
const MaxRegistrationTokenLength = 64

// RegistrationTokens keeps the tokens of token-authenticated
// registration. When a Server has it, registering a user needs the
// m.login.registration_token stage (application services are not
// asked). GET /register/m.login.registration_token/validity is served
// with Registration, answering valid false for every token without
// RegistrationTokens.
type RegistrationTokens interface {
	// ValidRegistrationToken reports whether token may be used now.
	ValidRegistrationToken(ctx context.Context, token string) (bool, error)
	// UseRegistrationToken counts one use of token by a registration
	// that has completed its authentication, just before the account
	// is created; a token that has meanwhile run out of uses or expired
	// is a 401 M_UNAUTHORIZED *Error.
	UseRegistrationToken(ctx context.Context, token string) error
}

func (s *Server) registrationTokenRoutes(add addFunc) {
	add(v1Prefixes, "GET", "/register/"+AuthTypeRegistrationToken+"/validity", authNone, (*call).registrationTokenValidity)
}

// ValidRegistrationToken checks a registration token against the opaque
// identifier grammar (content/appendices.md "Opaque Identifiers": the
// characters [A-Za-z0-9._~-]) and its 64-character limit.
func ValidRegistrationToken(t string) error {
	if t == "" {
		return errors.New("registration token is empty")
	}
	if len(t) > MaxRegistrationTokenLength {
		return fmt.Errorf("registration token is longer than %d characters", MaxRegistrationTokenLength)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '~' || c == '-') {
			return fmt.Errorf("registration token has the character %q, outside [A-Za-z0-9._~-]", c)
		}
	}
	return nil
}

func validRegistrationTokenSyntax(t string) bool { return ValidRegistrationToken(t) == nil }

// registrationTokenValidity is GET
// /v1/register/m.login.registration_token/validity. A token outside the
// grammar is not a token the server could know: valid false.
func (c *call) registrationTokenValidity() (any, error) {
	if err := need(c.s.Registration != nil); err != nil {
		return nil, err
	}
	if !c.s.AllowRegistration {
		return nil, Forbidden("registration is not enabled on this homeserver")
	}
	q := c.r.URL.Query()
	if _, ok := q["token"]; !ok {
		return nil, MissingParam("token is required")
	}
	token := q.Get("token")
	valid := false
	// A server without tokens knows none: every token is invalid (as the
	// reference server answers).
	if c.s.RegistrationTokens != nil && validRegistrationTokenSyntax(token) {
		var err error
		if valid, err = c.s.RegistrationTokens.ValidRegistrationToken(c.ctx, token); err != nil {
			return nil, err
		}
	}
	return map[string]bool{"valid": valid}, nil
}

// registrationTokenStage checks the m.login.registration_token stage and
// remembers the token for UseRegistrationToken.
func (s *Server) registrationTokenStage(ctx context.Context, auth json.RawMessage) (string, error) {
	var a struct {
		Token *string `json:"token"`
	}
	if err := json.Unmarshal(auth, &a); err != nil {
		return "", BadJSON("auth.token must be a string")
	}
	if a.Token == nil {
		return "", MissingParam("auth.token is required")
	}
	if validRegistrationTokenSyntax(*a.Token) {
		ok, err := s.RegistrationTokens.ValidRegistrationToken(ctx, *a.Token)
		if err != nil {
			return "", err
		}
		if ok {
			return *a.Token, nil
		}
	}
	return "", NewError(http.StatusUnauthorized, mxerr.Unauthorized, "invalid registration token")
}

// registrationUIA is the UIA of POST /register for a user: the dummy
// stage, or the registration token stage when tokens are required.
func (s *Server) registrationUIA() UIARequest {
	req := UIARequest{Operation: "POST register", Flows: []UIAFlow{{Stages: []string{AuthTypeDummy}}}, ServerName: s.ServerName}
	if s.RegistrationTokens != nil {
		req.Flows = []UIAFlow{{Stages: []string{AuthTypeRegistrationToken}}}
		req.Stages = map[string]func(context.Context, json.RawMessage) (string, error){
			AuthTypeRegistrationToken: s.registrationTokenStage,
		}
	}
	return req
}

// useRegistrationToken counts the use of the token a completed
// registration authenticated with.
func (s *Server) useRegistrationToken(ctx context.Context, stages map[string]string) error {
	if s.RegistrationTokens == nil {
		return nil
	}
	token, ok := stages[AuthTypeRegistrationToken]
	if !ok {
		return Forbidden("a registration token is required")
	}
	return s.RegistrationTokens.UseRegistrationToken(ctx, token)
}

// MemoryRegistrationTokens is a RegistrationTokens in memory. Add tokens
// with Add before use; it is safe for concurrent use.
type MemoryRegistrationTokens struct {
	mu     sync.Mutex
	tokens map[string]*memoryRegToken
}

type memoryRegToken struct {
	usesAllowed int // 0: unlimited
	completed   int
}

// Add makes token valid for usesAllowed registrations (0: unlimited).
func (m *MemoryRegistrationTokens) Add(token string, usesAllowed int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = map[string]*memoryRegToken{}
	}
	m.tokens[token] = &memoryRegToken{usesAllowed: usesAllowed}
}

// Completed returns how many registrations used token.
func (m *MemoryRegistrationTokens) Completed(token string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.tokens[token]; t != nil {
		return t.completed
	}
	return 0
}

// ValidRegistrationToken implements RegistrationTokens.
func (m *MemoryRegistrationTokens) ValidRegistrationToken(_ context.Context, token string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tokens[token]
	return t != nil && (t.usesAllowed == 0 || t.completed < t.usesAllowed), nil
}

// UseRegistrationToken implements RegistrationTokens.
func (m *MemoryRegistrationTokens) UseRegistrationToken(_ context.Context, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tokens[token]
	if t == nil || t.usesAllowed > 0 && t.completed >= t.usesAllowed {
		return NewError(http.StatusUnauthorized, mxerr.Unauthorized, "invalid registration token")
	}
	t.completed++
	return nil
}
