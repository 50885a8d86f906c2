// Package testvectors reads the JSON test-vector formats that more than one
// of mxkit's test suites consume, so that each format has one reader: the
// authorization rule cases of package eventauth (eventauth/testdata), and
// the DAG and state set cases of package stateres (stateres/testdata).
// Package eventauth's and package stateres's own tests read them, and so
// does the generator of the language-neutral conformance suite, which turns
// the same vectors into cases of the mxtool contract.
//
// The readers only decode and check the shape of the files (unknown fields
// are an error, so that a misspelt key cannot silently drop part of a
// case); how the cases are built into events for a room version is left to
// each harness. The rules the vectors exercise are those of the spec's room
// versions (content/rooms/v*.md, "Authorisation rules" and "State
// resolution"; content/server-server-api.md, "Authorisation rules").
package testvectors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/mxkit/mxkit/roomversion"
)

// ErrFormat is the error, usable with errors.Is, for a test-vector file
// that does not hold what its format promises.
var ErrFormat = errors.New("testvectors: bad test vector")

// DecodeFile decodes the JSON file at path into v, rejecting fields that
// v does not declare and anything after the first JSON value.
func DecodeFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: %w: data after the JSON value at offset %d", path, ErrFormat, dec.InputOffset())
	}
	return nil
}

// ParseVersions parses a list of room versions such as "1-5,7,10-12":
// comma-separated numbers and inclusive ranges, each a known room version.
func ParseVersions(s string) ([]roomversion.Version, error) {
	var out []roomversion.Version
	for _, part := range strings.Split(s, ",") {
		lo, hi, found := strings.Cut(strings.TrimSpace(part), "-")
		if !found {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a > b {
			return nil, fmt.Errorf("%w: versions %q: part %q is not a number or an ascending range", ErrFormat, s, part)
		}
		for n := a; n <= b; n++ {
			v, err := roomversion.Get(strconv.Itoa(n))
			if err != nil {
				return nil, fmt.Errorf("%w: versions %q: %v", ErrFormat, s, err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// AuthEvent is one event of the authorization rule cases, written
// version-neutral: a harness renders it in a room version's format. ID is
// the event's readable ID ("$" and the fixture name when empty); Prev and
// Redacts name other fixtures; RoomID, when set, overrides the room the
// harness would choose; NoCreator keeps content.creator off a create event
// in the versions that would add it.
type AuthEvent struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Sender     string          `json:"sender"`
	StateKey   *string         `json:"state_key"`
	Content    json.RawMessage `json:"content"`
	Prev       []string        `json:"prev"`
	RoomID     *string         `json:"room_id"`
	NoCreator  bool            `json:"no_creator"`
	Signatures json.RawMessage `json:"signatures"`
	Redacts    string          `json:"redacts"`
}

// AuthCase is one authorization rule case: the room versions it applies
// to (in the form ParseVersions reads), the auth events by fixture name,
// the event to check (a fixture name as a JSON string, or an AuthEvent
// object), and Expect, "allow" or the identifier of the rule that rejects
// the event. AuthList, when not nil, is the event's own auth_events list
// (by fixture name); Rejected names auth events that were rejected.
type AuthCase struct {
	Name     string          `json:"name"`
	Versions string          `json:"versions"`
	Comment  string          `json:"comment"`
	Auth     []string        `json:"auth"`
	AuthList []string        `json:"auth_list"`
	Rejected []string        `json:"rejected"`
	Event    json.RawMessage `json:"event"`
	Expect   string          `json:"expect"`
	// AllowedOnly: the case is about Allowed with the auth events as
	// state (a rule that the list checks of Check would hide).
	AllowedOnly bool `json:"allowed_only"`
}

// AuthCaseFile is one file of authorization rule cases.
type AuthCaseFile struct {
	// Group is the file's name without ".json"; it is not in the file.
	Group       string                `json:"-"`
	Description string                `json:"description"`
	Events      map[string]*AuthEvent `json:"events"`
	Cases       []AuthCase            `json:"cases"`
}

// LoadAuthFixtures reads the shared fixtures of the authorization rule
// cases, dir/fixtures.json.
func LoadAuthFixtures(dir string) (map[string]*AuthEvent, error) {
	var fixtures map[string]*AuthEvent
	if err := DecodeFile(filepath.Join(dir, "fixtures.json"), &fixtures); err != nil {
		return nil, err
	}
	return fixtures, nil
}

// LoadAuthCases reads the authorization rule cases under dir (package
// eventauth's testdata): the fixtures of dir/fixtures.json and every
// dir/cases/*.json, in file name order. Each file's Events come back
// merged with the fixtures, so that they are every event its cases can
// name; a file's own event may not take a fixture's name.
func LoadAuthCases(dir string) ([]*AuthCaseFile, error) {
	fixtures, err := LoadAuthFixtures(dir)
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "cases", "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no case files in %s", ErrFormat, filepath.Join(dir, "cases"))
	}
	sort.Strings(files)
	out := make([]*AuthCaseFile, 0, len(files))
	for _, f := range files {
		cf := &AuthCaseFile{Group: strings.TrimSuffix(filepath.Base(f), ".json")}
		if err := DecodeFile(f, cf); err != nil {
			return nil, err
		}
		merged := make(map[string]*AuthEvent, len(fixtures)+len(cf.Events))
		for k, v := range fixtures {
			merged[k] = v
		}
		for k, v := range cf.Events {
			if _, dup := merged[k]; dup {
				return nil, fmt.Errorf("%w: %s: event %q shadows a fixture", ErrFormat, f, k)
			}
			merged[k] = v
		}
		cf.Events = merged
		out = append(out, cf)
	}
	return out, nil
}

// DAGEvent is one node of a DAG case: ID is the node's name (the harness
// makes the event ID from it).
type DAGEvent struct {
	ID       string          `json:"id"`
	Sender   string          `json:"sender"`
	Type     string          `json:"type"`
	StateKey *string         `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

// DAGFile is one DAG case of package stateres (testdata/dag): events, and
// Edges as chains of node names, each node's prev_events being the next
// node of the chain. Expected names the events of the state at END that
// differ from START. The file initial.json holds the room every case
// builds on.
type DAGFile struct {
	Name         string     `json:"name"`
	Comment      string     `json:"comment"`
	RoomVersions []string   `json:"room_versions"`
	Events       []DAGEvent `json:"events"`
	Edges        [][]string `json:"edges"`
	Expected     []string   `json:"expected"`
}

// LoadDAG reads one DAG case file.
func LoadDAG(path string) (DAGFile, error) {
	var f DAGFile
	err := DecodeFile(path, &f)
	return f, err
}

// DAG is the graph of one or more DAG files laid over each other.
type DAG struct {
	// Nodes by name; a later file's node replaces an earlier one's.
	Nodes map[string]DAGEvent
	// Prevs holds each node's parents (its prev_events).
	Prevs map[string]map[string]bool
	// Order is parents first; among the nodes ready at once, the
	// smallest name first.
	Order []string
}

// BuildDAG lays the files over each other in the order given (a case over
// initial.json) and orders the nodes. An edge naming an unknown node and
// a cycle are errors.
func BuildDAG(files ...DAGFile) (*DAG, error) {
	d := &DAG{Nodes: map[string]DAGEvent{}, Prevs: map[string]map[string]bool{}}
	for _, f := range files {
		for _, e := range f.Events {
			d.Nodes[e.ID] = e
			d.Prevs[e.ID] = map[string]bool{}
		}
	}
	for _, f := range files {
		for _, chain := range f.Edges {
			for k := 0; k+1 < len(chain); k++ {
				if _, ok := d.Nodes[chain[k]]; !ok {
					return nil, fmt.Errorf("%w: %s: edge names unknown node %s", ErrFormat, f.Name, chain[k])
				}
				if _, ok := d.Nodes[chain[k+1]]; !ok {
					return nil, fmt.Errorf("%w: %s: edge names unknown node %s", ErrFormat, f.Name, chain[k+1])
				}
				d.Prevs[chain[k]][chain[k+1]] = true
			}
		}
	}
	done := map[string]bool{}
	for len(d.Order) < len(d.Nodes) {
		var ready []string
		for n := range d.Nodes {
			if done[n] {
				continue
			}
			ok := true
			for p := range d.Prevs[n] {
				ok = ok && done[p]
			}
			if ok {
				ready = append(ready, n)
			}
		}
		if len(ready) == 0 {
			return nil, fmt.Errorf("%w: cycle in DAG case", ErrFormat)
		}
		sort.Strings(ready)
		done[ready[0]] = true
		d.Order = append(d.Order, ready[0])
	}
	return d, nil
}

// SetsFile is one state set case of package stateres (testdata/sets): the
// events (PDUs with "event_id") and the state sets as event IDs, in the
// shape of mxtool resolve's input, and the expected resolved state by type
// and state key. Rejected names events stored as rejected.
type SetsFile struct {
	Name        string                       `json:"name"`
	Comment     string                       `json:"comment"`
	RoomVersion string                       `json:"room_version"`
	StateSets   [][]string                   `json:"state_sets"`
	Events      []json.RawMessage            `json:"events"`
	Rejected    []string                     `json:"rejected"`
	Expected    map[string]map[string]string `json:"expected"`
	// Trace lists facts the trace must show: event IDs in the named lists.
	Trace map[string][]string `json:"trace"`
	// TraceLacks lists event IDs the named trace lists must not hold.
	TraceLacks map[string][]string `json:"trace_lacks"`
}

// LoadSets reads one state set case file.
func LoadSets(path string) (SetsFile, error) {
	var f SetsFile
	err := DecodeFile(path, &f)
	return f, err
}

// Fields writes e as the fields of a PDU of room version v, the way the
// authorization rule cases are meant to be read: roomID unless e sets its
// own (and none on a version 12 create event, whose room ID is its own
// ID), content.creator on a create event where v needs it (unless
// NoCreator), placeholder hashes and a placeholder signature by the
// sender's server unless e gives signatures, prev_events from e.Prev
// ("$previous" when e names none and is not a create event) and
// auth_events from authIDs, as [id, hashes] pairs in versions 1 and 2.
// idOf turns a fixture name into its event ID. The caller adds event_id
// where it needs one.
func (e *AuthEvent) Fields(v roomversion.Version, roomID string, idOf func(name string) string, authIDs []string) (map[string]any, error) {
	m := map[string]any{
		"type":             e.Type,
		"sender":           e.Sender,
		"depth":            5,
		"origin_server_ts": 1700000000000,
		"hashes":           map[string]string{"sha256": "aGFzaA"},
	}
	content := e.Content
	if len(content) == 0 {
		content = json.RawMessage(`{}`)
	}
	isCreate := e.Type == "m.room.create"
	if isCreate && v.Auth.CreatorInContent && !e.NoCreator {
		var c map[string]json.RawMessage
		if err := json.Unmarshal(content, &c); err != nil {
			return nil, fmt.Errorf("%w: create event content: %v", ErrFormat, err)
		}
		if _, has := c["creator"]; !has {
			c["creator"], _ = json.Marshal(e.Sender)
			content, _ = json.Marshal(c)
		}
	}
	m["content"] = content
	if e.StateKey != nil {
		m["state_key"] = *e.StateKey
	}
	switch {
	case e.RoomID != nil:
		m["room_id"] = *e.RoomID
	case isCreate && v.Event.RoomID == roomversion.RoomIDCreateHash:
	default:
		m["room_id"] = roomID
	}
	if len(e.Signatures) > 0 {
		m["signatures"] = e.Signatures
	} else {
		_, server, _ := strings.Cut(e.Sender, ":")
		m["signatures"] = map[string]any{server: map[string]string{"ed25519:1": "c2ln"}}
	}
	if e.Redacts != "" {
		if v.Event.RedactsInContent {
			return nil, fmt.Errorf("%w: top-level redacts in room version %s: use content.redacts", ErrFormat, v.ID)
		}
		m["redacts"] = idOf(e.Redacts)
	}
	prev := []string{}
	if e.Prev != nil {
		for _, p := range e.Prev {
			prev = append(prev, idOf(p))
		}
	} else if !isCreate {
		prev = []string{"$previous"}
	}
	list := func(ids []string) any {
		if ids == nil {
			ids = []string{}
		}
		if v.Event.Format == roomversion.EventFormatV1 {
			out := make([]any, len(ids))
			for i, x := range ids {
				out[i] = []any{x, map[string]string{"sha256": "aGFzaA"}}
			}
			return out
		}
		return ids
	}
	m["prev_events"] = list(prev)
	m["auth_events"] = list(authIDs)
	return m, nil
}

// CaseEvent returns the event a rule case checks: a fixture of events
// when c.Event is a name (a JSON string), which it returns too, or else
// the AuthEvent object c.Event holds, with name "".
func (c *AuthCase) CaseEvent(events map[string]*AuthEvent) (name string, e *AuthEvent, err error) {
	if len(c.Event) > 0 && c.Event[0] == '"' {
		if err := json.Unmarshal(c.Event, &name); err != nil {
			return "", nil, fmt.Errorf("%w: case %q: event: %v", ErrFormat, c.Name, err)
		}
		if e = events[name]; e == nil {
			return "", nil, fmt.Errorf("%w: case %q: unknown event %q", ErrFormat, c.Name, name)
		}
		return name, e, nil
	}
	e = new(AuthEvent)
	dec := json.NewDecoder(bytes.NewReader(c.Event))
	dec.DisallowUnknownFields()
	if err := dec.Decode(e); err != nil {
		return "", nil, fmt.Errorf("%w: case %q: event: %v", ErrFormat, c.Name, err)
	}
	return "", e, nil
}

// ContentAndRoom returns the content and room ID of DAG node e in room
// version v, in a room whose ID is roomID: a create event's content is
// replaced by one naming v (and the sender as creator where v needs it),
// and a version 12 create event has no room ID ("").
func (e DAGEvent) ContentAndRoom(v roomversion.Version, roomID string) (json.RawMessage, string) {
	if e.Type != "m.room.create" {
		return e.Content, roomID
	}
	var content json.RawMessage
	if v.Auth.CreatorInContent {
		content = fmt.Appendf(nil, `{"creator":%q,"room_version":%q}`, e.Sender, v.ID)
	} else {
		content = fmt.Appendf(nil, `{"room_version":%q}`, v.ID)
	}
	if v.Event.RoomID == roomversion.RoomIDCreateHash {
		roomID = ""
	}
	return content, roomID
}
