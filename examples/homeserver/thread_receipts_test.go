package main

import (
	"encoding/json"
	"net/url"
	"testing"
)

// TestThreadedReceiptsAndCounts: notifications are counted by thread, a
// threaded read receipt clears its thread alone, and sync answers
// unread_thread_notifications when the timeline filter asks for it, with
// unread_notifications then counting the main timeline (client-server
// API, "Threaded read receipts" and "Receiving notifications").
func TestThreadedReceiptsAndCounts(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "threads.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	send := func(txn string, content map[string]any) string {
		var r struct {
			EventID string `json:"event_id"`
		}
		alice.must("PUT", rp+"/send/m.room.message/"+txn, content, &r)
		return r.EventID
	}
	root := send("root", map[string]any{"msgtype": "m.text", "body": "root"})
	inThread := map[string]any{"rel_type": "m.thread", "event_id": root}
	send("t1", map[string]any{"msgtype": "m.text", "body": "t1", "m.relates_to": inThread})
	t2 := send("t2", map[string]any{"msgtype": "m.text", "body": "t2", "m.relates_to": inThread})
	main := send("main", map[string]any{"msgtype": "m.text", "body": "main"})

	type counts struct {
		NotificationCount int `json:"notification_count"`
		HighlightCount    int `json:"highlight_count"`
	}
	syncCounts := func(threaded bool) (counts, map[string]counts) {
		filter := `{}`
		if threaded {
			filter = `{"room":{"timeline":{"unread_thread_notifications":true}}}`
		}
		var r struct {
			Rooms struct {
				Join map[string]struct {
					Unread  counts            `json:"unread_notifications"`
					Threads map[string]counts `json:"unread_thread_notifications"`
				} `json:"join"`
			} `json:"rooms"`
		}
		bob.must("GET", "/sync?filter="+url.QueryEscape(filter), nil, &r)
		jr := r.Rooms.Join[room.RoomID]
		return jr.Unread, jr.Threads
	}
	waitFor(t, "four notifications", func() bool { c, _ := syncCounts(false); return c.NotificationCount == 4 })
	check := func(what string, wantAll, wantMain, wantThread int) {
		t.Helper()
		all, threads := syncCounts(false)
		if all.NotificationCount != wantAll || threads != nil {
			t.Errorf("%s: unthreaded counts %+v %v, want %d and no threads", what, all, threads, wantAll)
		}
		mainCount, threads := syncCounts(true)
		if mainCount.NotificationCount != wantMain || threads[root].NotificationCount != wantThread || (wantThread == 0 && threads != nil) {
			b, _ := json.Marshal(threads)
			t.Errorf("%s: threaded counts main %+v threads %s, want main %d thread %d", what, mainCount, b, wantMain, wantThread)
		}
	}
	check("before any receipt", 4, 2, 2)

	bob.must("POST", rp+"/receipt/m.read/"+url.PathEscape(t2), map[string]any{"thread_id": root}, nil)
	check("after the thread's receipt", 2, 2, 0)

	bob.must("POST", rp+"/receipt/m.read/"+url.PathEscape(root), map[string]any{"thread_id": "main"}, nil)
	check("after main's receipt on the root", 1, 1, 0)

	var list struct {
		Notifications []struct {
			Read  bool `json:"read"`
			Event struct {
				EventID string `json:"event_id"`
			} `json:"event"`
		} `json:"notifications"`
	}
	bob.must("GET", "/notifications", nil, &list)
	for _, n := range list.Notifications {
		if n.Read != (n.Event.EventID != main) {
			t.Errorf("notification %s read=%v", n.Event.EventID, n.Read)
		}
	}

	// An unthreaded receipt reads everything up to it, threads included.
	alice.must("PUT", rp+"/send/m.room.message/t3", map[string]any{"msgtype": "m.text", "body": "t3", "m.relates_to": inThread}, nil)
	waitFor(t, "the new thread reply", func() bool { c, _ := syncCounts(false); return c.NotificationCount == 2 })
	check("a new reply", 2, 1, 1)
	last := send("last", map[string]any{"msgtype": "m.text", "body": "last"})
	waitFor(t, "the last message", func() bool { c, _ := syncCounts(false); return c.NotificationCount == 3 })
	bob.must("POST", rp+"/receipt/m.read/"+url.PathEscape(last), map[string]any{}, nil)
	check("after an unthreaded receipt", 0, 0, 0)

	// An event relating to a reply in the thread (other than by
	// m.thread) is in the thread too.
	send("ref", map[string]any{"msgtype": "m.text", "body": "about t2", "m.relates_to": map[string]any{"rel_type": "m.reference", "event_id": t2}})
	waitFor(t, "the reference", func() bool { c, _ := syncCounts(false); return c.NotificationCount == 1 })
	check("a reference to a thread reply", 1, 0, 1)
}
