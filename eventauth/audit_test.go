package eventauth_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

// An audit of the rules against the room version pages, for what the case
// files (testdata/cases/audit_*.json) cannot say: the defaults of every
// room version through the PowerLevels API, and content whose JSON is
// written with insignificant whitespace, which the rules must read like
// any other JSON.

// TestAuditDefaultsEveryVersion checks the power level defaults in each
// room version: content/server-server-api.md, "Definitions" ("The invite
// level defaults to 0 if unspecified. The kick level, ban level and redact
// level each default to 50 if unspecified"), the m.room.power_levels
// schema of the client-server API ("If there is no state_default ... the
// state_default is 50", events_default 0, users_default 0, "If the room
// contains no m.room.power_levels event, the room's creator has a power
// level of 100, and all other users have a power level of 0"), the
// creator of content/rooms/v11.md (the create event's sender, not
// content.creator) and the infinite power of the creators of
// content/rooms/v12.md.
func TestAuditDefaultsEveryVersion(t *testing.T) {
	const (
		createBobCreator = `{"type":"m.room.create","sender":"@alice:a.test","state_key":"","content":{"creator":"@bob:a.test"},"prev":[]}`
		plEmpty          = `{"type":"m.room.power_levels","sender":"@alice:a.test","state_key":"","content":{}}`
	)
	for _, v := range roomversion.Known() {
		t.Run("v"+v.ID, func(t *testing.T) {
			// The creator's level without a power levels event.
			creatorLevel := int64(100)
			if v.Auth.PrivilegedCreators {
				creatorLevel = eventauth.Infinite
			}
			// Without users, a power levels event leaves everyone at
			// users_default (0); only v12 creators keep their power.
			creatorWithPL := int64(0)
			if v.Auth.PrivilegedCreators {
				creatorWithPL = eventauth.Infinite
			}
			type levelsCase struct {
				name, create, pl string
				alice, bob       int64
			}
			tests := []levelsCase{
				{"no power levels", createSpec, "", creatorLevel, 0},
				{"empty power levels", createSpec, plEmpty, creatorWithPL, 0},
			}
			// Up to v10 content.creator names the creator; from v11 it is
			// the create event's sender.
			if v.Auth.CreatorInContent {
				tests = append(tests, levelsCase{"content.creator", createBobCreator, "", 0, 100})
			} else {
				tests = append(tests, levelsCase{"content.creator ignored", createBobCreator, "", creatorLevel, 0})
			}
			for _, tc := range tests {
				create := mk(t, v, "$create", tc.create)
				var pl *event.Event
				if tc.pl != "" {
					pl = mk(t, v, "$pl", tc.pl)
				}
				p, err := eventauth.NewPowerLevels(v, pl, create)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				got := []int64{
					p.UserLevel("@alice:a.test"), p.UserLevel("@bob:a.test"), p.UserLevel("@carol:a.test"),
					p.Ban(), p.Kick(), p.Redact(), p.Invite(),
					p.UsersDefault(), p.EventsDefault(), p.StateDefault(),
					p.EventLevel("m.room.message", false), p.EventLevel("m.room.topic", true),
					p.EventLevel("m.room.power_levels", true), p.Notification("room"),
				}
				want := []int64{
					tc.alice, tc.bob, 0,
					50, 50, 50, 0,
					0, 0, 50,
					0, 50,
					50, 50,
				}
				if len(got) != len(want) {
					t.Fatal("table mismatch")
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("%s: value %d: got %v, want %v (all: %v)", tc.name, i, got, want, got)
						break
					}
				}
				if p.Exists() != (pl != nil) {
					t.Errorf("%s: Exists() = %v", tc.name, p.Exists())
				}
			}
		})
	}
}

// auditRaw writes the event of spec in v's format and rewrites its JSON
// with the given replacements (old, new pairs) before parsing it, so that
// content can carry what a re-encoding would drop (whitespace).
func auditRaw(t *testing.T, v roomversion.Version, id, spec string, repl ...string) *event.Event {
	t.Helper()
	var s eventSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, v: v, specs: map[string]*eventSpec{}, createID: "$create"}
	raw := w.raw(&s, id, nil)
	for i := 0; i+1 < len(repl); i += 2 {
		if !bytes.Contains(raw, []byte(repl[i])) {
			t.Fatalf("%s: %q is not in %s", id, repl[i], raw)
		}
		raw = bytes.Replace(raw, []byte(repl[i]), []byte(repl[i+1]), 1)
	}
	ev, err := event.ParseWithID(v, raw, id)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return ev
}

// TestAuditWhitespace checks that the rules read content values the same
// whether or not the JSON has whitespace around them: JSON
// (content/appendices.md, "Canonical JSON", and RFC 8259) gives
// insignificant whitespace no meaning, and events received over
// federation need not be in canonical form.
func TestAuditWhitespace(t *testing.T) {
	const (
		aliceJoin = `{"type":"m.room.member","sender":"@alice:a.test","state_key":"@alice:a.test","content":{"membership":"join"},"prev":["$create"]}`
		bobJoin   = `{"type":"m.room.member","sender":"@bob:a.test","state_key":"@bob:a.test","content":{"membership":"join"}}`
		daveJoin  = `{"type":"m.room.member","sender":"@dave:a.test","state_key":"@dave:a.test","content":{"membership":"join"}}`
		erinJoin  = `{"type":"m.room.member","sender":"@erin:b.test","state_key":"@erin:b.test","content":{"membership":"join"}}`
		noFed     = `{"type":"m.room.create","sender":"@alice:a.test","state_key":"","content":{"m.federate":false},"prev":[]}`
		public    = `{"type":"m.room.join_rules","sender":"@alice:a.test","state_key":"","content":{"join_rule":"public"}}`
		plBob50   = `{"type":"m.room.power_levels","sender":"@alice:a.test","state_key":"","content":{"users":{"@bob:a.test":50},"state_default":50}}`
		topic     = `{"type":"m.room.topic","sender":"@bob:a.test","state_key":"","content":{"topic":"t"}}`
	)
	type named struct {
		id, spec string
		repl     []string
	}
	tests := []struct {
		name  string
		state []named
		ev    named
		want  string
	}{
		{
			// v12 rule 4 (earlier rule 3): m.federate set to false.
			name:  "m.federate false with whitespace",
			state: []named{{"$create", noFed, []string{`"m.federate":false`, `"m.federate" :  false `}}, {"$alice-join", aliceJoin, nil}, {"$jr", public, nil}},
			ev:    named{"$erin-join", erinJoin, nil},
			want:  "federate",
		},
		{
			name:  "join_rule public with whitespace",
			state: []named{{"$create", createSpec, nil}, {"$alice-join", aliceJoin, nil}, {"$jr", public, []string{`"join_rule":"public"`, "\"join_rule\"\t:\n\"public\"\r\n "}}},
			ev:    named{"$dave-join", daveJoin, nil},
			want:  "allow",
		},
		{
			name:  "membership join with whitespace",
			state: []named{{"$create", createSpec, nil}, {"$alice-join", aliceJoin, nil}, {"$jr", public, nil}},
			ev:    named{"$dave-join", daveJoin, []string{`"membership":"join"`, `"membership" : "join" `}},
			want:  "allow",
		},
		{
			// A sender whose own member event reads as joined only through
			// whitespace: rule 6, then rule 8 with the level of users.
			name: "power level and membership with whitespace",
			state: []named{{"$create", createSpec, nil}, {"$alice-join", aliceJoin, nil},
				{"$pl", plBob50, []string{`"@bob:a.test":50`, `"@bob:a.test" : 50 `}},
				{"$bob-join", bobJoin, []string{`"membership":"join"`, ` "membership" :"join"`}}},
			ev:   named{"$topic", topic, nil},
			want: "allow",
		},
		{
			name: "power level with whitespace, below state_default",
			state: []named{{"$create", createSpec, nil}, {"$alice-join", aliceJoin, nil},
				{"$pl", plBob50, []string{`"@bob:a.test":50`, `"@bob:a.test" : 49 `}},
				{"$bob-join", bobJoin, nil}},
			ev:   named{"$topic", topic, nil},
			want: "event.power",
		},
	}
	for _, v := range roomversion.Known() {
		for _, tc := range tests {
			t.Run(tc.name+"/v"+v.ID, func(t *testing.T) {
				state := eventauth.StateMap{}
				for _, s := range tc.state {
					e := auditRaw(t, v, s.id, s.spec, s.repl...)
					sk, _ := e.StateKey()
					state[eventauth.StateKey{Type: e.Type(), StateKey: sk}] = e
				}
				ev := auditRaw(t, v, tc.ev.id, tc.ev.spec, tc.ev.repl...)
				expectRule(t, "Allowed", eventauth.Allowed(v, ev, state), tc.want)
			})
		}
	}
}
