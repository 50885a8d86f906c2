package main

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
)

// TestIndexCatchUpLosesNoEvent: the relation and search indexes catch up
// from a stored position while events keep arriving. An event stored
// between the catch-up's read of new events and its move of the position
// must still be indexed at the next catch-up (a thread count once stayed
// one short when a client read /threads while replies were being sent).
func TestIndexCatchUpLosesNoEvent(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "index.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	var root struct {
		EventID string `json:"event_id"`
	}
	alice.must("PUT", rp+"/send/m.room.message/root", map[string]any{"msgtype": "m.text", "body": "root"}, &root)

	const replies = 200
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 { // catch-ups racing the sends
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				hs.hs.cli.indexRelations(ctx)
				hs.hs.cli.indexSearch(ctx)
			}
		}()
	}
	for i := range replies {
		alice.must("PUT", rp+"/send/m.room.message/r"+fmt.Sprint(i), map[string]any{"msgtype": "m.text", "body": "reply",
			"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": root.EventID}}, nil)
	}
	cancel()
	wg.Wait()

	var n, found int
	if err := hs.hs.cli.indexRelations(context.Background()); err != nil {
		t.Fatal(err)
	}
	hs.hs.cli.db.queryRow(context.Background(), `SELECT count(*) FROM relations WHERE relates_to = ?`, root.EventID).Scan(&n)
	if n != replies {
		t.Errorf("relations index holds %d of the %d replies", n, replies)
	}
	if err := hs.hs.cli.indexSearch(context.Background()); err != nil {
		t.Fatal(err)
	}
	hs.hs.cli.db.queryRow(context.Background(), `SELECT count(*) FROM search_fts WHERE room_id = ? AND key = 'content.body' AND value = 'reply'`, room.RoomID).Scan(&found)
	if found != replies {
		t.Errorf("search index holds %d of the %d replies", found, replies)
	}
}
