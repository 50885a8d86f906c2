package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/internal/mxerr"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
)

// Limits of the room handlers.
const (
	// MaxBackfillLimit caps the limit of /backfill.
	MaxBackfillLimit = 100
	// MaxMissingEventsLimit caps the limit of /get_missing_events.
	MaxMissingEventsLimit = 100
)

func (s *Server) needRooms(w http.ResponseWriter) bool {
	if s.Rooms == nil {
		mxerr.Write(w, errUnrecognized)
		return false
	}
	return true
}

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) {
		return
	}
	b, err := s.body(r)
	if err != nil {
		fail(w, err)
		return
	}
	results, err := s.recv.Receive(r.Context(), origin(r), r.PathValue("txnId"), b)
	if err != nil {
		fail(w, err)
		return
	}
	if results == nil {
		results = map[string]PDUResult{}
	}
	respondJSON(w, http.StatusOK, TransactionResponse{PDUs: results})
}

// roomAccess checks that the room is known (404), that the origin is allowed
// by its server ACL (403) and, when inRoom, that the origin has a joined
// member in the room's current state (403, as the reference server answers
// servers that are not in the room).
func (s *Server) roomAccess(ctx context.Context, roomID, origin string, inRoom bool) (roomversion.Version, error) {
	v, st, err := s.roomACL(ctx, roomID, origin)
	if err != nil || !inRoom {
		return v, err
	}
	ok, err := serverInRoom(ctx, s.Rooms, st, origin)
	if err != nil {
		return v, err
	}
	if !ok {
		return v, forbidden("server " + origin + " is not in room " + roomID)
	}
	return v, nil
}

// roomACL checks that the room is known (404) and that the origin is
// allowed by its server ACL (403), and returns the room's current state.
func (s *Server) roomACL(ctx context.Context, roomID, origin string) (roomversion.Version, stateres.StateMap, error) {
	v, st, _, err := currentState(ctx, s.Rooms, roomID)
	if err != nil {
		if errors.Is(err, ErrUnknownRoom) {
			return v, nil, notFoundErr("unknown room " + roomID)
		}
		return v, nil, err
	}
	if id, ok := st[stateres.StateKey{Type: "m.room.server_acl"}]; ok {
		evs, err := s.Rooms.Events(ctx, []string{id})
		if err != nil {
			return v, nil, err
		}
		if evs[0].Event != nil && !ParseServerACL(evs[0].Event.Content()).Allowed(origin) {
			return v, nil, forbidden("server " + origin + " is denied by the room's server ACL")
		}
	}
	return v, st, nil
}

// serverInRoom reports whether a user of server is joined in state.
func serverInRoom(ctx context.Context, store RoomStore, st stateres.StateMap, server string) (bool, error) {
	var ids []string
	for k, id := range st {
		if k.Type == event.TypeMember && serverOf(k.StateKey) == server {
			ids = append(ids, id)
		}
	}
	evs, err := store.Events(ctx, ids)
	if err != nil {
		return false, err
	}
	for _, e := range evs {
		if e.Event != nil && e.Event.Membership() == "join" {
			return true, nil
		}
	}
	return false, nil
}

// serversInRoom lists the servers with a joined member in state, sorted.
func serversInRoom(ctx context.Context, store RoomStore, st stateres.StateMap) ([]string, error) {
	var ids []string
	for k, id := range st {
		if k.Type == event.TypeMember {
			ids = append(ids, id)
		}
	}
	evs, err := store.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, e := range evs {
		if e.Event != nil && e.Event.Membership() == "join" {
			sk, _ := e.Event.StateKey()
			set[serverOf(sk)] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// loadEvent returns a stored, not rejected event of roomID ("" for any room).
func (s *Server) loadEvent(ctx context.Context, roomID, id string) (*event.Event, error) {
	evs, err := s.Rooms.Events(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	e := evs[0]
	if e.Event == nil || e.Rejected || (roomID != "" && e.Event.RoomID() != roomID) {
		return nil, notFoundErr("event " + id + " not found")
	}
	return e.Event, nil
}

func (s *Server) handleEvent(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) {
		return
	}
	ctx := r.Context()
	e, err := s.loadEvent(ctx, "", r.PathValue("eventId"))
	if err != nil {
		fail(w, err)
		return
	}
	org := origin(r)
	_, st, err := s.roomACL(ctx, e.RoomID(), org)
	if err != nil {
		fail(w, err)
		return
	}
	inRoom, err := serverInRoom(ctx, s.Rooms, st, org)
	if err != nil {
		fail(w, err)
		return
	}
	seen, err := s.serverViews(ctx, org, []*event.Event{e}, inRoom)
	if err != nil {
		fail(w, err)
		return
	}
	// A server in the room gets the event, redacted when it may not see
	// it (it needs the event for the room's graph), as the reference
	// server answers; a server outside the room gets only what it may
	// see (world_readable history) and 403 otherwise.
	if !seen[0] && !inRoom {
		fail(w, forbidden("server "+org+" is not in room "+e.RoomID()))
		return
	}
	pdus, err := visibleOrRedacted([]*event.Event{e}, seen)
	if err != nil {
		fail(w, err)
		return
	}
	s.writeTransaction(w, pdus)
}

func (s *Server) writeTransaction(w http.ResponseWriter, pdus []json.RawMessage) {
	respondJSON(w, http.StatusOK, transactionBody{Origin: s.ServerName, OriginServerTS: s.now().UnixMilli(), PDUs: pdus})
}

// stateBeforeEvent is the state before a stored event: the resolved states
// after its prev events.
func stateBeforeEvent(ctx context.Context, store RoomStore, e *event.Event) (stateres.StateMap, error) {
	if len(e.PrevEventIDs()) == 0 {
		return stateres.StateMap{}, nil
	}
	st, err := resolveAt(ctx, store, e.Version(), e.PrevEventIDs())
	if err != nil {
		return nil, notFoundErr("state at event " + e.ID() + " is not known")
	}
	return st, nil
}

// authChain returns the auth chain of the events: every event reachable
// through auth_events, the events themselves not included unless reached.
func authChain(ctx context.Context, store EventStore, evs []*event.Event) ([]*event.Event, error) {
	seen := map[string]bool{}
	var out []*event.Event
	var next []string
	for _, e := range evs {
		next = append(next, authEventIDs(e)...)
	}
	for len(next) > 0 {
		var batch []string
		for _, id := range next {
			if !seen[id] {
				seen[id] = true
				batch = append(batch, id)
			}
		}
		next = next[:0]
		st, err := store.Events(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, s := range st {
			if s.Event == nil {
				continue
			}
			out = append(out, s.Event)
			next = append(next, authEventIDs(s.Event)...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Depth() < out[j].Depth() })
	return out, nil
}

// stateAt answers /state and /state_ids: the state before the event and the
// auth chain of that state.
func (s *Server) stateAt(r *http.Request) (state, chain []*event.Event, err error) {
	ctx := r.Context()
	roomID := r.PathValue("roomId")
	eventID := r.URL.Query().Get("event_id")
	if eventID == "" {
		return nil, nil, badRequest(mxerr.MissingParam, "event_id is required")
	}
	if _, err := s.roomAccess(ctx, roomID, origin(r), true); err != nil {
		return nil, nil, err
	}
	e, err := s.loadEvent(ctx, roomID, eventID)
	if err != nil {
		return nil, nil, err
	}
	st, err := stateBeforeEvent(ctx, s.Rooms, e)
	if err != nil {
		return nil, nil, err
	}
	keys := sortedKeys(st)
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = st[k]
	}
	evs, err := s.Rooms.Events(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	for i, x := range evs {
		if x.Event == nil {
			return nil, nil, fmt.Errorf("state event %s is not stored", ids[i])
		}
		state = append(state, x.Event)
	}
	chain, err = authChain(ctx, s.Rooms, state)
	return state, chain, err
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) {
		return
	}
	state, chain, err := s.stateAt(r)
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, map[string][]json.RawMessage{"pdus": rawEvents(state), "auth_chain": rawEvents(chain)})
}

func (s *Server) handleStateIDs(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) {
		return
	}
	state, chain, err := s.stateAt(r)
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, StateIDs{PDUIDs: eventIDs(state), AuthChainIDs: eventIDs(chain)})
}

func rawEvents(evs []*event.Event) []json.RawMessage {
	out := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		out[i] = e.JSON()
	}
	return out
}

func eventIDs(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID()
	}
	return out
}

func (s *Server) handleEventAuth(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) {
		return
	}
	ctx := r.Context()
	roomID := r.PathValue("roomId")
	if _, err := s.roomAccess(ctx, roomID, origin(r), true); err != nil {
		fail(w, err)
		return
	}
	e, err := s.loadEvent(ctx, roomID, r.PathValue("eventId"))
	if err != nil {
		fail(w, err)
		return
	}
	chain, err := authChain(ctx, s.Rooms, []*event.Event{e})
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, map[string][]json.RawMessage{"auth_chain": rawEvents(chain)})
}

// walkPrev walks prev_events breadth-first from start (included when
// includeStart), skipping stop, collecting at most limit events whose depth is
// at least minDepth.
func walkPrev(ctx context.Context, store EventStore, roomID string, start, stop []string, includeStart bool, limit int, minDepth int64) ([]*event.Event, error) {
	seen := map[string]bool{}
	for _, id := range stop {
		seen[id] = true
	}
	var out []*event.Event
	next := slices.Clone(start)
	first := true
	for len(next) > 0 && len(out) < limit {
		var batch []string
		for _, id := range next {
			if !seen[id] {
				seen[id] = true
				batch = append(batch, id)
			}
		}
		next = nil
		st, err := store.Events(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, x := range st {
			e := x.Event
			if e == nil || x.Rejected || e.RoomID() != roomID || e.Depth() < minDepth {
				continue
			}
			if !first || includeStart {
				if len(out) == limit {
					break
				}
				out = append(out, e)
			}
			next = append(next, e.PrevEventIDs()...)
		}
		first = false
	}
	return out, nil
}

func (s *Server) handleBackfill(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) {
		return
	}
	ctx := r.Context()
	roomID := r.PathValue("roomId")
	q := r.URL.Query()
	from := q["v"]
	if len(from) == 0 {
		fail(w, badRequest(mxerr.MissingParam, "v is required"))
		return
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 0 {
		fail(w, badRequest(mxerr.InvalidParam, "limit must be a non-negative integer"))
		return
	}
	limit = min(limit, MaxBackfillLimit)
	if _, err := s.roomAccess(ctx, roomID, origin(r), true); err != nil {
		fail(w, err)
		return
	}
	evs, err := walkPrev(ctx, s.Rooms, roomID, from, nil, true, limit, 0)
	if err != nil {
		fail(w, err)
		return
	}
	pdus, err := s.filterForServer(ctx, origin(r), evs)
	if err != nil {
		fail(w, err)
		return
	}
	s.writeTransaction(w, pdus)
}

func (s *Server) handleGetMissingEvents(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) {
		return
	}
	ctx := r.Context()
	roomID := r.PathValue("roomId")
	var req struct {
		EarliestEvents []string `json:"earliest_events"`
		LatestEvents   []string `json:"latest_events"`
		Limit          *int     `json:"limit"`
		MinDepth       int64    `json:"min_depth"`
	}
	if err := s.decodeBody(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.EarliestEvents == nil || req.LatestEvents == nil {
		fail(w, badRequest(mxerr.BadJSON, "earliest_events and latest_events are required"))
		return
	}
	limit := 10 // the specification's default
	if req.Limit != nil {
		limit = *req.Limit
	}
	limit = max(0, min(limit, MaxMissingEventsLimit))
	if _, err := s.roomAccess(ctx, roomID, origin(r), true); err != nil {
		fail(w, err)
		return
	}
	// Walk from the latest events' parents; the latest events themselves
	// are what the requester has.
	evs, err := walkPrev(ctx, s.Rooms, roomID, req.LatestEvents, req.EarliestEvents, false, limit, req.MinDepth)
	if err != nil {
		fail(w, err)
		return
	}
	// Oldest first, as the reference server answers.
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Depth() < evs[j].Depth() })
	pdus, err := s.filterForServer(ctx, origin(r), evs)
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, map[string][]json.RawMessage{"events": pdus})
}

func (s *Server) handleTimestampToEvent(w http.ResponseWriter, r *http.Request) {
	idx, ok := s.Rooms.(TimestampIndex)
	if s.Rooms == nil || !ok {
		mxerr.Write(w, errUnrecognized)
		return
	}
	ctx := r.Context()
	roomID := r.PathValue("roomId")
	q := r.URL.Query()
	ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
	if err != nil {
		fail(w, badRequest(mxerr.InvalidParam, "ts must be an integer"))
		return
	}
	dir := q.Get("dir")
	if dir != "f" && dir != "b" {
		fail(w, badRequest(mxerr.InvalidParam, `dir must be "f" or "b"`))
		return
	}
	if _, err := s.roomAccess(ctx, roomID, origin(r), false); err != nil {
		fail(w, err)
		return
	}
	id, t, err := idx.EventAt(ctx, roomID, ts, dir)
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, TimestampEvent{EventID: id, OriginServerTS: t})
}
