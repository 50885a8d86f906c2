package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The state resolution cases of the stateres package are in the shape of
// resolve's input, with the expected state beside it.
type resolveCase struct {
	Name        string                       `json:"name"`
	RoomVersion string                       `json:"room_version"`
	StateSets   [][]string                   `json:"state_sets"`
	Events      []json.RawMessage            `json:"events"`
	Expected    map[string]map[string]string `json:"expected"`
	Rejected    []string                     `json:"rejected"`
}

func loadResolveCases(t *testing.T) map[string]resolveCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "stateres", "testdata", "sets", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no resolve cases: %v", err)
	}
	out := map[string]resolveCase{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c resolveCase
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(c.Rejected) > 0 {
			continue // resolve's input cannot mark events rejected
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = c
	}
	return out
}

func resolveInputJSON(t *testing.T, sets [][]string, events []json.RawMessage) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"state_sets": sets, "events": events})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestResolveCases(t *testing.T) {
	for name, c := range loadResolveCases(t) {
		t.Run(name, func(t *testing.T) {
			r := runTool(t, resolveInputJSON(t, c.StateSets, c.Events), "resolve", "--room-version", c.RoomVersion)
			if r.code != 0 {
				t.Fatalf("status %d: %s", r.code, r.stderr)
			}
			want, err := json.Marshal(map[string]any{"state": c.Expected})
			if err != nil {
				t.Fatal(err)
			}
			// encoding/json sorts map keys and, for these ASCII values,
			// writes what canonical JSON writes.
			if r.stdout != string(want)+"\n" {
				t.Fatalf("%s\n got %s\nwant %s", c.Name, r.stdout, want)
			}
			// Shuffling the events and the state sets changes nothing,
			// byte for byte.
			rng := rand.New(rand.NewPCG(1, 2))
			for range 3 {
				evs := append([]json.RawMessage(nil), c.Events...)
				rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				sets := append([][]string(nil), c.StateSets...)
				rng.Shuffle(len(sets), func(i, j int) { sets[i], sets[j] = sets[j], sets[i] })
				r2 := runTool(t, resolveInputJSON(t, sets, evs), "resolve", "--room-version", c.RoomVersion)
				if r2.code != 0 || r2.stdout != r.stdout {
					t.Fatalf("shuffled input: status %d, output %s", r2.code, r2.stdout)
				}
			}
		})
	}
}

func TestResolveRefusals(t *testing.T) {
	cases := loadResolveCases(t)
	c := cases["msc4297_a_v2"]
	good := resolveInputJSON(t, c.StateSets, c.Events)
	// An event without an event_id.
	var noID map[string]any
	if err := json.Unmarshal(c.Events[1], &noID); err != nil {
		t.Fatal(err)
	}
	delete(noID, "event_id")
	noIDRaw, _ := json.Marshal(noID)
	withoutID := append([]json.RawMessage{noIDRaw}, c.Events[2:]...)
	withoutID = append(withoutID, c.Events[0])
	// A state set naming an event that is missing, and events missing an
	// auth event of a state set's event.
	var missingAuth []json.RawMessage
	for _, e := range c.Events {
		var head struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(e, &head); err != nil {
			t.Fatal(err)
		}
		// Alice's join is in no state set, but in the auth chain of the
		// conflicted join rules.
		if head.EventID != "$member-join-alice.00" {
			missingAuth = append(missingAuth, e)
		}
	}
	if len(missingAuth) != len(c.Events)-1 {
		t.Fatal("the case lacks $member-join-alice.00")
	}
	for _, tc := range []struct {
		name, input string
		args        []string
	}{
		{"not JSON", `{"state_sets": [`, nil},
		{"duplicate key", `{"state_sets": [], "state_sets": [], "events": []}`, nil},
		{"not an object", `[]`, nil},
		{"no state_sets", `{"events": []}`, nil},
		{"no events", `{"state_sets": []}`, nil},
		{"state set not an array", `{"state_sets": [{}], "events": []}`, nil},
		{"event not an object", `{"state_sets": [], "events": [1]}`, nil},
		{"event without event_id", resolveInputJSON(t, c.StateSets, withoutID), nil},
		{"unknown event in a state set", resolveInputJSON(t, [][]string{{"$nowhere"}}, c.Events), nil},
		{"duplicate event", resolveInputJSON(t, c.StateSets, append(append([]json.RawMessage(nil), c.Events...), c.Events[0])), nil},
		{"missing auth event", resolveInputJSON(t, c.StateSets, missingAuth), nil},
		{"unknown room version", good, []string{"resolve", "--room-version", "99"}},
		{"no room version", good, []string{"resolve"}},
		{"positional argument", good, []string{"resolve", "--room-version", "11", "extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				args = []string{"resolve", "--room-version", "11"}
			}
			r := runTool(t, tc.input, args...)
			if r.code != 2 {
				t.Fatalf("status %d (stderr %q), want 2", r.code, r.stderr)
			}
		})
	}
}

func TestResolveOneSet(t *testing.T) {
	c := loadResolveCases(t)["tiebreak_event_id"]
	r := runTool(t, resolveInputJSON(t, c.StateSets[:1], c.Events), "resolve", "--room-version", c.RoomVersion)
	if r.code != 0 {
		t.Fatalf("status %d: %s", r.code, r.stderr)
	}
	var got struct {
		State map[string]map[string]string `json:"state"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range got.State {
		n += len(m)
	}
	if n != len(c.StateSets[0]) || got.State["m.room.topic"][""] != "$topic-b" {
		t.Fatalf("one state set resolves to itself; got %s", r.stdout)
	}
}

// smallFork is a room of room version 10 in four events (create, join, and
// two topics on two branches) with a state set for each branch: the
// smallest input that reaches a real resolution.
const smallFork = `{"room_version":"10","state_sets":[["$c","$a","$1"],["$c","$a","$2"]],"events":[{"event_id":"$c","room_id":"!r:x","sender":"@a:x","type":"m.room.create","content":{"creator":"@a:x"},"depth":1,"origin_server_ts":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"A"},"signatures":{},"state_key":""},{"event_id":"$a","room_id":"!r:x","sender":"@a:x","type":"m.room.member","content":{"membership":"join"},"depth":2,"origin_server_ts":2,"prev_events":["$c"],"auth_events":["$c"],"hashes":{"sha256":"A"},"signatures":{},"state_key":"@a:x"},{"event_id":"$1","room_id":"!r:x","sender":"@a:x","type":"m.room.topic","content":{"topic":"1"},"depth":3,"origin_server_ts":3,"prev_events":["$a"],"auth_events":["$c","$a"],"hashes":{"sha256":"A"},"signatures":{},"state_key":""},{"event_id":"$2","room_id":"!r:x","sender":"@a:x","type":"m.room.topic","content":{"topic":"2"},"depth":3,"origin_server_ts":3,"prev_events":["$a"],"auth_events":["$c","$a"],"hashes":{"sha256":"A"},"signatures":{},"state_key":""}]}`

// TestResolveSmallFork: the small fuzz seed is a fork that resolves.
func TestResolveSmallFork(t *testing.T) {
	r := runTool(t, smallFork, "resolve", "--room-version", "10")
	if r.code != 0 || !strings.Contains(r.stdout, `"m.room.topic":{"":"$`) {
		t.Fatalf("status %d, output %q", r.code, r.stdout)
	}
}

// FuzzResolveInput: whatever the input, resolve answers with status 0, 1
// or 2, never panics, and writes nothing on standard output unless it
// succeeded.
//
// Inputs are bounded to 1 KiB and the seeds are small: the fuzzer minimises
// each new interesting input by running the target on shrinking copies of
// it, a number of runs that grows with the square of its length, and the
// 4 to 11 KB sets of stateres/testdata (which the unit tests resolve) made
// that minimisation outlast a short -fuzztime.
func FuzzResolveInput(f *testing.F) {
	const maxInput = 1 << 10
	f.Add([]byte(smallFork), uint8(3))
	f.Add([]byte(`{"state_sets":[["$a"]],"events":[{"event_id":"$a"}]}`), uint8(1))
	f.Add([]byte(`{"state_sets":[],"events":[]}`), uint8(12))
	f.Fuzz(func(t *testing.T, input []byte, version uint8) {
		if len(input) > maxInput {
			return
		}
		v := []string{"1", "2", "6", "10", "11", "12"}[int(version)%6]
		r := runTool(t, string(input), "resolve", "--room-version", v)
		if r.code != 0 && r.code != 1 && r.code != 2 {
			t.Fatalf("status %d", r.code)
		}
	})
}
