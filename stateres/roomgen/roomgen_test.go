package roomgen_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
	"github.com/mxkit/mxkit/stateres/roomgen"
)

// Every generated event is a valid event of the room version that passes
// the authorization checks against its own auth events, cites only
// earlier events, and the state maps agree with the events.
func TestGeneratedRoomsAreValid(t *testing.T) {
	for _, v := range roomversion.Known() {
		for _, readable := range []bool{false, true} {
			t.Run(fmt.Sprintf("v%s/readable=%v", v.ID, readable), func(t *testing.T) {
				r, err := roomgen.Generate(roomgen.Config{Version: v, Seed: 5, Members: 300, Forks: 3, ForkEvents: 40, ReadableIDs: readable})
				if err != nil {
					t.Fatal(err)
				}
				seen := map[string]*event.Event{}
				for _, ev := range r.Events {
					// Parsed again from its bytes: a valid event of v.
					var again *event.Event
					if readable || v.Event.Format == roomversion.EventFormatV1 {
						again, err = event.ParseWithID(v, ev.JSON(), ev.ID())
					} else {
						again, err = event.Parse(v, ev.JSON())
					}
					if err != nil {
						t.Fatalf("%s: %v", ev.ID(), err)
					}
					if again.ID() != ev.ID() {
						t.Fatalf("ID %s, parsed again %s", ev.ID(), again.ID())
					}
					if !ev.ContentHashValid() {
						t.Fatalf("%s: content hash does not match", ev.ID())
					}
					var auth []*event.Event
					for _, a := range ev.AuthEventIDs() {
						ae := seen[a]
						if ae == nil {
							t.Fatalf("%s cites %s, not an earlier event", ev.ID(), a)
						}
						auth = append(auth, ae)
					}
					for _, p := range ev.PrevEventIDs() {
						if seen[p] == nil {
							t.Fatalf("%s has prev event %s, not an earlier event", ev.ID(), p)
						}
					}
					if err := eventauth.Check(v, ev, auth, nil); err != nil && ev.Type() != "m.room.create" {
						// v12 events do not cite the create event; the
						// check needs it as state.
						if !v.Auth.CreateInAuthEvents {
							st := eventauth.StateMap{}
							for _, a := range auth {
								sk, _ := a.StateKey()
								st[eventauth.StateKey{Type: a.Type(), StateKey: sk}] = a
							}
							st[eventauth.StateKey{Type: "m.room.create"}] = r.Events[0]
							err = eventauth.Allowed(v, ev, st)
						}
						if err != nil {
							t.Fatalf("%s (%s) is not allowed by its auth events: %v", ev.ID(), ev.Type(), err)
						}
					}
					seen[ev.ID()] = ev
				}
				for i, s := range r.StateSets() {
					for k, id := range s {
						ev := seen[id]
						if ev == nil {
							t.Fatalf("set %d names unknown %s", i, id)
						}
						if sk, _ := ev.StateKey(); ev.Type() != k.Type || sk != k.StateKey {
							t.Fatalf("set %d: %v names %s of (%s, %q)", i, k, id, ev.Type(), sk)
						}
					}
				}
				if len(r.Changes) != 3 || len(r.Tips) != 3 {
					t.Fatalf("%d changes, %d tips", len(r.Changes), len(r.Tips))
				}
				if r.Store.Len() != len(r.Events) {
					t.Fatalf("store has %d events, room %d", r.Store.Len(), len(r.Events))
				}
			})
		}
	}
}

// The same configuration gives the same room, byte for byte; another seed
// another room.
func TestDeterministic(t *testing.T) {
	cfg := roomgen.Config{Version: roomversion.V10, Seed: 9, Members: 200, ForkEvents: 20}
	a, err := roomgen.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := roomgen.Generate(cfg)
	if len(a.Events) != len(b.Events) {
		t.Fatalf("%d and %d events", len(a.Events), len(b.Events))
	}
	for i := range a.Events {
		if !bytes.Equal(a.Events[i].JSON(), b.Events[i].JSON()) {
			t.Fatalf("event %d differs", i)
		}
	}
	cfg.Seed = 10
	c, _ := roomgen.Generate(cfg)
	same := len(c.Events) == len(a.Events)
	for i := 0; same && i < len(a.Events); i++ {
		same = bytes.Equal(a.Events[i].JSON(), c.Events[i].JSON())
	}
	if same {
		t.Fatal("another seed made the same room")
	}
}

// With ForkSeed, rooms of different sizes share the same conflict: the
// same conflicted keys.
func TestForkSeedSharesTheConflict(t *testing.T) {
	keys := func(members int) map[stateres.StateKey]bool {
		r, err := roomgen.Generate(roomgen.Config{Version: roomversion.V11, Seed: 1, Members: members, ForkSeed: 3, ForkEvents: 12})
		if err != nil {
			t.Fatal(err)
		}
		out := map[stateres.StateKey]bool{}
		for _, c := range r.Changes {
			for k := range c {
				out[k] = true
			}
		}
		return out
	}
	small, large := keys(200), keys(2000)
	if len(small) != len(large) {
		t.Fatalf("changed keys: %d with 200 members, %d with 2000", len(small), len(large))
	}
	for k := range small {
		if !large[k] {
			t.Fatalf("%v changed with 200 members only", k)
		}
	}
}

func ExampleGenerate() {
	room, err := roomgen.Generate(roomgen.Config{Version: roomversion.V11, Seed: 1, Members: 50, ForkEvents: 5})
	if err != nil {
		fmt.Println(err)
		return
	}
	sets := room.StateSets()
	fmt.Println(len(sets), "state sets;", len(room.Base), "keys at the fork point")
	// Output: 2 state sets; 57 keys at the fork point
}

// BenchmarkGenerate measures building a room of 10,000 members, with
// parsing the same events as the baseline.
func BenchmarkGenerate(b *testing.B) {
	cfg := roomgen.Config{Version: roomversion.V11, Seed: 1, Members: 10_000, ReadableIDs: true}
	r, err := roomgen.Generate(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("generate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := roomgen.Generate(cfg); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(r.Events)), "events")
	})
	b.Run("baseline=event.ParseWithID", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, ev := range r.Events {
				if _, err := event.ParseWithID(cfg.Version, ev.JSON(), ev.ID()); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
