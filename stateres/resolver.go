package stateres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

// Event types and memberships the algorithms look at.
const (
	typeCreate      = "m.room.create"
	typePowerLevels = "m.room.power_levels"
	typeJoinRules   = "m.room.join_rules"
	typeMember      = "m.room.member"
)

var (
	keyCreate      = StateKey{Type: typeCreate}
	keyPowerLevels = StateKey{Type: typePowerLevels}
)

// none marks the absence of an event index.
const none int32 = -1

// node is one event of the resolution, addressed by a dense index.
type node struct {
	id       string
	ev       *event.Event // nil until loaded (or when the store lacks it)
	loaded   bool
	rejected bool
	auth     []int32 // distinct auth events, in the order the event lists them
	key      StateKey
	state    bool

	// Computed at most once per event.
	plDone bool
	pl     eventauth.Level // the sender's power level at the event's auth events, exact
	mlDone bool
	ml     int64 // mainline position (mlInfinite when none)

	neededDone bool
	needed     []StateKey
	slots      []int32 // the key slot of each needed key
	neededErr  error
	ownSlot    int32 // the key slot of the event's own key, plus one (0: not yet)

	flags  uint8 // the sets the event belongs to in the current step
	uState uint8 // 0 not known, 1 in the unconflicted state map, 2 not
}

// Node flags.
const (
	inD    uint8 = 1 << iota // in the auth closure of the conflicted events
	inK                      // in the conflicted state set
	inFCS                    // in the full conflicted set
	inX                      // among the power events and their auth ancestors
	inMain                   // on the mainline
	inPath                   // on the walk being made
)

// resolver holds one resolution: the events it has touched, by index.
type resolver struct {
	ctx   context.Context
	v     roomversion.Version
	store Store
	index AuthChainIndex
	trace *Trace

	ids   map[string]int32
	nodes []node

	// The unconflicted state: agreed entries over base. A conflicted key
	// is in agreed with "" (absent from the unconflicted state map).
	base        StateMap
	agreed      StateMap
	removed     []StateKey // agreed keys every set removed
	nConflicted int        // conflicted keys hold key slots 0 to nConflicted-1 (v2)

	// The create event for room versions whose events do not cite it
	// (looked up from the room ID), by room ID.
	creates map[string]int32

	as authState
	ps plainState

	// Key slots: each state key the checks touch gets a dense number, so
	// that the state built by the iterative auth checks is a slice.
	keyIDs     map[StateKey]int32
	keys       []StateKey
	keyU       []int32 // the unconflicted event of each key (interned), or none
	keyRes     []int32 // the event the checks have put at each key, or none
	startFromU bool    // the checks start from the unconflicted state map (v2)

	slotPL, slotCreate, slotJoinRules int32 // their slots, plus one (0: not yet)

	arena      []int32
	arenaBlock []int32 // the block arena is cut from
	// keyArena holds the events' auth events selections (node.needed),
	// cut from keyBlock, so that each selection costs no allocation.
	keyArena []StateKey
	keyBlock []StateKey
	reused   bool // the maps and buffers come from the pool
}

// resolverPool keeps the buffers of finished resolutions (event table,
// maps, key slots, arena) for the next one: a resolution of a common fork
// otherwise spends much of its time allocating and collecting them.
var resolverPool sync.Pool

// maxPooled bounds the events of a resolver put back in the pool: clearing
// a map costs its capacity, and a rare huge resolution should not keep its
// memory.
const maxPooled = 1 << 13

func newResolver(ctx context.Context, v roomversion.Version, store Store, tr *Trace) *resolver {
	r, _ := resolverPool.Get().(*resolver)
	if r == nil {
		r = &resolver{ids: make(map[string]int32)}
	}
	r.ctx, r.v, r.store, r.trace = ctx, v, store, tr
	if ix, ok := store.(AuthChainIndex); ok {
		r.index = ix
	}
	return r
}

// release clears r, keeping its buffers, and puts it in the pool. Nothing
// a resolution returns refers to them.
func (r *resolver) release() {
	if len(r.nodes) > maxPooled || len(r.agreed) > maxPooled || len(r.keys) > maxPooled {
		return
	}
	clear(r.nodes)
	clear(r.ids)
	clear(r.agreed)
	clear(r.keyIDs)
	clear(r.keys)
	clear(r.removed)
	keep := resolver{
		ids:        r.ids,
		nodes:      r.nodes[:0],
		agreed:     r.agreed,
		removed:    r.removed[:0],
		keyIDs:     r.keyIDs,
		keys:       r.keys[:0],
		keyU:       r.keyU[:0],
		keyRes:     r.keyRes[:0],
		arena:      r.arenaBlock,
		arenaBlock: r.arenaBlock,
		keyArena:   r.keyBlock,
		keyBlock:   r.keyBlock,
		reused:     true,
	}
	clear(keep.arena)
	clear(keep.keyArena)
	*r = keep
	resolverPool.Put(r)
}

// intern returns the index of the event ID, adding an unloaded node.
func (r *resolver) intern(id string) int32 {
	if i, ok := r.ids[id]; ok {
		return i
	}
	i := int32(len(r.nodes))
	r.nodes = append(r.nodes, node{id: id})
	r.ids[id] = i
	return i
}

// load fetches the events not loaded yet, in one batch. referrer says,
// for error messages, which event cited each (none for state set entries).
func (r *resolver) load(idx []int32, referrer []int32) error {
	n := 0
	for _, i := range idx {
		if !r.nodes[i].loaded {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	want := make([]string, 0, n)
	wantIdx := make([]int32, 0, n)
	var wantRef []int32
	if referrer != nil {
		wantRef = make([]int32, 0, n)
	}
	for k, i := range idx {
		if r.nodes[i].loaded {
			continue
		}
		r.nodes[i].loaded = true // asked once; a duplicate in idx is skipped
		want = append(want, r.nodes[i].id)
		wantIdx = append(wantIdx, i)
		if referrer != nil {
			wantRef = append(wantRef, referrer[k])
		}
	}
	if len(want) == 0 {
		return nil
	}
	if err := r.ctx.Err(); err != nil {
		return err
	}
	got, err := r.store.Events(r.ctx, want)
	if err != nil {
		return fmt.Errorf("stateres: loading events: %w", err)
	}
	if len(got) != len(want) {
		return fmt.Errorf("stateres: store returned %d events for %d IDs", len(got), len(want))
	}
	for k, s := range got {
		i := wantIdx[k]
		if s.Event == nil {
			ref := ""
			if wantRef != nil && wantRef[k] != none {
				ref = r.nodes[wantRef[k]].id
			}
			return &MissingEventError{ID: want[k], ReferredBy: ref}
		}
		r.setEvent(i, s.Event, s.Rejected)
	}
	return nil
}

func (r *resolver) setEvent(i int32, ev *event.Event, rejected bool) {
	authIDs := ev.AuthEventIDs()
	auth := r.alloc(len(authIDs))[:0]
	for _, a := range authIDs {
		j := r.intern(a)
		if !slices.Contains(auth, j) {
			auth = append(auth, j)
		}
	}
	n := &r.nodes[i]
	n.ev = ev
	n.rejected = rejected
	n.auth = auth
	sk, ok := ev.StateKey()
	n.state = ok
	n.key = StateKey{Type: ev.Type(), StateKey: sk}
}

// loadAuth loads the auth events of the given (loaded) events.
func (r *resolver) loadAuth(idx []int32) error {
	var want, ref []int32
	for _, i := range idx {
		for _, a := range r.nodes[i].auth {
			if !r.nodes[a].loaded {
				want = append(want, a)
				ref = append(ref, i)
			}
		}
	}
	return r.load(want, ref)
}

// slot returns the key slot of k, adding it.
func (r *resolver) slot(k StateKey) int32 {
	if s, ok := r.keyIDs[k]; ok {
		return s
	}
	if r.keyIDs == nil {
		r.keyIDs = make(map[StateKey]int32)
	}
	s := int32(len(r.keys))
	r.keyIDs[k] = s
	r.keys = append(r.keys, k)
	u := none
	if id := r.unconflicted(k); id != "" {
		u = r.intern(id)
	}
	r.keyU = append(r.keyU, u)
	r.keyRes = append(r.keyRes, none)
	return s
}

// fixedSlot returns the slot of k, remembered in *cache (plus one).
func (r *resolver) fixedSlot(cache *int32, k StateKey) int32 {
	if *cache == 0 {
		*cache = r.slot(k) + 1
	}
	return *cache - 1
}

// slotLookup is the state the v2 iterative auth checks build: the
// events put by the checks over, in v2, the unconflicted state map.
func (r *resolver) slotLookup(s int32) int32 {
	if j := r.keyRes[s]; j != none {
		return j
	}
	if r.startFromU {
		return r.keyU[s]
	}
	return none
}

// ownSlot returns the key slot of event i's own key.
func (r *resolver) ownSlot(i int32) int32 {
	n := &r.nodes[i]
	if n.ownSlot == 0 {
		k := n.key
		s := r.slot(k)
		r.nodes[i].ownSlot = s + 1
		return s
	}
	return n.ownSlot - 1
}

// alloc returns n int32s from a shared block, saving an allocation per
// event for auth event and slot lists.
func (r *resolver) alloc(n int) []int32 {
	if n > len(r.arena) {
		r.arena = make([]int32, max(4096, n))
		r.arenaBlock = r.arena
	}
	out := r.arena[:n:n]
	r.arena = r.arena[n:]
	return out
}

// reserve makes room for n events.
func (r *resolver) reserve(n int) {
	r.nodes = slices.Grow(r.nodes, n)
	if len(r.ids) == 0 && !r.reused {
		r.ids = make(map[string]int32, n)
	}
}

// isU reports whether loaded event i is the unconflicted state's entry
// for its key, remembering the answer.
func (r *resolver) isU(i int32) bool {
	n := &r.nodes[i]
	if n.uState == 0 {
		n.uState = 2
		if n.state && r.unconflicted(n.key) == n.id {
			n.uState = 1
		}
	}
	return n.uState == 1
}

// unconflicted returns the unconflicted state's event ID for k ("" when
// the unconflicted state has no entry).
func (r *resolver) unconflicted(k StateKey) string {
	if id, ok := r.agreed[k]; ok {
		return id
	}
	return r.base[k]
}

// createFor returns the index of the room's create event for an event in
// a room version whose events do not list it in auth_events: the room
// ID is "!" followed by the create event's ID without its "$".
func (r *resolver) createFor(n *node) (int32, error) {
	roomID := n.ev.RoomID()
	if i, ok := r.creates[roomID]; ok {
		return i, nil
	}
	if r.creates == nil {
		r.creates = make(map[string]int32)
	}
	i := none
	if strings.HasPrefix(roomID, "!") {
		i = r.intern("$" + roomID[1:])
		if err := r.load([]int32{i}, []int32{r.ids[n.id]}); err != nil {
			return none, err
		}
		if r.nodes[i].ev == nil || r.nodes[i].key != keyCreate {
			i = none
		}
	}
	r.creates[roomID] = i
	return i, nil
}

// createInAuth reports whether events list the create event in their
// auth_events (room versions 1-11); otherwise it is implied by the room ID.
func (r *resolver) createInAuth() bool { return r.v.Auth.CreateInAuthEvents }

// senderPower is the power level of the event's sender measured at the
// event's own auth events ("when looking at their respective
// auth_events"), computed once per event. The create event supplies the
// creators: in room versions 1-11 the one in the auth events; in room
// version 12 the one the room ID names, whose creators have infinite
// power. As in the reference implementation, the power levels event is
// the last one listed, rejected or not.
func (r *resolver) senderPower(i int32) (eventauth.Level, error) {
	n := &r.nodes[i]
	if n.plDone {
		return n.pl, nil
	}
	var pl, create *event.Event
	for _, a := range n.auth {
		an := &r.nodes[a]
		if an.ev == nil || !an.state {
			continue
		}
		switch an.key {
		case keyPowerLevels:
			pl = an.ev
		case keyCreate:
			if r.createInAuth() {
				create = an.ev
			}
		}
	}
	if !r.createInAuth() && n.key != keyCreate {
		c, err := r.createFor(n)
		if err != nil {
			return eventauth.Level{}, err
		}
		if c != none {
			create = r.nodes[c].ev
		}
	}
	n = &r.nodes[i] // createFor may have grown r.nodes
	level, err := eventauth.UserLevelIn(r.v, pl, create, n.ev.Sender())
	if err != nil {
		return eventauth.Level{}, fmt.Errorf("%w: at event %s: %w", ErrBadPowerLevels, n.id, err)
	}
	n.pl = level
	n.plDone = true
	return n.pl, nil
}

// isPowerEvent reports a power event: power levels, join rules or (as in
// the reference implementations) the create event, each with an empty
// state key; or a leave or ban of someone other than the sender.
func isPowerEvent(n *node) bool {
	if !n.state {
		return false
	}
	switch n.key.Type {
	case typePowerLevels, typeJoinRules, typeCreate:
		return n.key.StateKey == ""
	case typeMember:
		m := n.ev.Membership()
		return (m == "leave" || m == "ban") && n.ev.Sender() != n.key.StateKey
	}
	return false
}

// authState is the state the authorization rules read for one event
// during the iterative auth checks: for the keys the event's auth needs,
// the entry of the state being built (when it is not rejected); for
// anything else, or when the state has no usable entry, the event's own
// auth event of that key (when it is not rejected).
type authState struct {
	r      *resolver
	n      *node
	create int32 // implied create event (room version 12), or none
}

func (s *authState) StateEvent(typ, stateKey string) *event.Event {
	for j := range s.n.needed {
		if k := &s.n.needed[j]; k.Type == typ && k.StateKey == stateKey {
			if e := s.r.slotLookup(s.n.slots[j]); e != none {
				if en := &s.r.nodes[e]; en.ev != nil && !en.rejected {
					return en.ev
				}
			}
			break
		}
	}
	var found *event.Event
	for _, a := range s.n.auth {
		an := &s.r.nodes[a]
		if an.ev != nil && !an.rejected && an.state && an.key.Type == typ && an.key.StateKey == stateKey {
			found = an.ev // the last one listed wins, as a map would keep it
		}
	}
	if found == nil && typ == typeCreate && stateKey == "" && s.create != none {
		found = s.r.nodes[s.create].ev
	}
	return found
}

var _ eventauth.State = (*authState)(nil)

// check applies the authorization rules to event i. With lookup nil it
// is a check of the v2 iterative auth checks, against the state they
// build (slotLookup) and the event's own auth events; otherwise against
// lookup's state only (room version 1). It returns nil when allowed, or
// the rejection.
func (r *resolver) check(i int32, lookup func(StateKey) int32) error {
	n := &r.nodes[i]
	if lookup == nil {
		if _, err := r.neededFor(i); err != nil {
			var rej *eventauth.Rejection
			if errors.As(err, &rej) {
				return rej
			}
			return &eventauth.Rejection{Rule: "auth_events.selection", Reason: err.Error()}
		}
	}
	create := none
	if !r.createInAuth() && n.key != keyCreate {
		c, err := r.createFor(n)
		if err != nil {
			return err
		}
		create = c
	}
	n = &r.nodes[i]
	if lookup == nil {
		// One authState serves every check: the rules do not keep it.
		r.as = authState{r: r, n: n, create: create}
		return eventauth.Allowed(r.v, n.ev, &r.as)
	}
	r.ps = plainState{r: r, lookup: lookup, create: create}
	return eventauth.Allowed(r.v, n.ev, &r.ps)
}

// plainState is the state R of the original algorithm (room version 1):
// only the state being built, no auth events.
type plainState struct {
	r      *resolver
	lookup func(StateKey) int32
	create int32
}

func (s *plainState) StateEvent(typ, stateKey string) *event.Event {
	k := StateKey{Type: typ, StateKey: stateKey}
	if j := s.lookup(k); j != none {
		return s.r.nodes[j].ev
	}
	if k == keyCreate && s.create != none {
		return s.r.nodes[s.create].ev
	}
	return nil
}

// ruleOf returns the rule identifier of a rejection, or the error text.
func ruleOf(err error) (rule, reason string) {
	var rej *eventauth.Rejection
	if errors.As(err, &rej) {
		return rej.Rule, rej.Reason
	}
	return "", err.Error()
}

// fatal reports errors that end the resolution (store failures, missing
// events), as opposed to an event being refused by the rules.
func fatal(err error) bool {
	var rej *eventauth.Rejection
	return err != nil && !errors.As(err, &rej)
}

// sortedKeys returns the keys of m in order (type, then state key).
func sortedKeys[V any](m map[StateKey]V) []StateKey {
	keys := make([]StateKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

func compareKeys(a, b StateKey) int {
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return strings.Compare(a.StateKey, b.StateKey)
}

// checkEntry verifies that a loaded state set entry names a state event
// of that key.
func (r *resolver) checkEntry(k StateKey, i int32) error {
	n := &r.nodes[i]
	if !n.state || n.key != k {
		return fmt.Errorf("%w: (%q, %q) names %s, of type %q and state key %q", ErrBadStateSet, k.Type, k.StateKey, n.id, n.key.Type, n.key.StateKey)
	}
	return nil
}

// neededFor returns the auth events selection of event i (the state keys
// its authorization reads), computed once per event, with their slots.
func (r *resolver) neededFor(i int32) ([]StateKey, error) {
	n := &r.nodes[i]
	if !n.neededDone {
		if len(r.keyArena) < eventauth.MaxNeeded {
			r.keyBlock = make([]StateKey, 1024)
			r.keyArena = r.keyBlock
		}
		// The selection is appended into the arena (capacity MaxNeeded,
		// so it never reallocates) and the arena moves past it.
		needed, err := eventauth.AppendNeeded(r.keyArena[:0:eventauth.MaxNeeded], r.v, n.ev)
		r.keyArena = r.keyArena[len(needed):]
		slots := r.alloc(len(needed))
		for j, k := range needed {
			switch {
			case k.StateKey == "" && k.Type == typePowerLevels:
				slots[j] = r.fixedSlot(&r.slotPL, k)
			case k.StateKey == "" && k.Type == typeCreate:
				slots[j] = r.fixedSlot(&r.slotCreate, k)
			case k.StateKey == "" && k.Type == typeJoinRules:
				slots[j] = r.fixedSlot(&r.slotJoinRules, k)
			case n.ownSlot != 0 && k.StateKey == n.key.StateKey && k.Type == n.key.Type:
				slots[j] = n.ownSlot - 1
			default:
				slots[j] = r.slot(k)
			}
			n = &r.nodes[i] // slot may intern events
		}
		n = &r.nodes[i] // slot may intern events
		n.needed, n.slots, n.neededErr, n.neededDone = needed, slots, err, true
	}
	return n.needed, n.neededErr
}
