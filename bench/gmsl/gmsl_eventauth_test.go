package bench

import (
	"fmt"
	"strings"
	"testing"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

type eventauthCase struct {
	ev  *event.Event
	err error
}

// authUsers is power levels content listing n users: the creator and an
// admin at 100, the others between 0 and 49; user number changed (if not
// negative) is set to level to.
func authUsers(n, changed, to int) string {
	var b strings.Builder
	b.WriteString(`{"ban":50,"events":{"m.room.avatar":50,"m.room.canonical_alias":50,"m.room.history_visibility":100,"m.room.name":50,"m.room.power_levels":100},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@alice:a.test":100,"@bob:a.test":100`)
	for i := range n - 2 {
		lvl := i % 50
		if i == changed {
			lvl = to
		}
		fmt.Fprintf(&b, `,"@u%04d:b.test":%d`, i, lvl)
	}
	b.WriteString(`},"users_default":0}`)
	return b.String()
}

// authEvent writes an event of room version 10; stateKey "-" makes a
// message event. Hashes and signatures are placeholders: the
// authorization rules read neither.
func authEvent(typ, sender, stateKey, content string, auth ...string) []byte {
	sk := ""
	if stateKey != "-" {
		sk = fmt.Sprintf(`"state_key":%q,`, stateKey)
	}
	list := `[]`
	if len(auth) > 0 {
		list = `["` + strings.Join(auth, `","`) + `"]`
	}
	return fmt.Appendf(nil, `{"auth_events":%s,"content":%s,"depth":10,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1700000000000,"prev_events":["$prev"],"room_id":"!room:a.test","sender":%q,"signatures":{"a.test":{"ed25519:1":"c2ln"}},%s"type":%q}`,
		list, content, sender, sk, typ)
}

// authInputs is a public room of version 10 created by alice, where bob is
// an admin (100) and the power levels list 50 users, and the events
// checked against its state: a message by bob, a power levels change by
// bob that moves a user to 75 (allowed) and one that moves a user above
// bob's own level (refused by both).
type authInputs struct {
	state map[string][]byte // event ID -> event
	cases []authCase
}

type authCase struct {
	name, id string
	raw      []byte
	allowed  bool
}

func newAuthInputs() *authInputs {
	const n = 50
	return &authInputs{
		state: map[string][]byte{
			"$create": authEvent("m.room.create", "@alice:a.test", "", `{"creator":"@alice:a.test","room_version":"10"}`),
			"$alice":  authEvent("m.room.member", "@alice:a.test", "@alice:a.test", `{"membership":"join"}`, "$create"),
			"$bob":    authEvent("m.room.member", "@bob:a.test", "@bob:a.test", `{"membership":"join"}`, "$create", "$jr", "$pl"),
			"$pl":     authEvent("m.room.power_levels", "@alice:a.test", "", authUsers(n, -1, 0), "$create", "$alice"),
			"$jr":     authEvent("m.room.join_rules", "@alice:a.test", "", `{"join_rule":"public"}`, "$create", "$alice", "$pl"),
		},
		cases: []authCase{
			{"message", "$msg", authEvent("m.room.message", "@bob:a.test", "-", `{"body":"hello, world","msgtype":"m.text"}`, "$create", "$bob", "$pl"), true},
			{"power_levels", "$pl2", authEvent("m.room.power_levels", "@bob:a.test", "", authUsers(n, n/2, 75), "$create", "$bob", "$pl"), true},
			{"power_levels_above_sender", "$pl3", authEvent("m.room.power_levels", "@bob:a.test", "", authUsers(n, n/2, 101), "$create", "$bob", "$pl"), false},
		},
	}
}

var authVersion = roomversion.V10

func (in *authInputs) mxkit(tb testing.TB) (eventauth.StateMap, []*event.Event) {
	tb.Helper()
	state := eventauth.StateMap{}
	for id, raw := range in.state {
		ev, err := event.ParseWithID(authVersion, raw, id)
		if err != nil {
			tb.Fatal(err)
		}
		sk, _ := ev.StateKey()
		state[eventauth.StateKey{Type: ev.Type(), StateKey: sk}] = ev
	}
	evs := make([]*event.Event, len(in.cases))
	for i, c := range in.cases {
		ev, err := event.ParseWithID(authVersion, c.raw, c.id)
		if err != nil {
			tb.Fatal(err)
		}
		evs[i] = ev
	}
	return state, evs
}

func (in *authInputs) gmsl(tb testing.TB) (*gmsl.AuthEvents, []gmsl.PDU) {
	tb.Helper()
	gv := gmslVersion(tb, authVersion.ID)
	var state []gmsl.PDU
	for id, raw := range in.state {
		p, err := gv.NewEventFromTrustedJSONWithEventID(id, raw, false)
		if err != nil {
			tb.Fatal(err)
		}
		state = append(state, p)
	}
	provider, err := gmsl.NewAuthEvents(state)
	if err != nil {
		tb.Fatal(err)
	}
	evs := make([]gmsl.PDU, len(in.cases))
	for i, c := range in.cases {
		p, err := gv.NewEventFromTrustedJSONWithEventID(c.id, c.raw, false)
		if err != nil {
			tb.Fatal(err)
		}
		evs[i] = p
	}
	return provider, evs
}

// TestEventauthSameVerdicts checks both libraries against the expected
// verdicts on the benchmark events.
func TestEventauthSameVerdicts(t *testing.T) {
	in := newAuthInputs()
	state, ours := in.mxkit(t)
	provider, theirs := in.gmsl(t)
	for i, c := range in.cases {
		errOurs := eventauth.Allowed(authVersion, ours[i], state)
		errTheirs := gmsl.Allowed(theirs[i], provider, userIDForSender)
		if (errOurs == nil) != c.allowed {
			t.Errorf("%s: mxkit: %v, want allowed=%v", c.name, errOurs, c.allowed)
		}
		if (errTheirs == nil) != c.allowed {
			t.Errorf("%s: gomatrixserverlib: %v, want allowed=%v", c.name, errTheirs, c.allowed)
		}
	}
}

// BenchmarkEventauth runs the authorization rules on each event against
// the room state, both libraries holding the state already indexed by key.
// The baseline is looking the event's auth events selection up in that
// state, which every check does first.
func BenchmarkEventauth(b *testing.B) {
	in := newAuthInputs()
	state, ours := in.mxkit(b)
	provider, theirs := in.gmsl(b)
	for i, c := range in.cases {
		if !c.allowed {
			continue
		}
		b.Run("event="+c.name+"/lib=mxkit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := eventauth.Allowed(authVersion, ours[i], state); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("event="+c.name+"/lib=gmsl", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := gmsl.Allowed(theirs[i], provider, userIDForSender); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("event="+c.name+"/baseline=eventauth.Needed+lookup", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				keys, err := eventauth.Needed(authVersion, ours[i])
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range keys {
					state.StateEvent(k.Type, k.StateKey)
				}
			}
		})
	}
}
