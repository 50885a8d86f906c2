package main

import (
	"fmt"
	"net/url"
	"testing"
)

// TestBackfillOnJoin: a server joining a room reads the history before its
// join, so its user's /messages going back shows what history visibility
// lets them see: every earlier message under "shared" (including past the
// first backfill, fetched when paging reaches the oldest event), none
// under "joined".
func TestBackfillOnJoin(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	bob := register(t, p.b.hs.ClientURL(), "bob")
	for _, vis := range []string{"shared", "joined"} {
		var room struct {
			RoomID string `json:"room_id"`
		}
		alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "initial_state": []map[string]any{
			{"type": "m.room.history_visibility", "state_key": "", "content": map[string]string{"history_visibility": vis}}}}, &room)
		rp := "/rooms/" + url.PathEscape(room.RoomID)
		const n = 70 // more than one backfill brings
		for i := range n {
			alice.must("PUT", rp+"/send/m.room.message/"+vis+fmt.Sprint(i), map[string]string{"msgtype": "m.text", "body": fmt.Sprint("before ", i)}, nil)
		}
		bob.must("POST", "/join/"+url.PathEscape(room.RoomID)+"?server_name=a.test", map[string]any{}, nil)
		seen := map[string]bool{}
		from := ""
		for range 20 {
			var page struct {
				Chunk []struct {
					Type    string `json:"type"`
					Content struct {
						Body string `json:"body"`
					} `json:"content"`
				} `json:"chunk"`
				End string `json:"end"`
			}
			q := "?dir=b&limit=30"
			if from != "" {
				q += "&from=" + url.QueryEscape(from)
			}
			bob.must("GET", rp+"/messages"+q, nil, &page)
			for _, e := range page.Chunk {
				if e.Type == "m.room.message" {
					seen[e.Content.Body] = true
				}
			}
			if page.End == "" {
				break
			}
			from = page.End
		}
		want := n
		if vis == "joined" {
			want = 0
		}
		for i := range n {
			if want > 0 && !seen[fmt.Sprint("before ", i)] {
				t.Logf("missing %d", i)
			}
		}
		if len(seen) != want {
			t.Errorf("%s: bob sees %d of the %d messages before his join, want %d", vis, len(seen), n, want)
		}
	}
}
