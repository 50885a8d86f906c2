package appservice

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/mxkit/mxkit/client"
	"github.com/mxkit/mxkit/internal/mxerr"
)

// ClientEvent is an event in the client-server format
// (data/api/client-server/definitions/client_event.yaml), as transactions
// carry them: application services receive client events, not PDUs. It
// is the client package's Event, so that one handler serves events from a
// transaction and from a sync alike. ParseTransaction fills Raw with the
// event as received (with any fields not listed). Transactions tell state
// events by the presence of state_key, not by type (transactions.yaml):
// IsState.
type ClientEvent = client.Event

var errNotObject = errors.New("not an object")

// EphemeralEvent is an entry of a transaction's "ephemeral" array:
// m.presence, m.typing or m.receipt (content/application-service-api.md,
// "Pushing ephemeral data"). RoomID is set for typing and receipts; Sender
// for presence.
type EphemeralEvent struct {
	Type    string          `json:"type"`
	RoomID  string          `json:"room_id,omitempty"`
	Sender  string          `json:"sender,omitempty"`
	Content json.RawMessage `json:"content"`
	Raw     json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the event and keeps its bytes in Raw.
func (e *EphemeralEvent) UnmarshalJSON(b []byte) error {
	if !startsWith(b, '{') {
		return errNotObject
	}
	type plain EphemeralEvent
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// IncomingTransaction is a transaction received from the homeserver.
type IncomingTransaction struct {
	ID        string
	Events    []ClientEvent
	Ephemeral []EphemeralEvent
}

// Service is what an application service implements to receive
// transactions. The Handler calls it at most once per transaction ID (a
// retried transaction that was handled is acknowledged without a call);
// returning an error makes the homeserver retry the transaction later. An
// *Error is sent as is; any other error as 500 M_UNKNOWN.
//
// A Service may also implement UserQuerier, AliasQuerier, Pinger and
// ThirdPartyService; the Handler answers the other calls with 404
// M_UNRECOGNIZED.
type Service interface {
	HandleTransaction(ctx context.Context, txn *IncomingTransaction) error
}

// UserQuerier answers GET /_matrix/app/v1/users/{userId}: true if the user
// exists, after creating it on the homeserver if needed.
type UserQuerier interface {
	QueryUser(ctx context.Context, userID string) (bool, error)
}

// AliasQuerier answers GET /_matrix/app/v1/rooms/{roomAlias}: true if the
// alias exists, after creating the room and the alias if needed.
type AliasQuerier interface {
	QueryAlias(ctx context.Context, alias string) (bool, error)
}

// Pinger is told of POST /_matrix/app/v1/ping (e.g. to match the
// transaction ID of a ping it asked the homeserver for). An error fails
// the ping.
type Pinger interface {
	Ping(ctx context.Context, txnID string) error
}

// ThirdPartyService answers the third-party network lookups
// (data/api/application-service/protocols.yaml). Each returns raw JSON (an
// object for the protocol, arrays otherwise); nil means not found (404
// M_NOT_FOUND). fields are the query parameters of the request, without
// access_token.
type ThirdPartyService interface {
	ThirdPartyProtocol(ctx context.Context, protocol string) (json.RawMessage, error)
	ThirdPartyUsers(ctx context.Context, protocol string, fields url.Values) (json.RawMessage, error)
	ThirdPartyLocations(ctx context.Context, protocol string, fields url.Values) (json.RawMessage, error)
	ThirdPartyUsersByID(ctx context.Context, userID string) (json.RawMessage, error)
	ThirdPartyLocationsByAlias(ctx context.Context, alias string) (json.RawMessage, error)
}

// TxnLog remembers which transaction IDs were handled, for deduplication.
// An application service that persists its work should persist this too,
// so that a restart does not handle a retried transaction twice.
type TxnLog interface {
	Handled(ctx context.Context, txnID string) (bool, error)
	MarkHandled(ctx context.Context, txnID string) error
}

// MemoryTxnLog is an in-memory TxnLog that remembers the last Size IDs
// (default 10000): the homeserver retries only its oldest undelivered
// transaction, so a short memory is enough while the process lives.
type MemoryTxnLog struct {
	Size int

	mu    sync.Mutex
	seen  map[string]struct{}
	order []string
}

// Handled implements TxnLog.
func (m *MemoryTxnLog) Handled(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.seen[id]
	return ok, nil
}

// MarkHandled implements TxnLog.
func (m *MemoryTxnLog) MarkHandled(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]struct{}{}
	}
	if _, ok := m.seen[id]; ok {
		return nil
	}
	size := m.Size
	if size <= 0 {
		size = 10000
	}
	for len(m.order) >= size {
		delete(m.seen, m.order[0])
		m.order = m.order[1:]
	}
	m.seen[id] = struct{}{}
	m.order = append(m.order, id)
	return nil
}

// Handler is the application service's HTTP side: an http.Handler for
// everything the homeserver calls (content/application-service-api.md,
// "Homeserver -> Application Service API"), on the /_matrix/app/v1 paths
// and, unless NoLegacyRoutes, the legacy ones. Mount it at the root of the
// registration's url (or strip the url's path prefix first).
//
// Every request must carry the hs_token: as "Authorization: Bearer" or the
// legacy access_token query parameter, and both must match if both are
// given. No token is 401 M_UNAUTHORIZED; a wrong one 403 M_FORBIDDEN (the
// specification's "Authorisation"; tokens are compared in constant time).
// Unknown paths are 404 M_UNRECOGNIZED, a wrong method 405 M_UNRECOGNIZED
// ("Unknown routes"); both are answered before the token is checked.
//
// Transactions are deduplicated by ID through TxnLog; concurrent requests
// with one ID wait for the first.
type Handler struct {
	HSToken string
	Service Service
	// TxnLog deduplicates transactions; nil means a MemoryTxnLog.
	TxnLog TxnLog
	// MaxBody bounds request bodies; 0 means 32 MiB (a transaction holds up
	// to 100 events of up to 64 KiB each, plus ephemeral events).
	MaxBody int64
	// NoLegacyRoutes stops serving the legacy paths.
	NoLegacyRoutes bool

	once     sync.Once
	mu       sync.Mutex
	inflight map[string]*inflight
}

type inflight struct {
	done chan struct{}
	err  error
}

// NewHandler returns a Handler that checks hsToken and hands transactions
// and queries to svc.
func NewHandler(hsToken string, svc Service) *Handler {
	return &Handler{HSToken: hsToken, Service: svc}
}

type route int

const (
	routeNone route = iota
	routeTxn
	routeUser
	routeRoom
	routePing
	routeProtocol
	routeTPUser
	routeTPLocation
	routeTPUserByID
	routeTPLocationByAlias
)

// match splits an escaped path into a route and its (unescaped) parameter.
func (h *Handler) match(p string) (route, string, string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(p, "/_matrix/app/v1/"):
		rest = p[len("/_matrix/app/v1/"):]
	case h.NoLegacyRoutes:
		return routeNone, "", "", false
	case strings.HasPrefix(p, "/_matrix/app/unstable/thirdparty/"):
		rest = p[len("/_matrix/app/unstable/"):]
	case strings.HasPrefix(p, "/transactions/"), strings.HasPrefix(p, "/users/"), strings.HasPrefix(p, "/rooms/"):
		rest = p[1:]
	default:
		return routeNone, "", "", false
	}
	param := func(prefix string) (string, bool) {
		s, ok := strings.CutPrefix(rest, prefix)
		if !ok || s == "" || strings.Contains(s, "/") {
			return "", false
		}
		u, err := url.PathUnescape(s)
		return u, err == nil && u != ""
	}
	type r struct {
		prefix string
		rt     route
		method string
	}
	for _, c := range []r{
		{"transactions/", routeTxn, http.MethodPut},
		{"users/", routeUser, http.MethodGet},
		{"rooms/", routeRoom, http.MethodGet},
		{"thirdparty/protocol/", routeProtocol, http.MethodGet},
		{"thirdparty/user/", routeTPUser, http.MethodGet},
		{"thirdparty/location/", routeTPLocation, http.MethodGet},
	} {
		if v, ok := param(c.prefix); ok {
			return c.rt, v, c.method, true
		}
	}
	switch rest {
	case "ping":
		if strings.HasPrefix(p, "/_matrix/app/v1/") {
			return routePing, "", http.MethodPost, true
		}
	case "thirdparty/user":
		return routeTPUserByID, "", http.MethodGet, true
	case "thirdparty/location":
		return routeTPLocationByAlias, "", http.MethodGet, true
	}
	return routeNone, "", "", false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, param, method, ok := h.match(r.URL.EscapedPath())
	if !ok {
		writeError(w, newError(http.StatusNotFound, mxerr.Unrecognized, "unrecognized request"))
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		writeError(w, newError(http.StatusMethodNotAllowed, mxerr.Unrecognized, "method not allowed"))
		return
	}
	if err := h.checkToken(r); err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	var (
		out json.RawMessage
		err error
	)
	switch rt {
	case routeTxn:
		err = h.transaction(ctx, w, r, param)
	case routeUser, routeRoom:
		var exists bool
		exists, err = h.query(ctx, rt, param)
		if err == nil && !exists {
			err = newError(http.StatusNotFound, mxerr.NotFound, "no such "+map[route]string{routeUser: "user", routeRoom: "room alias"}[rt])
		}
	case routePing:
		err = h.ping(ctx, r)
	default:
		out, err = h.thirdParty(ctx, rt, param, r.URL.Query())
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if out == nil {
		out = json.RawMessage(`{}`)
	}
	w.Write(out)
}

// checkToken applies the specification's "Authorisation" rules.
func (h *Handler) checkToken(r *http.Request) error {
	var tokens []string
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, ok := strings.Cut(a, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return newError(http.StatusUnauthorized, mxerr.Unauthorized, `Authorization header is not "Bearer <hs_token>"`)
		}
		tokens = append(tokens, strings.TrimSpace(tok))
	}
	tokens = append(tokens, r.URL.Query()["access_token"]...)
	if len(tokens) == 0 {
		return newError(http.StatusUnauthorized, mxerr.Unauthorized, "missing hs_token")
	}
	for _, t := range tokens {
		if h.HSToken == "" || subtle.ConstantTimeCompare([]byte(t), []byte(h.HSToken)) != 1 {
			return newError(http.StatusForbidden, mxerr.Forbidden, "invalid hs_token")
		}
	}
	return nil
}

func (h *Handler) maxBody() int64 {
	if h.MaxBody > 0 {
		return h.MaxBody
	}
	return 32 << 20
}

func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	max := h.maxBody()
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, newError(http.StatusBadRequest, mxerr.BadJSON, "could not read the body")
	}
	if int64(len(b)) > max {
		return nil, newError(http.StatusRequestEntityTooLarge, mxerr.TooLarge, fmt.Sprintf("body over %d bytes", max))
	}
	return b, nil
}

func (h *Handler) txnLog() TxnLog {
	h.once.Do(func() {
		if h.TxnLog == nil {
			h.TxnLog = &MemoryTxnLog{}
		}
		h.inflight = map[string]*inflight{}
	})
	return h.TxnLog
}

func (h *Handler) transaction(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) error {
	body, err := h.readBody(r)
	if err != nil {
		return err
	}
	log := h.txnLog()
	// One handling per ID at a time: a retry that arrives while the first
	// attempt still runs waits for it rather than handling the events twice.
	var f *inflight
	for f == nil {
		h.mu.Lock()
		if other := h.inflight[id]; other != nil {
			h.mu.Unlock()
			select {
			case <-other.done:
				if other.err == nil {
					return nil
				}
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		f = &inflight{done: make(chan struct{})}
		h.inflight[id] = f
		h.mu.Unlock()
	}
	defer func() {
		h.mu.Lock()
		delete(h.inflight, id)
		h.mu.Unlock()
		close(f.done)
	}()
	seen, err := log.Handled(ctx, id)
	if err != nil {
		f.err = err
		return err
	}
	if seen {
		return nil
	}
	txn, err := ParseTransaction(id, body)
	if err != nil {
		f.err = err
		return err
	}
	if err := h.Service.HandleTransaction(ctx, txn); err != nil {
		f.err = err
		return err
	}
	if err := log.MarkHandled(ctx, id); err != nil {
		f.err = err
		return err
	}
	return nil
}

// ParseTransaction parses a transaction body: a JSON object with an
// "events" array of client events and an optional "ephemeral" array (or,
// from homeservers that implemented MSC2409 before it was stable,
// "de.sorunome.msc2409.ephemeral"). A body that is not such an object is a
// 400 M_NOT_JSON or M_BAD_JSON *Error naming the element.
func ParseTransaction(id string, body []byte) (*IncomingTransaction, error) {
	var top struct {
		Events    json.RawMessage `json:"events"`
		Ephemeral json.RawMessage `json:"ephemeral"`
		Unstable  json.RawMessage `json:"de.sorunome.msc2409.ephemeral"`
	}
	if !startsWith(body, '{') || json.Unmarshal(body, &top) != nil {
		return nil, newError(http.StatusBadRequest, mxerr.NotJSON, "transaction body is not a JSON object")
	}
	if top.Events == nil {
		return nil, newError(http.StatusBadRequest, mxerr.BadJSON, "transaction has no events array")
	}
	txn := &IncomingTransaction{ID: id}
	if !startsWith(top.Events, '[') {
		return nil, newError(http.StatusBadRequest, mxerr.BadJSON, "events must be an array")
	}
	events, err := decodeEvents(top.Events)
	if err != nil {
		return nil, err
	}
	txn.Events = events
	rawEph := top.Ephemeral
	if rawEph == nil {
		rawEph = top.Unstable
	}
	if rawEph != nil && !isNullJSON(rawEph) {
		if !startsWith(rawEph, '[') {
			return nil, newError(http.StatusBadRequest, mxerr.BadJSON, "ephemeral must be an array")
		}
		if err := json.Unmarshal(rawEph, &txn.Ephemeral); err != nil {
			return nil, elementError("ephemeral", rawEph, func(raw []byte) error { return json.Unmarshal(raw, new(EphemeralEvent)) }, err)
		}
	}
	if txn.Events == nil {
		txn.Events = []ClientEvent{}
	}
	return txn, nil
}

// decodeEvents decodes the events array, each element an object, keeping
// each event's bytes in Raw.
func decodeEvents(array []byte) ([]ClientEvent, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(array, &elems); err != nil {
		return nil, newError(http.StatusBadRequest, mxerr.BadJSON, "events: "+err.Error())
	}
	events := make([]ClientEvent, len(elems))
	for i, raw := range elems {
		if !startsWith(raw, '{') {
			return nil, newError(http.StatusBadRequest, mxerr.BadJSON, fmt.Sprintf("events[%d] is not an object", i))
		}
		if err := json.Unmarshal(raw, &events[i]); err != nil {
			return nil, newError(http.StatusBadRequest, mxerr.BadJSON, fmt.Sprintf("events[%d]: %v", i, err))
		}
		events[i].Raw = raw
	}
	return events, nil
}

// elementError names the first bad element of a JSON array that failed to
// decode as a whole (only on the error path, so the happy path decodes the
// array in one go).
func elementError(name string, array []byte, decode func([]byte) error, whole error) *Error {
	var elems []json.RawMessage
	if json.Unmarshal(array, &elems) == nil {
		for i, raw := range elems {
			if err := decode(raw); err != nil {
				if errors.Is(err, errNotObject) {
					return newError(http.StatusBadRequest, mxerr.BadJSON, fmt.Sprintf("%s[%d] is not an object", name, i))
				}
				return newError(http.StatusBadRequest, mxerr.BadJSON, fmt.Sprintf("%s[%d]: %v", name, i, err))
			}
		}
	}
	return newError(http.StatusBadRequest, mxerr.BadJSON, name+": "+whole.Error())
}

func startsWith(b []byte, c byte) bool {
	for _, x := range b {
		switch x {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return x == c
	}
	return false
}

func isNullJSON(b json.RawMessage) bool {
	return string(b) == "null"
}

func (h *Handler) query(ctx context.Context, rt route, id string) (bool, error) {
	switch rt {
	case routeUser:
		if q, ok := h.Service.(UserQuerier); ok {
			return q.QueryUser(ctx, id)
		}
	case routeRoom:
		if q, ok := h.Service.(AliasQuerier); ok {
			return q.QueryAlias(ctx, id)
		}
	}
	return false, newError(http.StatusNotFound, mxerr.Unrecognized, "not supported by this application service")
}

func (h *Handler) ping(ctx context.Context, r *http.Request) error {
	body, err := h.readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		TransactionID *string `json:"transaction_id"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if !isObject(body) {
			return newError(http.StatusBadRequest, mxerr.NotJSON, "body is not a JSON object")
		}
		// A transaction_id that is not a string (Synapse sends null when
		// the ping had none) is taken as absent.
		_ = json.Unmarshal(body, &in)
	}
	p, ok := h.Service.(Pinger)
	if !ok {
		return nil
	}
	id := ""
	if in.TransactionID != nil {
		id = *in.TransactionID
	}
	return p.Ping(ctx, id)
}

func (h *Handler) thirdParty(ctx context.Context, rt route, param string, q url.Values) (json.RawMessage, error) {
	tp, ok := h.Service.(ThirdPartyService)
	if !ok {
		return nil, newError(http.StatusNotFound, mxerr.Unrecognized, "third-party lookups are not supported by this application service")
	}
	fields := url.Values{}
	for k, v := range q {
		if k != "access_token" {
			fields[k] = v
		}
	}
	var (
		out json.RawMessage
		err error
	)
	switch rt {
	case routeProtocol:
		out, err = tp.ThirdPartyProtocol(ctx, param)
	case routeTPUser:
		out, err = tp.ThirdPartyUsers(ctx, param, fields)
	case routeTPLocation:
		out, err = tp.ThirdPartyLocations(ctx, param, fields)
	case routeTPUserByID:
		out, err = tp.ThirdPartyUsersByID(ctx, q.Get("userid"))
	case routeTPLocationByAlias:
		out, err = tp.ThirdPartyLocationsByAlias(ctx, q.Get("alias"))
	}
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, newError(http.StatusNotFound, mxerr.NotFound, "not found")
	}
	if !json.Valid(out) {
		return nil, errors.New("appservice: third-party lookup returned invalid JSON")
	}
	return out, nil
}
