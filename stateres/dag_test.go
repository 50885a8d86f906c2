package stateres

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/internal/testvectors"
	"github.com/mxkit/mxkit/roomversion"
)

// The DAG cases (testdata/dag) describe a room as events and prev_events
// chains, the way the reference implementation's tests do. The harness
// walks the DAG parents first (ties by node name), gives each event the
// next origin_server_ts, takes the state before it from its single parent
// or by resolving its parents' states, picks its auth events from that
// state by the auth events selection, and finally compares the state at
// END with the expected events (plus every key that changed since START).

// The DAG case format and its reader are shared with the conformance
// suite's generator (package testvectors).
type (
	dagEvent = testvectors.DAGEvent
	dagFile  = testvectors.DAGFile
)

// pduJSON renders a PDU of room version v. Hashes and signatures are
// placeholders: state resolution does not check them.
func pduJSON(v roomversion.Version, id, roomID, sender, typ string, stateKey *string, content []byte, prev, auth []string, depth, ts int64) []byte {
	refs := func(ids []string) string {
		parts := make([]string, len(ids))
		for k, x := range ids {
			q, _ := json.Marshal(x)
			if v.Event.Format == roomversion.EventFormatV1 {
				parts[k] = fmt.Sprintf(`[%s,{"sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]`, q)
			} else {
				parts[k] = string(q)
			}
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	var b strings.Builder
	q := func(s string) string { x, _ := json.Marshal(s); return string(x) }
	b.WriteString("{")
	if v.Event.Format == roomversion.EventFormatV1 {
		fmt.Fprintf(&b, `"event_id":%s,`, q(id))
	}
	if roomID != "" {
		fmt.Fprintf(&b, `"room_id":%s,`, q(roomID))
	}
	fmt.Fprintf(&b, `"sender":%s,"type":%s,`, q(sender), q(typ))
	if stateKey != nil {
		fmt.Fprintf(&b, `"state_key":%s,`, q(*stateKey))
	}
	if len(content) == 0 {
		content = []byte("{}")
	}
	fmt.Fprintf(&b, `"content":%s,"depth":%d,"origin_server_ts":%d,"prev_events":%s,"auth_events":%s,`, content, depth, ts, refs(prev), refs(auth))
	b.WriteString(`"hashes":{"sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"signatures":{}}`)
	return []byte(b.String())
}

func loadDAG(t *testing.T, name string) dagFile {
	t.Helper()
	f, err := testvectors.LoadDAG(filepath.Join("testdata", "dag", name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// dagRun builds the room of a DAG case in room version v and returns the
// state at each node and the store.
type dagRun struct {
	v       roomversion.Version
	store   *MemoryStore
	ids     map[string]string // node -> event ID
	stateAt map[string]StateMap
}

func runDAG(t *testing.T, v roomversion.Version, initial, c dagFile) *dagRun {
	t.Helper()
	// Parents first; among ready nodes the smallest name.
	dag, err := testvectors.BuildDAG(initial, c)
	if err != nil {
		t.Fatal(err)
	}
	nodes, prevs, order := dag.Nodes, dag.Prevs, dag.Order

	r := &dagRun{v: v, store: NewMemoryStore(), ids: map[string]string{}, stateAt: map[string]StateMap{}}
	for n := range nodes {
		r.ids[n] = "$" + n + ":example.com"
	}
	roomID := "!test:example.com"
	if v.Event.RoomID == roomversion.RoomIDCreateHash {
		roomID = "!CREATE:example.com"
	}
	depth := map[string]int64{}
	var ts int64
	for _, n := range order {
		ne := nodes[n]
		var prevIDs []string
		var d int64
		for p := range prevs[n] {
			prevIDs = append(prevIDs, r.ids[p])
			d = max(d, depth[p]+1)
		}
		slices.Sort(prevIDs)
		depth[n] = d

		var before StateMap
		switch len(prevIDs) {
		case 0:
			before = StateMap{}
		case 1:
			before = maps1(r.stateAt[strings.TrimSuffix(strings.TrimPrefix(prevIDs[0], "$"), ":example.com")])
		default:
			var sets []StateMap
			for p := range prevs[n] {
				sets = append(sets, r.stateAt[p])
			}
			var err error
			before, err = Resolve(context.Background(), v, sets, r.store, nil)
			if err != nil {
				t.Fatalf("resolving the state before %s: %v", n, err)
			}
		}

		content, rid := ne.ContentAndRoom(v, roomID)
		// Auth events: the selection, looked up in the state before.
		probe, err := event.ParseWithID(v, pduJSON(v, r.ids[n], rid, ne.Sender, ne.Type, ne.StateKey, content, prevIDs, nil, d, ts), r.ids[n])
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		needed, err := eventauth.Needed(v, probe)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		var auth []string
		for _, k := range needed {
			if id, ok := before[k]; ok {
				auth = append(auth, id)
			}
		}
		ev, err := event.ParseWithID(v, pduJSON(v, r.ids[n], rid, ne.Sender, ne.Type, ne.StateKey, content, prevIDs, auth, d, ts), r.ids[n])
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		ts++
		r.store.Add(ev)
		after := maps1(before)
		if ne.StateKey != nil {
			after[StateKey{Type: ne.Type, StateKey: *ne.StateKey}] = ev.ID()
		}
		r.stateAt[n] = after
	}
	return r
}

func maps1(m StateMap) StateMap {
	out := make(StateMap, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestDAGCases(t *testing.T) {
	initial := loadDAG(t, "initial.json")
	files, _ := filepath.Glob(filepath.Join("testdata", "dag", "*.json"))
	for _, path := range files {
		name := filepath.Base(path)
		if name == "initial.json" {
			continue
		}
		c := loadDAG(t, name)
		for _, vid := range c.RoomVersions {
			t.Run(strings.TrimSuffix(name, ".json")+"/v"+vid, func(t *testing.T) {
				v, err := roomversion.Get(vid)
				if err != nil {
					t.Fatal(err)
				}
				r := runDAG(t, v, initial, c)
				want := StateMap{}
				for _, n := range c.Expected {
					ev := r.store.Event(r.ids[n])
					sk, _ := ev.StateKey()
					want[StateKey{Type: ev.Type(), StateKey: sk}] = ev.ID()
				}
				start, end := r.stateAt["START"], r.stateAt["END"]
				got := StateMap{}
				for k, id := range end {
					if _, ok := want[k]; ok || start[k] != id {
						got[k] = id
					}
				}
				if !mapsEqual(got, want) {
					t.Errorf("%s: state at END (changed keys):\n got %v\nwant %v", c.Name, got, want)
				}
			})
		}
	}
}

func mapsEqual(a, b StateMap) bool {
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
