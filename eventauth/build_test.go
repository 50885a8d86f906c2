package eventauth_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

func buildKey() *signing.SigningKey {
	seed, _ := base64.DecodeString("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
	key, _ := signing.NewSigningKey("ed25519:1", seed)
	return key
}

// state returns a builder of a state event with the given content.
func state(typ, stateKey, sender, content string) event.Builder {
	return event.Builder{Type: typ, StateKey: &stateKey, Sender: sender, Content: []byte(content)}
}

// ExampleMemoryRoom builds and signs a room of room version 12 offline:
// the room picks each event's prev_events, depth and auth events, and
// refuses an event its rules refuse.
func ExampleMemoryRoom() {
	const alice, bob = "@alice:example.org", "@bob:example.org"
	room := eventauth.NewMemoryRoom(roomversion.V12)
	key := buildKey()
	for _, b := range []event.Builder{
		state("m.room.create", "", alice, `{"room_version":"12"}`),
		state("m.room.member", alice, alice, `{"membership":"join"}`),
		state("m.room.power_levels", "", alice, `{"users_default":0}`),
		state("m.room.join_rules", "", alice, `{"join_rule":"invite"}`),
		{Type: "m.room.message", Sender: alice, Content: []byte(`{"msgtype":"m.text","body":"hello"}`)},
	} {
		b.OriginServerTS = 1700000000000
		ev, err := room.Build(b, "example.org", key)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(ev.Type(), ev.Depth(), len(ev.AuthEventIDs()))
	}
	// Bob was not invited.
	_, err := room.Build(state("m.room.member", bob, bob, `{"membership":"join"}`), "example.org", key)
	fmt.Println(err != nil)
	// Output:
	// m.room.create 1 0
	// m.room.member 2 0
	// m.room.power_levels 3 1
	// m.room.join_rules 4 2
	// m.room.message 5 2
	// true
}

func TestBuildForSelectsAuthEvents(t *testing.T) {
	const alice, bob = "@alice:example.org", "@bob:example.org"
	for _, v := range []roomversion.Version{roomversion.V10, roomversion.V12} {
		t.Run(v.ID, func(t *testing.T) {
			room := eventauth.NewMemoryRoom(v)
			key := buildKey()
			create := state("m.room.create", "", alice, fmt.Sprintf(`{"room_version":%q,"creator":%q}`, v.ID, alice))
			if v.ID == "10" {
				create.RoomID = "!r:example.org"
			}
			evs := map[string]*event.Event{}
			// Room version 12 refuses the creators in users (its creators
			// outrank everyone); earlier versions need alice there.
			pl := `{"users":{"@alice:example.org":100}}`
			if v.ID == "12" {
				pl = `{}`
			}
			for i, b := range []event.Builder{create,
				state("m.room.member", alice, alice, `{"membership":"join"}`),
				state("m.room.power_levels", "", alice, pl),
				state("m.room.join_rules", "", alice, `{"join_rule":"public"}`),
				state("m.room.member", bob, bob, `{"membership":"join"}`),
			} {
				ev, err := room.Build(b, "example.org", key)
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				evs[[]string{"create", "alice", "pl", "jr", "bob"}[i]] = ev
				if i > 0 && (len(ev.PrevEventIDs()) != 1 || ev.Depth() != int64(i+1)) {
					t.Errorf("event %d: prev %v depth %d", i, ev.PrevEventIDs(), ev.Depth())
				}
			}
			// Bob's join needs create (not in v12, where the room ID names
			// it), power levels, join rules and bob's own membership (absent).
			want := []string{evs["pl"].ID(), evs["jr"].ID()}
			if v.ID == "10" {
				want = append(want, evs["create"].ID())
			}
			got := evs["bob"].AuthEventIDs()
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("bob's auth events %v, want %v", got, want)
			}
			if err := eventauth.Allowed(v, evs["bob"], room); err != nil {
				t.Errorf("bob's join not allowed against the room: %v", err)
			}
		})
	}
}

func TestMemoryRoomRefuses(t *testing.T) {
	room := eventauth.NewMemoryRoom(roomversion.V12)
	key := buildKey()
	if _, err := room.Build(state("m.room.create", "", "@a:example.org", `{"room_version":"12"}`), "example.org", key); err != nil {
		t.Fatal(err)
	}
	// A message from someone not in the room.
	ev, err := room.Build(event.Builder{Type: "m.room.message", Sender: "@b:example.org", Content: []byte(`{}`)}, "example.org", key)
	var rej *eventauth.Rejection
	if ev == nil || !errors.As(err, &rej) {
		t.Fatalf("got %v, %v; want the event and a *Rejection", ev, err)
	}
	if got := room.ForwardExtremities(); len(got) != 1 || got[0].Type() != "m.room.create" {
		t.Errorf("refused event was added: %v", got)
	}
}
