// Package audit re-verifies a room fetched over federation, as a
// researcher or an operator checks what another server serves: every
// event's signatures and content hash, its authorization against its own
// auth events and against the state before it, and the server's claimed
// state against the state the auditor resolves itself.
//
// The checks are those a receiving server performs on every PDU
// (specification, content/server-server-api.md, "Checks performed on
// receipt of a PDU": steps 3 to 6), run over a whole history instead of
// one event: the history comes from /backfill and /event_auth
// ("Backfilling and retrieving missing events", "Retrieving event
// authorization information"), the server's state from /state_ids.
//
// Why a package of its own, under federation: the auditor is a client of
// the federation API (it needs federation.Client and nothing of the
// Server) and a consumer of the core (event, eventauth, stateres), so it
// sits one layer above federation, which must not import it; a separate
// package keeps federation's surface for servers and this one tiny (one
// type, one method). The command examples/roomaudit runs it against a
// server you name.
//
// The auditor trusts nothing the server says beyond the events' own bytes:
// it orders the events by depth, recomputes the state before each one by
// state resolution of the states after its prev events, and marks an
// event that fails any check as rejected, so that the events after it are
// checked against the state a correct server would have.
//
// Its tests audit rooms of library servers and of the example homeserver
// (a separate program) over loopback, and catch a changed content (hash),
// an event its sender was not allowed to send (auth), the state such an
// event leaves behind, and a server that misstates the room's state.
package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

// The names of the checks in a Finding.
const (
	CheckSignatures = "signatures"   // signatures and content hash (steps 3 and 4)
	CheckAuthEvents = "auth events"  // the rules against its own auth_events (step 5)
	CheckStateAuth  = "state before" // the rules against the state before it (step 6)
	CheckState      = "state"        // the server's state before the latest event
)

// DefaultLimit is the number of events backfilled when Auditor.Limit is 0.
const DefaultLimit = 1000

// Auditor fetches rooms with Client and checks event signatures with keys
// from Keys (for example a federation.FetchingKeyRing).
type Auditor struct {
	Client *federation.Client
	Keys   signing.KeyRing
	// Limit bounds the events backfilled (0: DefaultLimit).
	Limit int
}

// Finding is one problem the auditor found with an event.
type Finding struct {
	EventID string
	Check   string // one of the Check constants
	Err     error
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s: %v", f.EventID, f.Check, f.Err) }

// Report is the outcome of an audit.
type Report struct {
	// Events is the number of distinct events fetched and checked.
	Events int
	// Partial is the number of events whose state before could not be
	// computed because a prev event lies beyond the fetched history (the
	// backfill limit); their "state before" check was skipped, and so was
	// the comparison with the server's state when the latest event is
	// one of them.
	Partial int
	// Findings lists the problems, in the order the events were checked.
	Findings []Finding
}

// Room audits the history of roomID up to and including latest, as served
// by dest; v is the room's version. An error means the audit could not be
// run (the server could not be reached, or answered what is not a history
// of v); problems with the room's events are Findings.
func (a *Auditor) Room(ctx context.Context, dest string, v roomversion.Version, roomID, latest string) (*Report, error) {
	if a.Client == nil || a.Keys == nil {
		return nil, errors.New("audit: Auditor needs a Client and Keys")
	}
	limit := a.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	history, err := a.Client.Backfill(ctx, dest, v, roomID, []string{latest}, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: backfill: %w", err)
	}
	chain, err := a.Client.EventAuth(ctx, dest, v, roomID, latest)
	if err != nil {
		return nil, fmt.Errorf("audit: event_auth: %w", err)
	}
	byID := map[string]*event.Event{}
	for _, ev := range append(history, chain...) {
		if ev.RoomID() != roomID {
			return nil, fmt.Errorf("audit: %s served event %s of room %s", dest, ev.ID(), ev.RoomID())
		}
		byID[ev.ID()] = ev
	}
	if byID[latest] == nil {
		return nil, fmt.Errorf("audit: %s did not serve %s in its backfill", dest, latest)
	}
	a2 := &audit{v: v, byID: byID, bad: map[string]bool{}, store: stateres.NewMemoryStore(), after: map[string]stateres.StateMap{}}
	a2.report.Events = len(byID)
	a2.verifySignatures(ctx, a.Keys)
	if err := a2.replay(ctx); err != nil {
		return &a2.report, err
	}
	if _, ok := a2.after[latest]; !ok {
		return &a2.report, nil
	}
	theirs, err := a.Client.StateIDs(ctx, dest, roomID, latest)
	if err != nil {
		return &a2.report, fmt.Errorf("audit: state_ids: %w", err)
	}
	ours := slices.Sorted(maps.Values(a2.before[latest]))
	if got := slices.Sorted(slices.Values(theirs.PDUIDs)); !slices.Equal(got, ours) {
		a2.find(latest, CheckState, fmt.Errorf("the server's state before it is %v, the resolved state %v", got, ours))
	}
	return &a2.report, nil
}

// audit is the state of one run.
type audit struct {
	v      roomversion.Version
	byID   map[string]*event.Event
	order  []*event.Event
	bad    map[string]bool
	store  *stateres.MemoryStore
	after  map[string]stateres.StateMap // state after each event whose state is known
	before map[string]stateres.StateMap
	report Report
}

func (a *audit) find(id, check string, err error) {
	a.report.Findings = append(a.report.Findings, Finding{id, check, err})
	a.bad[id] = true
}

// verifySignatures orders the events (depth, then ID, so that a run is
// deterministic) and checks every signature and content hash.
func (a *audit) verifySignatures(ctx context.Context, keys signing.KeyRing) {
	a.order = slices.SortedFunc(maps.Values(a.byID), func(x, y *event.Event) int {
		return cmp.Or(cmp.Compare(x.Depth(), y.Depth()), cmp.Compare(x.ID(), y.ID()))
	})
	vr := &event.Verifier{KeyRing: keys}
	for i, r := range vr.VerifyAll(ctx, a.order) {
		if r.Verdict != event.Valid {
			a.find(a.order[i].ID(), CheckSignatures, r.Err)
		}
	}
}

// replay checks each event in order against its auth events and the
// state before it, and records the state after it.
func (a *audit) replay(ctx context.Context) error {
	a.before = map[string]stateres.StateMap{}
	for _, ev := range a.order {
		if err := eventauth.Check(a.v, ev, a.authEvents(ev), func(id string) bool { return a.bad[id] }); err != nil && !a.bad[ev.ID()] {
			a.find(ev.ID(), CheckAuthEvents, err)
		}
		before, known, err := a.stateBefore(ctx, ev)
		if err != nil {
			return fmt.Errorf("audit: resolving the state before %s: %w", ev.ID(), err)
		}
		if known {
			if err := eventauth.Allowed(a.v, ev, stateOf{before, a.store}); err != nil && !a.bad[ev.ID()] {
				a.find(ev.ID(), CheckStateAuth, err)
			}
		} else {
			a.report.Partial++
		}
		if a.bad[ev.ID()] {
			a.store.AddRejected(ev)
		} else {
			a.store.Add(ev) // also an auth event of later events when partial
		}
		if !known {
			continue
		}
		after := maps.Clone(before)
		if sk, ok := ev.StateKey(); ok && !a.bad[ev.ID()] {
			after[stateres.StateKey{Type: ev.Type(), StateKey: sk}] = ev.ID()
		}
		a.before[ev.ID()], a.after[ev.ID()] = before, after
	}
	return nil
}

// authEvents is the event's auth events among those fetched. Room version
// 12 names the create event by the room ID rather than in auth_events;
// the rules still read it.
func (a *audit) authEvents(ev *event.Event) []*event.Event {
	var auth []*event.Event
	for _, id := range ev.AuthEventIDs() {
		if e := a.byID[id]; e != nil {
			auth = append(auth, e)
		}
	}
	if a.v.Event.RoomID == roomversion.RoomIDCreateHash && ev.Type() != event.TypeCreate {
		if cr := a.byID["$"+ev.RoomID()[1:]]; cr != nil {
			auth = append(auth, cr)
		}
	}
	return auth
}

// stateBefore resolves the states after the event's prev events; known
// is false when one of them is not known (beyond the fetched history).
func (a *audit) stateBefore(ctx context.Context, ev *event.Event) (stateres.StateMap, bool, error) {
	var sets []stateres.StateMap
	for _, p := range ev.PrevEventIDs() {
		s, ok := a.after[p]
		if !ok {
			return nil, false, nil
		}
		sets = append(sets, s)
	}
	if len(sets) == 0 {
		if ev.Type() != event.TypeCreate {
			return nil, false, nil
		}
		return stateres.StateMap{}, true, nil
	}
	st, err := stateres.Resolve(ctx, a.v, sets, a.store, nil)
	return st, err == nil, err
}

// stateOf is a StateMap read through a store, as eventauth.State.
type stateOf struct {
	m     stateres.StateMap
	store *stateres.MemoryStore
}

func (s stateOf) StateEvent(typ, stateKey string) *event.Event {
	id, ok := s.m[stateres.StateKey{Type: typ, StateKey: stateKey}]
	if !ok {
		return nil
	}
	return s.store.Event(id)
}
