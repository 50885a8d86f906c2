package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"

	_ "modernc.org/sqlite" // the example homeserver's database driver

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
	"github.com/mxkit/mxkit/stateres/roomgen"
)

// roomFile is the JSON room format: mxtool resolve's input, plus an
// optional room version and list of rejected events.
type roomFile struct {
	RoomVersion string            `json:"room_version"`
	StateSets   [][]string        `json:"state_sets"`
	Events      []json.RawMessage `json:"events"`
	Rejected    []string          `json:"rejected"`
}

// loadFile reads a room from a JSON file: either an array of events, or an
// object {"state_sets": [[event ID, ...], ...], "events": [...]} (the
// input of mxtool resolve), which may also hold "room_version" and
// "rejected" (IDs of events rejected on receipt). The room version is
// versionID, else the file's "room_version", else the create event's
// content.room_version ("1" when it has none, as the specification says).
func loadFile(path, versionID string) (*room, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return loadData(path, data, versionID)
}

// loadData is loadFile on the contents of the file named path.
func loadData(path string, data []byte, versionID string) (*room, error) {
	var f roomFile
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		if err := json.Unmarshal(trimmed, &f.Events); err != nil {
			return nil, fmt.Errorf("%s: not an array of events: %v", path, err)
		}
	case len(trimmed) > 0 && trimmed[0] == '{':
		if err := json.Unmarshal(trimmed, &f); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if f.Events == nil {
			return nil, fmt.Errorf("%s: no \"events\" array", path)
		}
	default:
		return nil, fmt.Errorf("%s: neither an array of events nor an object with \"events\"", path)
	}
	if len(f.Events) == 0 {
		return nil, fmt.Errorf("%s: no events", path)
	}
	if versionID == "" {
		versionID = f.RoomVersion
	}
	if versionID == "" {
		versionID = createVersion(f.Events)
	}
	v, ok := roomversion.Lookup(versionID)
	if !ok {
		return nil, fmt.Errorf("unknown room version %q", versionID)
	}
	evs, err := parseEvents(v, f.Events)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rejected := map[string]bool{}
	for _, id := range f.Rejected {
		rejected[id] = true
	}
	r, err := newRoom(v, evs, rejected)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.source = path
	for k, ids := range f.StateSets {
		m := stateres.StateMap{}
		for _, id := range ids {
			i, ok := r.index[id]
			if !ok {
				return nil, fmt.Errorf("%s: state_sets[%d] names %s, which is not among the events", path, k, id)
			}
			sk, isState := r.events[i].StateKey()
			if !isState {
				return nil, fmt.Errorf("%s: state_sets[%d] names %s, which is not a state event", path, k, id)
			}
			m[stateres.StateKey{Type: r.events[i].Type(), StateKey: sk}] = id
		}
		r.stateSets = append(r.stateSets, m)
	}
	return r, nil
}

// createVersion reads content.room_version of the create event among raws.
func createVersion(raws []json.RawMessage) string {
	for _, raw := range raws {
		var head struct {
			Type    string `json:"type"`
			Content struct {
				RoomVersion string `json:"room_version"`
			} `json:"content"`
		}
		if json.Unmarshal(raw, &head) == nil && head.Type == "m.room.create" {
			if head.Content.RoomVersion == "" {
				return "1"
			}
			return head.Content.RoomVersion
		}
	}
	return ""
}

// loadGenerated makes a room with the room generator; its state sets are
// the states at the branch tips.
func loadGenerated(cfg roomgen.Config) (*room, error) {
	g, err := roomgen.Generate(cfg)
	if err != nil {
		return nil, err
	}
	r, err := newRoom(g.Version, g.Events, nil)
	if err != nil {
		return nil, err
	}
	r.source = fmt.Sprintf("room generator (seed %d, %d members, %d forks)", cfg.Seed, cfg.Members, len(g.Tips))
	if len(g.Tips) > 1 {
		r.stateSets = g.StateSets()
		r.setsTitle = fmt.Sprintf("the states at the %d branch tips", len(g.Tips))
		for _, t := range g.Tips {
			r.setLabels = append(r.setLabels, "branch tip "+t.ID())
		}
	}
	return r, nil
}

// The example homeserver's database (schema version 1): rooms(room_id,
// version), events(stream, event_id, room_id, json, status, state_after),
// extremities(room_id, event_id) and state_groups(id, state), where a
// state is a JSON array of [type, state_key, event_id] and status 2 marks
// a rejected event.
const statusRejected = 2

// loadDB reads a room from the example homeserver's SQLite database,
// read-only. roomID may be empty when the database holds one room.
func loadDB(ctx context.Context, path, roomID string) (*room, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("%s: not an example homeserver database: %w", path, err)
	}
	if schema != "1" {
		return nil, fmt.Errorf("%s: schema version %s; this explorer reads version 1", path, schema)
	}
	if roomID == "" {
		rows, err := db.QueryContext(ctx, `SELECT room_id FROM rooms ORDER BY room_id`)
		if err != nil {
			return nil, err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(ids) != 1 {
			return nil, fmt.Errorf("%s holds %d rooms; choose one with -room (%s)", path, len(ids), strings.Join(ids, ", "))
		}
		roomID = ids[0]
	}
	var versionID string
	if err := db.QueryRowContext(ctx, `SELECT version FROM rooms WHERE room_id = ?`, roomID).Scan(&versionID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%s: no room %s", path, roomID)
		}
		return nil, err
	}
	v, ok := roomversion.Lookup(versionID)
	if !ok {
		return nil, fmt.Errorf("room %s has unknown room version %q", roomID, versionID)
	}
	rows, err := db.QueryContext(ctx, `SELECT event_id, json, status, state_after FROM events WHERE room_id = ? ORDER BY stream`, roomID)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	var ids []string
	rejected := map[string]bool{}
	groupOf := map[string]int64{}
	for rows.Next() {
		var id string
		var raw []byte
		var status int
		var group int64
		if err := rows.Scan(&id, &raw, &status, &group); err != nil {
			rows.Close()
			return nil, err
		}
		raws = append(raws, raw)
		ids = append(ids, id)
		if status == statusRejected {
			rejected[id] = true
		}
		groupOf[id] = group
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var evs []*event.Event
	for k, raw := range raws {
		ev, err := event.ParseWithID(v, raw, ids[k])
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", ids[k], err)
		}
		evs = append(evs, ev)
	}
	r, err := newRoom(v, evs, rejected)
	if err != nil {
		return nil, err
	}
	r.roomID = roomID
	r.source = path
	ext, err := db.QueryContext(ctx, `SELECT event_id FROM extremities WHERE room_id = ? ORDER BY event_id`, roomID)
	if err != nil {
		return nil, err
	}
	r.extremities = []int{}
	for ext.Next() {
		var id string
		if err := ext.Scan(&id); err != nil {
			ext.Close()
			return nil, err
		}
		if i, ok := r.index[id]; ok {
			r.extremities = append(r.extremities, i)
		}
	}
	ext.Close()
	if err := ext.Err(); err != nil {
		return nil, err
	}
	// The stored states are read now: the database is closed on return.
	states := map[int64]stateres.StateMap{}
	r.stateAfter = func(i int) (stateres.StateMap, error) {
		g := groupOf[r.events[i].ID()]
		if s, ok := states[g]; ok {
			return s, nil
		}
		return nil, fmt.Errorf("no state stored after %s", r.events[i].ID())
	}
	for _, id := range ids {
		g := groupOf[id]
		if _, done := states[g]; done || g == 0 {
			continue
		}
		s, err := readStateGroup(ctx, db, g, states)
		if err != nil {
			return nil, err
		}
		states[g] = s
	}
	return r, nil
}

// readStateGroup reads a state group of the homeserver's database: a
// snapshot, or (schema 2) a delta on its prev group, whose entries with an
// empty event ID are keys removed. A database of schema 1 has only
// snapshots (and no prev column).
func readStateGroup(ctx context.Context, db *sql.DB, g int64, known map[int64]stateres.StateMap) (stateres.StateMap, error) {
	var blob []byte
	var prev int64
	if err := db.QueryRowContext(ctx, `SELECT state, prev FROM state_groups WHERE id = ?`, g).Scan(&blob, &prev); err != nil {
		prev = 0
		if err2 := db.QueryRowContext(ctx, `SELECT state FROM state_groups WHERE id = ?`, g).Scan(&blob); err2 != nil {
			return nil, fmt.Errorf("state group %d: %w", g, err)
		}
	}
	var rowsOf [][3]string
	if err := json.Unmarshal(blob, &rowsOf); err != nil {
		return nil, fmt.Errorf("state group %d: %w", g, err)
	}
	s := stateres.StateMap{}
	if prev != 0 {
		base, ok := known[prev]
		if !ok {
			var err error
			if base, err = readStateGroup(ctx, db, prev, known); err != nil {
				return nil, err
			}
			known[prev] = base
		}
		s = maps.Clone(base)
	}
	for _, x := range rowsOf {
		k := stateres.StateKey{Type: x[0], StateKey: x[1]}
		if x[2] == "" && prev != 0 {
			delete(s, k)
		} else {
			s[k] = x[2]
		}
	}
	return s, nil
}
