package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
	"github.com/mxkit/mxkit/stateres/roomgen"
)

// The scenarios under testdata are state resolution cases of package
// stateres (its state set cases, and a DAG case as the conformance suite
// writes it), in the input format of mxtool resolve.

type result struct {
	code           int
	stdout, stderr string
}

func runExplorer(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func TestTextScenario(t *testing.T) {
	r := runExplorer(t, "-text", "-full", "testdata/msc4297_b_v21.json")
	if r.code != 0 {
		t.Fatalf("status %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"room !create.00, version 12, 11 events (11 state)",
		"forks (1): $power_levels.02",
		"forward extremities (2): $member-join-zara.00 $member-rename-eve.01",
		"resolution: the state sets of the input",
		"algorithm: v2.1",
		"conflicted subgraph (8): ",
		"power events, sorted (5): $power_levels.00 $join_rules.00 $power_levels.01 $member-join-bob.00 $power_levels.02",
		"(m.room.power_levels, \"\"): set 1 $power_levels.00; set 2 $power_levels.02; resolved $power_levels.02",
		"resolved state (8 entries):",
		"(m.room.member, \"@eve:example.com\") $member-rename-eve.01",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, r.stdout)
		}
	}
	// The subgraph holds $power_levels.01, which neither set names: the
	// case the scenario is about (MSC4297 problem B).
	if !regexp.MustCompile(`conflicted subgraph \(8\): .*\$power_levels\.01`).MatchString(r.stdout) {
		t.Errorf("subgraph without $power_levels.01:\n%s", r.stdout)
	}
}

func TestTextRefusedCheck(t *testing.T) {
	r := runExplorer(t, "-text", "testdata/ban_vs_power_levels_v10.json")
	if r.code != 0 {
		t.Fatalf("status %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"algorithm: v2\n",
		"power            $PB:example.com refused by sender.not_joined: the sender @bob:example.com is not joined to the room",
		"(m.room.power_levels, \"\"): set 1 $PA:example.com; set 2 $PB:example.com; resolved $PA:example.com",
		"resolved state: ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestTextRejected(t *testing.T) {
	r := runExplorer(t, "-text", "testdata/rejected_auth_event_v21.json")
	if r.code != 0 {
		t.Fatalf("status %d: %s", r.code, r.stderr)
	}
	// $pl-bob was rejected on receipt: it is not a forward extremity, and
	// the checks refuse it and the topic that depended on it.
	for _, want := range []string{
		"forward extremities (1): $topic\n",
		"power            $pl-bob refused by event.power",
		"mainline         $topic refused by event.power",
		"(m.room.topic, \"\"): set 1 $topic; set 2 -; resolved (none)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, r.stdout)
		}
	}
}

// writeEvents writes a generated room as a plain array of events.
func writeEvents(t *testing.T, g *roomgen.Room, extra ...json.RawMessage) string {
	t.Helper()
	var raws []json.RawMessage
	for _, ev := range g.Events {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ev.JSON(), &m); err != nil {
			t.Fatal(err)
		}
		if g.Version.Event.EventID == roomversion.EventIDGiven || strings.Contains(ev.ID(), ":") {
			// Readable IDs (or versions 1 and 2) travel in the event;
			// reference hash IDs are computed again when read.
			m["event_id"], _ = json.Marshal(ev.ID())
		}
		raw, _ := json.Marshal(m)
		raws = append(raws, raw)
	}
	raws = append(raws, extra...)
	data, _ := json.Marshal(raws)
	path := filepath.Join(t.TempDir(), "room.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWalkMatchesGenerator: for a room given as a plain array of events,
// the states at the forward extremities are computed by walking the room;
// they must be the generator's own states at its branch tips.
func TestWalkMatchesGenerator(t *testing.T) {
	for _, forks := range []int{2, 3} {
		// With three forks the IDs are reference hashes, not in the file.
		g, err := roomgen.Generate(roomgen.Config{Seed: 5, Members: 40, Forks: forks, ReadableIDs: forks == 2})
		if err != nil {
			t.Fatal(err)
		}
		r, err := loadFile(writeEvents(t, g), "")
		if err != nil {
			t.Fatal(err)
		}
		tips := r.tips()
		if len(tips) != len(g.Tips) {
			t.Fatalf("%d tips, the generator made %d", len(tips), len(g.Tips))
		}
		states, err := r.statesAfter(context.Background(), tips)
		if err != nil {
			t.Fatal(err)
		}
		want := g.StateSets()
		for k, tip := range g.Tips {
			i := r.index[tip.ID()]
			if !maps.Equal(states[i], want[k]) {
				t.Errorf("forks=%d: state after %s: %d entries, want %d", forks, tip.ID(), len(states[i]), len(want[k]))
			}
		}
		res, err := r.chooseResolution(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		direct, err := stateres.Resolve(context.Background(), g.Version, want, g.Store, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(res.Result, direct) {
			t.Errorf("forks=%d: the explained resolution differs from resolving the tips directly", forks)
		}
	}
}

// TestAtMerge: -at explains the state before a merge event, from its
// parents' states computed by the walk.
func TestAtMerge(t *testing.T) {
	g, err := roomgen.Generate(roomgen.Config{Seed: 9, Members: 20, Forks: 2, ReadableIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	// A message that merges the two branches.
	var tmpl map[string]any
	json.Unmarshal(g.Tips[0].JSON(), &tmpl)
	tmpl["event_id"] = "$merge:example.org"
	tmpl["type"] = "m.room.message"
	delete(tmpl, "state_key")
	tmpl["content"] = map[string]string{"body": "merged", "msgtype": "m.text"}
	tmpl["prev_events"] = []string{g.Tips[0].ID(), g.Tips[1].ID()}
	tmpl["depth"] = max(g.Tips[0].Depth(), g.Tips[1].Depth()) + 1
	merge, _ := json.Marshal(tmpl)
	path := writeEvents(t, g, merge)

	r := runExplorer(t, "-text", "-at", "$merge:example.org", path)
	if r.code != 0 {
		t.Fatalf("status %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"forward extremities (1): $merge:example.org",
		"resolution: the state before $merge:example.org (a merge of its prev events)",
		"set 1: after " + g.Tips[0].ID(),
		"set 2: after " + g.Tips[1].ID(),
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, r.stdout)
		}
	}
	// Without -at there is one forward extremity: nothing to resolve.
	r = runExplorer(t, "-text", path)
	if r.code != 0 || !strings.Contains(r.stdout, "Nothing to resolve") {
		t.Errorf("status %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{nil, "exactly one of"},
		{[]string{"-gen", "-in", "x"}, "exactly one of"},
		{[]string{"-in", filepath.Join(dir, "absent.json")}, "no such file"},
		{[]string{"-in", file("text.json", "hello")}, "neither an array of events"},
		{[]string{"-in", file("empty.json", "[]")}, "no events"},
		{[]string{"-in", file("noevents.json", `{"state_sets":[]}`)}, `no "events"`},
		{[]string{"-in", "testdata/msc4297_b_v21.json", "-room-version", "99"}, `unknown room version "99"`},
		{[]string{"-in", file("bad.json", `[{"type":"m.room.create","event_id":"$c","content":{"room_version":"10"}}]`)}, "events[0]"},
		{[]string{"-in", "testdata/msc4297_b_v21.json", "-at", "$nope"}, "no event $nope"},
		{[]string{"-in", "testdata/msc4297_b_v21.json", "-at", "$create.00"}, "needs no resolution"},
		{[]string{"-gen", "-room-version", "x"}, `unknown room version "x"`},
		{[]string{"-db", filepath.Join(dir, "absent.db")}, "no such file"},
		{[]string{"-db", file("notdb.db", "not a database")}, "not an example homeserver database"},
		{[]string{"-in", "a", "b"}, "unexpected argument"},
	} {
		r := runExplorer(t, c.args...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, c.mention) {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want status 2 mentioning %q", c.args, r.code, clip(r.stdout), r.stderr, c.mention)
		}
	}
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// TestDatabase reads a room from a database in the example homeserver's
// schema (version 1): events with their state groups, extremities, a
// rejected event.
func TestDatabase(t *testing.T) {
	var f roomFile
	data, _ := os.ReadFile("testdata/rejected_auth_event_v21.json")
	json.Unmarshal(data, &f)
	file, err := loadFile("testdata/rejected_auth_event_v21.json", "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hs.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`)
	exec(`INSERT INTO meta VALUES ('schema_version', '1')`)
	exec(`CREATE TABLE rooms (room_id TEXT PRIMARY KEY, version TEXT NOT NULL, state_group INTEGER NOT NULL DEFAULT 0, created_ts INTEGER NOT NULL)`)
	exec(`CREATE TABLE events (stream INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL, type TEXT NOT NULL, state_key TEXT, sender TEXT NOT NULL, depth INTEGER NOT NULL, origin_ts INTEGER NOT NULL, json BLOB NOT NULL, status INTEGER NOT NULL, state_after INTEGER NOT NULL DEFAULT 0)`)
	exec(`CREATE TABLE state_groups (id INTEGER PRIMARY KEY AUTOINCREMENT, room_id TEXT NOT NULL, state BLOB NOT NULL)`)
	exec(`CREATE TABLE extremities (room_id TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (room_id, event_id))`)
	roomID := file.roomID
	exec(`INSERT INTO rooms VALUES (?, '12', 0, 0)`, roomID)
	// The server's states: the file's state sets after the events that
	// are its forward extremities here, the walk's state elsewhere.
	all := make([]int, len(file.events))
	for i := range all {
		all[i] = i
	}
	walked, err := file.statesAfter(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	exts := []string{"$topic", "$bob"}
	override := map[string]stateres.StateMap{"$topic": file.stateSets[0], "$bob": file.stateSets[1]}
	for i, ev := range file.events {
		st := walked[i]
		if o, ok := override[ev.ID()]; ok {
			st = o
		}
		var rows [][3]string
		for k, id := range st {
			rows = append(rows, [3]string{k.Type, k.StateKey, id})
		}
		blob, _ := json.Marshal(rows)
		res, err := db.Exec(`INSERT INTO state_groups (room_id, state) VALUES (?, ?)`, roomID, blob)
		if err != nil {
			t.Fatal(err)
		}
		group, _ := res.LastInsertId()
		status := 0
		if file.rejected[i] {
			status = statusRejected
		}
		sk, _ := ev.StateKey()
		var raw map[string]json.RawMessage
		json.Unmarshal(ev.JSON(), &raw)
		delete(raw, "event_id") // the server stores the PDU as sent
		pdu, _ := json.Marshal(raw)
		exec(`INSERT INTO events (event_id, room_id, type, state_key, sender, depth, origin_ts, json, status, state_after) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			ev.ID(), roomID, ev.Type(), sk, ev.Sender(), ev.Depth(), ev.OriginServerTS(), pdu, status, group)
	}
	for _, id := range exts {
		exec(`INSERT INTO extremities VALUES (?, ?)`, roomID, id)
	}
	db.Close()

	r := runExplorer(t, "-text", "-db", path)
	if r.code != 0 {
		t.Fatalf("status %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"room " + roomID + ", version 12, 7 events",
		"forward extremities (2): $bob $topic",
		"resolution: the states at the 2 forward extremities",
		"power            $pl-bob refused by event.power",
		"(m.room.topic, \"\"): set 1 -; set 2 $topic; resolved (none)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := runExplorer(t, "-text", "-db", path, "-room", "!other"); r.code != 2 || !strings.Contains(r.stderr, "no room !other") {
		t.Errorf("unknown room: %d %s", r.code, r.stderr)
	}
}

// TestPageSelfContained: the page references no other file and nothing
// on the network, and the room's data cannot end its script element.
func TestPageSelfContained(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.html")
	// A state key that tries to close the script element.
	evil := `{"room_version":"10","state_sets":[],"events":[{"event_id":"$c","type":"m.room.create","state_key":"</script><script>alert(1)</script>","sender":"@a:x","room_id":"!r:x","content":{"creator":"@a:x"},"depth":1,"origin_server_ts":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"AAAA"},"signatures":{}}]}`
	in := filepath.Join(dir, "evil.json")
	os.WriteFile(in, []byte(evil), 0o644)
	if r := runExplorer(t, "-in", in, "-o", path); r.code != 0 {
		t.Fatalf("status %d: %s", r.code, r.stderr)
	}
	page, _ := os.ReadFile(path)
	s := string(page)
	if strings.Count(s, "</script>") != 2 {
		t.Errorf("the page has %d </script>; the data escaped its element", strings.Count(s, "</script>"))
	}
	for _, bad := range []string{"<link", " src=", " href=", "@import", "url(", "fetch(", "XMLHttpRequest"} {
		if strings.Contains(s, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if !strings.Contains(s, "default-src 'none'") {
		t.Error("no content security policy")
	}
}

// TestGeneratedSizes: rooms of 10 to 10,000 events make pages, the
// largest without drawing every event.
func TestGeneratedSizes(t *testing.T) {
	for _, c := range []struct {
		members, forkEvents, min, max int
	}{
		{1, 2, 10, 20},
		{8300, 10, 10000, 10100},
	} {
		r := runExplorer(t, "-gen", "-members", fmt.Sprint(c.members), "-fork-events", fmt.Sprint(c.forkEvents), "-text")
		m := regexp.MustCompile(`version 12, (\d+) events`).FindStringSubmatch(r.stdout)
		var n int
		if m != nil {
			fmt.Sscan(m[1], &n)
		}
		if r.code != 0 || n < c.min || n > c.max {
			t.Errorf("-members %d: status %d, %d events, want %d to %d\n%s", c.members, r.code, n, c.min, c.max, r.stderr)
		}
	}
}
