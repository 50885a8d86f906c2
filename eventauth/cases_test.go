package eventauth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/internal/testvectors"
	"github.com/mxkit/mxkit/roomversion"
)

// The rule cases live in testdata/cases/*.json. Each file holds a list of
// cases; each case names the room versions it applies to, the auth events
// (by fixture name, from testdata/fixtures.json or the file's own
// "events"), the event to check, and the expected outcome: "allow" or the
// identifier of the rule that rejects it.
//
// Events are written version-neutral and the harness writes them in each
// version's format: event_id and [id, hashes] pairs for versions 1 and 2,
// plain ID lists later; room_id "!room:a.test" for versions 1-11 and the
// create event's ID with the "!" sigil in version 12 (whose create event
// has no room_id); content.creator on create events where the version
// needs it. IDs are readable ("$alice-join"), given through ParseWithID.
// Unless a case lists them, the event's auth_events are the given auth
// events that the auth events selection asks for.

// The case format's types and reader are shared with the conformance
// suite's generator (package testvectors); the names below keep this
// package's tests short.
type (
	eventSpec = testvectors.AuthEvent
	caseSpec  = testvectors.AuthCase
	caseFile  = testvectors.AuthCaseFile
)

func loadJSON(t testing.TB, path string, v any) {
	t.Helper()
	if err := testvectors.DecodeFile(path, v); err != nil {
		t.Fatal(err)
	}
}

func parseVersions(t testing.TB, s string) []roomversion.Version {
	t.Helper()
	vs, err := testvectors.ParseVersions(s)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// world builds events of one room version from specs.
type world struct {
	t        testing.TB
	v        roomversion.Version
	specs    map[string]*eventSpec
	createID string
}

func (w *world) idOf(name string) string {
	if strings.HasPrefix(name, "$") {
		return name
	}
	s, ok := w.specs[name]
	if !ok {
		w.t.Fatalf("unknown fixture %q", name)
	}
	if s.ID != "" {
		return s.ID
	}
	return "$" + name
}

func (w *world) roomID() string {
	if w.v.Event.RoomID == roomversion.RoomIDCreateHash {
		return "!" + w.createID[1:]
	}
	return "!room:a.test"
}

// raw writes the event of spec s with ID id and the given auth event IDs.
func (w *world) raw(s *eventSpec, id string, authIDs []string) []byte {
	m, err := s.Fields(w.v, w.roomID(), w.idOf, authIDs)
	if err != nil {
		w.t.Fatal(err)
	}
	if w.v.Event.Format == roomversion.EventFormatV1 {
		m["event_id"] = id
	}
	out, err := json.Marshal(m)
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *world) parse(s *eventSpec, id string, authIDs []string) (*event.Event, error) {
	return event.ParseWithID(w.v, w.raw(s, id, authIDs), id)
}

func (w *world) fixture(name string) *event.Event {
	s, ok := w.specs[name]
	if !ok {
		w.t.Fatalf("unknown fixture %q", name)
	}
	ev, err := w.parse(s, w.idOf(name), nil)
	if err != nil {
		w.t.Fatalf("fixture %s in room version %s: %v", name, w.v.ID, err)
	}
	return ev
}

// expectRule checks err against want ("allow" or a rule identifier).
func expectRule(t testing.TB, what string, err error, want string) {
	t.Helper()
	if want == "allow" {
		if err != nil {
			t.Errorf("%s: want allowed, got %v", what, err)
		}
		return
	}
	var rej *eventauth.Rejection
	if !errors.As(err, &rej) {
		t.Errorf("%s: want rejection by %s, got %v", what, want, err)
		return
	}
	if rej.Rule != want {
		t.Errorf("%s: want rejection by %s, got %v", what, want, err)
	}
	if rej.Reason == "" {
		t.Errorf("%s: rejection without a reason", what)
	}
	if !errors.Is(err, &eventauth.Rejection{Rule: want}) {
		t.Errorf("%s: errors.Is does not match the rule %s", what, want)
	}
}

// listRule reports whether a rule is one of the checks on the auth_events
// list, which Allowed does not apply.
func listRule(rule string) bool {
	return strings.HasPrefix(rule, "auth_events.") || strings.HasPrefix(rule, "room_id.")
}

func loadCases(t testing.TB) map[string]*caseFile {
	files, err := testvectors.LoadAuthCases("testdata")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*caseFile{}
	for _, cf := range files {
		out[cf.Group] = cf
	}
	return out
}

func TestRules(t *testing.T) {
	files := loadCases(t)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	total := 0
	for _, fname := range names {
		cf := files[fname]
		t.Run(fname, func(t *testing.T) {
			seen := map[string]bool{}
			for _, c := range cf.Cases {
				if seen[c.Name] {
					t.Fatalf("duplicate case name %q", c.Name)
				}
				seen[c.Name] = true
				if c.Expect == "" {
					t.Fatalf("case %q has no expect", c.Name)
				}
				for _, v := range parseVersions(t, c.Versions) {
					total++
					t.Run(c.Name+"/v"+v.ID, func(t *testing.T) { runCase(t, v, cf.Events, c) })
				}
			}
		})
	}
	if total < 100 {
		t.Errorf("only %d case runs", total)
	}
}

func runCase(t *testing.T, v roomversion.Version, specs map[string]*eventSpec, c caseSpec) {
	w := &world{t: t, v: v, specs: specs, createID: "$create"}
	var auth []*event.Event
	for _, n := range c.Auth {
		auth = append(auth, w.fixture(n))
	}
	id := "$event"
	name, spec, err := c.CaseEvent(specs)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case name != "":
		id = w.idOf(name)
	case spec.ID != "":
		id = spec.ID
	}
	// The auth_events list.
	var list []string
	if c.AuthList != nil {
		for _, n := range c.AuthList {
			list = append(list, w.idOf(n))
		}
	} else {
		probe, err := w.parse(spec, id, nil)
		if err != nil {
			t.Fatalf("event does not parse: %v", err)
		}
		need, err := eventauth.Needed(v, probe)
		if err == nil {
			for _, a := range auth {
				sk, _ := a.StateKey()
				for _, k := range need {
					if k == (eventauth.StateKey{Type: a.Type(), StateKey: sk}) {
						list = append(list, a.ID())
					}
				}
			}
		}
	}
	ev, err := w.parse(spec, id, list)
	if err != nil {
		t.Fatalf("event does not parse: %v", err)
	}
	rejected := map[string]bool{}
	for _, n := range c.Rejected {
		rejected[w.idOf(n)] = true
	}
	isRejected := func(id string) bool { return rejected[id] }

	if c.AllowedOnly {
		state := eventauth.StateMap{}
		for _, a := range auth {
			sk, _ := a.StateKey()
			state[eventauth.StateKey{Type: a.Type(), StateKey: sk}] = a
		}
		expectRule(t, "Allowed", eventauth.Allowed(v, ev, state), c.Expect)
		return
	}
	err = eventauth.Check(v, ev, auth, isRejected)
	expectRule(t, "Check", err, c.Expect)
	if !listRule(c.Expect) && len(c.Rejected) == 0 && c.AuthList == nil {
		state := eventauth.StateMap{}
		for _, a := range auth {
			sk, _ := a.StateKey()
			state[eventauth.StateKey{Type: a.Type(), StateKey: sk}] = a
		}
		expectRule(t, "Allowed", eventauth.Allowed(v, ev, state), c.Expect)
	}
	if t.Failed() {
		t.Logf("event: %s", ev.JSON())
		if c.Comment != "" {
			t.Logf("comment: %s", c.Comment)
		}
	}
}

// TestRuleList checks that every rule identifier the cases use is
// documented, and every documented identifier has a case that expects it.
func TestRuleList(t *testing.T) {
	documented := map[string]bool{}
	for _, r := range eventauth.Rules() {
		documented[r] = true
	}
	used := map[string]bool{}
	for _, cf := range loadCases(t) {
		for _, c := range cf.Cases {
			if c.Expect != "allow" {
				used[c.Expect] = true
			}
		}
	}
	for r := range used {
		if !documented[r] {
			t.Errorf("rule %s is used by cases but not documented", r)
		}
	}
	var missing []string
	for r := range documented {
		if !used[r] {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented rules without a case: %s", fmt.Sprint(missing))
	}
}
