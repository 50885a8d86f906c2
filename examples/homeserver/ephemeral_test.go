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
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
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
	ephemeral := func(since string) (string, map[string]json.RawMessage) {
		var r syncResp
		bob.must("GET", "/sync?timeout=5000&since="+url.QueryEscape(since), nil, &r)
		out := map[string]json.RawMessage{}
		for _, e := range r.Rooms.Join[room.RoomID].Ephemeral.Events {
			out[e.Type] = e.Content
		}
		return r.NextBatch, out
	}
	var first syncResp
	bob.must("GET", "/sync", nil, &first)
	since := first.NextBatch

	alice.must("PUT", rp+"/typing/"+url.PathEscape("@alice:eph.localhost"), map[string]any{"typing": true, "timeout": 20000}, nil)
	since, eph := ephemeral(since)
	if string(eph["m.typing"]) != `{"user_ids":["@alice:eph.localhost"]}` {
		t.Fatalf("typing: %s", eph["m.typing"])
	}
	alice.must("PUT", rp+"/typing/"+url.PathEscape("@alice:eph.localhost"), map[string]any{"typing": false}, nil)
	since, eph = ephemeral(since)
	if string(eph["m.typing"]) != `{"user_ids":[]}` {
		t.Fatalf("stopped typing: %s", eph["m.typing"])
	}
	alice.must("POST", rp+"/receipt/m.read/"+url.PathEscape(msg.EventID), map[string]any{}, nil)
	_, eph = ephemeral(since)
	var receipt map[string]map[string]map[string]struct {
		TS int64 `json:"ts"`
	}
	if err := json.Unmarshal(eph["m.receipt"], &receipt); err != nil || receipt[msg.EventID]["m.read"]["@alice:eph.localhost"].TS == 0 {
		t.Fatalf("receipt: %s (%v)", eph["m.receipt"], err)
	}
}
