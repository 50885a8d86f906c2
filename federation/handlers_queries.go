package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/mxkit/mxkit/internal/mxerr"
)

// Queries answers the federation queries ("Querying for information",
// content/server-server-api.md). Return an error wrapping ErrNotFound for
// an unknown alias or user (404 M_NOT_FOUND), or an *Error.
type Queries interface {
	// QueryDirectory resolves a room alias of ours.
	QueryDirectory(ctx context.Context, alias string) (*DirectoryResponse, error)
	// QueryProfile returns a local user's profile; field is "",
	// "displayname" or "avatar_url".
	QueryProfile(ctx context.Context, userID, field string) (*Profile, error)
	// Query answers any other query type; return an error wrapping
	// ErrNotFound for a type it does not know (404 M_NOT_FOUND).
	Query(ctx context.Context, origin, queryType string, args url.Values) (json.RawMessage, error)
}

// OpenID exchanges OpenID access tokens for user IDs ("OpenID").
type OpenID interface {
	// UserInfo returns the user ID the token was issued to, or an error
	// (any error answers 401 M_UNKNOWN_TOKEN).
	UserInfo(ctx context.Context, token string) (string, error)
}

// RoomDirectory answers the published room directory and space hierarchy
// ("Published Room Directory", "Spaces").
type RoomDirectory interface {
	PublicRooms(ctx context.Context, origin string, req PublicRoomsRequest) (*PublicRoomsResponse, error)
	// Hierarchy returns a space and its children; an error wrapping
	// ErrNotFound answers 404 M_NOT_FOUND.
	Hierarchy(ctx context.Context, origin, roomID string, suggestedOnly bool) (*HierarchyResponse, error)
}

// MemoryQueries is Queries and OpenID in memory. Set the maps before use, or
// use the methods; safe for concurrent use.
type MemoryQueries struct {
	mu       sync.RWMutex
	Aliases  map[string]DirectoryResponse
	Profiles map[string]Profile
	Tokens   map[string]string // OpenID token -> user ID
}

// QueryDirectory implements Queries.
func (m *MemoryQueries) QueryDirectory(ctx context.Context, alias string) (*DirectoryResponse, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, ok := m.Aliases[alias]
	if !ok {
		return nil, notFoundErr("room alias " + alias + " not found")
	}
	return &d, nil
}

// QueryProfile implements Queries.
func (m *MemoryQueries) QueryProfile(ctx context.Context, userID, field string) (*Profile, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, ok := m.Profiles[userID]
	if !ok {
		return nil, notFoundErr("user " + userID + " not found")
	}
	switch field {
	case "displayname":
		p.AvatarURL = ""
	case "avatar_url":
		p.DisplayName = ""
	}
	return &p, nil
}

// Query implements Queries: no other query types.
func (m *MemoryQueries) Query(ctx context.Context, origin, queryType string, args url.Values) (json.RawMessage, error) {
	return nil, notFoundErr("unknown query type " + queryType)
}

// UserInfo implements OpenID.
func (m *MemoryQueries) UserInfo(ctx context.Context, token string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u, ok := m.Tokens[token]
	if !ok {
		return "", ErrNotFound
	}
	return u, nil
}

// MemoryDirectory is a RoomDirectory in memory: a list of published rooms
// (PublishedRoomsChunk objects) and space hierarchies by room ID.
type MemoryDirectory struct {
	mu          sync.RWMutex
	Rooms       []json.RawMessage
	Hierarchies map[string]HierarchyResponse
}

// PublicRooms implements RoomDirectory: pages of Rooms, "since" being the
// offset.
func (m *MemoryDirectory) PublicRooms(ctx context.Context, origin string, req PublicRoomsRequest) (*PublicRoomsResponse, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	start := 0
	if req.Since != "" {
		n, err := strconv.Atoi(req.Since)
		if err != nil || n < 0 || n > len(m.Rooms) {
			return nil, badRequest(mxerr.InvalidParam, "bad since token")
		}
		start = n
	}
	end := len(m.Rooms)
	if req.Limit > 0 {
		end = min(end, start+req.Limit)
	}
	out := &PublicRoomsResponse{Chunk: append([]json.RawMessage{}, m.Rooms[start:end]...), TotalRoomCountEstimate: int64(len(m.Rooms))}
	if end < len(m.Rooms) {
		out.NextBatch = strconv.Itoa(end)
	}
	if start > 0 {
		out.PrevBatch = strconv.Itoa(max(0, start-max(req.Limit, 1)))
	}
	return out, nil
}

// Hierarchy implements RoomDirectory.
func (m *MemoryDirectory) Hierarchy(ctx context.Context, origin, roomID string, suggestedOnly bool) (*HierarchyResponse, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	h, ok := m.Hierarchies[roomID]
	if !ok {
		return nil, notFoundErr("room " + roomID + " not found")
	}
	return &h, nil
}

func (s *Server) handleQueryDirectory(w http.ResponseWriter, r *http.Request) {
	if s.Queries == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	alias := r.URL.Query().Get("room_alias")
	if alias == "" {
		fail(w, badRequest(mxerr.MissingParam, "room_alias is required"))
		return
	}
	if !strings.HasPrefix(alias, "#") || serverOf(alias) == "" {
		fail(w, badRequest(mxerr.InvalidParam, "room_alias is not a room alias"))
		return
	}
	if serverOf(alias) != s.ServerName {
		fail(w, notFoundErr("room alias "+alias+" is not ours"))
		return
	}
	d, err := s.Queries.QueryDirectory(r.Context(), alias)
	if err != nil {
		fail(w, err)
		return
	}
	if d.Servers == nil {
		d.Servers = []string{}
	}
	respondJSON(w, http.StatusOK, d)
}

func (s *Server) handleQueryProfile(w http.ResponseWriter, r *http.Request) {
	if s.Queries == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	q := r.URL.Query()
	user, field := q.Get("user_id"), q.Get("field")
	if user == "" {
		fail(w, badRequest(mxerr.MissingParam, "user_id is required"))
		return
	}
	if !strings.HasPrefix(user, "@") || serverOf(user) == "" {
		fail(w, badRequest(mxerr.InvalidParam, "user_id is not a user ID"))
		return
	}
	if field != "" && field != "displayname" && field != "avatar_url" {
		fail(w, badRequest(mxerr.InvalidParam, `field must be "displayname" or "avatar_url"`))
		return
	}
	if serverOf(user) != s.ServerName {
		fail(w, notFoundErr("user "+user+" is not ours"))
		return
	}
	p, err := s.Queries.QueryProfile(r.Context(), user, field)
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, p)
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	if s.Queries == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	out, err := s.Queries.Query(r.Context(), origin(r), r.PathValue("queryType"), r.URL.Query())
	if err != nil {
		fail(w, err)
		return
	}
	if len(out) == 0 || out[0] != '{' {
		fail(w, errorString("query answer is not a JSON object"))
		return
	}
	respondJSON(w, http.StatusOK, out)
}

type errorString string

func (e errorString) Error() string { return string(e) }

func (s *Server) handleOpenID(w http.ResponseWriter, r *http.Request) {
	if s.OpenID == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		fail(w, badRequest(mxerr.MissingParam, "access_token is required"))
		return
	}
	sub, err := s.OpenID.UserInfo(r.Context(), tok)
	if err != nil {
		fail(w, mxerr.New(http.StatusUnauthorized, mxerr.UnknownToken, "access token unknown or expired"))
		return
	}
	respondJSON(w, http.StatusOK, map[string]string{"sub": sub})
}

func (s *Server) handlePublicRoomsGet(w http.ResponseWriter, r *http.Request) {
	if s.Directory == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	q := r.URL.Query()
	req := PublicRoomsRequest{Since: q.Get("since"), ThirdPartyInstanceID: q.Get("third_party_instance_id")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			fail(w, badRequest(mxerr.InvalidParam, "limit must be a non-negative integer"))
			return
		}
		req.Limit = n
	}
	switch q.Get("include_all_networks") {
	case "", "false":
	case "true":
		req.IncludeAllNetworks = true
	default:
		fail(w, badRequest(mxerr.InvalidParam, "include_all_networks must be true or false"))
		return
	}
	s.publicRooms(w, r, req)
}

func (s *Server) handlePublicRoomsPost(w http.ResponseWriter, r *http.Request) {
	if s.Directory == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	var req PublicRoomsRequest
	if err := s.decodeBody(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.Limit < 0 {
		fail(w, badRequest(mxerr.InvalidParam, "limit must be non-negative"))
		return
	}
	if len(req.Filter) > 0 && req.Filter[0] != '{' && string(req.Filter) != "null" {
		fail(w, badRequest(mxerr.BadJSON, "filter must be an object"))
		return
	}
	s.publicRooms(w, r, req)
}

func (s *Server) publicRooms(w http.ResponseWriter, r *http.Request, req PublicRoomsRequest) {
	if req.IncludeAllNetworks && req.ThirdPartyInstanceID != "" {
		fail(w, badRequest(mxerr.InvalidParam, "include_all_networks and third_party_instance_id cannot both be set"))
		return
	}
	out, err := s.Directory.PublicRooms(r.Context(), origin(r), req)
	if err != nil {
		fail(w, err)
		return
	}
	if out.Chunk == nil {
		out.Chunk = []json.RawMessage{}
	}
	respondJSON(w, http.StatusOK, out)
}

func (s *Server) handleHierarchy(w http.ResponseWriter, r *http.Request) {
	if s.Directory == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	so := false
	switch r.URL.Query().Get("suggested_only") {
	case "", "false":
	case "true":
		so = true
	default:
		fail(w, badRequest(mxerr.InvalidParam, "suggested_only must be true or false"))
		return
	}
	roomID := r.PathValue("roomId")
	if s.Rooms != nil {
		// The room ACL, when we know the room.
		if _, err := s.Rooms.RoomVersion(r.Context(), roomID); err == nil {
			if _, err := s.roomAccess(r.Context(), roomID, origin(r), false); err != nil {
				fail(w, err)
				return
			}
		}
	}
	out, err := s.Directory.Hierarchy(r.Context(), origin(r), roomID, so)
	if err != nil {
		fail(w, err)
		return
	}
	if out.Children == nil {
		out.Children = []json.RawMessage{}
	}
	if out.InaccessibleChildren == nil {
		out.InaccessibleChildren = []string{}
	}
	respondJSON(w, http.StatusOK, out)
}
