package clientapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mxkit/mxkit/roomversion"
)

const (
	defaultMaxBody        = 1 << 20
	defaultMaxSyncTimeout = 5 * time.Minute
)

// Server is the client-server API as an http.Handler. Fill in the
// fields, then mount it (or call ServeHTTP); it must not be changed after
// the first request. Every backend field is optional: an endpoint whose
// backend is nil answers 404 M_UNRECOGNIZED, except where a documented
// default exists (filters and transactions are kept in memory, presence
// says offline, the user directory is empty, push rules are the spec's
// defaults).
type Server struct {
	// ServerName is the homeserver's name, the domain of its users.
	ServerName string
	// BaseURL is announced by /.well-known/matrix/client as
	// m.homeserver.base_url; empty: the well-known endpoint answers 404.
	BaseURL string
	// WellKnownExtra adds keys to /.well-known/matrix/client.
	WellKnownExtra map[string]any
	// Versions, when not nil, is what GET /versions advertises instead
	// of SupportedVersions (the releases all of whose endpoints are
	// served); UnstableFeatures is sent as unstable_features.
	Versions         []string
	UnstableFeatures map[string]bool
	// RoomVersions are the versions rooms may be created in (nil:
	// roomversion.Standard()); DefaultRoomVersion is the one used when
	// the client names none (empty: roomversion.Default()).
	RoomVersions       *roomversion.Set
	DefaultRoomVersion string
	// MaxBodyBytes bounds request bodies (0: 1 MiB). Event content is
	// further bounded by MaxEventSize.
	MaxBodyBytes int64
	// MaxSyncTimeout caps the timeout a client may ask of /sync (0: 5
	// minutes).
	MaxSyncTimeout time.Duration
	// MaxUploadSize bounds uploads and is announced as m.upload.size by
	// the media config endpoint (0: DefaultMaxUploadSize when Media is
	// set; without Media and 0, not announced).
	MaxUploadSize int64
	// MaxMediaWait caps timeout_ms of media downloads (0: one minute).
	MaxMediaWait time.Duration
	// AllowRegistration enables POST /register for users (application
	// services may always register in their namespace when Registration
	// is set).
	AllowRegistration bool
	// UIA runs user-interactive authentication; nil: a UIA with the
	// default flows, sessions in memory for 30 minutes.
	UIA *UIA

	Tokens         TokenLookup
	Accounts       Accounts
	Registration   Registration
	Rooms          Rooms
	Sender         Sender
	Reader         RoomReader
	Syncer         Syncer
	Filters        Filters
	Directory      Directory
	Profile        Profile
	AccountData    AccountData
	Ephemeral      Ephemeral
	Presence       Presence
	UserDirectory  UserDirectory
	Transactions   Transactions
	Devices        Devices
	PublishedRooms PublishedRooms
	PushRules      PushRuleStore
	Pushers        Pushers
	Notifications  Notifications
	Searcher       Searcher
	Upgrader       Upgrader
	// RateLimit, when set, limits how fast users and addresses may make
	// requests (RateLimits).
	RateLimit      *RateLimits
	Reports        Reports
	OpenID         OpenIDTokens
	Timestamps     Timestamps
	Summaries      RoomSummaries
	Spaces         Spaces
	Relations      Relations
	MutualRooms    MutualRooms
	Keys           Keys
	ToDevice       ToDevice
	KeyBackup      KeyBackup
	CrossSigning   CrossSigning
	AccountManager AccountManager
	LoginTokens    LoginTokens
	// EventRooms serves the legacy GET /events/{eventId}.
	EventRooms EventLocator
	// Refresher serves POST /refresh.
	Refresher Refresher
	// Whois and AccountModeration serve the server administration
	// endpoints (admin.go).
	Whois             Whois
	AccountModeration AccountModeration
	// RegistrationTokens, when set, makes registration need a token
	// (regtokens.go).
	RegistrationTokens RegistrationTokens
	// ThirdParty answers the third-party network lookups; AppServices
	// the application service ping and network room directories.
	ThirdParty  ThirdParty
	AppServices AppServices
	// SSO, OAuth and PolicyServer are services beside the homeserver;
	// nil gives the spec's answer for a server without them.
	SSO          SSO
	OAuth        OAuth
	PolicyServer *PolicyServer
	// Support is served at /.well-known/matrix/support (nil: 404).
	Support     *Support
	Media       Media
	URLPreviews URLPreviewer

	once  sync.Once
	mux   *http.ServeMux
	table map[string]map[string]route
	// versions is SupportedVersions, computed on first use.
	versionsOnce sync.Once
	versions     []string
	filters      Filters
	txns         Transactions
	uia          *UIA
	methods      string
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.init)
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", s.methods)
	h.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization")
	if r.Method == http.MethodOptions {
		// Web Browser Clients: OPTIONS never runs endpoint logic.
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "{}")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// call is one request being served.
type call struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	who Identity
	// body is the raw request body, read before the handler runs.
	body []byte
}

type handlerFunc func(c *call) (any, error)

type authMode uint8

const (
	authNone authMode = iota
	authRequired
	authOptional
)

type route struct {
	method string
	auth   authMode
	h      handlerFunc
	// stream: the handler reads the request body itself (uploads).
	stream bool
}

var (
	legacyPrefixes = []string{"/_matrix/client/r0", "/_matrix/client/v3"}
	v1Prefixes     = []string{"/_matrix/client/v1"}
)

func (s *Server) init() {
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = defaultMaxBody
	}
	if s.MaxSyncTimeout <= 0 {
		s.MaxSyncTimeout = defaultMaxSyncTimeout
	}
	s.filters = s.Filters
	if s.filters == nil {
		s.filters = newMemoryFilters()
	}
	s.txns = s.Transactions
	if s.txns == nil {
		s.txns = NewMemoryTransactions(24 * time.Hour)
	}
	s.uia = s.UIA
	if s.uia == nil {
		s.uia = &UIA{}
	}
	table := map[string]map[string]route{}
	adder := func(stream bool) addFunc {
		return func(prefixes []string, method, path string, auth authMode, h handlerFunc) {
			for _, p := range prefixes {
				pat := p + path
				if table[pat] == nil {
					table[pat] = map[string]route{}
				}
				table[pat][method] = route{method, auth, h, stream}
			}
		}
	}
	add := adder(false)
	s.routes(add)
	s.deviceRoutes(add)
	s.publicRoomRoutes(add)
	s.tagRoutes(add)
	s.pushRuleRoutes(add)
	s.moduleRoutes(add)
	s.keyBackupRoutes(add)
	s.crossSigningRoutes(add)
	s.legacySyncRoutes(add)
	s.refreshRoutes(add)
	s.adminRoutes(add)
	s.registrationTokenRoutes(add)
	s.thirdPartyRoutes(add)
	s.externalRoutes(add)
	s.mediaRoutes(add, adder(true))
	// Last, over every route: the effects of account locks and
	// suspensions.
	s.applyModeration(table)
	s.table = table
	s.mux = http.NewServeMux()
	allMethods := map[string]bool{http.MethodOptions: true}
	for pat, byMethod := range table {
		var allow []string
		for m := range byMethod {
			allow = append(allow, m)
			allMethods[m] = true
		}
		sort.Strings(allow)
		s.mux.Handle(pat, &dispatcher{s: s, byMethod: byMethod, allow: strings.Join(append(allow, http.MethodOptions), ", ")})
	}
	var ms []string
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "OPTIONS"} {
		if allMethods[m] {
			ms = append(ms, m)
		}
	}
	s.methods = strings.Join(ms, ", ")

	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, unrecognized(http.StatusNotFound))
	})
}

type dispatcher struct {
	s        *Server
	byMethod map[string]route
	allow    string
}

func (d *dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := d.byMethod[r.Method]
	if !ok && r.Method == http.MethodHead {
		rt, ok = d.byMethod[http.MethodGet]
	}
	if !ok {
		w.Header().Set("Allow", d.allow)
		writeError(w, unrecognized(http.StatusMethodNotAllowed))
		return
	}
	d.s.serve(w, r, rt)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) {
	c := &call{s: s, w: w, r: r, ctx: r.Context()}
	if rt.auth != authNone {
		who, err := s.authenticate(r)
		if err != nil && (rt.auth == authRequired || !isMissingToken(err)) {
			writeError(w, err)
			return
		}
		c.who = who
		if who.UserID != "" {
			c.ctx = WithIdentity(c.ctx, who)
		}
	}
	if err := s.RateLimit.check(r, c.who); err != nil {
		writeError(w, err)
		return
	}
	if !rt.stream && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodDelete) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, NewError(http.StatusRequestEntityTooLarge, CodeTooLarge,
					fmt.Sprintf("request body is larger than %d bytes", s.MaxBodyBytes)))
				return
			}
			writeError(w, BadJSON("could not read the request body"))
			return
		}
		c.body = body
	}
	res, err := rt.h(c)
	if err != nil {
		WriteError(w, err)
		return
	}
	if _, ok := res.(written); ok {
		return
	}
	if raw, ok := res.(rawResponse); ok {
		writeRaw(w, http.StatusOK, raw)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// rawResponse is a pre-encoded JSON answer (transaction replays).
type rawResponse []byte

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b []byte
	var err error
	switch m := v.(type) {
	case *SyncResponse, *MessagesResponse, *ContextResponse:
		// Skip the re-scan encoding/json does of a Marshaler's output:
		// these produce theirs with json.Marshal, which has validated
		// the backend's raw events already.
		b, err = m.(json.Marshaler).MarshalJSON()
	default:
		b, err = json.Marshal(v)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// Body decoding. The spec (content/client-server-api/_index.md, "API
// Standards") and Synapse: a body that is not JSON is 400 M_NOT_JSON; JSON
// that is not an object, or has a field of the wrong type, is 400
// M_BAD_JSON.

// object checks the body is one JSON object and returns it. An empty
// body counts as {} when optional is true (endpoints whose fields are all
// optional, which clients call with no body).
func (c *call) object(optional bool) ([]byte, error) {
	b := bytes.TrimSpace(c.body)
	if len(b) == 0 {
		if optional {
			return []byte("{}"), nil
		}
		return nil, NewError(http.StatusBadRequest, CodeNotJSON, "request body is empty; a JSON object is required")
	}
	if !json.Valid(b) {
		return nil, NewError(http.StatusBadRequest, CodeNotJSON, "request body is not valid JSON")
	}
	// JSON text is UTF-8 (RFC 8259 section 8.1); json.Valid does not look
	// inside strings, and Unmarshal would quietly turn bad bytes into U+FFFD.
	if !utf8.Valid(b) {
		return nil, NewError(http.StatusBadRequest, CodeNotJSON, "request body is not valid UTF-8")
	}
	if b[0] != '{' {
		return nil, BadJSON("request body must be a JSON object")
	}
	return b, nil
}

// decode reads the body object into v.
func (c *call) decode(v any, optional bool) error {
	b, err := c.object(optional)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "(body)"
			}
			return BadJSON(fmt.Sprintf("field %q: expected %s, got JSON %s", field, te.Type, te.Value))
		}
		return BadJSON(err.Error())
	}
	return nil
}

// eventContent reads the body as event content: a JSON object no larger
// than MaxEventSize.
func (c *call) eventContent() (json.RawMessage, error) {
	if len(c.body) > MaxEventSize {
		return nil, NewError(http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("event content is larger than the %d-byte event size limit", MaxEventSize))
	}
	b, err := c.object(false)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// need answers 404 M_UNRECOGNIZED when a backend is missing.
func need(ok bool) error {
	if !ok {
		return unrecognized(http.StatusNotFound)
	}
	return nil
}

func (c *call) roomIDParam(name string) (string, error) {
	id := c.r.PathValue(name)
	if err := ValidRoomID(id); err != nil {
		return "", paramError(err)
	}
	return id, nil
}

// room is the preamble of the handlers under /rooms/{roomId}: the
// backend they need must be configured (404 M_UNRECOGNIZED otherwise,
// as for any endpoint the server does not offer), then the roomId path
// parameter must be a valid room ID (400 M_INVALID_PARAM).
func (c *call) room(backend bool) (string, error) {
	if err := need(backend); err != nil {
		return "", err
	}
	return c.roomIDParam("roomId")
}

// roomEvent is room followed by the eventId path parameter, checked
// in that order so a request wrong in both reports the room first.
func (c *call) roomEvent(backend bool) (roomID, eventID string, err error) {
	if roomID, err = c.room(backend); err != nil {
		return "", "", err
	}
	if eventID, err = c.eventIDParam("eventId"); err != nil {
		return "", "", err
	}
	return roomID, eventID, nil
}

func (c *call) eventIDParam(name string) (string, error) {
	id := c.r.PathValue(name)
	if err := ValidEventID(id); err != nil {
		return "", paramError(err)
	}
	return id, nil
}

func (c *call) eventTypeParam(name string) (string, error) {
	typ := c.r.PathValue(name)
	if err := ValidEventType(typ); err != nil {
		return "", paramError(err)
	}
	return typ, nil
}

func (c *call) userIDParam(name string) (string, error) {
	id := c.r.PathValue(name)
	if err := ValidUserID(id, true); err != nil {
		return "", paramError(err)
	}
	return id, nil
}

func (c *call) selfParam(name, what string) error {
	id := c.r.PathValue(name)
	if err := ValidUserID(id, true); err != nil {
		return paramError(err)
	}
	if id != c.who.UserID {
		return Forbidden("cannot " + what + " for other users")
	}
	return nil
}

func (c *call) roomVersions() *roomversion.Set {
	if c.s.RoomVersions != nil {
		return c.s.RoomVersions
	}
	return standardVersions()
}

func (c *call) defaultRoomVersion() string {
	if c.s.DefaultRoomVersion != "" {
		return c.s.DefaultRoomVersion
	}
	return roomversion.Default().ID
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
