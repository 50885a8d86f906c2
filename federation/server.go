package federation

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mxkit/mxkit/internal/mxerr"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// Server is the federation API of a homeserver as an http.Handler: every
// endpoint of content/server-server-api.md (except the key endpoints, which
// KeyHandler serves) routed on a standard library mux, behind the X-Matrix
// authentication of Authenticator where the specification requires it, and
// backed by small interfaces the embedder implements, grouped by concern:
//
//   - rooms and events (send, event, state, state_ids, event_auth, backfill,
//     get_missing_events, timestamp_to_event) and the membership handshakes
//     (make_join/send_join v2, make_leave/send_leave v2,
//     make_knock/send_knock): Rooms, a RoomStore;
//   - invites (v1 and v2), exchange_third_party_invite and 3pid/onbind:
//     Invites;
//   - queries (directory, profile, other types) and OpenID: Queries, OpenID;
//   - the published room directory and space hierarchy: Directory;
//   - devices and end-to-end keys: Devices;
//   - media download and thumbnails: Media.
//
// An endpoint whose interface is nil answers 404 M_UNRECOGNIZED, like an
// unknown endpoint ("Unsupported endpoints"); a known endpoint called with
// the wrong method answers 405 M_UNRECOGNIZED. The server ACLs of a room
// ("Server Access Control Lists (ACLs)") are applied on the endpoints the
// specification lists (403 M_FORBIDDEN), per PDU on /send, and to m.typing
// and m.receipt EDUs.
//
// Set the fields before the first request and do not change them afterwards.
type Server struct {
	// ServerName is our server name; Key is our signing key.
	ServerName string
	Key        *signing.SigningKey
	// Keys gives other servers' public keys, for request authentication
	// and event verification (a FetchingKeyRing, usually).
	Keys signing.KeyRing
	// Auth authenticates requests; nil: an Authenticator of ServerName
	// with Keys.
	Auth *Authenticator
	// Versions are the room versions we support (nil: roomversion.Standard()).
	Versions *roomversion.Set
	// Rooms stores the rooms. Required for the room endpoints.
	Rooms RoomStore
	// Client reaches other servers, to fill gaps in received rooms and for
	// the outgoing membership flows. Optional.
	Client *Client
	// EDUs receives the EDUs of transactions. Optional.
	EDUs EDUHandler
	// OnEvent is called for each event stored from federation (received
	// in a transaction, or accepted through send_join, send_leave,
	// send_knock or an invite), after it is stored: the hook where an
	// embedder notifies its clients and, for events accepted through the
	// handshakes, sends them on to the other servers of the room.
	OnEvent func(ctx context.Context, e NewEvent)
	// Outside takes the PDUs of /send whose room the Rooms store does not
	// know but the embedder has a stake in (an invite of a local user
	// withdrawn by the inviting server). Optional: nil drops them.
	Outside OutsideRooms

	Invites   Invites
	Queries   Queries
	OpenID    OpenID
	Directory RoomDirectory
	Devices   Devices
	Media     MediaRepository

	// KeyHandler, when set, serves /_matrix/key/v2/server and
	// /_matrix/key/v2/query (ServerKeysHandler and Notary, say).
	KeyHandler http.Handler
	// Software is what GET /version answers.
	Software ServerVersion
	// MaxBody bounds the bodies of unauthenticated requests (0: 1 MiB);
	// authenticated ones are bounded by Auth.
	MaxBody int64
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	once sync.Once
	mux  *http.ServeMux
	recv *Receiver
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.init)
	s.mux.ServeHTTP(w, r)
}

// Receiver returns the receive pipeline the server uses for /send.
func (s *Server) Receiver() *Receiver {
	s.once.Do(s.init)
	return s.recv
}

func (s *Server) versions() *roomversion.Set {
	if s.Versions == nil {
		return roomversion.Standard()
	}
	return s.Versions
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

type route struct {
	methods []string
	path    string
	h       http.HandlerFunc
	open    bool // no request authentication
}

func (s *Server) init() {
	if s.Auth == nil {
		s.Auth = &Authenticator{ServerName: s.ServerName, Keys: s.Keys, Now: s.Now}
	}
	s.recv = &Receiver{ServerName: s.ServerName, Store: s.Rooms, Keys: s.Keys, Client: s.Client, EDUs: s.EDUs, OnEvent: s.OnEvent, Now: s.Now, Outside: s.Outside}
	const v1, v2 = "/_matrix/federation/v1", "/_matrix/federation/v2"
	get, put, post := []string{http.MethodGet}, []string{http.MethodPut}, []string{http.MethodPost}
	routes := []route{
		{get, v1 + "/version", s.handleVersion, true},
		{put, v1 + "/send/{txnId}", s.handleSend, false},
		{get, v1 + "/event/{eventId}", s.handleEvent, false},
		{get, v1 + "/state/{roomId}", s.handleState, false},
		{get, v1 + "/state_ids/{roomId}", s.handleStateIDs, false},
		{get, v1 + "/event_auth/{roomId}/{eventId}", s.handleEventAuth, false},
		{get, v1 + "/backfill/{roomId}", s.handleBackfill, false},
		{post, v1 + "/get_missing_events/{roomId}", s.handleGetMissingEvents, false},
		{get, v1 + "/timestamp_to_event/{roomId}", s.handleTimestampToEvent, false},
		{get, v1 + "/make_join/{roomId}/{userId}", s.handleMakeJoin, false},
		{put, v2 + "/send_join/{roomId}/{eventId}", s.handleSendJoin, false},
		{get, v1 + "/make_leave/{roomId}/{userId}", s.handleMakeLeave, false},
		{put, v2 + "/send_leave/{roomId}/{eventId}", s.handleSendLeave, false},
		{get, v1 + "/make_knock/{roomId}/{userId}", s.handleMakeKnock, false},
		{put, v1 + "/send_knock/{roomId}/{eventId}", s.handleSendKnock, false},
		{put, v1 + "/invite/{roomId}/{eventId}", s.handleInviteV1, false},
		{put, v2 + "/invite/{roomId}/{eventId}", s.handleInviteV2, false},
		{put, v1 + "/exchange_third_party_invite/{roomId}", s.handleExchangeThirdPartyInvite, false},
		{put, v1 + "/3pid/onbind", s.handleOnBind, true},
		{get, v1 + "/publicRooms", s.handlePublicRoomsGet, false},
		{post, v1 + "/publicRooms", s.handlePublicRoomsPost, false},
		{get, v1 + "/hierarchy/{roomId}", s.handleHierarchy, false},
		{get, v1 + "/query/directory", s.handleQueryDirectory, false},
		{get, v1 + "/query/profile", s.handleQueryProfile, false},
		{get, v1 + "/query/{queryType}", s.handleQuery, false},
		{get, v1 + "/openid/userinfo", s.handleOpenID, true},
		{get, v1 + "/user/devices/{userId}", s.handleUserDevices, false},
		{post, v1 + "/user/keys/query", s.handleKeysQuery, false},
		{post, v1 + "/user/keys/claim", s.handleKeysClaim, false},
		{get, v1 + "/media/download/{mediaId}", s.handleMediaDownload, false},
		{get, v1 + "/media/thumbnail/{mediaId}", s.handleMediaThumbnail, false},
	}
	mux := http.NewServeMux()
	// paths knows every endpoint's path without its method: a request that
	// reaches the fallback on a known path used the wrong method.
	paths := http.NewServeMux()
	known := map[string]bool{}
	for _, rt := range routes {
		var h http.Handler = rt.h
		if !rt.open {
			h = s.Auth.Middleware(h)
		}
		for _, m := range rt.methods {
			mux.Handle(m+" "+rt.path, h)
		}
		if !known[rt.path] {
			known[rt.path] = true
			paths.HandleFunc(rt.path, methodNotAllowed)
		}
	}
	if s.KeyHandler != nil {
		mux.Handle("/_matrix/key/v2/server", s.KeyHandler)
		mux.Handle("/_matrix/key/v2/server/{keyId}", s.KeyHandler)
		mux.Handle("/_matrix/key/v2/query", s.KeyHandler)
		mux.Handle("/_matrix/key/v2/query/{serverName}", s.KeyHandler)
	}
	paths.HandleFunc("/", notFound)
	mux.Handle("/", paths)
	s.mux = mux
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	mxerr.Write(w, mxerr.New(http.StatusMethodNotAllowed, mxerr.Unrecognized, "method "+r.Method+" is not allowed on this endpoint"))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	mxerr.Write(w, errUnrecognized)
}

var errUnrecognized = mxerr.New(http.StatusNotFound, mxerr.Unrecognized, "unrecognized request")

func respondJSON(w http.ResponseWriter, status int, v any) {
	var data []byte
	if raw, ok := v.(json.RawMessage); ok {
		data = raw
	} else {
		var err error
		if data, err = json.Marshal(v); err != nil {
			mxerr.Write(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

// fail writes err: an *Error as it is; ErrNotFound and ErrUnknownRoom as 404
// M_NOT_FOUND; anything else as 500.
func fail(w http.ResponseWriter, err error) {
	var me *Error
	switch {
	case errors.As(err, &me):
		mxerr.Write(w, me)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnknownRoom):
		mxerr.Write(w, mxerr.New(http.StatusNotFound, mxerr.NotFound, err.Error()))
	default:
		mxerr.Write(w, err)
	}
}

func badRequest(code, msg string) *Error { return mxerr.New(http.StatusBadRequest, code, msg) }
func forbidden(msg string) *Error        { return mxerr.New(http.StatusForbidden, mxerr.Forbidden, msg) }
func notFoundErr(msg string) *Error      { return mxerr.New(http.StatusNotFound, mxerr.NotFound, msg) }

func origin(r *http.Request) string {
	o, _ := OriginFromContext(r.Context())
	return o
}

// body returns the request body: the one the middleware read, or, on
// unauthenticated endpoints, read here within MaxBody.
func (s *Server) body(r *http.Request) ([]byte, error) {
	if b, ok := BodyFromContext(r.Context()); ok {
		return b, nil
	}
	limit := s.MaxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	// The bodies of unauthenticated endpoints share the Authenticator's
	// budget of bodies read from senders not (yet) authenticated.
	release, err := s.Auth.reserveBody(r, limit)
	if err != nil {
		return nil, err
	}
	defer release()
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, badRequest(mxerr.BadJSON, "cannot read the body")
	}
	if int64(len(b)) > limit {
		return nil, mxerr.New(http.StatusRequestEntityTooLarge, mxerr.TooLarge, "request body too large")
	}
	return b, nil
}

// decodeBody reads a JSON object body into v.
func (s *Server) decodeBody(r *http.Request, v any) error {
	b, err := s.body(r)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// decodeJSON decodes a JSON object into v: 400 M_NOT_JSON for bytes that are
// not JSON, M_BAD_JSON for JSON of the wrong shape.
func decodeJSON(b []byte, v any) error {
	if !json.Valid(b) {
		return badRequest(mxerr.NotJSON, "body is not JSON")
	}
	t := strings.TrimSpace(string(b))
	if t == "" || t[0] != '{' {
		return badRequest(mxerr.BadJSON, "body is not a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest(mxerr.BadJSON, "body has the wrong shape: "+err.Error())
	}
	return nil
}

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	sv := s.Software
	if sv.Name == "" {
		sv = ServerVersion{Name: "mxkit", Version: "0"}
	}
	respondJSON(w, http.StatusOK, map[string]ServerVersion{"server": sv})
}

// serverOf returns the server name of a user ID or room alias, "" when the
// identifier has no server part.
func serverOf(id string) string {
	i := strings.IndexByte(id, ':')
	if i < 0 || i == len(id)-1 {
		return ""
	}
	return id[i+1:]
}
