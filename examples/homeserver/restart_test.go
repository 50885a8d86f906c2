package main

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
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
	// Four clients send as fast as they can: the rate limits (which
	// have their own test) would answer 429 to most of it.
	args := []string{"--server-name", "restart.localhost", "--listen", "127.0.0.1:0", "--rate-limit=false",
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
		// The access token of before survives, and a transaction
		// retried with it gets the event it made, not a new one.
		old := &api{t: t, base: p.clientURL, token: alice.token}
		for id, body := range acked {
			if body == "after restart" {
				continue
			}
			var s, i int
			fmt.Sscanf(body, "sender %d message %d", &s, &i)
			var r struct {
				EventID string `json:"event_id"`
			}
			old.must("PUT", roomPath+"/send/m.room.message/"+fmt.Sprintf("t%d-%d", s, i), map[string]string{"msgtype": "m.text", "body": body}, &r)
			if r.EventID != id {
				t.Fatalf("retried transaction t%d-%d after restart made %s, want %s", s, i, r.EventID, id)
			}
			break
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

// TestFederationPeerRestart kills the second server with SIGKILL while the
// first is sending it a room's messages, starts it again, and checks that
// it catches up: every message reaches its user, and the room works both
// ways afterwards.
func TestFederationPeerRestart(t *testing.T) {
	t.Parallel()
	lb, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrB := lb.Addr().String()
	lb.Close() // the process listens there itself
	la, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := startInProcessWith(t, "a.test", la, map[string]string{"b.test": addrB})
	dir := t.TempDir()
	args := []string{"--server-name", "b.test", "--listen", "127.0.0.1:0", "--federation-listen", addrB,
		"--peer", "a.test=" + la.Addr().String(), "--db", filepath.Join(dir, "b.db"), "--key", filepath.Join(dir, "b.key")}
	b := startProc(t, args...)

	alice := register(t, a.hs.ClientURL(), "alice")
	bob := register(t, b.clientURL, "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", "/join/"+url.PathEscape(room.RoomID)+"?server_name=a.test", map[string]any{}, nil)
	waitState(t, alice, rp, "m.room.member", "@bob:b.test", "join")

	const total, killAt = 30, 10
	for i := range total {
		if i == killAt {
			b.kill()
		}
		alice.must("PUT", rp+"/send/m.room.message/m"+fmt.Sprint(i), map[string]string{"msgtype": "m.text", "body": fmt.Sprint("message ", i)}, nil)
	}
	b = startProc(t, args...)
	bob = login(t, b.clientURL, "bob")
	waitFor(t, "every message on b.test after its restart", func() bool {
		var r struct {
			Chunk []struct {
				Content struct {
					Body string `json:"body"`
				} `json:"content"`
			} `json:"chunk"`
		}
		if _, err := bob.do("GET", rp+"/messages?dir=b&limit=100", nil, &r); err != nil {
			return false
		}
		seen := map[string]bool{}
		for _, ev := range r.Chunk {
			seen[ev.Content.Body] = true
		}
		for i := range total {
			if !seen[fmt.Sprint("message ", i)] {
				return false
			}
		}
		return true
	})
	bob.must("PUT", rp+"/send/m.room.message/back", map[string]string{"msgtype": "m.text", "body": "bob is back"}, nil)
	waitFor(t, "bob's message on a.test", func() bool {
		var r struct {
			Chunk []struct {
				Content struct {
					Body string `json:"body"`
				} `json:"content"`
			} `json:"chunk"`
		}
		_, err := alice.do("GET", rp+"/messages?dir=b&limit=5", nil, &r)
		return err == nil && len(r.Chunk) > 0 && r.Chunk[0].Content.Body == "bob is back"
	})
}

// TestFederationQueueSurvivesKill sends messages while the other server
// is down, kills the sending server with SIGKILL, and starts both again:
// the events the sender acknowledged but had not delivered are in its
// stored queue and reach the other server after the restart.
func TestFederationQueueSurvivesKill(t *testing.T) {
	t.Parallel()
	addrA, addrB := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	argsA := []string{"--server-name", "a.test", "--listen", "127.0.0.1:0", "--federation-listen", addrA,
		"--peer", "b.test=" + addrB, "--db", filepath.Join(dir, "a.db"), "--key", filepath.Join(dir, "a.key")}
	argsB := []string{"--server-name", "b.test", "--listen", "127.0.0.1:0", "--federation-listen", addrB,
		"--peer", "a.test=" + addrA, "--db", filepath.Join(dir, "b.db"), "--key", filepath.Join(dir, "b.key")}
	a, b := startProc(t, argsA...), startProc(t, argsB...)
	alice := register(t, a.clientURL, "alice")
	bob := register(t, b.clientURL, "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", "/join/"+url.PathEscape(room.RoomID)+"?server_name=a.test", map[string]any{}, nil)
	waitState(t, alice, rp, "m.room.member", "@bob:b.test", "join")

	b.kill()
	const n = 10
	for i := range n {
		alice.must("PUT", rp+"/send/m.room.message/q"+fmt.Sprint(i), map[string]string{"msgtype": "m.text", "body": fmt.Sprint("queued ", i)}, nil)
	}
	a.kill()

	b = startProc(t, argsB...)
	startProc(t, argsA...)
	bob = login(t, b.clientURL, "bob")
	waitFor(t, "the queued messages on b.test", func() bool {
		var r struct {
			Chunk []struct {
				Content struct {
					Body string `json:"body"`
				} `json:"content"`
			} `json:"chunk"`
		}
		if _, err := bob.do("GET", rp+"/messages?dir=b&limit=50", nil, &r); err != nil {
			return false
		}
		seen := 0
		for _, ev := range r.Chunk {
			if strings.HasPrefix(ev.Content.Body, "queued ") {
				seen++
			}
		}
		return seen == n
	})
}

// freeAddr finds a free loopback address for a listener a process opens.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
