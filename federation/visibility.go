package federation

import (
	"context"
	"encoding/json"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/stateres"
	"github.com/mxkit/mxkit/visibility"
)

// History visibility over federation.
//
// The handlers that serve events of a room's history (/event, /backfill,
// /get_missing_events) apply the history visibility rules of package
// visibility for the requesting server: a server may see an event if any
// of its users may, from the room state at the event. An event the server
// may not see is served redacted (content/client-server-api.md, "Redactions":
// the redaction algorithm of the room version), as the reference server
// serves it: the requesting server still needs the event to link the room's
// graph. /state, /state_ids and /event_auth serve the state and auth chain
// that a server in the room needs to check events; they are not history
// and are not filtered (the reference server does not filter them either).

// filterForServer returns the events as origin may have them: each as it is
// when origin may see it, redacted otherwise. The handlers that call it
// have already refused a server that is not in the room now.
func (s *Server) filterForServer(ctx context.Context, origin string, evs []*event.Event) ([]json.RawMessage, error) {
	seen, err := s.serverViews(ctx, origin, evs, true)
	if err != nil {
		return nil, err
	}
	return visibleOrRedacted(evs, seen)
}

// visibleOrRedacted is each event, or its redacted copy where seen is false.
func visibleOrRedacted(evs []*event.Event, seen []bool) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		if seen[i] {
			out[i] = e.JSON()
			continue
		}
		red, err := redact.Redact(e.Version(), e.JSON())
		if err != nil {
			return nil, err
		}
		out[i] = red
	}
	return out, nil
}

// serverViews reports, for each event, whether origin may see it (package
// visibility, ServerMaySee). inRoom says whether origin is in the room now
// (a user of it joined after the events). The state after each event comes
// from the store; for the events whose check reads the state before them
// too (history visibility changes, member events of origin's users) it is
// resolved from their prev events. An event whose state is not known (an
// outlier) has the default visibility, shared, as the reference server
// treats it.
func (s *Server) serverViews(ctx context.Context, origin string, evs []*event.Event, inRoom bool) ([]bool, error) {
	states, err := s.Rooms.StateAfter(ctx, eventIDs(evs))
	if err != nil {
		return nil, err
	}
	rd := stateReader{store: s.Rooms, server: origin, cache: map[string]*event.Event{}}
	out := make([]bool, len(evs))
	for i, e := range evs {
		var at visibility.At
		if at.After, err = rd.read(ctx, states[i]); err != nil {
			return nil, err
		}
		at.Before = at.After
		if states[i] != nil && visibility.ServerNeedsBefore(e, origin) {
			if before, err := stateBeforeEvent(ctx, s.Rooms, e); err == nil {
				if at.Before, err = rd.read(ctx, before); err != nil {
					return nil, err
				}
			}
		}
		out[i] = visibility.ServerMaySee(e, origin, at, inRoom)
	}
	return out, nil
}

// stateReader reads the visibility.State of room states for one server,
// loading each event once.
type stateReader struct {
	store  EventStore
	server string
	cache  map[string]*event.Event
}

var historyVisibilityKey = stateres.StateKey{Type: visibility.TypeHistoryVisibility}

// read reads the history visibility of st and, when it is invited or
// joined (the only values under which memberships matter), the
// memberships of the server's users.
func (r *stateReader) read(ctx context.Context, st stateres.StateMap) (visibility.State, error) {
	var out visibility.State
	if id, ok := st[historyVisibilityKey]; ok {
		if err := r.load(ctx, []string{id}); err != nil {
			return out, err
		}
		out.Visibility = visibility.Of(r.cache[id])
	}
	if v := out.Visibility; v != visibility.Invited && v != visibility.Joined {
		return out, nil
	}
	var ids []string
	for k, id := range st {
		if k.Type == event.TypeMember && visibility.ServerOf(k.StateKey) == r.server {
			ids = append(ids, id)
		}
	}
	if err := r.load(ctx, ids); err != nil {
		return out, err
	}
	for _, id := range ids {
		if m := r.cache[id]; m != nil {
			sk, _ := m.StateKey()
			out.Members = append(out.Members, visibility.Member{UserID: sk, Membership: m.Membership()})
		}
	}
	return out, nil
}

func (r *stateReader) load(ctx context.Context, ids []string) error {
	var need []string
	for _, id := range ids {
		if _, ok := r.cache[id]; !ok {
			need = append(need, id)
		}
	}
	if len(need) == 0 {
		return nil
	}
	evs, err := r.store.Events(ctx, need)
	if err != nil {
		return err
	}
	for i, e := range evs {
		r.cache[need[i]] = e.Event // nil when the store does not have it
	}
	return nil
}
