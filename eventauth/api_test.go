package eventauth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

// mk parses a version-neutral event spec (the case files' format) for v.
func mk(t testing.TB, v roomversion.Version, id, spec string) *event.Event {
	t.Helper()
	var s eventSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, v: v, specs: map[string]*eventSpec{}, createID: "$create"}
	ev, err := w.parse(&s, id, nil)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	return ev
}

const (
	createSpec     = `{"type":"m.room.create","sender":"@alice:a.test","state_key":"","content":{},"prev":[]}`
	createAddSpec  = `{"type":"m.room.create","sender":"@alice:a.test","state_key":"","content":{"additional_creators":["@bob:a.test"]},"prev":[]}`
	plDefaultsSpec = `{"type":"m.room.power_levels","sender":"@alice:a.test","state_key":"","content":{"users":{"@carol:a.test":7}}}`
	plFullSpec     = `{"type":"m.room.power_levels","sender":"@alice:a.test","state_key":"","content":{"users":{"@carol:a.test":7},"users_default":3,"events_default":4,"state_default":5,"ban":6,"kick":8,"redact":9,"invite":10,"events":{"m.room.name":11},"notifications":{"room":12}}}`
)

func TestPowerLevels(t *testing.T) {
	type want struct {
		alice, bob, carol, dave          int64
		ban, kick, redact, invite        int64
		msg, state, name, notif          int64
		usersDefault, eventsDf, stateDf  int64
		exists, aliceCreator, bobCreator bool
	}
	tests := []struct {
		name    string
		version roomversion.Version
		create  string
		pl      string
		want    want
	}{
		{"no power levels, v1", roomversion.V1, createSpec, "",
			want{100, 0, 0, 0, 50, 50, 50, 0, 0, 50, 50, 50, 0, 0, 50, false, true, false}},
		{"no power levels, v11", roomversion.V11, createSpec, "",
			want{100, 0, 0, 0, 50, 50, 50, 0, 0, 50, 50, 50, 0, 0, 50, false, true, false}},
		{"no power levels, v12: creators are infinite", roomversion.V12, createAddSpec, "",
			want{eventauth.Infinite, eventauth.Infinite, 0, 0, 50, 50, 50, 0, 0, 50, 50, 50, 0, 0, 50, false, true, true}},
		{"additional_creators mean nothing before v12", roomversion.V11, createAddSpec, "",
			want{100, 0, 0, 0, 50, 50, 50, 0, 0, 50, 50, 50, 0, 0, 50, false, true, false}},
		{"defaults", roomversion.V10, createSpec, plDefaultsSpec,
			want{0, 0, 7, 0, 50, 50, 50, 0, 0, 50, 50, 50, 0, 0, 50, true, true, false}},
		{"every field", roomversion.V10, createSpec, plFullSpec,
			want{3, 3, 7, 3, 6, 8, 9, 10, 4, 5, 11, 12, 3, 4, 5, true, true, false}},
		{"every field, v12", roomversion.V12, createSpec, plFullSpec,
			want{eventauth.Infinite, 3, 7, 3, 6, 8, 9, 10, 4, 5, 11, 12, 3, 4, 5, true, true, false}},
		{"notifications not read before v6", roomversion.V5, createSpec, plFullSpec,
			want{3, 3, 7, 3, 6, 8, 9, 10, 4, 5, 11, 50, 3, 4, 5, true, true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.version
			create := mk(t, v, "$create", tc.create)
			var pl *event.Event
			if tc.pl != "" {
				pl = mk(t, v, "$pl", tc.pl)
			}
			p, err := eventauth.NewPowerLevels(v, pl, create)
			if err != nil {
				t.Fatal(err)
			}
			got := want{
				p.UserLevel("@alice:a.test"), p.UserLevel("@bob:a.test"), p.UserLevel("@carol:a.test"), p.UserLevel("@dave:a.test"),
				p.Ban(), p.Kick(), p.Redact(), p.Invite(),
				p.EventLevel("m.room.message", false), p.EventLevel("m.custom", true), p.EventLevel("m.room.name", true), p.Notification("room"),
				p.UsersDefault(), p.EventsDefault(), p.StateDefault(),
				p.Exists(), p.IsCreator("@alice:a.test"), p.IsCreator("@bob:a.test"),
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestNewPowerLevelsErrors(t *testing.T) {
	stringy := `{"type":"m.room.power_levels","sender":"@alice:a.test","state_key":"","content":{"users":{"@carol:a.test":"7"}}}`
	p, err := eventauth.NewPowerLevels(roomversion.V9, mk(t, roomversion.V9, "$pl", stringy), nil)
	if err != nil || p.UserLevel("@carol:a.test") != 7 {
		t.Fatalf("v9 string level: %v", err)
	}
	_, err = eventauth.NewPowerLevels(roomversion.V10, mk(t, roomversion.V10, "$pl", stringy), nil)
	var rej *eventauth.Rejection
	if !errors.As(err, &rej) || rej.Rule != "power_levels.users" {
		t.Fatalf("v10 string level: %v", err)
	}
	// Nil create and power levels: nobody is a creator, everyone has 0.
	p, err = eventauth.NewPowerLevels(roomversion.V12, nil, nil)
	if err != nil || p.UserLevel("@alice:a.test") != 0 || p.IsCreator("@alice:a.test") {
		t.Fatalf("nil events: %v", err)
	}
}

func TestNeeded(t *testing.T) {
	type sk = eventauth.StateKey
	create, pl := sk{"m.room.create", ""}, sk{"m.room.power_levels", ""}
	jr := sk{"m.room.join_rules", ""}
	mem := func(u string) sk { return sk{"m.room.member", u} }
	tests := []struct {
		name     string
		versions []roomversion.Version
		spec     string
		want     []sk
	}{
		{"create", roomversion.Known(), createSpec, []sk{}},
		{"message", []roomversion.Version{roomversion.V1, roomversion.V11}, `{"type":"m.room.message","sender":"@bob:a.test","content":{}}`,
			[]sk{create, mem("@bob:a.test"), pl}},
		{"message v12", []roomversion.Version{roomversion.V12}, `{"type":"m.room.message","sender":"@bob:a.test","content":{}}`,
			[]sk{mem("@bob:a.test"), pl}},
		{"self join", roomversion.Known()[:11], `{"type":"m.room.member","sender":"@bob:a.test","state_key":"@bob:a.test","content":{"membership":"join"}}`,
			[]sk{create, jr, mem("@bob:a.test"), pl}},
		{"knock needs join rules in any version", roomversion.Known()[:11], `{"type":"m.room.member","sender":"@bob:a.test","state_key":"@bob:a.test","content":{"membership":"knock"}}`,
			[]sk{create, jr, mem("@bob:a.test"), pl}},
		{"ban", roomversion.Known()[:11], `{"type":"m.room.member","sender":"@alice:a.test","state_key":"@bob:a.test","content":{"membership":"ban"}}`,
			[]sk{create, mem("@alice:a.test"), mem("@bob:a.test"), pl}},
		{"3pid invite", roomversion.Known()[:11], `{"type":"m.room.member","sender":"@alice:a.test","state_key":"@bob:a.test","content":{"membership":"invite","third_party_invite":{"signed":{"token":"t\u00e9"}}}}`,
			[]sk{create, jr, mem("@alice:a.test"), mem("@bob:a.test"), pl, {"m.room.third_party_invite", "té"}}},
		{"3pid invite without token", roomversion.Known()[:11], `{"type":"m.room.member","sender":"@alice:a.test","state_key":"@bob:a.test","content":{"membership":"invite","third_party_invite":{"signed":{"token":5}}}}`,
			[]sk{create, jr, mem("@alice:a.test"), mem("@bob:a.test"), pl}},
		{"token ignored on joins", roomversion.Known()[:11], `{"type":"m.room.member","sender":"@bob:a.test","state_key":"@bob:a.test","content":{"membership":"join","third_party_invite":{"signed":{"token":"t"}}}}`,
			[]sk{create, jr, mem("@bob:a.test"), pl}},
		{"authoriser v8+", roomversion.Known()[7:11], `{"type":"m.room.member","sender":"@bob:a.test","state_key":"@bob:a.test","content":{"membership":"join","join_authorised_via_users_server":"@alice:a.test"}}`,
			[]sk{create, jr, mem("@alice:a.test"), mem("@bob:a.test"), pl}},
		{"authoriser ignored before v8", roomversion.Known()[:7], `{"type":"m.room.member","sender":"@bob:a.test","state_key":"@bob:a.test","content":{"membership":"join","join_authorised_via_users_server":"@alice:a.test"}}`,
			[]sk{create, jr, mem("@bob:a.test"), pl}},
		{"authoriser ignored on invites", roomversion.Known()[7:11], `{"type":"m.room.member","sender":"@bob:a.test","state_key":"@carol:a.test","content":{"membership":"invite","join_authorised_via_users_server":"@alice:a.test"}}`,
			[]sk{create, jr, mem("@bob:a.test"), mem("@carol:a.test"), pl}},
	}
	for _, tc := range tests {
		for _, v := range tc.versions {
			t.Run(fmt.Sprintf("%s/v%s", tc.name, v.ID), func(t *testing.T) {
				ev := mk(t, v, "$e", tc.spec)
				got, err := eventauth.Needed(v, ev)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) || got == nil {
					t.Errorf("got %v, want %v", got, tc.want)
				}
				// AppendNeeded appends the same selection after what dst
				// holds, and allocates nothing with MaxNeeded room, except
				// for a state key it must unquote from the content (a
				// third-party invite token, the authorising user).
				prefix := sk{"x", "y"}
				buf := make([]sk, 1, 1+eventauth.MaxNeeded)
				buf[0] = prefix
				app, err := eventauth.AppendNeeded(buf, v, ev)
				if err != nil || len(app) == 0 || app[0] != prefix || fmt.Sprint(app[1:]) != fmt.Sprint(tc.want) {
					t.Errorf("AppendNeeded = %v, %v; want %v after %v", app, err, tc.want, prefix)
				}
				if tc.name != "3pid invite" && tc.name != "authoriser v8+" {
					if n := testing.AllocsPerRun(20, func() { eventauth.AppendNeeded(buf[:0], v, ev) }); n != 0 {
						t.Errorf("AppendNeeded allocates %v times; want 0", n)
					}
				}
			})
		}
	}
}

// TestCacheDoesNotMixVersions checks that the kept parse of a power levels
// event follows the rules it was read with.
func TestCacheDoesNotMixVersions(t *testing.T) {
	spec := `{"type":"m.room.power_levels","sender":"@alice:a.test","state_key":"","content":{"users":{"@carol:a.test":"7"}}}`
	pl := mk(t, roomversion.V9, "$pl", spec)
	if p, err := eventauth.NewPowerLevels(roomversion.V9, pl, nil); err != nil || p.UserLevel("@carol:a.test") != 7 {
		t.Fatalf("v9 rules: %v", err)
	}
	if _, err := eventauth.NewPowerLevels(roomversion.V10, pl, nil); err == nil {
		t.Fatal("v10 rules on the same event: no error")
	}
	if p, err := eventauth.NewPowerLevels(roomversion.V9, pl, nil); err != nil || p.UserLevel("@carol:a.test") != 7 {
		t.Fatalf("v9 rules again: %v", err)
	}
}

func ExampleCheck() {
	v := roomversion.V11
	parse := func(raw string) *event.Event {
		var probe struct {
			ID string `json:"event_id"`
		}
		json.Unmarshal([]byte(raw), &probe)
		ev, err := event.ParseWithID(v, []byte(raw), probe.ID)
		if err != nil {
			panic(err)
		}
		return ev
	}
	create := parse(`{"event_id":"$create","type":"m.room.create","state_key":"","sender":"@alice:example.org","room_id":"!room:example.org","content":{"room_version":"11"},"depth":1,"origin_server_ts":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`)
	join := parse(`{"event_id":"$join","type":"m.room.member","state_key":"@alice:example.org","sender":"@alice:example.org","room_id":"!room:example.org","content":{"membership":"join"},"depth":2,"origin_server_ts":2,"prev_events":["$create"],"auth_events":["$create"],"hashes":{"sha256":"x"},"signatures":{}}`)
	msg := parse(`{"event_id":"$msg","type":"m.room.message","sender":"@bob:example.org","room_id":"!room:example.org","content":{"body":"hello"},"depth":3,"origin_server_ts":3,"prev_events":["$join"],"auth_events":["$create"],"hashes":{"sha256":"x"},"signatures":{}}`)

	fmt.Println(eventauth.Check(v, join, []*event.Event{create}, nil))
	err := eventauth.Check(v, msg, []*event.Event{create, join}, nil)
	var rej *eventauth.Rejection
	if errors.As(err, &rej) {
		fmt.Println(rej.Rule)
	}
	// Output:
	// <nil>
	// sender.not_joined
}

func ExampleNeeded() {
	v := roomversion.V10
	ev, err := event.ParseWithID(v, []byte(`{"type":"m.room.member","state_key":"@bob:example.org","sender":"@bob:example.org","room_id":"!room:example.org","content":{"membership":"join"},"depth":5,"origin_server_ts":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`), "$join")
	if err != nil {
		panic(err)
	}
	keys, _ := eventauth.Needed(v, ev)
	for _, k := range keys {
		fmt.Printf("%s %q\n", k.Type, k.StateKey)
	}
	// Output:
	// m.room.create ""
	// m.room.join_rules ""
	// m.room.member "@bob:example.org"
	// m.room.power_levels ""
}

// TestConcurrentUse runs the checks from several goroutines on shared
// events (the kept power levels parse is shared); run with -race.
func TestConcurrentUse(t *testing.T) {
	r := newBenchRoom(t, roomversion.V10, 50)
	done := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			var err error
			for j := 0; j < 200 && err == nil; j++ {
				switch j % 3 {
				case 0:
					err = eventauth.Allowed(r.v, r.msg, r.state)
				case 1:
					err = eventauth.Allowed(r.v, r.join, r.state)
				default:
					err = eventauth.Check(r.v, r.plChange, r.auth, nil)
				}
			}
			done <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func ExampleAllowed() {
	v := roomversion.V10
	parse := func(id, raw string) *event.Event {
		ev, err := event.ParseWithID(v, []byte(raw), id)
		if err != nil {
			panic(err)
		}
		return ev
	}
	// The room's current state, as a soft-failure check would read it.
	state := eventauth.StateMap{}
	for id, raw := range map[string]string{
		"$create": `{"type":"m.room.create","state_key":"","sender":"@alice:example.org","room_id":"!room:example.org","content":{"creator":"@alice:example.org"},"depth":1,"origin_server_ts":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`,
		"$alice":  `{"type":"m.room.member","state_key":"@alice:example.org","sender":"@alice:example.org","room_id":"!room:example.org","content":{"membership":"join"},"depth":2,"origin_server_ts":2,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`,
		"$pl":     `{"type":"m.room.power_levels","state_key":"","sender":"@alice:example.org","room_id":"!room:example.org","content":{"users":{"@alice:example.org":100},"events":{"m.room.name":100}},"depth":3,"origin_server_ts":3,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`,
	} {
		ev := parse(id, raw)
		sk, _ := ev.StateKey()
		state[eventauth.StateKey{Type: ev.Type(), StateKey: sk}] = ev
	}
	name := parse("$name", `{"type":"m.room.name","state_key":"","sender":"@alice:example.org","room_id":"!room:example.org","content":{"name":"Lobby"},"depth":4,"origin_server_ts":4,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`)
	fmt.Println(eventauth.Allowed(v, name, state))

	pl, _ := eventauth.NewPowerLevels(v, state.StateEvent("m.room.power_levels", ""), state.StateEvent("m.room.create", ""))
	fmt.Println(pl.UserLevel("@alice:example.org"), pl.UserLevel("@bob:example.org"), pl.EventLevel("m.room.name", true))
	// Output:
	// <nil>
	// 100 0 100
}

// ExampleLevel compares power levels that room versions 1-9 accept as
// strings of any size: exactly, as the reference server's integers do.
func ExampleLevel() {
	v := roomversion.V9
	pl, err := event.ParseWithID(v, []byte(`{"type":"m.room.power_levels","state_key":"","sender":"@alice:example.org","room_id":"!room:example.org","content":{"users":{"@alice:example.org":" 99999999999999999999 ","@bob:example.org":"99999999999999999998"}},"depth":3,"origin_server_ts":3,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`), "$pl")
	if err != nil {
		panic(err)
	}
	levels, err := eventauth.NewPowerLevels(v, pl, nil)
	if err != nil {
		panic(err)
	}
	alice, bob := levels.UserLevelExact("@alice:example.org"), levels.UserLevelExact("@bob:example.org")
	fmt.Println(alice, bob, alice.Cmp(bob), alice.IsInt64())
	fmt.Println(levels.UserLevel("@alice:example.org")) // saturated
	// Output:
	// 99999999999999999999 99999999999999999998 1 false
	// 9223372036854775807
}
