package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
)

// Versions is the answer to GET /_matrix/client/versions.
type Versions struct {
	Versions         []string        `json:"versions"`
	UnstableFeatures map[string]bool `json:"unstable_features,omitempty"`
}

// Versions asks which specification versions the server supports
// ("GET /_matrix/client/versions"). It sends no access token.
func (c *Client) Versions(ctx context.Context) (*Versions, error) {
	var v Versions
	err := c.call(ctx, request{method: http.MethodGet, path: "/_matrix/client/versions", noAuth: true}, &v)
	return &v, err
}

// WellKnown is /.well-known/matrix/client ("Server Discovery").
type WellKnown struct {
	Homeserver struct {
		BaseURL string `json:"base_url"`
	} `json:"m.homeserver"`
	IdentityServer *struct {
		BaseURL string `json:"base_url"`
	} `json:"m.identity_server,omitempty"`
}

// WellKnown reads the server's /.well-known/matrix/client from
// HomeserverURL.
func (c *Client) WellKnown(ctx context.Context) (*WellKnown, error) {
	var w WellKnown
	err := c.call(ctx, request{method: http.MethodGet, path: "/.well-known/matrix/client", noAuth: true}, &w)
	return &w, err
}

// Capabilities returns GET /capabilities: capability name to its object.
func (c *Client) Capabilities(ctx context.Context) (map[string]json.RawMessage, error) {
	var out struct {
		Capabilities map[string]json.RawMessage `json:"capabilities"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("capabilities")}, &out)
	return out.Capabilities, err
}

// Login types of the specification ("Authentication types", "Login").
const (
	LoginPassword   = "m.login.password"
	LoginToken      = "m.login.token"
	LoginAppService = "m.login.application_service"
	AuthDummy       = "m.login.dummy"
)

// LoginFlows lists the login types the server offers (GET /login).
func (c *Client) LoginFlows(ctx context.Context) ([]string, error) {
	var out struct {
		Flows []struct {
			Type string `json:"type"`
		} `json:"flows"`
	}
	if err := c.call(ctx, request{method: http.MethodGet, path: v3("login"), noAuth: true}, &out); err != nil {
		return nil, err
	}
	types := make([]string, len(out.Flows))
	for i, f := range out.Flows {
		types[i] = f.Type
	}
	return types, nil
}

// UserIdentifier is a login's identifier; this package sends m.id.user.
type UserIdentifier struct {
	Type string `json:"type"`
	User string `json:"user,omitempty"`
}

// LoginRequest is the body of POST /login.
type LoginRequest struct {
	Type                     string          `json:"type"`
	Identifier               *UserIdentifier `json:"identifier,omitempty"`
	Password                 string          `json:"password,omitempty"`
	Token                    string          `json:"token,omitempty"`
	DeviceID                 string          `json:"device_id,omitempty"`
	InitialDeviceDisplayName string          `json:"initial_device_display_name,omitempty"`
	RefreshToken             bool            `json:"refresh_token,omitempty"`
}

// Credentials are the answer to a login or a registration.
type Credentials struct {
	UserID       string `json:"user_id"`
	AccessToken  string `json:"access_token"`
	DeviceID     string `json:"device_id"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresInMS  int64  `json:"expires_in_ms,omitempty"`
	// HomeServer is deprecated in the specification but still sent.
	HomeServer string `json:"home_server,omitempty"`
}

// Login sends POST /login and, on success, makes the client act with the
// new credentials. An application service logs in with the type
// m.login.application_service and its as_token as the client's token.
func (c *Client) Login(ctx context.Context, req *LoginRequest) (*Credentials, error) {
	var cr Credentials
	// The access token goes only with m.login.application_service, which
	// needs it; an ordinary login must not present one.
	noAuth := req.Type != LoginAppService
	if err := c.call(ctx, request{method: http.MethodPost, path: v3("login"), body: req, noAuth: noAuth}, &cr); err != nil {
		return nil, err
	}
	c.SetCredentials(&cr)
	return &cr, nil
}

// LoginWithPassword logs in as user (a localpart or a user ID) with a
// password.
func (c *Client) LoginWithPassword(ctx context.Context, user, password string) (*Credentials, error) {
	return c.Login(ctx, &LoginRequest{Type: LoginPassword, Identifier: &UserIdentifier{Type: "m.id.user", User: user}, Password: password})
}

// Logout invalidates the client's access token (POST /logout).
func (c *Client) Logout(ctx context.Context) error {
	return c.call(ctx, request{method: http.MethodPost, path: v3("logout"), body: struct{}{}}, nil)
}

// LogoutAll invalidates every access token of the user (POST /logout/all).
func (c *Client) LogoutAll(ctx context.Context) error {
	return c.call(ctx, request{method: http.MethodPost, path: v3("logout", "all"), body: struct{}{}}, nil)
}

// RegisterRequest is the body of POST /register.
type RegisterRequest struct {
	// Kind is the kind query parameter: "user" (default) or "guest".
	Kind                     string `json:"-"`
	Username                 string `json:"username,omitempty"`
	Password                 string `json:"password,omitempty"`
	DeviceID                 string `json:"device_id,omitempty"`
	InitialDeviceDisplayName string `json:"initial_device_display_name,omitempty"`
	InhibitLogin             bool   `json:"inhibit_login,omitempty"`
	RefreshToken             bool   `json:"refresh_token,omitempty"`
	// Type is m.login.application_service for an application service
	// registering a user in its namespace.
	Type string `json:"type,omitempty"`
	// Auth is the user-interactive authentication dictionary.
	Auth any `json:"auth,omitempty"`
}

// Register sends POST /register as it is. Most callers want
// RegisterWithDummyAuth or RegisterAppServiceUser. With a login (not
// InhibitLogin) the client then acts with the new credentials.
func (c *Client) Register(ctx context.Context, req *RegisterRequest) (*Credentials, error) {
	var q url.Values
	if req.Kind != "" {
		q = url.Values{"kind": {req.Kind}}
	}
	var cr Credentials
	noAuth := req.Type != LoginAppService
	if err := c.call(ctx, request{method: http.MethodPost, path: v3("register"), query: q, body: req, noAuth: noAuth}, &cr); err != nil {
		return nil, err
	}
	if cr.AccessToken != "" {
		c.SetCredentials(&cr)
	}
	return &cr, nil
}

// RegisterWithDummyAuth registers a user on a server whose registration
// flow is the single stage m.login.dummy: it sends the request, reads the
// session of the user-interactive authentication answer, and completes
// the dummy stage ("User-interactive authentication API").
func (c *Client) RegisterWithDummyAuth(ctx context.Context, req *RegisterRequest) (*Credentials, error) {
	first := *req
	first.Auth = nil
	cr, err := c.Register(ctx, &first)
	if err == nil {
		return cr, nil
	}
	ui, ok := AsUIA(err)
	if !ok {
		return nil, err
	}
	if !ui.HasSingleStageFlow(AuthDummy) {
		return nil, errors.New("client: the server's registration flows need more than m.login.dummy")
	}
	second := *req
	second.Auth = map[string]string{"type": AuthDummy, "session": ui.Session}
	return c.Register(ctx, &second)
}

// RegisterAppServiceUser registers userLocalpart in the namespace of the
// application service whose as_token the client carries (type
// m.login.application_service; content/application-service-api.md,
// "Server admin style permissions"). inhibitLogin leaves the client's
// credentials alone, which an application service usually wants. A user
// that exists already is an Error with CodeUserInUse.
func (c *Client) RegisterAppServiceUser(ctx context.Context, localpart string, inhibitLogin bool) (*Credentials, error) {
	token, user, device := c.AccessToken, c.UserID, c.DeviceID
	cr, err := c.Register(ctx, &RegisterRequest{Type: LoginAppService, Username: localpart, InhibitLogin: inhibitLogin})
	if err == nil && inhibitLogin {
		c.AccessToken, c.UserID, c.DeviceID = token, user, device
	}
	return cr, err
}

// UIA is a user-interactive authentication answer: a 401 with the flows
// the server accepts and a session.
type UIA struct {
	Flows     []UIAFlow                  `json:"flows"`
	Params    map[string]json.RawMessage `json:"params,omitempty"`
	Session   string                     `json:"session,omitempty"`
	Completed []string                   `json:"completed,omitempty"`
}

// UIAFlow is one flow of stages.
type UIAFlow struct {
	Stages []string `json:"stages"`
}

// HasSingleStageFlow reports whether one flow is the one stage given.
func (u *UIA) HasSingleStageFlow(stage string) bool {
	for _, f := range u.Flows {
		if len(f.Stages) == 1 && f.Stages[0] == stage {
			return true
		}
	}
	return false
}

// AsUIA reads a user-interactive authentication answer out of err: a 401
// Error with flows.
func AsUIA(err error) (*UIA, bool) {
	var me *Error
	if !errors.As(err, &me) || me.Status != http.StatusUnauthorized || me.Fields["flows"] == nil {
		return nil, false
	}
	b, err := json.Marshal(me.Fields)
	if err != nil {
		return nil, false
	}
	var u UIA
	if json.Unmarshal(b, &u) != nil {
		return nil, false
	}
	return &u, true
}

// RegisterAvailable reports whether a username is free (GET
// /register/available); a taken one is an Error with CodeUserInUse, as
// the server answers.
func (c *Client) RegisterAvailable(ctx context.Context, username string) (bool, error) {
	var out struct {
		Available bool `json:"available"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("register", "available"), query: url.Values{"username": {username}}, noAuth: true}, &out)
	return out.Available, err
}

// WhoAmI is the answer to GET /account/whoami.
type WhoAmI struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id,omitempty"`
	IsGuest  bool   `json:"is_guest,omitempty"`
}

// WhoAmI asks who the access token belongs to.
func (c *Client) WhoAmI(ctx context.Context) (*WhoAmI, error) {
	var w WhoAmI
	err := c.call(ctx, request{method: http.MethodGet, path: v3("account", "whoami")}, &w)
	return &w, err
}
