package stateres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
)

// A room of room version 11: alice created it, made bob a moderator and
// the room public, and bob joined. Then, at the same time, alice banned
// bob and bob changed the topic.
var exampleEvents = []string{
	`{"event_id":"$create","room_id":"!r:example.org","sender":"@alice:example.org","type":"m.room.create","state_key":"","content":{"room_version":"11"},"depth":1,"origin_server_ts":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`,
	`{"event_id":"$alice","room_id":"!r:example.org","sender":"@alice:example.org","type":"m.room.member","state_key":"@alice:example.org","content":{"membership":"join"},"depth":2,"origin_server_ts":2,"prev_events":["$create"],"auth_events":["$create"],"hashes":{"sha256":"x"},"signatures":{}}`,
	`{"event_id":"$pl","room_id":"!r:example.org","sender":"@alice:example.org","type":"m.room.power_levels","state_key":"","content":{"users":{"@alice:example.org":100,"@bob:example.org":50}},"depth":3,"origin_server_ts":3,"prev_events":["$alice"],"auth_events":["$create","$alice"],"hashes":{"sha256":"x"},"signatures":{}}`,
	`{"event_id":"$public","room_id":"!r:example.org","sender":"@alice:example.org","type":"m.room.join_rules","state_key":"","content":{"join_rule":"public"},"depth":4,"origin_server_ts":4,"prev_events":["$pl"],"auth_events":["$create","$alice","$pl"],"hashes":{"sha256":"x"},"signatures":{}}`,
	`{"event_id":"$bob","room_id":"!r:example.org","sender":"@bob:example.org","type":"m.room.member","state_key":"@bob:example.org","content":{"membership":"join"},"depth":5,"origin_server_ts":5,"prev_events":["$public"],"auth_events":["$create","$pl","$public"],"hashes":{"sha256":"x"},"signatures":{}}`,
	`{"event_id":"$ban","room_id":"!r:example.org","sender":"@alice:example.org","type":"m.room.member","state_key":"@bob:example.org","content":{"membership":"ban"},"depth":6,"origin_server_ts":7,"prev_events":["$bob"],"auth_events":["$create","$alice","$pl","$bob"],"hashes":{"sha256":"x"},"signatures":{}}`,
	`{"event_id":"$topic","room_id":"!r:example.org","sender":"@bob:example.org","type":"m.room.topic","state_key":"","content":{"topic":"bob was here"},"depth":6,"origin_server_ts":6,"prev_events":["$bob"],"auth_events":["$create","$pl","$bob"],"hashes":{"sha256":"x"},"signatures":{}}`,
}

func exampleRoom() (*stateres.MemoryStore, []stateres.StateMap) {
	store := stateres.NewMemoryStore()
	ids := map[string]*event.Event{}
	for _, raw := range exampleEvents {
		id := raw[strings.Index(raw, `"$`)+1 : strings.Index(raw, `","room_id"`)]
		ev, err := event.ParseWithID(roomversion.V11, []byte(raw), id)
		if err != nil {
			panic(err)
		}
		store.Add(ev)
		ids[id] = ev
	}
	set := func(names ...string) stateres.StateMap {
		m := stateres.StateMap{}
		for _, n := range names {
			ev := ids[n]
			sk, _ := ev.StateKey()
			m[stateres.StateKey{Type: ev.Type(), StateKey: sk}] = n
		}
		return m
	}
	common := []string{"$create", "$alice", "$pl", "$public"}
	return store, []stateres.StateMap{
		set(append(common, "$ban")...),
		set(append(common, "$bob", "$topic")...),
	}
}

func printState(m stateres.StateMap) {
	var lines []string
	for k, id := range m {
		lines = append(lines, fmt.Sprintf("%s %q: %s", k.Type, k.StateKey, id))
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
}

func ExampleResolve() {
	store, sets := exampleRoom()
	state, err := stateres.Resolve(context.Background(), roomversion.V11, sets, store, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	printState(state)
	// Output:
	// m.room.create "": $create
	// m.room.join_rules "": $public
	// m.room.member "@alice:example.org": $alice
	// m.room.member "@bob:example.org": $ban
	// m.room.power_levels "": $pl
}

// The trace says why bob's topic is not in the state: the ban, a power
// event, was applied first, and bob's topic was then refused because he
// was no longer in the room.
func ExampleOptions_trace() {
	store, sets := exampleRoom()
	var trace stateres.Trace
	_, err := stateres.Resolve(context.Background(), roomversion.V11, sets, store, &stateres.Options{Trace: &trace})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("conflicted:", trace.Conflicted)
	fmt.Println("power events:", trace.PowerEvents)
	fmt.Println("mainline:", trace.Mainline)
	for _, c := range trace.Checks {
		if c.Allowed {
			fmt.Printf("%s %s allowed\n", c.Phase, c.EventID)
		} else {
			fmt.Printf("%s %s refused by %s\n", c.Phase, c.EventID, c.Rule)
		}
	}
	// Output:
	// conflicted: [$ban $bob $topic]
	// power events: [$bob $ban]
	// mainline: [$pl]
	// power $bob allowed
	// power $ban allowed
	// mainline $topic refused by sender.not_joined
}

// ResolveChanges takes each fork as its changes to a shared state, the way
// servers keep state, and answers with the changes to apply: keys no fork
// changed are never looked at.
func ExampleResolveChanges() {
	store, sets := exampleRoom()
	member := func(u string) stateres.StateKey { return stateres.StateKey{Type: "m.room.member", StateKey: u} }
	// The state both forks started from, with bob joined.
	base := stateres.StateMap{}
	for k, id := range sets[1] {
		if k.Type != "m.room.topic" {
			base[k] = id
		}
	}
	changes := []stateres.StateMap{
		{member("@bob:example.org"): "$ban"},
		{stateres.StateKey{Type: "m.room.topic"}: "$topic"},
	}
	got, err := stateres.ResolveChanges(context.Background(), roomversion.V11, base, changes, store, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	printState(got)
	// Output:
	// m.room.member "@bob:example.org": $ban
}
