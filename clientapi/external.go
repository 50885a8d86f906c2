package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// This file holds the endpoints whose answers come from a service beside
// the homeserver: single sign-on with an identity provider
// (content/client-server-api/modules/sso_login.md,
// data/api/client-server/sso_login_redirect.yaml), the OAuth 2.0
// authorization server metadata (oauth_server_metadata.yaml) and the
// policy server discovery (modules/policy_servers.md, policy_server.yaml).
// Each backend is optional, and without it the endpoint gives the answer
// the spec defines for a server that has no such service.

// SSO redirects browsers to an identity provider. Optional: without it
// both redirect endpoints answer 404 M_UNRECOGNIZED, as for a server
// whose GET /login offers no m.login.sso flow.
type SSO interface {
	// SSORedirect returns the URL of the identity provider's login page
	// for a user who will come back to redirectURL. idpID is "" for the
	// server's choice; an unknown one is 404 M_NOT_FOUND. action is
	// "login", "register" or "" (v1.18).
	SSORedirect(ctx context.Context, idpID, redirectURL, action string) (string, error)
}

// OAuth serves the OAuth 2.0 authorization server metadata of the
// server's next-generation authentication (RFC 8414 fields). Optional:
// without it GET /auth_metadata answers 404 M_UNRECOGNIZED, which the
// spec defines as "the homeserver does not support the OAuth 2.0 API".
type OAuth interface {
	// AuthMetadata returns the metadata JSON object.
	AuthMetadata(ctx context.Context) (json.RawMessage, error)
}

// PolicyServer is what /.well-known/matrix/policy_server announces: the
// unpadded base64 public keys of the policy server on this host, ed25519
// required.
type PolicyServer struct {
	PublicKeys map[string]string `json:"public_keys"`
}

func (s *Server) externalRoutes(add addFunc) {
	L, V1 := legacyPrefixes, v1Prefixes
	add(L, "GET", "/login/sso/redirect", authNone, (*call).ssoRedirect)
	add(L, "GET", "/login/sso/redirect/{idpId}", authNone, (*call).ssoRedirect)
	add(V1, "GET", "/auth_metadata", authNone, (*call).authMetadata)
	add([]string{""}, "GET", "/.well-known/matrix/policy_server", authNone, (*call).policyServer)
}

func (c *call) ssoRedirect() (any, error) {
	if err := need(c.s.SSO != nil); err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	redirect := q.Get("redirectUrl")
	if redirect == "" {
		return nil, MissingParam("redirectUrl is required")
	}
	if u, err := url.Parse(redirect); err != nil || !u.IsAbs() {
		return nil, InvalidParam("redirectUrl must be an absolute URI")
	}
	action := q.Get("action")
	if action != "" && action != "login" && action != "register" {
		return nil, InvalidParam(`action must be "login" or "register"`)
	}
	loc, err := c.s.SSO.SSORedirect(c.ctx, c.r.PathValue("idpId"), redirect, action)
	if err != nil {
		return nil, err
	}
	http.Redirect(c.w, c.r, loc, http.StatusFound)
	return written{}, nil
}

func (c *call) authMetadata() (any, error) {
	if c.s.OAuth == nil {
		return nil, NewError(http.StatusNotFound, CodeUnrecognized, "this server does not support the OAuth 2.0 API")
	}
	m, err := c.s.OAuth.AuthMetadata(c.ctx)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 || m[0] != '{' || !json.Valid(m) {
		return nil, errNoAnswer
	}
	return rawResponse(m), nil
}

func (c *call) policyServer() (any, error) {
	p := c.s.PolicyServer
	if p == nil || p.PublicKeys["ed25519"] == "" {
		// policy_server.yaml: 404 "No policy server information available".
		return nil, NotFound("no policy server information available")
	}
	return p, nil
}
