package federation

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
)

// ErrUnknownRoom is returned (wrapped) by a RoomVersions implementation for a
// room the server does not know.
var ErrUnknownRoom = errors.New("federation: unknown room")

// Status is how a stored event was received (content/server-server-api.md,
// "Checks performed on receipt of a PDU", "Rejection", "Soft failure").
type Status uint8

const (
	// Accepted: the event passed every check. It becomes a forward
	// extremity of its room.
	Accepted Status = iota
	// SoftFailed: the event passed the checks against its auth events and
	// the state before it, but not against the room's current state. It is
	// served over federation and takes part in state resolution, but is not
	// a forward extremity and is not shown to clients.
	SoftFailed
	// Rejected: the event failed the checks against its auth events or the
	// state before it. Its state is not applied and it is never an auth
	// event or a prev event of new events.
	Rejected
	// Outlier: an event known outside the room's graph (the state and auth
	// chain received when joining, events fetched to fill a gap). Its own
	// auth events were checked; the state around it is not known.
	Outlier
)

func (s Status) String() string {
	switch s {
	case Accepted:
		return "accepted"
	case SoftFailed:
		return "soft_failed"
	case Rejected:
		return "rejected"
	case Outlier:
		return "outlier"
	}
	return "unknown"
}

// NewEvent is an event to store, with what the server concluded about it.
type NewEvent struct {
	Event  *event.Event
	Status Status
	// StateAfter is the room state after the event (the state before it,
	// plus the event itself when it is a state event that was not
	// rejected). Nil for an Outlier.
	StateAfter stateres.StateMap
	// ReplacesExtremities makes this Accepted event the room's only
	// forward extremity, whatever was one before. Server.Join sets it on
	// the join completing a send_join: from then on the room's state is
	// what the resident server sent (stored as outliers, which move no
	// extremity), so an extremity left from before we were out of the
	// room (a ban lifted while we were away) is stale; kept, it would be
	// cited as a prev event of our next event and make the resident
	// server reject it.
	ReplacesExtremities bool
	// Historical marks an event fetched by backfill (Receiver.Backfill):
	// older than what the room has, it moves neither the forward
	// extremities nor the current state, and a store orders it before
	// the events it has (it is history, not news).
	Historical bool
}

// RoomVersions says which room version a room has.
type RoomVersions interface {
	// RoomVersion returns the version of roomID, or an error wrapping
	// ErrUnknownRoom.
	RoomVersion(ctx context.Context, roomID string) (roomversion.Version, error)
}

// EventStore loads stored events in batches. It has the shape of
// stateres.Store, so that the same store serves state resolution.
type EventStore interface {
	// Events returns the events with the given IDs, in the order of ids;
	// an event the store does not have has a nil Event. Rejected is set
	// for events stored with the status Rejected.
	Events(ctx context.Context, ids []string) ([]stateres.Stored, error)
}

// StateStore gives the room state after events and the forward extremities
// of a room.
type StateStore interface {
	// StateAfter returns the state after each of eventIDs, in order; nil
	// for an event that is unknown or an outlier.
	StateAfter(ctx context.Context, eventIDs []string) ([]stateres.StateMap, error)
	// ForwardExtremities returns the room's forward extremities: the
	// accepted events that no accepted event lists as a prev event.
	ForwardExtremities(ctx context.Context, roomID string) ([]string, error)
}

// EventWriter stores new events of one room.
type EventWriter interface {
	// StoreEvents stores events in order (an event already stored is left
	// as it is, except an outlier stored again as Historical, which takes
	// its place in the room's history). The first event stored for a room (its create event, or
	// the events received when joining) makes the room known, with the
	// version of its events. An Accepted event becomes a forward
	// extremity and its prev events stop being ones (with
	// ReplacesExtremities, it becomes the only one); other statuses, and
	// Historical events, leave the extremities alone.
	StoreEvents(ctx context.Context, roomID string, events []NewEvent) error
}

// RoomStore is the storage that the receive pipeline, the room handlers and
// the membership flows use. Each of its parts is a small interface on its
// own; MemoryRoomStore implements it.
type RoomStore interface {
	RoomVersions
	EventStore
	StateStore
	EventWriter
}

// MemoryRoomStore is a RoomStore in memory, for tests, examples and small
// tools. It also implements stateres.AuthChainIndex and TimestampIndex. It is
// safe for concurrent use.
type MemoryRoomStore struct {
	mu     sync.RWMutex
	events map[string]*memEvent
	rooms  map[string]*memRoom
	refs   map[string][]stateres.Ref // auth event ID -> state events citing it
}

type memEvent struct {
	ev     *event.Event
	status Status
	state  stateres.StateMap
	seq    int
}

type memRoom struct {
	version     roomversion.Version
	extremities []string
	order       []string // accepted and soft-failed events, in the order stored
}

// NewMemoryRoomStore returns an empty store.
func NewMemoryRoomStore() *MemoryRoomStore {
	return &MemoryRoomStore{
		events: map[string]*memEvent{},
		rooms:  map[string]*memRoom{},
		refs:   map[string][]stateres.Ref{},
	}
}

// RoomVersion implements RoomVersions.
func (s *MemoryRoomStore) RoomVersion(ctx context.Context, roomID string) (roomversion.Version, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.rooms[roomID]
	if r == nil {
		return roomversion.Version{}, ErrUnknownRoom
	}
	return r.version, nil
}

// Events implements EventStore.
func (s *MemoryRoomStore) Events(ctx context.Context, ids []string) ([]stateres.Stored, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]stateres.Stored, len(ids))
	for i, id := range ids {
		if e := s.events[id]; e != nil {
			out[i] = stateres.Stored{Event: e.ev, Rejected: e.status == Rejected}
		}
	}
	return out, nil
}

// Status returns the status of a stored event, and false when it is unknown.
func (s *MemoryRoomStore) Status(id string) (Status, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.events[id]
	if e == nil {
		return 0, false
	}
	return e.status, true
}

// StateAfter implements StateStore. The maps returned must not be modified.
func (s *MemoryRoomStore) StateAfter(ctx context.Context, ids []string) ([]stateres.StateMap, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]stateres.StateMap, len(ids))
	for i, id := range ids {
		if e := s.events[id]; e != nil {
			out[i] = e.state
		}
	}
	return out, nil
}

// ForwardExtremities implements StateStore.
func (s *MemoryRoomStore) ForwardExtremities(ctx context.Context, roomID string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.rooms[roomID]
	if r == nil {
		return nil, ErrUnknownRoom
	}
	return slices.Clone(r.extremities), nil
}

// StoreEvents implements EventWriter.
func (s *MemoryRoomStore) StoreEvents(ctx context.Context, roomID string, evs []NewEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ne := range evs {
		if ne.Event == nil {
			return errors.New("federation: StoreEvents: nil event")
		}
		id := ne.Event.ID()
		if old := s.events[id]; old != nil && !(ne.Historical && old.state == nil && ne.StateAfter != nil) {
			continue // stored; only an outlier may become history
		}
		r := s.rooms[roomID]
		if r == nil {
			r = &memRoom{version: ne.Event.Version()}
			s.rooms[roomID] = r
		}
		s.events[id] = &memEvent{ev: ne.Event, status: ne.Status, state: ne.StateAfter, seq: len(s.events)}
		if sk, ok := ne.Event.StateKey(); ok {
			for _, a := range ne.Event.AuthEventIDs() {
				s.refs[a] = append(s.refs[a], stateres.Ref{ID: id, Type: ne.Event.Type(), StateKey: sk})
			}
		}
		if ne.Historical {
			if ne.Status == Accepted || ne.Status == SoftFailed {
				r.order = append([]string{id}, r.order...)
			}
			continue
		}
		if ne.Status == Accepted || ne.Status == SoftFailed {
			r.order = append(r.order, id)
		}
		if ne.Status == Accepted && ne.ReplacesExtremities {
			r.extremities = append(r.extremities[:0], id)
		} else if ne.Status == Accepted {
			prev := ne.Event.PrevEventIDs()
			r.extremities = slices.DeleteFunc(r.extremities, func(x string) bool { return slices.Contains(prev, x) })
			r.extremities = append(r.extremities, id)
		}
	}
	return nil
}

// ReferencedBy implements stateres.AuthChainIndex.
func (s *MemoryRoomStore) ReferencedBy(ctx context.Context, ids []string) ([][]stateres.Ref, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]stateres.Ref, len(ids))
	for i, id := range ids {
		out[i] = s.refs[id]
	}
	return out, nil
}

// TimestampIndex finds the event of a room closest to a time; it serves
// GET /timestamp_to_event. It is optional: a RoomStore that does not
// implement it makes that endpoint answer 404 M_UNRECOGNIZED.
type TimestampIndex interface {
	// EventAt returns the accepted event closest to ts in direction dir
	// ("f": at or after ts, "b": at or before), or an error wrapping
	// ErrNotFound.
	EventAt(ctx context.Context, roomID string, ts int64, dir string) (eventID string, originServerTS int64, err error)
}

// ErrNotFound is wrapped by lookups that found nothing.
var ErrNotFound = errors.New("federation: not found")

// EventAt implements TimestampIndex.
func (s *MemoryRoomStore) EventAt(ctx context.Context, roomID string, ts int64, dir string) (string, int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.rooms[roomID]
	if r == nil {
		return "", 0, ErrNotFound
	}
	best, bestTS := "", int64(0)
	for _, id := range r.order {
		e := s.events[id]
		t := e.ev.OriginServerTS()
		switch {
		case dir == "f" && t >= ts && (best == "" || t < bestTS),
			dir == "b" && t <= ts && (best == "" || t > bestTS):
			best, bestTS = id, t
		}
	}
	if best == "" {
		return "", 0, ErrNotFound
	}
	return best, bestTS, nil
}

// RoomEvents returns the accepted and soft-failed events of a room in the
// order they were stored, with their statuses; for tests and tools.
func (s *MemoryRoomStore) RoomEvents(roomID string) ([]*event.Event, []Status) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.rooms[roomID]
	if r == nil {
		return nil, nil
	}
	evs := make([]*event.Event, len(r.order))
	sts := make([]Status, len(r.order))
	for i, id := range r.order {
		evs[i] = s.events[id].ev
		sts[i] = s.events[id].status
	}
	return evs, sts
}

// sortedKeys returns the keys of a state map sorted, for stable output.
func sortedKeys(m stateres.StateMap) []stateres.StateKey {
	keys := make([]stateres.StateKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Type != keys[j].Type {
			return keys[i].Type < keys[j].Type
		}
		return keys[i].StateKey < keys[j].StateKey
	})
	return keys
}
