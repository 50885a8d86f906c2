package main

import (
	"encoding/json"
	"net/url"
	"testing"
)

// TestTypingAndReceipts checks that typing notifications and read
// receipts reach the other member through /sync, and that stopping
// typing is told too.
func TestTypingAndReceipts(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "eph.localhost", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	bob.must("POST", "/rooms/"+url.PathEscape(room.RoomID)+"/join", map[string]any{}, nil)
	checkEphemeral(t, alice, bob, "@alice:eph.localhost", room.RoomID)
}

// TestFederationTypingAndReceipts is the same with the reader on the
// other server: typing and receipts travel as EDUs.
func TestFederationTypingAndReceipts(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	bob := register(t, p.b.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	bob.must("POST", "/join/"+url.PathEscape(room.RoomID)+"?server_name=a.test", map[string]any{}, nil)
	waitState(t, alice, "/rooms/"+url.PathEscape(room.RoomID), "m.room.member", "@bob:b.test", "join")
	checkEphemeral(t, alice, bob, "@alice:a.test", room.RoomID)
}

// checkEphemeral has alice type, stop typing and send a read receipt, and
// checks bob's syncs tell each.
func checkEphemeral(t *testing.T, alice, bob *api, aliceID, roomID string) {
	t.Helper()
	room := struct{ RoomID string }{roomID}
	rp := "/rooms/" + url.PathEscape(roomID)
	var msg struct {
		EventID string `json:"event_id"`
	}
	alice.must("PUT", rp+"/send/m.room.message/1", map[string]string{"msgtype": "m.text", "body": "hi"}, &msg)

	type syncResp struct {
		NextBatch string `json:"next_batch"`
		Rooms     struct {
			Join map[string]struct {
				Ephemeral struct {
					Events []struct {
						Type    string          `json:"type"`
						Content json.RawMessage `json:"content"`
					} `json:"events"`
				} `json:"ephemeral"`
			} `json:"join"`
		} `json:"rooms"`
	}
	// ephemeral syncs until the room has an ephemeral event of type want.
	ephemeral := func(since, want string) (string, map[string]json.RawMessage) {
		t.Helper()
		for range 20 {
			var r syncResp
			bob.must("GET", "/sync?timeout=5000&since="+url.QueryEscape(since), nil, &r)
			since = r.NextBatch
			out := map[string]json.RawMessage{}
			for _, e := range r.Rooms.Join[room.RoomID].Ephemeral.Events {
				out[e.Type] = e.Content
			}
			if out[want] != nil {
				return since, out
			}
		}
		t.Fatalf("no %s came through sync", want)
		return "", nil
	}
	var first syncResp
	bob.must("GET", "/sync", nil, &first)
	since := first.NextBatch

	alice.must("PUT", rp+"/typing/"+url.PathEscape(aliceID), map[string]any{"typing": true, "timeout": 20000}, nil)
	since, eph := ephemeral(since, "m.typing")
	if string(eph["m.typing"]) != `{"user_ids":["`+aliceID+`"]}` {
		t.Fatalf("typing: %s", eph["m.typing"])
	}
	alice.must("PUT", rp+"/typing/"+url.PathEscape(aliceID), map[string]any{"typing": false}, nil)
	since, eph = ephemeral(since, "m.typing")
	if string(eph["m.typing"]) != `{"user_ids":[]}` {
		t.Fatalf("stopped typing: %s", eph["m.typing"])
	}
	alice.must("POST", rp+"/receipt/m.read/"+url.PathEscape(msg.EventID), map[string]any{}, nil)
	_, eph = ephemeral(since, "m.receipt")
	var receipt map[string]map[string]map[string]struct {
		TS int64 `json:"ts"`
	}
	if err := json.Unmarshal(eph["m.receipt"], &receipt); err != nil || receipt[msg.EventID]["m.read"][aliceID].TS == 0 {
		t.Fatalf("receipt: %s (%v)", eph["m.receipt"], err)
	}
}

// TestPresence checks PUT and GET /presence and that a change reaches a
// user who shares a room through sync's presence block.
func TestPresence(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "presence.localhost", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	bob.must("POST", "/rooms/"+url.PathEscape(room.RoomID)+"/join", map[string]any{}, nil)
	since := syncToken(t, bob)

	aliceID := "@alice:presence.localhost"
	alice.must("PUT", "/presence/"+url.PathEscape(aliceID)+"/status", map[string]string{"presence": "unavailable", "status_msg": "lunch"}, nil)
	var st struct {
		Presence  string `json:"presence"`
		StatusMsg string `json:"status_msg"`
	}
	bob.must("GET", "/presence/"+url.PathEscape(aliceID)+"/status", nil, &st)
	if st.Presence != "unavailable" || st.StatusMsg != "lunch" {
		t.Fatalf("GET presence: %+v", st)
	}
	var r struct {
		Presence struct {
			Events []struct {
				Sender  string `json:"sender"`
				Content struct {
					Presence  string `json:"presence"`
					StatusMsg string `json:"status_msg"`
				} `json:"content"`
			} `json:"events"`
		} `json:"presence"`
	}
	bob.must("GET", "/sync?timeout=5000&set_presence=offline&since="+url.QueryEscape(since), nil, &r)
	found := false
	for _, ev := range r.Presence.Events {
		if ev.Sender == aliceID && ev.Content.Presence == "unavailable" && ev.Content.StatusMsg == "lunch" {
			found = true
		}
	}
	if !found {
		t.Fatalf("alice's presence is not in bob's sync: %+v", r.Presence.Events)
	}
}
