//go:build goexperiment.jsonv2

package bench

import (
	jsonv2 "encoding/json/v2"
	"fmt"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
	mautrixauth "maunium.net/go/mautrix/federation/eventauth"
	"maunium.net/go/mautrix/federation/pdu"
	"maunium.net/go/mautrix/id"
)

// authRoom is one room of version 10 written as raw events, which both
// libraries parse: alice created it; bob is an admin (100) who is not the
// creator; the power levels list n users; the room is public. The checked
// events are a message by bob, a join by carol, and a power levels change
// by bob that moves one user's level.
type authRoom struct {
	state                  map[string][]byte // name -> raw event
	msg, join, pl, plWorse []byte
	n                      int
}

func authUsers(n, changed, to int) string {
	var b strings.Builder
	b.WriteString(`{"ban":50,"events":{"m.room.avatar":50,"m.room.canonical_alias":50,"m.room.history_visibility":100,"m.room.name":50,"m.room.power_levels":100},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@alice:a.test":100,"@bob:a.test":100`)
	for i := 0; i < n-2; i++ {
		lvl := i % 50
		if i == changed {
			lvl = to
		}
		fmt.Fprintf(&b, `,"@user%05d:a.test":%d`, i, lvl)
	}
	b.WriteString(`},"users_default":0}`)
	return b.String()
}

func authRaw(id, typ, sender, stateKey, content string, auth ...string) []byte {
	sk := ""
	if stateKey != "-" {
		sk = fmt.Sprintf(`"state_key":%q,`, stateKey)
	}
	list := `[]`
	if len(auth) > 0 {
		list = `["` + strings.Join(auth, `","`) + `"]`
	}
	return []byte(fmt.Sprintf(`{"auth_events":%s,"content":%s,"depth":10,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1700000000000,"prev_events":["$prev"],"room_id":"!room:a.test","sender":%q,"signatures":{"a.test":{"ed25519:1":"c2ln"}},%s"type":%q}`,
		list, content, sender, sk, typ))
}

func newAuthRoom(n int) *authRoom {
	return &authRoom{
		n: n,
		state: map[string][]byte{
			"$create": authRaw("$create", "m.room.create", "@alice:a.test", "", `{"creator":"@alice:a.test","room_version":"10"}`),
			"$alice":  authRaw("$alice", "m.room.member", "@alice:a.test", "@alice:a.test", `{"membership":"join"}`, "$create"),
			"$bob":    authRaw("$bob", "m.room.member", "@bob:a.test", "@bob:a.test", `{"membership":"join"}`, "$create"),
			"$pl":     authRaw("$pl", "m.room.power_levels", "@alice:a.test", "", authUsers(n, -1, 0), "$create", "$alice"),
			"$jr":     authRaw("$jr", "m.room.join_rules", "@alice:a.test", "", `{"join_rule":"public"}`, "$create", "$alice", "$pl"),
		},
		msg:  authRaw("$msg", "m.room.message", "@bob:a.test", "-", `{"body":"hello, world","msgtype":"m.text"}`, "$create", "$bob", "$pl"),
		join: authRaw("$join", "m.room.member", "@carol:a.test", "@carol:a.test", `{"displayname":"Carol","membership":"join"}`, "$create", "$jr", "$pl"),
		pl:   authRaw("$pl2", "m.room.power_levels", "@bob:a.test", "", authUsers(n, n/2, 75), "$create", "$bob", "$pl"),
		// Raising a user above the sender's own level: refused by both.
		plWorse: authRaw("$pl3", "m.room.power_levels", "@bob:a.test", "", authUsers(n, n/2, 101), "$create", "$bob", "$pl"),
	}
}

// mxkit side: events parsed once; the state is a map.
type mxkitRoom struct {
	v                      roomversion.Version
	state                  eventauth.StateMap
	msg, join, pl, plWorse *event.Event
}

func (r *authRoom) mxkit(tb testing.TB) *mxkitRoom {
	v := roomversion.V10
	parse := func(id string, raw []byte) *event.Event {
		ev, err := event.ParseWithID(v, raw, id)
		if err != nil {
			tb.Fatal(err)
		}
		return ev
	}
	m := &mxkitRoom{v: v, state: eventauth.StateMap{}}
	for id, raw := range r.state {
		ev := parse(id, raw)
		sk, _ := ev.StateKey()
		m.state[eventauth.StateKey{Type: ev.Type(), StateKey: sk}] = ev
	}
	m.msg, m.join, m.pl, m.plWorse = parse("$msg", r.msg), parse("$join", r.join), parse("$pl2", r.pl), parse("$pl3", r.plWorse)
	return m
}

// mautrix side: the same events as PDUs; the state handed to Authorize is
// the auth events the selection asks for (its "precomputed" mode, which
// is what state resolution and the state checks use).
type mautrixRoom struct {
	rv                     id.RoomVersion
	state                  map[string]*pdu.PDU
	msg, join, pl, plWorse *pdu.PDU
}

func (r *authRoom) mautrix(tb testing.TB) *mautrixRoom {
	parse := func(raw []byte) *pdu.PDU {
		var p pdu.PDU
		if err := jsonv2.Unmarshal(raw, &p); err != nil {
			tb.Fatal(err)
		}
		return &p
	}
	m := &mautrixRoom{rv: id.RoomVersion("10"), state: map[string]*pdu.PDU{}}
	for id, raw := range r.state {
		m.state[id] = parse(raw)
	}
	m.msg, m.join, m.pl, m.plWorse = parse(r.msg), parse(r.join), parse(r.pl), parse(r.plWorse)
	return m
}

func (m *mautrixRoom) authEvents(ids ...string) []*pdu.PDU {
	out := make([]*pdu.PDU, len(ids))
	for i, id := range ids {
		out[i] = m.state[id]
	}
	return out
}

func noEvents(ids []id.EventID) ([]*pdu.PDU, error) { return nil, fmt.Errorf("not needed") }

// TestEventauthSameVerdicts checks that both libraries reach the same
// verdicts on the benchmark events, so that the benchmark compares the
// same work.
func TestEventauthSameVerdicts(t *testing.T) {
	for _, n := range []int{50, 1000} {
		r := newAuthRoom(n)
		a, b := r.mxkit(t), r.mautrix(t)
		cases := []struct {
			name  string
			ours  error
			their error
			allow bool
		}{
			{"message", eventauth.Allowed(a.v, a.msg, a.state), mautrixauth.Authorize(b.rv, b.msg, b.authEvents("$create", "$bob", "$pl"), noEvents, nil), true},
			{"join", eventauth.Allowed(a.v, a.join, a.state), mautrixauth.Authorize(b.rv, b.join, b.authEvents("$create", "$jr", "$pl"), noEvents, nil), true},
			{"power levels", eventauth.Allowed(a.v, a.pl, a.state), mautrixauth.Authorize(b.rv, b.pl, b.authEvents("$create", "$bob", "$pl"), noEvents, nil), true},
			{"power levels above own", eventauth.Allowed(a.v, a.plWorse, a.state), mautrixauth.Authorize(b.rv, b.plWorse, b.authEvents("$create", "$bob", "$pl"), noEvents, nil), false},
		}
		for _, c := range cases {
			if (c.ours == nil) != c.allow || (c.their == nil) != c.allow {
				t.Errorf("users=%d %s: mxkit %v, mautrix %v, want allowed=%v", n, c.name, c.ours, c.their, c.allow)
			}
		}
	}
}

// BenchmarkEventauth compares one authorization check in mxkit
// (eventauth.Allowed against a state map) and in mautrix-go
// (eventauth.Authorize with precomputed auth events), on the same events,
// in rooms whose power levels list 50, 1,000 and 2,000 users (about the
// most a power levels event can list within the 65,536-byte event limit).
// The baseline is parsing the checked event with mxkit's event.Parse.
func BenchmarkEventauth(b *testing.B) {
	for _, n := range []int{50, 1000, 2000} {
		r := newAuthRoom(n)
		a, m := r.mxkit(b), r.mautrix(b)
		kinds := []struct {
			name  string
			ours  *event.Event
			raw   []byte
			their *pdu.PDU
			auth  []*pdu.PDU
		}{
			{"message", a.msg, r.msg, m.msg, m.authEvents("$create", "$bob", "$pl")},
			{"join", a.join, r.join, m.join, m.authEvents("$create", "$jr", "$pl")},
			{"power_levels", a.pl, r.pl, m.pl, m.authEvents("$create", "$bob", "$pl")},
		}
		for _, k := range kinds {
			b.Run(fmt.Sprintf("%s/users=%d/lib=mxkit", k.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := eventauth.Allowed(a.v, k.ours, a.state); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/users=%d/lib=mautrix", k.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := mautrixauth.Authorize(m.rv, k.their, k.auth, noEvents, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/users=%d/baseline=event.Parse", k.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := event.ParseWithID(a.v, k.raw, "$x"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
