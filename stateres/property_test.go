package stateres_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
	"github.com/mxkit/mxkit/stateres/roomgen"
)

// noIndex hides the MemoryStore's AuthChainIndex, so that Resolve takes
// the path for stores without one.
type noIndex struct{ s *stateres.MemoryStore }

func (n noIndex) Events(ctx context.Context, ids []string) ([]stateres.Stored, error) {
	return n.s.Events(ctx, ids)
}

func equal(a, b stateres.StateMap) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func diff(a, b stateres.StateMap) string {
	s := ""
	for k, v := range a {
		if b[k] != v {
			s += fmt.Sprintf("  %v: %q vs %q\n", k, v, b[k])
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			s += fmt.Sprintf("  %v: absent vs %q\n", k, v)
		}
	}
	return s
}

var propertyVersions = []roomversion.Version{roomversion.V1, roomversion.V2, roomversion.V6, roomversion.V10, roomversion.V11, roomversion.V12}

// TestGeneratedRoomProperties resolves generated forks and checks the
// properties that must hold whatever the room.
func TestGeneratedRoomProperties(t *testing.T) {
	ctx := context.Background()
	for _, v := range propertyVersions {
		for seed := uint64(1); seed <= 6; seed++ {
			forks := 2 + int(seed%3)
			t.Run(fmt.Sprintf("v%s/seed%d", v.ID, seed), func(t *testing.T) {
				room, err := roomgen.Generate(roomgen.Config{Version: v, Seed: seed, Members: 120, Forks: forks, ForkEvents: 25, ReadableIDs: seed%2 == 0})
				if err != nil {
					t.Fatal(err)
				}
				sets := room.StateSets()
				var tr stateres.Trace
				want, err := stateres.Resolve(ctx, v, sets, room.Store, &stateres.Options{Trace: &tr})
				if err != nil {
					t.Fatal(err)
				}

				// The auth difference is, by its definition, the union of
				// the sets' full auth chains (each set's events and their
				// auth chains) less their intersection.
				if v.StateRes != roomversion.StateResV1 {
					count := map[string]int{}
					for _, set := range sets {
						seen := map[string]bool{}
						var stack []string
						for _, id := range set {
							stack = append(stack, id)
						}
						for len(stack) > 0 {
							id := stack[len(stack)-1]
							stack = stack[:len(stack)-1]
							if seen[id] {
								continue
							}
							seen[id] = true
							count[id]++
							stack = append(stack, room.Store.Event(id).AuthEventIDs()...)
						}
					}
					var authDiff []string
					for id, c := range count {
						if c < len(sets) {
							authDiff = append(authDiff, id)
						}
					}
					slices.Sort(authDiff)
					if !slices.Equal(authDiff, tr.AuthDifference) {
						t.Fatalf("auth difference:\n got %v\nwant %v", tr.AuthDifference, authDiff)
					}
				}

				// The conflicted state subgraph (v2.1), by its definition:
				// the events on an auth path from a conflicted event to
				// another (the trace lists the conflicted events too).
				if v.StateRes == roomversion.StateResV21 {
					conflicted := map[string]bool{}
					for _, id := range tr.Conflicted {
						conflicted[id] = true
					}
					memo := map[string]bool{}
					var reaches func(id string) bool
					reaches = func(id string) bool {
						if r, ok := memo[id]; ok {
							return r
						}
						r := conflicted[id]
						for _, a := range room.Store.Event(id).AuthEventIDs() {
							if reaches(a) {
								r = true
							}
						}
						memo[id] = r
						return r
					}
					below := map[string]bool{}
					var walk func(id string)
					walk = func(id string) {
						if below[id] {
							return
						}
						below[id] = true
						for _, a := range room.Store.Event(id).AuthEventIDs() {
							walk(a)
						}
					}
					for id := range conflicted {
						walk(id)
					}
					var sub []string
					for id := range below {
						if reaches(id) {
							sub = append(sub, id)
						}
					}
					slices.Sort(sub)
					if !slices.Equal(sub, tr.Subgraph) {
						t.Fatalf("subgraph:\n got %v\nwant %v", tr.Subgraph, sub)
					}
				}

				// Any order of the state sets gives the same result.
				rng := rand.New(rand.NewPCG(seed, 7))
				for range 4 {
					perm := append([]stateres.StateMap(nil), sets...)
					rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
					got, err := stateres.Resolve(ctx, v, perm, room.Store, nil)
					if err != nil {
						t.Fatal(err)
					}
					if !equal(got, want) {
						t.Fatalf("permuted state sets give another result:\n%s", diff(got, want))
					}
				}

				// A store that holds the events in another order (so the
				// index answers in another order) gives the same result.
				shuffled := stateres.NewMemoryStore()
				evs := append([]*event.Event(nil), room.Events...)
				rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				shuffled.Add(evs...)
				if got, err := stateres.Resolve(ctx, v, sets, shuffled, nil); err != nil || !equal(got, want) {
					t.Fatalf("shuffled store: err %v\n%s", err, diff(got, want))
				}

				// Without the auth chain index: the same result.
				if got, err := stateres.Resolve(ctx, v, sets, noIndex{room.Store}, nil); err != nil || !equal(got, want) {
					t.Fatalf("without the index: err %v\n%s", err, diff(got, want))
				}

				// Walking the whole auth chains (not stopping at
				// unconflicted events): the same result.
				restore := stateres.SetFullWalk()
				var trFull stateres.Trace
				got, err := stateres.Resolve(ctx, v, sets, room.Store, &stateres.Options{Trace: &trFull})
				restore()
				if err != nil || !equal(got, want) {
					t.Fatalf("full walk: err %v\n%s", err, diff(got, want))
				}
				if !slices.Equal(trFull.AuthDifference, tr.AuthDifference) || !slices.Equal(trFull.FullConflicted, tr.FullConflicted) {
					t.Fatalf("full walk: auth difference %v, full conflicted %v; walk stopping at unconflicted events: %v, %v",
						trFull.AuthDifference, trFull.FullConflicted, tr.AuthDifference, tr.FullConflicted)
				}
				// Without the index too (the walk of every unconflicted
				// event's chain): the same auth difference.
				var trNoIndex stateres.Trace
				if _, err := stateres.Resolve(ctx, v, sets, noIndex{room.Store}, &stateres.Options{Trace: &trNoIndex}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(trNoIndex.AuthDifference, tr.AuthDifference) {
					t.Fatalf("without the index: auth difference %v, with: %v", trNoIndex.AuthDifference, tr.AuthDifference)
				}

				// As changes to the base state: the same result.
				changes, err := stateres.ResolveChanges(ctx, v, room.Base, room.Changes, room.Store, nil)
				if err != nil {
					t.Fatal(err)
				}
				applied := stateres.StateMap{}
				for k, id := range room.Base {
					applied[k] = id
				}
				for k, id := range changes {
					if id == "" {
						delete(applied, k)
					} else {
						applied[k] = id
					}
				}
				if !equal(applied, want) {
					t.Fatalf("ResolveChanges differs from Resolve:\n%s", diff(applied, want))
				}

				// Resolve compares the sets against the first one; the
				// sets as changes to an empty base compare every key of
				// every set. Both must agree, also when sets carry empty
				// event IDs (no entry) and lack keys the first set has.
				checkDirect := func(name string, in []stateres.StateMap) {
					t.Helper()
					got, err := stateres.Resolve(ctx, v, in, room.Store, nil)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					direct, err := stateres.ResolveChanges(ctx, v, nil, in, room.Store, nil)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					for k, id := range direct {
						if id == "" {
							delete(direct, k)
						}
					}
					if !equal(got, direct) {
						t.Fatalf("%s: Resolve differs from the key by key comparison:\n%s", name, diff(got, direct))
					}
				}
				checkDirect("full maps", sets)
				odd := make([]stateres.StateMap, len(sets))
				for i, s := range sets {
					odd[i] = maps.Clone(s)
				}
				extra := stateres.StateKey{Type: "m.room.topic", StateKey: "nobody"}
				odd[0][extra] = ""
				odd[1][extra] = ""
				for _, k := range tr.ConflictedKeys {
					odd[0][k] = "" // the first set lacks the conflicted keys
					break
				}
				for k := range room.Base {
					if _, conflicted := room.Changes[0][k]; !conflicted {
						delete(odd[len(odd)-1], k) // the last set lacks a key
						break
					}
				}
				checkDirect("empty entries and missing keys", odd)
				checkDirect("one map twice", []stateres.StateMap{sets[0], sets[1], sets[0]})

				// One state set resolves to itself, and so does a set
				// with itself.
				for _, s := range sets {
					for _, in := range [][]stateres.StateMap{{s}, {s, s}} {
						got, err := stateres.Resolve(ctx, v, in, room.Store, nil)
						if err != nil || !equal(got, s) {
							t.Fatalf("resolving %d copies of a set: err %v\n%s", len(in), err, diff(got, s))
						}
					}
				}

				// Every entry of the result is the unconflicted one, or an
				// event that passed its check and was the last to pass for
				// its key (v2); refused events never enter the result.
				if v.StateRes != roomversion.StateResV1 {
					lastAllowed := map[stateres.StateKey]string{}
					refused := map[string]bool{}
					for _, c := range tr.Checks {
						k := stateres.StateKey{Type: c.Type, StateKey: c.StateKey}
						if c.Allowed {
							lastAllowed[k] = c.EventID
						} else {
							refused[c.EventID] = true
							if c.Rule == "" {
								t.Errorf("check of %s refused without a rule: %s", c.EventID, c.Reason)
							}
						}
					}
					conflicted := map[stateres.StateKey]bool{}
					for _, k := range tr.ConflictedKeys {
						conflicted[k] = true
					}
					for k, id := range want {
						if !conflicted[k] {
							continue
						}
						if refused[id] && lastAllowed[k] != id {
							t.Errorf("refused event %s is in the result for %v", id, k)
						}
						if lastAllowed[k] != id {
							t.Errorf("result for %v is %s, but the last event allowed for it is %q", k, id, lastAllowed[k])
						}
					}
					if len(tr.Conflicted) > 0 && len(tr.Checks) == 0 {
						t.Error("conflicts but no checks in the trace")
					}
				}
			})
		}
	}
}

// TestCancelled: a cancelled context ends the resolution with its error.
func TestCancelled(t *testing.T) {
	room, err := roomgen.Generate(roomgen.Config{Version: roomversion.V11, Seed: 3, Members: 50})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := stateres.Resolve(ctx, roomversion.V11, room.StateSets(), room.Store, nil); err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
