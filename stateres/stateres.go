package stateres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

// StateKey is the key of a room state entry: an event type and a state key.
type StateKey = eventauth.StateKey

// StateMap maps state keys to event IDs: a room state, or a set of changes
// to one.
type StateMap map[StateKey]string

// Stored is one event as the embedder's store has it.
type Stored struct {
	// Event is nil when the store does not have the event.
	Event *event.Event
	// Rejected reports that the event was rejected when it was received
	// (it failed the authorization checks against its auth events or the
	// state before it). Rejected events are never used as auth events
	// during the iterative auth checks.
	Rejected bool
}

// Store loads events for the resolver. It is the one thing an embedder
// must implement; MemoryStore is an implementation in memory.
type Store interface {
	// Events returns the events with the given IDs, in the order of ids.
	// An event the store does not have has a nil Event. The resolver asks
	// in batches and never asks twice for the same event in one
	// resolution.
	Events(ctx context.Context, ids []string) ([]Stored, error)
}

// Ref names a state event: its ID, type and state key.
type Ref struct {
	ID       string
	Type     string
	StateKey string
}

// AuthChainIndex may be implemented by a Store. It answers the one
// question the auth difference needs and that cannot be answered by
// walking auth events downwards without visiting the whole room: which
// events cite a given event.
//
// Without it, Resolve walks the auth chains of every unconflicted state
// event, which loads the room's whole auth graph. With it, the cost of a
// resolution follows the conflicted events and their auth chains.
type AuthChainIndex interface {
	// ReferencedBy returns, for each of ids in order, the state events
	// that list it in their auth_events (in any order). Events the index
	// does not know have no referrers.
	ReferencedBy(ctx context.Context, ids []string) ([][]Ref, error)
}

// Options tunes a resolution. The zero value (or nil) is the default.
type Options struct {
	// Trace, when not nil, is filled with the steps of the resolution.
	Trace *Trace
}

// Errors. Every error returned by Resolve wraps one of these, or comes
// from the Store or the context.
var (
	// ErrMissingEvent: an event that a state set names, or an event in an
	// auth chain that the algorithm must read, is not in the store.
	ErrMissingEvent = errors.New("stateres: event not found")
	// ErrBadStateSet: a state set entry does not match its event (the
	// event is not a state event, or its type and state key differ from
	// the entry's key).
	ErrBadStateSet = errors.New("stateres: state set entry does not match its event")
	// ErrAuthCycle: the auth events form a cycle, which no valid room
	// can contain.
	ErrAuthCycle = errors.New("stateres: auth events form a cycle")
	// ErrBadPowerLevels: a power levels event the ordering must read
	// cannot be interpreted.
	ErrBadPowerLevels = errors.New("stateres: unusable power levels event")
	// ErrUnknownAlgorithm: the room version names no known algorithm.
	ErrUnknownAlgorithm = errors.New("stateres: unknown state resolution algorithm")
)

// MissingEventError says which event was not found, and which event
// referred to it ("" for an event named by a state set).
type MissingEventError struct {
	ID         string
	ReferredBy string
}

func (e *MissingEventError) Error() string {
	if e.ReferredBy == "" {
		return fmt.Sprintf("stateres: event %s named by a state set not found", e.ID)
	}
	return fmt.Sprintf("stateres: event %s (an auth event of %s) not found", e.ID, e.ReferredBy)
}

// Unwrap makes errors.Is(err, ErrMissingEvent) true.
func (e *MissingEventError) Unwrap() error { return ErrMissingEvent }

// Resolve resolves the state sets by the state resolution algorithm of
// room version v (v.StateRes) and returns the resolved state.
//
// The order of stateSets and the iteration order of the maps do not
// change the result. Resolve reads events through store: the conflicted
// events, their auth chains and the unconflicted events the auth rules
// need. With fewer than two state sets there is nothing to resolve: the
// one set (or an empty state) is returned as a copy.
//
// The sets are compared with the first one (a map lookup per entry; a set
// given twice as the same map is not compared at all) and resolved as
// changes to it, so beyond that comparison and the copy of the result the
// cost follows the differences between the sets, as with ResolveChanges.
// An empty event ID in a set means the set has no entry for the key.
func Resolve(ctx context.Context, v roomversion.Version, stateSets []StateMap, store Store, opts *Options) (StateMap, error) {
	if len(stateSets) < 2 {
		changes, err := ResolveChanges(ctx, v, nil, stateSets, store, opts)
		if err != nil {
			return nil, err
		}
		dropEmpty(changes)
		return changes, nil
	}
	// Full state maps of a room share almost every entry. Taking the first
	// set as the base and the others as their differences from it makes
	// the resolution itself follow the differences: comparing the sets
	// costs a map lookup per entry, and the result is a copy of the base
	// with the resolved changes applied, not a map built key by key.
	base := stateSets[0]
	empties := -1 // base's entries with an empty event ID (-1: not counted yet)
	changes := make([]StateMap, len(stateSets))
	for i, s := range stateSets[1:] {
		changes[i+1] = diffStateMaps(base, s, &empties)
	}
	out, err := ResolveChanges(ctx, v, base, changes, store, opts)
	if err != nil {
		return nil, err
	}
	res := maps.Clone(base)
	if empties != 0 {
		dropEmpty(res)
	}
	for k, id := range out {
		if id == "" {
			delete(res, k)
		} else {
			res[k] = id
		}
	}
	if opts != nil && opts.Trace != nil {
		// The trace shows what Resolve returns: the resolved state.
		opts.Trace.Result = maps.Clone(res)
	}
	return res, nil
}

// dropEmpty deletes the entries with an empty event ID (no entry).
func dropEmpty(m StateMap) {
	for k, id := range m {
		if id == "" {
			delete(m, k)
		}
	}
}

// diffStateMaps returns the changes that turn base into s: an empty
// event ID removes a key. It is nil when s is base itself. When it has to
// walk base, it counts base's empty entries into *empties.
func diffStateMaps(base, s StateMap, empties *int) StateMap {
	if reflect.ValueOf(s).UnsafePointer() == reflect.ValueOf(base).UnsafePointer() {
		return nil
	}
	var d StateMap
	shared := 0 // keys with an entry in both
	for k, id := range s {
		bid := base[k]
		if id != "" && bid != "" {
			shared++
		}
		if id != bid {
			if d == nil {
				d = make(StateMap)
			}
			d[k] = id
		}
	}
	if shared == len(base) {
		// Every key of base has an entry in s (so none is empty).
		*empties = 0
		return d
	}
	// Some of base's keys have no entry in s, or base has empty entries.
	n := 0
	for k, id := range base {
		if id == "" {
			n++
			continue
		}
		if s[k] == "" {
			if d == nil {
				d = make(StateMap)
			}
			d[k] = ""
		}
	}
	*empties = n
	return d
}

// ResolveChanges is Resolve for state sets given as changes to a shared
// base state, the way servers usually keep state (a state group and the
// deltas of each fork since). Set i is base with changes[i] applied; an
// empty event ID in changes[i] removes the key.
//
// It returns the resolved state as changes to base (an empty event ID
// removes a key). Keys that no set changes are unconflicted and never
// looked at, so the cost follows the size of the changes and the auth
// chains of the conflicted events, not the size of base, provided store
// also implements AuthChainIndex.
func ResolveChanges(ctx context.Context, v roomversion.Version, base StateMap, changes []StateMap, store Store, opts *Options) (StateMap, error) {
	var tr *Trace
	if opts != nil {
		tr = opts.Trace
	}
	if tr != nil {
		*tr = Trace{Algorithm: v.StateRes}
	}
	r := newResolver(ctx, v, store, tr)
	defer r.release()
	switch v.StateRes {
	case roomversion.StateResV1:
		return r.resolveV1(base, changes)
	case roomversion.StateResV2, roomversion.StateResV21:
		return r.resolveV2(base, changes)
	}
	return nil, fmt.Errorf("%w: %v (room version %q)", ErrUnknownAlgorithm, v.StateRes, v.ID)
}
