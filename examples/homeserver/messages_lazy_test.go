package main

import (
	"net/url"
	"slices"
	"testing"
)

// TestMessagesLazyLoadMembers checks GET /messages with lazy_load_members:
// state holds exactly the member events of the chunk's senders, as of
// the chunk's newest event, and nothing without the flag; in both
// directions, including a dir=f chunk that starts at m.room.create
// (whose sender's membership only begins after it).
func TestMessagesLazyLoadMembers(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "lazy.localhost", false, nil)
	base := hs.hs.ClientURL()
	alice := register(t, base, "alice")
	bob := register(t, base, "bob")
	carol := register(t, base, "carol")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	esc := url.PathEscape(room.RoomID)
	for _, u := range []*api{bob, carol} {
		u.must("POST", "/join/"+esc, map[string]any{}, nil)
	}
	send := func(u *api, txn, body string) {
		u.must("PUT", "/rooms/"+esc+"/send/m.room.message/"+txn, map[string]any{"msgtype": "m.text", "body": body}, nil)
	}
	send(carol, "c1", "carol speaks early") // outside the chunk below
	send(alice, "a1", "alice speaks")
	send(bob, "b1", "bob speaks")
	bob.must("PUT", "/rooms/"+esc+"/state/m.room.member/@bob:lazy.localhost", map[string]any{"membership": "join", "displayname": "Bobby"}, nil)

	type member struct {
		Type     string `json:"type"`
		StateKey string `json:"state_key"`
		Content  struct {
			Displayname string `json:"displayname"`
		} `json:"content"`
	}
	messages := func(dir, filter string) (chunk []struct{ Sender string }, state []member) {
		t.Helper()
		var resp struct {
			Chunk []struct {
				Sender string `json:"sender"`
			} `json:"chunk"`
			State []member `json:"state"`
		}
		q := url.Values{"dir": {dir}, "limit": {"3"}}
		if filter != "" {
			q.Set("filter", filter)
		}
		alice.must("GET", "/rooms/"+esc+"/messages?"+q.Encode(), nil, &resp)
		for _, c := range resp.Chunk {
			chunk = append(chunk, struct{ Sender string }{c.Sender})
		}
		return chunk, resp.State
	}
	keys := func(st []member) []string {
		var out []string
		for _, m := range st {
			if m.Type != "m.room.member" {
				t.Errorf("state has a %s event", m.Type)
			}
			out = append(out, m.StateKey)
		}
		slices.Sort(out)
		return out
	}

	for _, tc := range []struct {
		name, filter string
		want         []string
	}{
		{"no filter", "", nil},
		{"lazy off", `{"lazy_load_members":false}`, nil},
		// Newest three: bob's name change, bob's and alice's messages.
		{"lazy", `{"lazy_load_members":true}`, []string{"@alice:lazy.localhost", "@bob:lazy.localhost"}},
		// Redundant members are always sent (see sendersMembers).
		{"lazy redundant", `{"lazy_load_members":true,"include_redundant_members":true}`, []string{"@alice:lazy.localhost", "@bob:lazy.localhost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, st := messages("b", tc.filter)
			if got := keys(st); !slices.Equal(got, tc.want) {
				t.Fatalf("state members %v, want %v", got, tc.want)
			}
			for _, m := range st {
				// bob's name change is the chunk's newest event.
				if m.StateKey == "@bob:lazy.localhost" && m.Content.Displayname != "Bobby" {
					t.Errorf("bob's member event has displayname %q", m.Content.Displayname)
				}
			}
		})
	}

	// dir=f from the start: the chunk is the room's first three events,
	// all sent by alice (create, her join, power levels); her membership
	// begins after the first.
	chunk, st := messages("f", `{"lazy_load_members":true}`)
	for _, c := range chunk {
		if c.Sender != "@alice:lazy.localhost" {
			t.Fatalf("first events sent by %s", c.Sender)
		}
	}
	if got := keys(st); !slices.Equal(got, []string{"@alice:lazy.localhost"}) {
		t.Fatalf("dir=f state members %v", got)
	}
}
