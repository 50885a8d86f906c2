package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// Server administration (content/client-server-api/_index.md "Server
// administration", "Account locking", "Account suspension";
// data/api/client-server/admin.yaml): GET /admin/whois/{userId}, and
// since v1.18 GET and PUT /admin/lock/{userId} and
// /admin/suspend/{userId}.
//
// The effects of a lock and a suspension are applied here, from the
// Identity the TokenLookup returns: a locked account gets 401
// M_USER_LOCKED with soft_logout true on every endpoint but POST /logout
// and /logout/all; a suspended one gets 403 M_USER_SUSPENDED on the
// actions the specification recommends forbidding (joining, knocking,
// inviting, sending events other than redactions, changing state and
// the profile, redacting other users' events) plus creating and
// upgrading rooms, which the reference server forbids too.

// Whois reports the sessions of a user for GET /admin/whois/{userId}.
type Whois interface {
	// Whois returns the devices of a local user with their sessions and
	// connections; M_NOT_FOUND for an unknown user.
	Whois(ctx context.Context, userID string) (map[string]WhoisDevice, error)
}

// WhoisDevice is one device of a whois answer.
type WhoisDevice struct {
	Sessions []WhoisSession `json:"sessions"`
}

// WhoisSession is what was done with one access token.
type WhoisSession struct {
	Connections []WhoisConnection `json:"connections"`
}

// WhoisConnection is one address and user agent a session was seen
// from, with when it was last seen (milliseconds since the epoch).
type WhoisConnection struct {
	IP        string `json:"ip,omitempty"`
	LastSeen  int64  `json:"last_seen,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// AccountModeration is who the server administrators are and the lock
// and suspension of accounts.
type AccountModeration interface {
	// IsServerAdmin reports whether userID is a server administrator.
	IsServerAdmin(ctx context.Context, userID string) (bool, error)
	// AccountStatus returns the moderation state of a local account;
	// M_NOT_FOUND for an unknown or deactivated one.
	AccountStatus(ctx context.Context, userID string) (AccountStatus, error)
	// SetAccountStatus changes it.
	SetAccountStatus(ctx context.Context, userID string, st AccountStatus) error
}

// AccountStatus is the moderation state of an account.
type AccountStatus struct {
	Locked    bool
	Suspended bool
}

func (s *Server) adminRoutes(add addFunc) {
	add(legacyPrefixes, "GET", "/admin/whois/{userId}", authRequired, (*call).whois)
	for _, kind := range []string{"lock", "suspend"} {
		add(v1Prefixes, "GET", "/admin/"+kind+"/{userId}", authRequired, moderationHandler(kind, false))
		add(v1Prefixes, "PUT", "/admin/"+kind+"/{userId}", authRequired, moderationHandler(kind, true))
	}
}

// whois is GET /admin/whois/{userId}: the user themself or a server
// administrator may ask (the endpoint's description).
func (c *call) whois() (any, error) {
	if err := need(c.s.Whois != nil); err != nil {
		return nil, err
	}
	userID, err := c.userIDParam("userId")
	if err != nil {
		return nil, err
	}
	if userID != c.who.UserID {
		admin := false
		if c.s.AccountModeration != nil {
			if admin, err = c.s.AccountModeration.IsServerAdmin(c.ctx, c.who.UserID); err != nil {
				return nil, err
			}
		}
		if !admin {
			return nil, Forbidden("only server administrators may look up other users")
		}
	}
	if ServerNameOf(userID) != c.s.ServerName {
		return nil, InvalidParam("user does not belong to the local server")
	}
	devices, err := c.s.Whois.Whois(c.ctx, userID)
	if err != nil {
		return nil, err
	}
	if devices == nil {
		devices = map[string]WhoisDevice{}
	}
	return map[string]any{"user_id": userID, "devices": devices}, nil
}

// moderationHandler is GET or PUT /admin/lock or /admin/suspend. The
// checks run in the order the endpoint asks: the caller's authority
// first (so that no account lookup happens for a non-admin), then the
// user ID's server, then the account, then the target's own authority.
func moderationHandler(kind string, put bool) handlerFunc {
	field := "locked"
	if kind == "suspend" {
		field = "suspended"
	}
	return func(c *call) (any, error) {
		m := c.s.AccountModeration
		if err := need(m != nil); err != nil {
			return nil, err
		}
		userID, err := c.userIDParam("userId")
		if err != nil {
			return nil, err
		}
		var want *bool
		if put {
			body := map[string]*bool{}
			if err := c.decode(&body, false); err != nil {
				return nil, err
			}
			if want = body[field]; want == nil {
				return nil, MissingParam(field + " is required")
			}
		}
		if admin, err := m.IsServerAdmin(c.ctx, c.who.UserID); err != nil {
			return nil, err
		} else if !admin {
			return nil, Forbidden("requesting user is not a server administrator")
		}
		if ServerNameOf(userID) != c.s.ServerName {
			return nil, InvalidParam("user does not belong to the local server")
		}
		st, err := m.AccountStatus(c.ctx, userID)
		if err != nil {
			return nil, err
		}
		if userID != c.who.UserID {
			if admin, err := m.IsServerAdmin(c.ctx, userID); err != nil {
				return nil, err
			} else if admin {
				return nil, Forbidden("the target user is a server administrator")
			}
		} else if put {
			return nil, Forbidden("administrators cannot " + kind + " their own account")
		}
		cur := &st.Locked
		if kind == "suspend" {
			cur = &st.Suspended
		}
		if put && *cur != *want {
			*cur = *want
			if err := m.SetAccountStatus(c.ctx, userID, st); err != nil {
				return nil, err
			}
		}
		return map[string]bool{field: *cur}, nil
	}
}

// Errors of locked and suspended accounts.
var (
	errUserLocked    = NewError(http.StatusUnauthorized, CodeUserLocked, "this account has been locked").With("soft_logout", true)
	errUserSuspended = NewError(http.StatusForbidden, CodeUserSuspended, "you cannot perform this action while suspended")
)

// suspendedForbidden are the endpoints a suspended account may not use
// (below the legacy prefixes), with, for some, a test of the request
// that lets it through.
var suspendedForbidden = []struct {
	method, path string
	allow        func(c *call) bool
}{
	{"POST", "/createRoom", nil},
	{"POST", "/join/{roomIdOrAlias}", nil},
	{"POST", "/rooms/{roomId}/join", nil},
	{"POST", "/knock/{roomIdOrAlias}", nil},
	{"POST", "/rooms/{roomId}/invite", nil},
	{"POST", "/rooms/{roomId}/upgrade", nil},
	// Redactions may still be sent through /send ("a user may be allowed
	// to send m.room.redaction events but not m.room.message events").
	{"PUT", "/rooms/{roomId}/send/{eventType}/{txnId}", func(c *call) bool {
		return c.r.PathValue("eventType") == "m.room.redaction" && c.redactsOwn(gjsonString(c.body, "redacts"))
	}},
	{"PUT", "/rooms/{roomId}/state/{eventType}", nil},
	{"PUT", "/rooms/{roomId}/state/{eventType}/{stateKey...}", nil},
	{"PUT", "/rooms/{roomId}/redact/{eventId}/{txnId}", func(c *call) bool { return c.redactsOwn(c.r.PathValue("eventId")) }},
	{"PUT", "/profile/{userId}/displayname", nil},
	{"PUT", "/profile/{userId}/avatar_url", nil},
	{"DELETE", "/profile/{userId}/displayname", nil},
	{"DELETE", "/profile/{userId}/avatar_url", nil},
	{"PUT", "/profile/{userId}/{keyName}", nil},
	{"DELETE", "/profile/{userId}/{keyName}", nil},
}

// redactsOwn reports whether eventID is an event of the requesting user
// in the request's room (false when it cannot be told).
func (c *call) redactsOwn(eventID string) bool {
	if c.s.Reader == nil || eventID == "" {
		return false
	}
	ev, err := c.s.Reader.Event(c.ctx, c.who, c.r.PathValue("roomId"), eventID)
	return err == nil && gjsonString(ev, "sender") == c.who.UserID
}

// gjsonString reads a top-level string field of a JSON object, "" when
// absent or not a string.
func gjsonString(b []byte, field string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m[field], &s) != nil {
		return ""
	}
	return s
}

// applyModeration wraps the routes of table with the effects of account
// locks and suspensions, and adds m.account_moderation to the
// capabilities of server administrators.
func (s *Server) applyModeration(table map[string]map[string]route) {
	for pat, byMethod := range table {
		for method, rt := range byMethod {
			if rt.auth == authNone || strings.HasSuffix(pat, "/logout") || strings.HasSuffix(pat, "/logout/all") {
				continue
			}
			h := rt.h
			rt.h = func(c *call) (any, error) {
				if c.who.Locked {
					return nil, errUserLocked
				}
				return h(c)
			}
			byMethod[method] = rt
		}
	}
	for _, p := range legacyPrefixes {
		for _, f := range suspendedForbidden {
			rt, ok := table[p+f.path][f.method]
			if !ok {
				continue
			}
			h, allow := rt.h, f.allow
			rt.h = func(c *call) (any, error) {
				if c.who.Suspended && (allow == nil || !allow(c)) {
					return nil, errUserSuspended
				}
				return h(c)
			}
			table[p+f.path][f.method] = rt
		}
		if rt, ok := table[p+"/capabilities"]["GET"]; ok {
			h := rt.h
			rt.h = func(c *call) (any, error) {
				res, err := h(c)
				if err != nil || c.s.AccountModeration == nil {
					return res, err
				}
				return c.moderationCapability(res)
			}
			table[p+"/capabilities"]["GET"] = rt
		}
	}
}

// moderationCapability adds m.account_moderation (v1.18) for a server
// administrator; it is left out when neither action is allowed.
func (c *call) moderationCapability(res any) (any, error) {
	admin, err := c.s.AccountModeration.IsServerAdmin(c.ctx, c.who.UserID)
	if err != nil {
		return nil, err
	}
	m, ok := res.(map[string]any)
	if !admin || !ok {
		return res, nil
	}
	if caps, ok := m["capabilities"].(map[string]any); ok {
		caps["m.account_moderation"] = map[string]bool{"lock": true, "suspend": true}
	}
	return res, nil
}
