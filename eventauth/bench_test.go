package eventauth_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

// benchRoom is a room of version 10 whose power levels list n users;
// @bob:a.test is an admin (100) who is not the creator.
type benchRoom struct {
	v        roomversion.Version
	state    eventauth.StateMap
	auth     []*event.Event
	msg      *event.Event
	msgRaw   []byte
	join     *event.Event
	joinRaw  []byte
	joinAuth []*event.Event
	plChange *event.Event
	plRaw    []byte
	plNew    []byte // the new content
}

func usersContent(n int, changed int) []byte {
	var b strings.Builder
	b.WriteString(`{"ban":50,"events":{"m.room.avatar":50,"m.room.canonical_alias":50,"m.room.history_visibility":100,"m.room.name":50,"m.room.power_levels":100},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@alice:a.test":100,"@bob:a.test":100`)
	for i := 0; i < n-2; i++ {
		lvl := i % 50
		if i == changed {
			lvl = 75
		}
		fmt.Fprintf(&b, `,"@user%05d:a.test":%d`, i, lvl)
	}
	b.WriteString(`},"users_default":0}`)
	return []byte(b.String())
}

func newBenchRoom(tb testing.TB, v roomversion.Version, n int) *benchRoom {
	parse := func(raw string, id string) *event.Event {
		ev, err := event.ParseWithID(v, []byte(raw), id)
		if err != nil {
			tb.Fatal(err)
		}
		return ev
	}
	tmpl := func(id, typ, sender, stateKey, content string, auth ...string) string {
		sk := ""
		if stateKey != "-" {
			sk = fmt.Sprintf(`"state_key":%q,`, stateKey)
		}
		if auth == nil {
			auth = []string{}
		}
		a, _ := json.Marshal(auth)
		return fmt.Sprintf(`{"auth_events":%s,"content":%s,"depth":10,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1700000000000,"prev_events":["$prev"],"room_id":"!room:a.test","sender":%q,"signatures":{"a.test":{"ed25519:1":"c2ln"}},%s"type":%q}`,
			a, content, sender, sk, typ)
	}
	r := &benchRoom{v: v}
	create := parse(tmpl("$create", "m.room.create", "@alice:a.test", "", `{"creator":"@alice:a.test","room_version":"10"}`), "$create")
	alice := parse(tmpl("$alice", "m.room.member", "@alice:a.test", "@alice:a.test", `{"membership":"join"}`, "$create"), "$alice")
	bob := parse(tmpl("$bob", "m.room.member", "@bob:a.test", "@bob:a.test", `{"membership":"join"}`, "$create"), "$bob")
	pl := parse(tmpl("$pl", "m.room.power_levels", "@alice:a.test", "", string(usersContent(n, -1)), "$create", "$alice"), "$pl")
	jr := parse(tmpl("$jr", "m.room.join_rules", "@alice:a.test", "", `{"join_rule":"public"}`, "$create", "$alice", "$pl"), "$jr")
	r.state = eventauth.StateMap{}
	for _, e := range []*event.Event{create, alice, bob, pl, jr} {
		sk, _ := e.StateKey()
		r.state[eventauth.StateKey{Type: e.Type(), StateKey: sk}] = e
	}
	r.auth = []*event.Event{create, bob, pl}
	r.msgRaw = []byte(tmpl("$msg", "m.room.message", "@bob:a.test", "-", `{"body":"hello, world","msgtype":"m.text"}`, "$create", "$bob", "$pl"))
	r.msg = parse(string(r.msgRaw), "$msg")
	r.joinRaw = []byte(tmpl("$join", "m.room.member", "@carol:a.test", "@carol:a.test", `{"displayname":"Carol","membership":"join"}`, "$create", "$jr", "$pl"))
	r.join = parse(string(r.joinRaw), "$join")
	r.joinAuth = []*event.Event{create, jr, pl}
	r.plNew = usersContent(n, n/2)
	r.plRaw = []byte(tmpl("$pl2", "m.room.power_levels", "@bob:a.test", "", string(r.plNew), "$create", "$bob", "$pl"))
	r.plChange = parse(string(r.plRaw), "$pl2")
	// The checks must pass, or the benchmark would time a rejection.
	for _, e := range []*event.Event{r.msg, r.join, r.plChange} {
		if err := eventauth.Allowed(v, e, r.state); err != nil {
			tb.Fatalf("%s: %v", e.Type(), err)
		}
	}
	return r
}

// BenchmarkAllowed times the rules against a state map, for a message, a
// join, and a power levels change by an admin who is not the creator, in
// rooms whose power levels list 50, 1,000 and 10,000 users. The baselines
// are parsing the same event (event.Parse) and, for the power levels
// change, one validating pass over its content (json.Valid).
func BenchmarkAllowed(b *testing.B) {
	for _, n := range []int{50, 1000, 2000} {
		r := newBenchRoom(b, roomversion.V10, n)
		b.Run(fmt.Sprintf("message/users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := eventauth.Allowed(r.v, r.msg, r.state); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("join/users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := eventauth.Allowed(r.v, r.join, r.state); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("power_levels/users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(r.plNew)))
			for b.Loop() {
				if err := eventauth.Allowed(r.v, r.plChange, r.state); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("power_levels/users=%d/baseline=json.Valid", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(r.plNew)))
			for b.Loop() {
				if !json.Valid(r.plNew) {
					b.Fatal("invalid")
				}
			}
		})
	}
	r := newBenchRoom(b, roomversion.V10, 50)
	b.Run("message/baseline=event.Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := event.ParseWithID(r.v, r.msgRaw, "$msg"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("join/baseline=event.Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := event.ParseWithID(r.v, r.joinRaw, "$join"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCheck times the full check against the event's auth events
// (the list checks, a state map built from them, then the rules).
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{50, 2000} {
		r := newBenchRoom(b, roomversion.V10, n)
		b.Run(fmt.Sprintf("message/users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := eventauth.Check(r.v, r.msg, r.auth, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("join/users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := eventauth.Check(r.v, r.join, r.joinAuth, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	r := newBenchRoom(b, roomversion.V10, 50)
	b.Run("message/baseline=event.Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := event.ParseWithID(r.v, r.msgRaw, "$msg"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNewPowerLevels times reading a power levels event the first
// time (the parse is kept per event afterwards, so a new event is parsed
// each round here) beside json.Valid of the same content.
func BenchmarkNewPowerLevels(b *testing.B) {
	for _, n := range []int{50, 1000} {
		r := newBenchRoom(b, roomversion.V10, n)
		raw := r.plRaw
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ev, err := event.ParseWithID(r.v, raw, "$pl2")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := eventauth.NewPowerLevels(r.v, ev, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("users=%d/baseline=event.Parse", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := event.ParseWithID(r.v, raw, "$pl2"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNeeded times the auth events selection of a join and a message
// (state resolution asks it of every event it checks): Needed, which
// allocates the result, and AppendNeeded into a caller's buffer, which
// does not; beside reading the event's sender and content, the least any
// selection does.
func BenchmarkNeeded(b *testing.B) {
	r := newBenchRoom(b, roomversion.V10, 50)
	for _, ev := range []*event.Event{r.join, r.msg} {
		name := "join"
		if ev == r.msg {
			name = "message"
		}
		b.Run(name+"/Needed", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eventauth.Needed(r.v, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/AppendNeeded", func(b *testing.B) {
			b.ReportAllocs()
			var buf [eventauth.MaxNeeded]eventauth.StateKey
			for b.Loop() {
				if _, err := eventauth.AppendNeeded(buf[:0], r.v, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/baseline=event.Accessors", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				sk, _ := ev.StateKey()
				n += len(ev.Sender()) + len(ev.Type()) + len(sk) + len(ev.Content())
			}
			if n == 0 {
				b.Fatal("empty")
			}
		})
	}
}
