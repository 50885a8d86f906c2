package clientapi

import (
	"context"
	"net/http"
	"strings"
)

type identityKey struct{}

// WithIdentity returns ctx carrying who; the Server puts the identity of
// every authenticated request in the context it hands the backends.
func WithIdentity(ctx context.Context, who Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, who)
}

// IdentityFromContext returns the authenticated identity of the request
// ctx belongs to.
func IdentityFromContext(ctx context.Context) (Identity, bool) {
	who, ok := ctx.Value(identityKey{}).(Identity)
	return who, ok
}

var errMissingToken = NewError(http.StatusUnauthorized, CodeMissingToken, "missing access token")

func isMissingToken(err error) bool {
	e, ok := asError(err)
	return ok && e.Code == CodeMissingToken
}

// AccessToken extracts the access token of r: from "Authorization:
// Bearer <token>" or the legacy access_token query parameter
// (content/client-server-api/_index.md "Using access tokens"; matrix-nio
// and other older clients still send the parameter). Sending both is
// refused as Synapse refuses it, so that a proxy-injected header cannot be
// confused with the client's own token.
func AccessToken(r *http.Request) (string, error) {
	header := r.Header.Get("Authorization")
	query, hasQuery := r.URL.Query()["access_token"]
	if header != "" {
		scheme, token, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return "", NewError(http.StatusUnauthorized, CodeMissingToken, "Authorization header is not \"Bearer <token>\"")
		}
		if hasQuery {
			return "", NewError(http.StatusUnauthorized, CodeMissingToken, "mixing the Authorization header and the access_token query parameter")
		}
		return strings.TrimSpace(token), nil
	}
	if hasQuery && len(query) == 1 && query[0] != "" {
		return query[0], nil
	}
	if hasQuery {
		return "", NewError(http.StatusUnauthorized, CodeMissingToken, "access_token query parameter must be given once and not empty")
	}
	return "", errMissingToken
}

// authenticate resolves r's token through the TokenLookup.
func (s *Server) authenticate(r *http.Request) (Identity, error) {
	token, err := AccessToken(r)
	if err != nil {
		return Identity{}, err
	}
	if s.Tokens == nil {
		return Identity{}, ErrUnknownToken
	}
	q := r.URL.Query()
	as := Masquerade{UserID: q.Get("user_id"), DeviceID: q.Get("device_id")}
	if as.UserID != "" {
		if err := ValidUserID(as.UserID, true); err != nil {
			return Identity{}, paramError(err)
		}
	}
	who, err := s.Tokens.LookupToken(r.Context(), token, as)
	if err != nil {
		return Identity{}, err
	}
	if who.UserID == "" {
		return Identity{}, ErrUnknownToken
	}
	who.AccessToken = token
	return who, nil
}
