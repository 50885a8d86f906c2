package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
	"github.com/mxkit/mxkit/stateres/roomgen"
)

// forkRoom is a generated room of about 1,200 events (900 members over 10
// servers with churn, moderators and power level changes) that ends in a
// two-way fork: each branch adds up to 60 state events (joins, leaves,
// bans, topic, name and power level changes) so that the branches
// conflict.
var forkConfigs = []roomgen.Config{
	{Version: roomversion.V10, Seed: 42, Members: 900, ForkEvents: 60},
	{Version: roomversion.V11, Seed: 42, Members: 900, ForkEvents: 60},
}

// stateresInput is one room as both libraries take it.
type stateresInput struct {
	room *roomgen.Room
	sets []stateres.StateMap
	// gomatrixserverlib: the state sets as events, and the auth chains of
	// all their events (what Dendrite hands it).
	gsets [][]gmsl.PDU
	gauth []gmsl.PDU
	algo  gmsl.StateResAlgorithm
	// conflicted are the events of the keys the sets disagree on, with the
	// first set's state as mxkit events (for the baseline).
	conflicted []stateres.StateKey
}

var stateresInputs sync.Map // roomgen.Config -> *stateresInput

func newStateresInput(tb testing.TB, cfg roomgen.Config) *stateresInput {
	tb.Helper()
	if in, ok := stateresInputs.Load(cfg); ok {
		return in.(*stateresInput)
	}
	r, err := roomgen.Generate(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	gv := gmslVersion(tb, cfg.Version.ID)
	// Every event is given to gomatrixserverlib as the same bytes; it
	// computes its own event IDs, which must be mxkit's.
	pdus := make(map[string]gmsl.PDU, len(r.Events))
	for _, e := range r.Events {
		p, err := gv.NewEventFromTrustedJSON(e.JSON(), false)
		if err != nil {
			tb.Fatalf("gomatrixserverlib cannot read %s: %v", e.ID(), err)
		}
		if p.EventID() != e.ID() {
			tb.Fatalf("event ID: gomatrixserverlib %s, mxkit %s", p.EventID(), e.ID())
		}
		pdus[e.ID()] = p
	}
	in := &stateresInput{room: r, sets: r.StateSets(), algo: gv.StateResAlgorithm()}
	seen := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		p := pdus[id]
		if p == nil {
			tb.Fatalf("event %s is not in the room", id)
		}
		in.gauth = append(in.gauth, p)
		for _, a := range p.AuthEventIDs() {
			walk(a)
		}
	}
	for _, set := range in.sets {
		var ps []gmsl.PDU
		for _, id := range set {
			ps = append(ps, pdus[id])
			for _, a := range pdus[id].AuthEventIDs() {
				walk(a)
			}
		}
		in.gsets = append(in.gsets, ps)
	}
	for k, id := range in.sets[0] {
		for _, s := range in.sets[1:] {
			if s[k] != id {
				in.conflicted = append(in.conflicted, k)
				break
			}
		}
	}
	for _, s := range in.sets[1:] {
		for k := range s {
			if _, ok := in.sets[0][k]; !ok {
				in.conflicted = append(in.conflicted, k)
			}
		}
	}
	stateresInputs.Store(cfg, in)
	return in
}

func (in *stateresInput) resolveMxkit(ctx context.Context) (stateres.StateMap, error) {
	return stateres.Resolve(ctx, in.room.Version, in.sets, in.room.Store, nil)
}

func (in *stateresInput) resolveGMSL() []gmsl.PDU {
	return gmsl.ResolveStateConflictsV2New(in.algo, in.gsets, in.gauth, userIDForSender, func(string) bool { return false })
}

func gmslStateMap(tb testing.TB, ps []gmsl.PDU) stateres.StateMap {
	tb.Helper()
	m := make(stateres.StateMap, len(ps))
	for _, p := range ps {
		k := stateres.StateKey{Type: p.Type(), StateKey: *p.StateKey()}
		if old, dup := m[k]; dup {
			tb.Errorf("gomatrixserverlib resolved %v twice: %s and %s", k, old, p.EventID())
		}
		m[k] = p.EventID()
	}
	return m
}

// TestStateresSameState checks that both libraries resolve the fork to the
// same state, key by key.
func TestStateresSameState(t *testing.T) {
	for _, cfg := range forkConfigs {
		t.Run("v"+cfg.Version.ID, func(t *testing.T) {
			in := newStateresInput(t, cfg)
			if len(in.conflicted) < 10 {
				t.Fatalf("only %d conflicted keys: the fork is too small to compare", len(in.conflicted))
			}
			t.Logf("%d events, %d state keys, %d conflicted, %d auth events",
				len(in.room.Events), len(in.sets[0]), len(in.conflicted), len(in.gauth))
			ours, err := in.resolveMxkit(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			theirs := gmslStateMap(t, in.resolveGMSL())
			var diff []string
			for k, id := range ours {
				if theirs[k] != id {
					diff = append(diff, fmt.Sprintf("%s %q: mxkit %s, gomatrixserverlib %q", k.Type, k.StateKey, id, theirs[k]))
				}
			}
			for k, id := range theirs {
				if _, ok := ours[k]; !ok {
					diff = append(diff, fmt.Sprintf("%s %q: mxkit absent, gomatrixserverlib %s", k.Type, k.StateKey, id))
				}
			}
			slices.Sort(diff)
			for _, d := range diff {
				t.Error(d)
			}
		})
	}
}

// BenchmarkStateresFork resolves the two-way fork. The baseline runs the
// authorization rules once for each conflicted event against the first
// branch's state: a floor for the iterative auth checks that every
// resolution does.
func BenchmarkStateresFork(b *testing.B) {
	for _, cfg := range forkConfigs {
		in := newStateresInput(b, cfg)
		ctx := context.Background()
		b.Run("v"+cfg.Version.ID+"/lib=mxkit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := in.resolveMxkit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("v"+cfg.Version.ID+"/lib=mxkit-changes", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := stateres.ResolveChanges(ctx, in.room.Version, in.room.Base, in.room.Changes, in.room.Store, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("v"+cfg.Version.ID+"/lib=gmsl", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(in.resolveGMSL()) == 0 {
					b.Fatal("no state")
				}
			}
		})
		state := eventauth.StateMap{}
		for k, id := range in.sets[0] {
			state[k] = in.room.Store.Event(id)
		}
		var evs []*eventauthCase
		for _, k := range in.conflicted {
			for _, s := range in.sets {
				if id, ok := s[k]; ok {
					evs = append(evs, &eventauthCase{ev: in.room.Store.Event(id)})
				}
			}
		}
		b.Run("v"+cfg.Version.ID+"/baseline=eventauth.Allowed-conflicted", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, c := range evs {
					c.err = eventauth.Allowed(in.room.Version, c.ev, state)
				}
			}
		})
	}
}
