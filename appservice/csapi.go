package appservice

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mxkit/mxkit/internal/mxerr"
)

// This file holds the homeserver's side of the "Client-Server API
// Extensions" (content/application-service-api.md): as_token
// authentication with user_id and device_id, timestamp massaging,
// m.login.application_service for /register and /login, the exclusive
// namespace checks, and POST /_matrix/client/v1/appservice/{id}/ping.
// They are functions of a Registry so that any client API implementation
// can call them from its token lookup and handlers.

// Accounts answers the questions of as_token authentication about the
// homeserver's accounts.
type Accounts interface {
	// UserExists reports whether a local user is registered.
	UserExists(ctx context.Context, userID string) (bool, error)
	// DeviceExists reports whether the user has the device.
	DeviceExists(ctx context.Context, userID, deviceID string) (bool, error)
}

// Actor is the result of as_token authentication: the application service
// and the user and device it acts as.
type Actor struct {
	Service  *Registration
	UserID   string
	DeviceID string // "" when the request names no device
}

// ActAs authenticates a client API request made with token, acting as
// userID and deviceID (the user_id and device_id query parameters, "" when
// absent). ok is false when token is not the as_token of any registration
// (the caller goes on with its ordinary token lookup). Otherwise the
// outcome, as in Synapse:
//
//   - no userID: the service's sender user;
//   - userID not the sender and not a local user in a users namespace of
//     the service: 403 M_FORBIDDEN;
//   - userID in the namespace but not registered (accts.UserExists):
//     403 M_FORBIDDEN;
//   - deviceID that the user does not have: 400 M_UNKNOWN_DEVICE
//     (specification v1.17, "Identity assertion").
//
// The specification names no error code for a user_id outside the
// namespace; M_FORBIDDEN is Synapse's (M_EXCLUSIVE is for creating users
// and aliases). accts may be nil only if the caller checks users and
// devices itself; then neither is checked.
func (r *Registry) ActAs(ctx context.Context, token, userID, deviceID string, accts Accounts) (a Actor, ok bool, err error) {
	reg := r.ByASToken(token)
	if reg == nil {
		return Actor{}, false, nil
	}
	a = Actor{Service: reg, UserID: reg.SenderUserID(r.serverName)}
	if userID != "" && userID != a.UserID {
		if !r.InterestedInUser(reg, userID) {
			return Actor{}, true, newError(http.StatusForbidden, mxerr.Forbidden, "application service cannot masquerade as this user ("+userID+")")
		}
		if accts != nil {
			exists, err := accts.UserExists(ctx, userID)
			if err != nil {
				return Actor{}, true, err
			}
			if !exists {
				return Actor{}, true, newError(http.StatusForbidden, mxerr.Forbidden, "application service has not registered this user ("+userID+")")
			}
		}
		a.UserID = userID
	}
	if deviceID != "" {
		if accts != nil {
			exists, err := accts.DeviceExists(ctx, a.UserID, deviceID)
			if err != nil {
				return Actor{}, true, err
			}
			if !exists {
				return Actor{}, true, newError(http.StatusBadRequest, mxerr.UnknownDevice, "application service trying to use a device that does not exist ("+deviceID+" for "+a.UserID+")")
			}
		}
		a.DeviceID = deviceID
	}
	return a, true, nil
}

// AccessToken returns the access token of a client API request: the
// "Authorization: Bearer" header or the access_token query parameter
// (content/client-server-api, "Using access tokens"). Neither is 401
// M_MISSING_TOKEN; both at once are refused the same way, as Synapse does.
func AccessToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	q, hasQuery := r.URL.Query()["access_token"]
	if h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", newError(http.StatusUnauthorized, mxerr.MissingToken, `Authorization header is not "Bearer <token>"`)
		}
		if hasQuery {
			return "", newError(http.StatusUnauthorized, mxerr.MissingToken, "mixing the Authorization header and the access_token query parameter")
		}
		return tok, nil
	}
	if hasQuery && len(q) == 1 && q[0] != "" {
		return q[0], nil
	}
	return "", newError(http.StatusUnauthorized, mxerr.MissingToken, "missing access token")
}

// Authenticate is ActAs for a request: the token from AccessToken, user_id
// and device_id from the query string. ok is false (and err nil) when the
// request carries a token that is not an as_token; a missing token is
// ok=false with the M_MISSING_TOKEN error.
func (r *Registry) Authenticate(req *http.Request, accts Accounts) (a Actor, ok bool, err error) {
	tok, err := AccessToken(req)
	if err != nil {
		return Actor{}, false, err
	}
	q := req.URL.Query()
	return r.ActAs(req.Context(), tok, q.Get("user_id"), q.Get("device_id"), accts)
}

// Timestamp reads the ts query parameter of timestamp massaging
// (content/application-service-api.md, "Timestamp massaging"): the
// origin_server_ts an application service asks for on PUT
// /rooms/{roomId}/send and /state. ok is false when absent. A value that is
// not an integer origin_server_ts accepts (0 to 2^53-1, the canonical JSON
// range; Synapse refuses negative values) is 400 M_INVALID_PARAM. Only
// requests authenticated with an as_token may use it; the caller checks
// that (Actor.Service non-nil).
func Timestamp(query url.Values) (ts int64, ok bool, err error) {
	vs, present := query["ts"]
	if !present {
		return 0, false, nil
	}
	if len(vs) != 1 {
		return 0, false, newError(http.StatusBadRequest, mxerr.InvalidParam, "ts must be given once")
	}
	v, perr := strconv.ParseInt(vs[0], 10, 64)
	if perr != nil || v < 0 || v > 1<<53-1 || vs[0][0] == '+' {
		return 0, false, newError(http.StatusBadRequest, mxerr.InvalidParam, "ts must be an integer from 0 to 2^53-1 (milliseconds)")
	}
	return v, true, nil
}

// Register decides a POST /register with type m.login.application_service
// (content/application-service-api.md, "Server admin style permissions"):
// token is the request's access token ("" if none), username the
// requested localpart, inhibitLogin the request's flag, and legacyLogin
// whether the homeserver offers the legacy login API. It returns the user
// ID to create and the registration, or:
//
//   - no token: 401 M_MISSING_TOKEN; not an as_token: 401 M_UNKNOWN_TOKEN;
//   - username empty or with ":" or "@": 400 M_INVALID_USERNAME;
//   - a user outside the service's users namespace (its sender is
//     inside), or claimed exclusively by another service: 400 M_EXCLUSIVE
//     (Synapse's status);
//   - without legacy login and inhibit_login not true: 400
//     M_APPSERVICE_LOGIN_UNSUPPORTED (specification v1.17).
//
// Whether the user is free is for the caller (M_USER_IN_USE).
func (r *Registry) Register(token, username string, inhibitLogin, legacyLogin bool) (userID string, reg *Registration, err error) {
	if token == "" {
		return "", nil, newError(http.StatusUnauthorized, mxerr.MissingToken, "missing access token")
	}
	reg = r.ByASToken(token)
	if reg == nil {
		return "", nil, newError(http.StatusUnauthorized, mxerr.UnknownToken, "unknown application service token")
	}
	if username == "" || strings.ContainsAny(username, ":@") {
		return "", nil, newError(http.StatusBadRequest, mxerr.InvalidUsername, "username must be a localpart")
	}
	userID = "@" + username + ":" + r.serverName
	if err := r.CheckUserID(userID, reg); err != nil {
		return "", nil, err
	}
	if !legacyLogin && !inhibitLogin {
		return "", nil, newError(http.StatusBadRequest, CodeAppserviceLoginUnsupported, "inhibit_login must be true: this server does not offer the legacy login API")
	}
	return userID, reg, nil
}

// CheckUserID is the namespace check for creating the user userID, made
// by the application service by (nil for an ordinary registration): 400
// M_EXCLUSIVE when by is not interested in userID (outside its users
// namespaces and not its sender), or when another application service
// claims userID exclusively. The homeserver calls it on every /register
// (and on username availability checks); with clientapi, from
// Registration.Register with by = ByID(appService).
func (r *Registry) CheckUserID(userID string, by *Registration) error {
	if by != nil && !r.InterestedInUser(by, userID) {
		return newError(http.StatusBadRequest, mxerr.Exclusive, "invalid user localpart for this application service")
	}
	for _, reg := range r.services {
		if reg == by {
			continue
		}
		if r.isSender(reg, userID) || reg.ExclusiveUser(userID) {
			return newError(http.StatusBadRequest, mxerr.Exclusive, "this user ID is reserved by an application service")
		}
	}
	return nil
}

// CheckLogin is the namespace check of m.login.application_service for
// a user ID already resolved: 400 M_EXCLUSIVE when by is not interested in
// userID (content/client-server-api/_index.md, "Appservice Login": "If the
// access token does correspond to an appservice, but the user id does not
// lie within its namespace then the homeserver will respond with an
// errcode of M_EXCLUSIVE"; Synapse answers 403 M_FORBIDDEN). With
// clientapi, from Accounts.Login when LoginRequest.AppService is set.
func (r *Registry) CheckLogin(userID string, by *Registration) error {
	if by == nil || !r.InterestedInUser(by, userID) {
		return newError(http.StatusBadRequest, mxerr.Exclusive, "user is outside the application service's namespace")
	}
	return nil
}

// CheckAlias is the namespace check for creating or deleting a room alias
// (content/application-service-api.md, "Server admin style permissions"):
// an application service (by non-nil) may touch only aliases in its aliases
// namespace; anyone else may not touch an alias claimed exclusively by a
// service. Both are 400 M_EXCLUSIVE (Synapse's status). Synapse lets a
// service's sender user through another service's exclusive namespace too;
// that case is by itself.
func (r *Registry) CheckAlias(alias string, by *Registration) error {
	if by != nil {
		if !by.AliasInNamespace(alias) {
			return newError(http.StatusBadRequest, mxerr.Exclusive, "this application service has not reserved this kind of alias")
		}
		return nil
	}
	if r.ExclusiveAliasOwner(alias) != nil {
		return newError(http.StatusBadRequest, mxerr.Exclusive, "this alias is reserved by an application service")
	}
	return nil
}

// Login decides a POST /login with type m.login.application_service:
// token is the request's access token and user the identifier's "user"
// (a localpart or a user ID). With legacyLogin false it is 400
// M_APPSERVICE_LOGIN_UNSUPPORTED (specification v1.17). A user the service
// is not interested in is 400 M_EXCLUSIVE (CheckLogin).
func (r *Registry) Login(token, user string, legacyLogin bool) (userID string, reg *Registration, err error) {
	if !legacyLogin {
		return "", nil, newError(http.StatusBadRequest, CodeAppserviceLoginUnsupported, "this server does not offer the legacy login API")
	}
	if token == "" {
		return "", nil, newError(http.StatusUnauthorized, mxerr.MissingToken, "missing access token")
	}
	reg = r.ByASToken(token)
	if reg == nil {
		return "", nil, newError(http.StatusUnauthorized, mxerr.UnknownToken, "unknown application service token")
	}
	if user == "" {
		return "", nil, newError(http.StatusBadRequest, mxerr.InvalidParam, "invalid user in identifier")
	}
	userID = user
	if !strings.HasPrefix(user, "@") {
		userID = "@" + user + ":" + r.serverName
	}
	if err := r.CheckLogin(userID, reg); err != nil {
		return "", nil, err
	}
	return userID, reg, nil
}

// PingHandler serves POST /_matrix/client/v1/appservice/{appserviceId}/ping
// (data/api/client-server/appservice_ping.yaml): it authenticates the
// as_token, checks it belongs to the service in the path (403 M_FORBIDDEN),
// that the service has a url (400 M_URL_NOT_SET), calls the service's
// /_matrix/app/v1/ping with the transaction_id, and answers
// {"duration_ms": n}, or 502 M_BAD_STATUS with the service's status and
// body, 502 M_CONNECTION_FAILED, or 504 M_CONNECTION_TIMEOUT. After a
// successful ping OnSuccess (if set) is called, e.g. to end a Sender's
// backoff with Retry, as Synapse does.
//
// It matches the path itself, so it can be mounted on a mux pattern such
// as "POST /_matrix/client/v1/appservice/{appserviceId}/ping" or at any
// prefix.
type PingHandler struct {
	Registry  *Registry
	Client    *Client
	OnSuccess func(*Registration)
	// MaxBody bounds the request body; 0 means 64 KiB.
	MaxBody int64
}

func (h *PingHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		writeError(w, newError(http.StatusMethodNotAllowed, mxerr.Unrecognized, "method not allowed"))
		return
	}
	const prefix, suffix = "/_matrix/client/v1/appservice/", "/ping"
	p := req.URL.EscapedPath()
	i := strings.Index(p, prefix)
	if i < 0 || !strings.HasSuffix(p, suffix) || len(p) < i+len(prefix)+len(suffix) {
		writeError(w, newError(http.StatusNotFound, mxerr.Unrecognized, "unrecognized request"))
		return
	}
	id, err := url.PathUnescape(p[i+len(prefix) : len(p)-len(suffix)])
	if err != nil || id == "" || strings.Contains(id, "/") {
		writeError(w, newError(http.StatusNotFound, mxerr.Unrecognized, "unrecognized request"))
		return
	}
	tok, err := AccessToken(req)
	if err != nil {
		writeError(w, err)
		return
	}
	reg := h.Registry.ByASToken(tok)
	if reg == nil {
		// Not an as_token: the 403 of appservice_ping.yaml ("doesn't belong
		// to an appservice"). Synapse checks the token as a user's first
		// (401 if unknown); this handler knows only as_tokens.
		writeError(w, newError(http.StatusForbidden, mxerr.Forbidden, "only application services can use the /appservice/ping endpoint"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(reg.ID), []byte(id)) != 1 {
		writeError(w, newError(http.StatusForbidden, mxerr.Forbidden, "mismatching application service ID in path"))
		return
	}
	if reg.URL == "" {
		writeError(w, newError(http.StatusBadRequest, CodeURLNotSet, "the application service does not have a URL set"))
		return
	}
	max := h.MaxBody
	if max <= 0 {
		max = 64 << 10
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, max+1))
	if err != nil {
		writeError(w, newError(http.StatusBadRequest, mxerr.BadJSON, "could not read the body"))
		return
	}
	if int64(len(body)) > max {
		writeError(w, newError(http.StatusRequestEntityTooLarge, mxerr.TooLarge, "body too large"))
		return
	}
	var in struct {
		TransactionID *string `json:"transaction_id"`
	}
	if len(body) > 0 {
		var raw map[string]json.RawMessage
		if json.Unmarshal(body, &raw) != nil {
			writeError(w, newError(http.StatusBadRequest, mxerr.NotJSON, "body is not a JSON object"))
			return
		}
		if json.Unmarshal(body, &in) != nil {
			writeError(w, newError(http.StatusBadRequest, mxerr.BadJSON, "transaction_id must be a string"))
			return
		}
	}
	txn := ""
	if in.TransactionID != nil {
		txn = *in.TransactionID
	}
	c := h.Client
	if c == nil {
		c = &Client{}
	}
	d, err := c.Ping(req.Context(), reg, txn)
	if err != nil {
		writeError(w, PingError(err))
		return
	}
	if h.OnSuccess != nil {
		h.OnSuccess(reg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"duration_ms":` + strconv.FormatInt(d.Milliseconds(), 10) + `}`))
}

// PingError maps an error of Client.Ping to the client API's answer: a
// non-2xx status is 502 M_BAD_STATUS with "status" and "body" (when the
// body is UTF-8 text, as Synapse), a timeout 504 M_CONNECTION_TIMEOUT, any
// other failure 502 M_CONNECTION_FAILED.
func PingError(err error) *Error {
	var se *StatusError
	if errors.As(err, &se) {
		e := newError(http.StatusBadGateway, mxerr.BadStatus, "ping returned status "+strconv.Itoa(se.Status)).With("status", se.Status)
		if utf8.Valid(se.Body) {
			e = e.With("body", string(se.Body))
		}
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return newError(http.StatusGatewayTimeout, CodeConnectionTimeout, "connection to application service timed out")
	}
	return newError(http.StatusBadGateway, mxerr.ConnectionFailed, "connection to application service failed")
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// RoomDirectory stores the published room directories of application
// services, one per service and network (content/application-service-api.md,
// "Published room directories").
type RoomDirectory interface {
	SetAppServiceRoomVisibility(ctx context.Context, serviceID, networkID, roomID string, public bool) error
}

// DirectoryListHandler serves PUT
// /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}
// (data/api/client-server/appservice_room_directory.yaml) with the body
// {"visibility": "public"|"private"} (required, as the specification says;
// Synapse defaults it to public), and DELETE on the same path as
// "private", as Synapse does. Only an as_token may use it: anything else is
// 403 M_FORBIDDEN (a missing token 401 M_MISSING_TOKEN). It matches the
// path itself (any client API version prefix), so it can be mounted at
// "/_matrix/client/v3/directory/list/appservice/".
type DirectoryListHandler struct {
	Registry  *Registry
	Directory RoomDirectory
}

func (h *DirectoryListHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	const marker = "/directory/list/appservice/"
	p := req.URL.EscapedPath()
	i := strings.Index(p, marker)
	if i < 0 || !strings.HasPrefix(p, "/_matrix/client/") {
		writeError(w, newError(http.StatusNotFound, mxerr.Unrecognized, "unrecognized request"))
		return
	}
	parts := strings.Split(p[i+len(marker):], "/")
	if len(parts) != 2 {
		writeError(w, newError(http.StatusNotFound, mxerr.Unrecognized, "unrecognized request"))
		return
	}
	networkID, err1 := url.PathUnescape(parts[0])
	roomID, err2 := url.PathUnescape(parts[1])
	if req.Method != http.MethodPut && req.Method != http.MethodDelete {
		w.Header().Set("Allow", "PUT, DELETE")
		writeError(w, newError(http.StatusMethodNotAllowed, mxerr.Unrecognized, "method not allowed"))
		return
	}
	tok, err := AccessToken(req)
	if err != nil {
		writeError(w, err)
		return
	}
	reg := h.Registry.ByASToken(tok)
	if reg == nil {
		writeError(w, newError(http.StatusForbidden, mxerr.Forbidden, "only application services can edit the application service published room list"))
		return
	}
	if err1 != nil || err2 != nil || networkID == "" || !strings.HasPrefix(roomID, "!") {
		writeError(w, newError(http.StatusBadRequest, mxerr.InvalidParam, "bad network ID or room ID"))
		return
	}
	public := false
	if req.Method == http.MethodPut {
		var body struct {
			Visibility *string `json:"visibility"`
		}
		data, err := io.ReadAll(io.LimitReader(req.Body, 64<<10))
		if err != nil || !startsWith(data, '{') || json.Unmarshal(data, &body) != nil {
			writeError(w, newError(http.StatusBadRequest, mxerr.NotJSON, "body is not a JSON object"))
			return
		}
		switch {
		case body.Visibility == nil:
			writeError(w, newError(http.StatusBadRequest, mxerr.BadJSON, "visibility is required"))
			return
		case *body.Visibility == "public":
			public = true
		case *body.Visibility == "private":
		default:
			writeError(w, newError(http.StatusBadRequest, mxerr.InvalidParam, `visibility must be "public" or "private"`))
			return
		}
	}
	if err := h.Directory.SetAppServiceRoomVisibility(req.Context(), reg.ID, networkID, roomID, public); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{}`))
}
