package main

import (
	"encoding/json"
	"net/url"
	"testing"
)

type knockSync struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Knock map[string]struct {
			KnockState struct {
				Events []struct {
					Type     string `json:"type"`
					StateKey string `json:"state_key"`
					Content  struct {
						Membership string `json:"membership"`
					} `json:"content"`
				} `json:"events"`
			} `json:"knock_state"`
		} `json:"knock"`
		Invite map[string]json.RawMessage `json:"invite"`
		Leave  map[string]json.RawMessage `json:"leave"`
	} `json:"rooms"`
}

func (k knockSync) knocked(roomID, user string) bool {
	kr, ok := k.Rooms.Knock[roomID]
	if !ok {
		return false
	}
	for _, e := range kr.KnockState.Events {
		if e.Type == "m.room.member" && e.StateKey == user && e.Content.Membership == "knock" {
			return true
		}
	}
	return false
}

// TestKnocking: POST /knock/{roomIdOrAlias} on a room with the knock join
// rule, locally and across servers: the knock shows in the knocker's sync
// ("knock" section, with stripped state), the room sees it, an invite
// answers it, and a knock can be withdrawn with a leave.
func TestKnocking(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	carol := register(t, p.a.hs.ClientURL(), "carol")
	bob := register(t, p.b.hs.ClientURL(), "bob")
	dave := register(t, p.b.hs.ClientURL(), "dave")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "room_alias_name": "door", "initial_state": []map[string]any{{
		"type": "m.room.join_rules", "state_key": "", "content": map[string]string{"join_rule": "knock"}}}}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)

	// A local knock.
	carol.must("POST", "/knock/"+url.PathEscape("#door:a.test"), map[string]string{"reason": "let me in"}, nil)
	var k knockSync
	carol.must("GET", "/sync", nil, &k)
	if !k.knocked(room.RoomID, "@carol:a.test") {
		t.Fatalf("carol's knock is not in her sync: %+v", k.Rooms)
	}
	waitState(t, alice, rp, "m.room.member", "@carol:a.test", "knock")
	if code, _ := carol.do("POST", rp+"/join", map[string]any{}, nil); code != 403 {
		t.Fatalf("carol joining before being let in: %d", code)
	}

	// A remote knock, answered by an invite.
	bob.must("POST", "/knock/"+url.PathEscape(room.RoomID)+"?server_name=a.test", map[string]string{"reason": "hello"}, nil)
	waitState(t, alice, rp, "m.room.member", "@bob:b.test", "knock")
	var bk knockSync
	bob.must("GET", "/sync", nil, &bk)
	if !bk.knocked(room.RoomID, "@bob:b.test") {
		t.Fatalf("bob's remote knock is not in his sync: %+v", bk.Rooms)
	}
	alice.must("POST", rp+"/invite", map[string]string{"user_id": "@bob:b.test"}, nil)
	waitFor(t, "the invite answering bob's knock", func() bool {
		var s knockSync
		bob.must("GET", "/sync", nil, &s)
		return s.Rooms.Invite[room.RoomID] != nil && s.Rooms.Knock[room.RoomID].KnockState.Events == nil
	})
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	waitState(t, alice, rp, "m.room.member", "@bob:b.test", "join")

	// A remote knock withdrawn.
	dave.must("POST", "/knock/"+url.PathEscape(room.RoomID)+"?server_name=a.test", map[string]any{}, nil)
	var dk knockSync
	dave.must("GET", "/sync", nil, &dk)
	if !dk.knocked(room.RoomID, "@dave:b.test") {
		t.Fatalf("dave's knock is not in his sync")
	}
	dave.must("POST", rp+"/leave", map[string]any{}, nil)
	waitState(t, alice, rp, "m.room.member", "@dave:b.test", "leave")
	var after knockSync
	dave.must("GET", "/sync?since="+url.QueryEscape(dk.NextBatch), nil, &after)
	if after.Rooms.Leave[room.RoomID] == nil || after.Rooms.Knock[room.RoomID].KnockState.Events != nil {
		t.Fatalf("after withdrawing: %+v", after.Rooms)
	}
}
