package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
)

// room is a room's events as a DAG, in an order where every event comes
// after the prev events it has in the room.
type room struct {
	version roomversion.Version
	roomID  string
	source  string // where the room came from, for people

	events   []*event.Event
	index    map[string]int
	parents  [][]int // prev events present in the room
	children [][]int
	rejected []bool
	store    *stateres.MemoryStore

	// stateSets are the state sets the input names, if it names any, and
	// setLabels what each is.
	stateSets []stateres.StateMap
	setLabels []string
	setsTitle string
	// extremities, when not nil, are the forward extremities as a server
	// recorded them.
	extremities []int
	// stateAfter, when not nil, gives the state after an event without
	// computing it (a server's database keeps it).
	stateAfter func(i int) (stateres.StateMap, error)
}

// newRoom orders evs so that parents come first (ties by depth, then
// origin_server_ts, then event ID) and indexes the graph. Events whose
// prev events are not among evs start the graph.
func newRoom(v roomversion.Version, evs []*event.Event, rejected map[string]bool) (*room, error) {
	r := &room{version: v, index: make(map[string]int, len(evs)), store: stateres.NewMemoryStore()}
	byID := make(map[string]*event.Event, len(evs))
	for _, ev := range evs {
		if _, dup := byID[ev.ID()]; dup {
			return nil, fmt.Errorf("event %s appears twice", ev.ID())
		}
		byID[ev.ID()] = ev
	}
	// Kahn's algorithm over prev edges, with a heap-free priority: the
	// ready set is kept sorted.
	pending := make(map[string]int, len(evs))
	kids := make(map[string][]string, len(evs))
	var ready []*event.Event
	for _, ev := range evs {
		n := 0
		for _, p := range uniq(ev.PrevEventIDs()) {
			if _, ok := byID[p]; ok {
				n++
				kids[p] = append(kids[p], ev.ID())
			}
		}
		pending[ev.ID()] = n
		if n == 0 {
			ready = append(ready, ev)
		}
	}
	less := func(a, b *event.Event) int {
		return cmp.Or(cmp.Compare(a.Depth(), b.Depth()), cmp.Compare(a.OriginServerTS(), b.OriginServerTS()), cmp.Compare(a.ID(), b.ID()))
	}
	slices.SortFunc(ready, less)
	for len(ready) > 0 {
		ev := ready[0]
		ready = ready[1:]
		r.index[ev.ID()] = len(r.events)
		r.events = append(r.events, ev)
		var newly []*event.Event
		for _, k := range kids[ev.ID()] {
			if pending[k]--; pending[k] == 0 {
				newly = append(newly, byID[k])
			}
		}
		if len(newly) > 0 {
			ready = append(ready, newly...)
			slices.SortFunc(ready, less)
		}
	}
	if len(r.events) != len(evs) {
		return nil, errors.New("the prev events form a cycle")
	}
	r.parents = make([][]int, len(r.events))
	r.children = make([][]int, len(r.events))
	r.rejected = make([]bool, len(r.events))
	for i, ev := range r.events {
		for _, p := range uniq(ev.PrevEventIDs()) {
			if j, ok := r.index[p]; ok {
				r.parents[i] = append(r.parents[i], j)
				r.children[j] = append(r.children[j], i)
			}
		}
		if rejected[ev.ID()] {
			r.rejected[i] = true
			r.store.AddRejected(ev)
		} else {
			r.store.Add(ev)
		}
		if r.roomID == "" && ev.Type() != "m.room.create" {
			r.roomID = ev.RoomID()
		}
	}
	if r.roomID == "" && len(r.events) > 0 {
		r.roomID = r.events[0].RoomID()
	}
	return r, nil
}

func uniq(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// tips are the events no other event of the room names as a prev event
// (the forward extremities), rejected events aside.
func (r *room) tips() []int {
	if r.extremities != nil {
		return r.extremities
	}
	var out []int
	for i := range r.events {
		if len(r.children[i]) == 0 && !r.rejected[i] {
			out = append(out, i)
		}
	}
	return out
}

// forks are the events that more than one event names as a prev event.
func (r *room) forks() []int {
	var out []int
	for i := range r.events {
		if len(r.children[i]) > 1 {
			out = append(out, i)
		}
	}
	return out
}

// resolution is one state resolution: the state sets and its trace.
type resolution struct {
	Title  string
	Labels []string // one per state set
	Sets   []stateres.StateMap
	Trace  stateres.Trace
	Result stateres.StateMap
}

// chooseResolution picks the resolution to explain: the state before the
// event at (the resolution of its prev events' states), or else the state
// sets the input named, or else the states at the forward extremities.
func (r *room) chooseResolution(ctx context.Context, at string) (*resolution, error) {
	res := &resolution{}
	switch {
	case at != "":
		i, ok := r.index[at]
		if !ok {
			return nil, fmt.Errorf("-at: no event %s in the room", at)
		}
		if len(r.parents[i]) < 2 {
			return nil, fmt.Errorf("-at: %s has %d prev events in the room; the state before it needs no resolution", at, len(r.parents[i]))
		}
		states, err := r.statesAfter(ctx, r.parents[i])
		if err != nil {
			return nil, err
		}
		res.Title = "the state before " + at + " (a merge of its prev events)"
		for _, p := range r.parents[i] {
			res.Labels = append(res.Labels, "after "+r.events[p].ID())
			res.Sets = append(res.Sets, states[p])
		}
	case len(r.stateSets) > 0:
		res.Title = "the state sets of the input"
		if r.setsTitle != "" {
			res.Title = r.setsTitle
		}
		res.Sets = r.stateSets
		res.Labels = r.setLabels
		for k := len(res.Labels); k < len(r.stateSets); k++ {
			res.Labels = append(res.Labels, fmt.Sprintf("state set %d", k+1))
		}
	default:
		tips := r.tips()
		states, err := r.statesAfter(ctx, tips)
		if err != nil {
			return nil, err
		}
		res.Title = fmt.Sprintf("the states at the %d forward extremities", len(tips))
		for _, t := range tips {
			res.Labels = append(res.Labels, "after "+r.events[t].ID())
			res.Sets = append(res.Sets, states[t])
		}
	}
	var err error
	res.Result, err = stateres.Resolve(ctx, r.version, res.Sets, r.store, &stateres.Options{Trace: &res.Trace})
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", res.Title, err)
	}
	return res, nil
}

// statesAfter returns the state after each of the wanted events. Without
// a stored state it walks the room from its start: the state before an
// event is its one parent's state, or the resolution of its parents'
// states; a rejected event changes nothing. A state map is copied only
// where the graph forks.
func (r *room) statesAfter(ctx context.Context, wanted []int) (map[int]stateres.StateMap, error) {
	out := map[int]stateres.StateMap{}
	if r.stateAfter != nil {
		for _, i := range wanted {
			s, err := r.stateAfter(i)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	want := map[int]bool{}
	last := 0
	for _, i := range wanted {
		want[i] = true
		last = max(last, i)
	}
	remaining := make([]int, len(r.events))
	for i := range r.events {
		remaining[i] = len(r.children[i])
	}
	after := map[int]stateres.StateMap{}
	release := func(p int) bool {
		remaining[p]--
		if remaining[p] == 0 && !want[p] {
			delete(after, p)
			return true
		}
		return false
	}
	// take hands over a parent's state to its child: the map itself when
	// no other event needs it, else a copy.
	take := func(p int) stateres.StateMap {
		s := after[p]
		if release(p) {
			return s
		}
		return maps.Clone(s)
	}
	for i := 0; i <= last; i++ {
		var before stateres.StateMap
		switch ps := r.parents[i]; len(ps) {
		case 0:
			before = stateres.StateMap{}
		case 1:
			before = take(ps[0])
		default:
			sets := make([]stateres.StateMap, len(ps))
			for k, p := range ps {
				sets[k] = after[p]
			}
			var err error
			if before, err = stateres.Resolve(ctx, r.version, sets, r.store, nil); err != nil {
				return nil, fmt.Errorf("resolving the state before %s: %w", r.events[i].ID(), err)
			}
			for _, p := range ps {
				release(p)
			}
		}
		ev := r.events[i]
		if sk, ok := ev.StateKey(); ok && !r.rejected[i] {
			before[stateres.StateKey{Type: ev.Type(), StateKey: sk}] = ev.ID()
		}
		if remaining[i] > 0 || want[i] {
			after[i] = before
		}
		if want[i] {
			out[i] = before
		}
	}
	return out, nil
}

// parseEvents parses raw events of version v. An event with an "event_id"
// is taken with that ID (any room version, as mxtool's inputs do);
// without one its ID is computed (room versions 3 and later).
func parseEvents(v roomversion.Version, raws []json.RawMessage) ([]*event.Event, error) {
	out := make([]*event.Event, 0, len(raws))
	for k, raw := range raws {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '{' {
			return nil, fmt.Errorf("events[%d] is not an object", k)
		}
		var head struct {
			EventID *string `json:"event_id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("events[%d]: %v", k, err)
		}
		var ev *event.Event
		var err error
		if head.EventID != nil {
			ev, err = event.ParseWithID(v, raw, *head.EventID)
		} else {
			ev, err = event.Parse(v, raw)
		}
		if err != nil {
			return nil, fmt.Errorf("events[%d]: %w", k, err)
		}
		out = append(out, ev)
	}
	return out, nil
}
