package federation

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

// finding is one problem the room auditor found with an event.
type finding struct {
	EventID, Check string
	Err            error
}

func (f finding) String() string { return fmt.Sprintf("%s: %s: %v", f.EventID, f.Check, f.Err) }

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

// auditRoom fetches the history of roomID up to latest from dest over
// federation (backfill and event_auth) and re-checks every event as a
// receiving server would (content/server-server-api.md, "Checks performed
// on receipt of a PDU"): its signatures and hashes (event.Verifier), its
// authorization against its own auth events (eventauth.Check) and against
// the state before it, which the auditor computes itself by state
// resolution of the states after its prev events (stateres.Resolve).
// Last it compares that state before latest with the server's own
// (state_ids).
func auditRoom(ctx context.Context, c *Client, ring signing.KeyRing, dest string, v roomversion.Version, roomID, latest string) ([]finding, error) {
	history, err := c.Backfill(ctx, dest, v, roomID, []string{latest}, 1000)
	if err != nil {
		return nil, err
	}
	chain, err := c.EventAuth(ctx, dest, v, roomID, latest)
	if err != nil {
		return nil, err
	}
	byID := map[string]*event.Event{}
	for _, ev := range append(history, chain...) {
		byID[ev.ID()] = ev
	}
	evs := slices.SortedFunc(maps.Values(byID), func(a, b *event.Event) int {
		if a.Depth() != b.Depth() {
			return int(a.Depth() - b.Depth())
		}
		return 0
	})

	var found []finding
	bad := map[string]bool{}
	vr := &event.Verifier{KeyRing: ring}
	for i, r := range vr.VerifyAll(ctx, evs) {
		if r.Verdict != event.Valid {
			found = append(found, finding{evs[i].ID(), "signatures", r.Err})
			bad[evs[i].ID()] = true
		}
	}

	store := stateres.NewMemoryStore()
	after := map[string]stateres.StateMap{}
	var before stateres.StateMap
	for _, ev := range evs {
		var auth []*event.Event
		for _, id := range ev.AuthEventIDs() {
			if a := byID[id]; a != nil {
				auth = append(auth, a)
			}
		}
		if v.Event.RoomID == roomversion.RoomIDCreateHash && ev.Type() != event.TypeCreate {
			// Room version 12 names the create event by the room ID,
			// not in auth_events; the rules still read it.
			if cr := byID["$"+ev.RoomID()[1:]]; cr != nil {
				auth = append(auth, cr)
			}
		}
		var sets []stateres.StateMap
		for _, p := range ev.PrevEventIDs() {
			if s, ok := after[p]; ok {
				sets = append(sets, s)
			}
		}
		before, err = stateres.Resolve(ctx, v, sets, store, nil)
		if err != nil {
			return found, err
		}
		if err := eventauth.Check(v, ev, auth, func(id string) bool { return bad[id] }); err != nil && !bad[ev.ID()] {
			found = append(found, finding{ev.ID(), "auth events", err})
			bad[ev.ID()] = true
		}
		if err := eventauth.Allowed(v, ev, stateOf{before, store}); err != nil && !bad[ev.ID()] {
			found = append(found, finding{ev.ID(), "state before", err})
			bad[ev.ID()] = true
		}
		st := maps.Clone(before)
		if bad[ev.ID()] {
			store.AddRejected(ev)
		} else {
			store.Add(ev)
			if sk, ok := ev.StateKey(); ok {
				st[stateres.StateKey{Type: ev.Type(), StateKey: sk}] = ev.ID()
			}
		}
		after[ev.ID()] = st
	}

	theirs, err := c.StateIDs(ctx, dest, roomID, latest)
	if err != nil {
		return found, err
	}
	ours := slices.Sorted(maps.Values(before))
	if got := slices.Sorted(slices.Values(theirs.PDUIDs)); !slices.Equal(got, ours) {
		found = append(found, finding{latest, "state", fmt.Errorf("server's state before it %v, resolved %v", got, ours)})
	}
	return found, nil
}

// TestRoomAuditor runs the auditor from one library server against rooms
// of another over loopback: an honest room has no finding, and a room
// into whose store a forged event was written (a topic change by a user
// who never joined, signed by the server) is caught.
func TestRoomAuditor(t *testing.T) {
	ctx := context.Background()
	v := roomversion.V12
	hss := newNetwork(t, "a.test", "b.test")
	a, b := hss[0], hss[1]
	const alice, bob = "@alice:a.test", "@bob:b.test"
	// The server answers only servers in the room: bob of b.test joins.
	join := func(roomID string) {
		t.Helper()
		if _, err := b.srv.Join(ctx, []string{a.name}, roomID, bob, nil); err != nil {
			t.Fatalf("join: %v", err)
		}
	}

	honest := createRoom(t, a, v, alice, "")
	join(honest)
	last := send(t, a, v, event.Builder{Type: "m.room.message", Sender: alice, RoomID: honest, Content: []byte(`{"msgtype":"m.text","body":"hi"}`)})
	found, err := auditRoom(ctx, b.srv.Client, b.ring, a.name, v, honest, last.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 0 {
		t.Errorf("honest room: %v", found)
	}

	forged := createRoom(t, a, v, alice, "")
	join(forged)
	ext, err := a.store.ForwardExtremities(ctx, forged)
	if err != nil || len(ext) != 1 {
		t.Fatalf("extremities %v, %v", ext, err)
	}
	prev := storedEvent(t, a, ext[0])
	stateBefore := currentOf(t, a, forged)
	var auth []*event.Event
	for _, k := range [][2]string{{"m.room.power_levels", ""}} {
		auth = append(auth, storedEvent(t, a, stateBefore[stateres.StateKey{Type: k[0], StateKey: k[1]}]))
	}
	bad, err := (&event.Builder{Type: "m.room.topic", StateKey: strp(""), Sender: "@mallory:a.test", RoomID: forged,
		Content: []byte(`{"topic":"forged"}`), PrevEvents: []*event.Event{prev}, AuthEvents: auth}).Build(v, a.name, a.key)
	if err != nil {
		t.Fatal(err)
	}
	after := maps.Clone(stateBefore)
	after[stateres.StateKey{Type: "m.room.topic"}] = bad.ID()
	if err := a.store.StoreEvents(ctx, forged, []NewEvent{{Event: bad, Status: Accepted, StateAfter: after}}); err != nil {
		t.Fatal(err)
	}
	found, err = auditRoom(ctx, b.srv.Client, b.ring, a.name, v, forged, bad.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].EventID != bad.ID() || found[0].Check != "auth events" {
		t.Errorf("forged room: findings %v, want one on the auth of %s", found, bad.ID())
	}
}
