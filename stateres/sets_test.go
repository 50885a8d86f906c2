package stateres

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/internal/testvectors"
	"github.com/mxkit/mxkit/roomversion"
)

// The state set cases (testdata/sets) give the events and the state sets
// explicitly, in the shape of mxtool resolve's input, with the expected
// resolved state.

// The state set case format and its reader are shared with the
// conformance suite's generator (package testvectors).
type setsFile = testvectors.SetsFile

type setsCase struct {
	file  setsFile
	v     roomversion.Version
	store *MemoryStore
	sets  []StateMap
	want  StateMap
}

func loadSets(t testing.TB, path string) *setsCase {
	t.Helper()
	c := &setsCase{store: NewMemoryStore(), want: StateMap{}}
	var err error
	if c.file, err = testvectors.LoadSets(path); err != nil {
		t.Fatal(err)
	}
	if c.v, err = roomversion.Get(c.file.RoomVersion); err != nil {
		t.Fatal(err)
	}
	byID := map[string]*event.Event{}
	for k, raw := range c.file.Events {
		var head struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatal(err)
		}
		ev, err := event.ParseWithID(c.v, raw, head.EventID)
		if err != nil {
			t.Fatalf("%s: event %d: %v", path, k, err)
		}
		byID[ev.ID()] = ev
		if slices.Contains(c.file.Rejected, ev.ID()) {
			c.store.AddRejected(ev)
		} else {
			c.store.Add(ev)
		}
	}
	for _, ids := range c.file.StateSets {
		s := StateMap{}
		for _, id := range ids {
			ev := byID[id]
			if ev == nil {
				t.Fatalf("%s: state set names unknown event %s", path, id)
			}
			sk, _ := ev.StateKey()
			s[StateKey{Type: ev.Type(), StateKey: sk}] = id
		}
		c.sets = append(c.sets, s)
	}
	for typ, m := range c.file.Expected {
		for sk, id := range m {
			c.want[StateKey{Type: typ, StateKey: sk}] = id
		}
	}
	return c
}

func TestStateSetCases(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sets", "*.json"))
	if len(files) == 0 {
		t.Fatal("no cases")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			c := loadSets(t, path)
			var tr Trace
			got, err := Resolve(context.Background(), c.v, c.sets, c.store, &Options{Trace: &tr})
			if err != nil {
				t.Fatal(err)
			}
			if !mapsEqual(got, c.want) {
				t.Errorf("%s\n got %v\nwant %v\ntrace:\n%s", c.file.Name, got, c.want, tr.String())
			}
			// The order of the state sets does not matter.
			rev := slices.Clone(c.sets)
			slices.Reverse(rev)
			got2, err := Resolve(context.Background(), c.v, rev, c.store, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !mapsEqual(got2, got) {
				t.Errorf("reversed state sets give %v, not %v", got2, got)
			}
			lists := map[string][]string{
				"conflicted":      tr.Conflicted,
				"auth_difference": tr.AuthDifference,
				"subgraph":        tr.Subgraph,
				"full_conflicted": tr.FullConflicted,
				"power_events":    tr.PowerEvents,
				"mainline":        tr.Mainline,
				"others":          tr.Others,
			}
			for name, ids := range c.file.Trace {
				l, ok := lists[name]
				if !ok {
					t.Fatalf("unknown trace list %q", name)
				}
				for _, id := range ids {
					if !slices.Contains(l, id) {
						t.Errorf("trace %s = %v lacks %s", name, l, id)
					}
				}
			}
			for name, ids := range c.file.TraceLacks {
				l, ok := lists[name]
				if !ok {
					t.Fatalf("unknown trace list %q", name)
				}
				for _, id := range ids {
					if slices.Contains(l, id) {
						t.Errorf("trace %s = %v holds %s", name, l, id)
					}
				}
			}
		})
	}
}
