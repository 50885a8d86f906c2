package main

import (
	"context"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/stateres"
	"github.com/mxkit/mxkit/visibility"
)

// historyFilter applies the history visibility rules (package visibility;
// client-server API, "Room History Visibility") to the events of one room
// for one user: /messages, /context, /event and the sync timelines show
// only what the user may see. The state at each event is the state after
// it (its state group, read once per group); for the events whose check
// also reads the state before them (history visibility changes and the
// user's own member events) that state is resolved from their prev events.
type historyFilter struct {
	c              *Client
	roomID, userID string
	joins          []int64 // streams at which the user joined the room, ascending
	cache          map[string]*event.Event
	byGroup        map[int64]visibility.State // what read found in each state group
}

func (c *Client) historyFilter(ctx context.Context, roomID, userID string) (*historyFilter, error) {
	rows, err := c.db.query(ctx, `SELECT stream FROM membership_log WHERE room_id = ? AND user_id = ? AND membership = 'join' ORDER BY stream`, roomID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	f := &historyFilter{c: c, roomID: roomID, userID: userID, cache: map[string]*event.Event{}, byGroup: map[int64]visibility.State{}}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		f.joins = append(f.joins, s)
	}
	return f, rows.Err()
}

// joinedAfter reports whether the user joined the room after stream (rule
// 3 of "Server behaviour": shared history is for users who joined later).
func (f *historyFilter) joinedAfter(stream int64) bool {
	return len(f.joins) > 0 && f.joins[len(f.joins)-1] > stream
}

// filter returns the events of evs the user may see, in order.
func (f *historyFilter) filter(ctx context.Context, evs []*StoredEvent) ([]*StoredEvent, error) {
	out := make([]*StoredEvent, 0, len(evs))
	for _, se := range evs {
		ok, err := f.visible(ctx, se)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, se)
		}
	}
	return out, nil
}

// visible reports whether the user may see se, from the state after it
// (its state group; none known: the default visibility, shared, applies).
func (f *historyFilter) visible(ctx context.Context, se *StoredEvent) (bool, error) {
	var at visibility.At
	if se.After != 0 {
		var ok bool
		if at.After, ok = f.byGroup[se.After]; !ok {
			g, err := f.c.rooms.Group(ctx, se.After)
			if err != nil {
				return false, err
			}
			if at.After, err = f.read(ctx, g); err != nil {
				return false, err
			}
			f.byGroup[se.After] = at.After
		}
	}
	at.Before = at.After
	if se.After != 0 && visibility.NeedsBefore(se.Event, f.userID) {
		before, err := f.stateBefore(ctx, se.Event)
		if err != nil {
			return false, err
		}
		if at.Before, err = f.read(ctx, before); err != nil {
			return false, err
		}
	}
	return visibility.UserMaySee(se.Event, f.userID, at, f.joinedAfter(se.Stream)), nil
}

// stateBefore is the state before ev: the state after its prev event, or
// the resolution of the states after its prev events.
func (f *historyFilter) stateBefore(ctx context.Context, ev *event.Event) (stateres.StateMap, error) {
	prev := ev.PrevEventIDs()
	if len(prev) == 0 {
		return stateres.StateMap{}, nil
	}
	states, err := f.c.rooms.StateAfter(ctx, prev)
	if err != nil {
		return nil, err
	}
	known := states[:0:0]
	for _, st := range states {
		if st != nil {
			known = append(known, st)
		}
	}
	switch len(known) {
	case 0:
		return stateres.StateMap{}, nil
	case 1:
		return known[0], nil
	}
	return stateres.Resolve(ctx, ev.Version(), known, stateStore{f.c.rooms}, nil)
}

// read reads what the rules need from a state: the history visibility
// and the user's membership.
func (f *historyFilter) read(ctx context.Context, st stateres.StateMap) (visibility.State, error) {
	var ids []string
	for _, k := range []stateKey{{Type: visibility.TypeHistoryVisibility}, {Type: event.TypeMember, StateKey: f.userID}} {
		if id, ok := st[k]; ok {
			if _, seen := f.cache[id]; !seen {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) > 0 {
		evs, err := f.c.rooms.load(ctx, ids)
		if err != nil {
			return visibility.State{}, err
		}
		for _, id := range ids {
			f.cache[id] = nil
			if se := evs[id]; se != nil {
				f.cache[id] = se.Event
			}
		}
	}
	lookup := eventLookup{st: st, cache: f.cache}
	return visibility.FromState(lookup, f.userID), nil
}

// eventLookup serves a state map of event IDs as an eventauth.State from
// the events loaded in cache.
type eventLookup struct {
	st    stateres.StateMap
	cache map[string]*event.Event
}

func (l eventLookup) StateEvent(typ, stateKey string) *event.Event {
	id, ok := l.st[stateres.StateKey{Type: typ, StateKey: stateKey}]
	if !ok {
		return nil
	}
	return l.cache[id]
}
