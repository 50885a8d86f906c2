package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Authentication types of the user-interactive authentication API
// (content/client-server-api/_index.md, "User-Interactive Authentication
// API", "Authentication types").
const (
	AuthTypeDummy      = "m.login.dummy"
	AuthTypePassword   = "m.login.password"
	AuthTypeAppService = "m.login.application_service"
)

// UIAFlow is one flow: stages to complete in order.
type UIAFlow struct {
	Stages []string `json:"stages"`
}

// UIA runs user-interactive authentication with the m.login.dummy and
// m.login.password stages. Sessions live in memory for TTL (0: 30
// minutes). The zero UIA is ready to use; it is safe for concurrent use.
type UIA struct {
	TTL time.Duration
	// MaxSessions bounds the sessions kept (0: 100000); past it the
	// expired sessions are dropped, then arbitrary ones, so requests
	// without credentials cannot grow memory without bound.
	MaxSessions int
	// Now is the clock (nil: time.Now); tests set it.
	Now func() time.Time

	mu       sync.Mutex
	sessions map[string]*uiaSession
	calls    int
}

type uiaSession struct {
	operation string
	completed []string
	created   time.Time
	// values are what custom stages returned (UIARequest.Stages).
	values map[string]string
}

// UIARequest describes what an endpoint asks of UIA.
type UIARequest struct {
	// Operation binds a session to one operation (e.g. "POST register");
	// a session started for another operation is refused.
	Operation string
	// Flows offered to the client.
	Flows []UIAFlow
	// Params is the params object of the 401 answer.
	Params map[string]any
	// UserID, when set, is the user the password stage must prove to be
	// (the authenticated user of the request). Empty: any local user.
	UserID string
	// ServerName qualifies bare localparts in password identifiers.
	ServerName string
	// CheckPassword verifies a password stage; nil refuses every
	// password.
	CheckPassword func(ctx context.Context, userID, password string) error
	// Stages checks the stages of other types, such as
	// m.login.registration_token: given the auth object, a stage returns
	// a value to remember (CheckStages reports it) or an error (an
	// *Error is a failed attempt, answered with the challenge).
	Stages map[string]func(ctx context.Context, auth json.RawMessage) (string, error)
}

// UIAChallenge is the 401 answer asking for (more) authentication: it
// is returned as an error and written by WriteError.
type UIAChallenge struct {
	Flows     []UIAFlow
	Params    map[string]any
	Session   string
	Completed []string
	// Err is the failed attempt, if any (errcode and error are added).
	Err *Error
}

func (c *UIAChallenge) Error() string {
	if c.Err != nil {
		return "user-interactive authentication required: " + c.Err.Error()
	}
	return "user-interactive authentication required"
}

// Body returns the JSON body of the 401 answer.
func (c *UIAChallenge) Body() []byte {
	m := map[string]any{
		"flows":   c.Flows,
		"params":  c.Params,
		"session": c.Session,
	}
	if c.Params == nil {
		m["params"] = map[string]any{}
	}
	if len(c.Completed) > 0 {
		m["completed"] = c.Completed
	}
	if c.Err != nil {
		m["errcode"] = c.Err.Code
		m["error"] = c.Err.Message
	}
	b, _ := json.Marshal(m)
	return b
}

// WriteError writes err as the spec's error answer: a *UIAChallenge as
// the 401 UIA body, an *Error as itself, anything else as 500 M_UNKNOWN.
func WriteError(w http.ResponseWriter, err error) {
	var ch *UIAChallenge
	if errors.As(err, &ch) {
		writeRaw(w, http.StatusUnauthorized, ch.Body())
		return
	}
	writeError(w, err)
}

func (u *UIA) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

func (u *UIA) ttl() time.Duration {
	if u.TTL > 0 {
		return u.TTL
	}
	return 30 * time.Minute
}

// uiaAuth is the "auth" object of a request.
type uiaAuth struct {
	Type       string          `json:"type"`
	Session    string          `json:"session"`
	Password   string          `json:"password"`
	User       string          `json:"user"`
	Identifier json.RawMessage `json:"identifier"`
}

// Check runs one round of UIA for a request whose "auth" object is auth
// (nil or empty when absent). It returns nil when a flow is complete,
// a *UIAChallenge when the client must (re)try, or an *Error for a
// request that is wrong in itself. Completed stages are remembered in
// the session; a completed session is ended.
func (u *UIA) Check(ctx context.Context, auth json.RawMessage, req UIARequest) error {
	_, err := u.CheckStages(ctx, auth, req)
	return err
}

// CheckStages is Check that also returns, once a flow is complete, the
// values the custom stages of the session returned (UIARequest.Stages),
// by stage type.
func (u *UIA) CheckStages(ctx context.Context, auth json.RawMessage, req UIARequest) (map[string]string, error) {
	u.mu.Lock()
	if u.sessions == nil {
		u.sessions = map[string]*uiaSession{}
	}
	now := u.now()
	max := u.MaxSessions
	if max <= 0 {
		max = 100000
	}
	// Sweep expired sessions now and then, amortised over the calls.
	if u.calls++; u.calls >= 256 || len(u.sessions) >= max {
		u.calls = 0
		for id, s := range u.sessions {
			if now.Sub(s.created) > u.ttl() {
				delete(u.sessions, id)
			}
		}
		for id := range u.sessions {
			if len(u.sessions) < max {
				break
			}
			delete(u.sessions, id)
		}
	}
	u.mu.Unlock()

	challenge := func(id string, s *uiaSession, err *Error) (map[string]string, error) {
		return nil, &UIAChallenge{Flows: req.Flows, Params: req.Params, Session: id, Completed: slices.Clone(s.completed), Err: err}
	}
	var a uiaAuth
	if len(auth) > 0 && string(auth) != "null" {
		if err := json.Unmarshal(auth, &a); err != nil {
			return nil, BadJSON("auth: must be an object with string fields type, session")
		}
	}
	u.mu.Lock()
	var s *uiaSession
	id := a.Session
	if id != "" {
		s = u.sessions[id]
		if s != nil && now.Sub(s.created) > u.ttl() {
			delete(u.sessions, id)
			s = nil
		}
		if s == nil {
			u.mu.Unlock()
			return nil, NewError(http.StatusBadRequest, CodeUnknown, "unknown UIA session "+quote(id))
		}
		if s.operation != req.Operation {
			u.mu.Unlock()
			return nil, Forbidden("the requested operation changed during the user-interactive authentication session")
		}
	} else {
		// No session: start one. Like Synapse, an attempt at a stage
		// without a session starts the session and runs the stage.
		id = randomID(24)
		s = &uiaSession{operation: req.Operation, created: now}
		u.sessions[id] = s
	}
	u.mu.Unlock()

	if a.Type == "" {
		if len(auth) > 0 && a.Session != "" {
			// A retry with only the session: report progress.
			if u.done(s, req.Flows) {
				u.end(id)
				return s.values, nil
			}
		}
		return challenge(id, s, nil)
	}
	if !u.nextStageAllowed(s, req.Flows, a.Type) {
		if slices.Contains(s.completed, a.Type) {
			return challenge(id, s, nil)
		}
		return nil, NewError(http.StatusBadRequest, CodeUnrecognized, "authentication type "+quote(a.Type)+" is not offered here")
	}
	switch a.Type {
	case AuthTypeDummy:
	case AuthTypePassword:
		userID, err := identifierUser(a.Identifier, a.User, req.ServerName)
		if err != nil {
			return challenge(id, s, err)
		}
		if req.UserID != "" && userID != req.UserID {
			return challenge(id, s, Forbidden("the password stage must authenticate the requesting user"))
		}
		if req.CheckPassword == nil {
			return challenge(id, s, Forbidden("invalid username or password"))
		}
		if err := req.CheckPassword(ctx, userID, a.Password); err != nil {
			e, ok := asError(err)
			if !ok {
				return nil, err
			}
			return challenge(id, s, e)
		}
	default:
		stage := req.Stages[a.Type]
		if stage == nil {
			return nil, NewError(http.StatusBadRequest, CodeUnrecognized, "authentication type "+quote(a.Type)+" is not supported")
		}
		v, err := stage(ctx, auth)
		if err != nil {
			e, ok := asError(err)
			if !ok {
				return nil, err
			}
			return challenge(id, s, e)
		}
		u.mu.Lock()
		if s.values == nil {
			s.values = map[string]string{}
		}
		s.values[a.Type] = v
		u.mu.Unlock()
	}
	u.mu.Lock()
	s.completed = append(s.completed, a.Type)
	u.mu.Unlock()
	if u.done(s, req.Flows) {
		u.end(id)
		return s.values, nil
	}
	return challenge(id, s, nil)
}

func (u *UIA) end(id string) {
	u.mu.Lock()
	delete(u.sessions, id)
	u.mu.Unlock()
}

// nextStageAllowed: stages are completed in order, so typ must be the
// next stage of a flow that starts with the completed stages.
func (u *UIA) nextStageAllowed(s *uiaSession, flows []UIAFlow, typ string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, f := range flows {
		n := len(s.completed)
		if n < len(f.Stages) && slices.Equal(f.Stages[:n], s.completed) && f.Stages[n] == typ {
			return true
		}
	}
	return false
}

func (u *UIA) done(s *uiaSession, flows []UIAFlow) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, f := range flows {
		if slices.Equal(f.Stages, s.completed) {
			return true
		}
	}
	return false
}

// identifierUser reads a user from an m.id.user identifier or the
// legacy top-level "user" (content/client-server-api/_index.md,
// "Identifier types"); a bare localpart is qualified with serverName.
func identifierUser(identifier json.RawMessage, legacyUser, serverName string) (string, *Error) {
	user := legacyUser
	if len(identifier) > 0 && string(identifier) != "null" {
		var id struct {
			Type string `json:"type"`
			User string `json:"user"`
		}
		if err := json.Unmarshal(identifier, &id); err != nil {
			return "", BadJSON("identifier: must be an object with string fields type, user")
		}
		if id.Type != "m.id.user" {
			return "", NewError(http.StatusBadRequest, CodeUnknown, "unsupported identifier type "+quote(id.Type))
		}
		user = id.User
	}
	if user == "" {
		return "", MissingParam("identifier.user is required")
	}
	if user[0] != '@' {
		user = "@" + user + ":" + serverName
	}
	if err := ValidUserID(user, true); err != nil {
		return "", paramError(err)
	}
	return user, nil
}
