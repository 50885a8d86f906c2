package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
)

// TestRestartKeepsAcknowledged kills the homeserver with SIGKILL while
// clients are sending, starts it again on the same database, and checks
// that every event it acknowledged (answered 200), the user and the
// room are still there; then the same after a clean stop.
func TestRestartKeepsAcknowledged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"--server-name", "restart.localhost", "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "hs.db"), "--key", filepath.Join(dir, "signing.key")}
	p := startProc(t, args...)
	alice := register(t, p.clientURL, "alice")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"name": "kept"}, &room)
	roomPath := "/rooms/" + url.PathEscape(room.RoomID)

	// Four senders; after 80 acknowledged events the server is killed
	// while they are still sending.
	const senders, killAfter = 4, 80
	var mu sync.Mutex
	acked := map[string]string{} // event ID -> body
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				body := fmt.Sprintf("sender %d message %d", s, i)
				var r struct {
					EventID string `json:"event_id"`
				}
				_, err := alice.do("PUT", roomPath+"/send/m.room.message/"+fmt.Sprintf("t%d-%d", s, i), map[string]string{"msgtype": "m.text", "body": body}, &r)
				if err != nil {
					select {
					case <-killed:
						return // the server is gone
					default:
						t.Errorf("send before the kill: %v", err)
						return
					}
				}
				mu.Lock()
				acked[r.EventID] = body
				n := len(acked)
				mu.Unlock()
				if n >= killAfter {
					once.Do(func() { close(killed); p.kill() })
				}
				if i > 10000 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(acked) < killAfter {
		t.Fatalf("only %d events acknowledged", len(acked))
	}

	check := func(p *proc) {
		t.Helper()
		a := login(t, p.clientURL, "alice") // the user and its password survived
		var jr struct {
			JoinedRooms []string `json:"joined_rooms"`
		}
		a.must("GET", "/joined_rooms", nil, &jr)
		if len(jr.JoinedRooms) != 1 || jr.JoinedRooms[0] != room.RoomID {
			t.Fatalf("joined rooms after restart: %v, want [%s]", jr.JoinedRooms, room.RoomID)
		}
		mu.Lock()
		defer mu.Unlock()
		for id, body := range acked {
			var ev struct {
				Content struct {
					Body string `json:"body"`
				} `json:"content"`
			}
			a.must("GET", roomPath+"/event/"+url.PathEscape(id), nil, &ev)
			if ev.Content.Body != body {
				t.Fatalf("event %s after restart has body %q, want %q", id, ev.Content.Body, body)
			}
		}
		// The room still takes events on top of what survived.
		var r struct {
			EventID string `json:"event_id"`
		}
		a.must("PUT", roomPath+"/send/m.room.message/after-"+fmt.Sprint(len(acked)), map[string]string{"msgtype": "m.text", "body": "after restart"}, &r)
		acked[r.EventID] = "after restart"
	}

	p2 := startProc(t, args...)
	check(p2)
	p2.stop(t)
	p3 := startProc(t, args...)
	check(p3)
}
