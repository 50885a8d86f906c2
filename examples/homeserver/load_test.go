package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The load measurements of the homeserver, over loopback HTTP with the
// real handlers and database:
//
//	go test -run '^$' -bench BenchmarkLoad -benchtime 2000x ./examples/homeserver
//
// send: messages accepted by PUT /send per second, one sender, with
// sync consumers (other members long-polling /sync) attached; sync-p50-ms
// and sync-p99-ms are the times from the start of a send to its delivery
// by /sync to each consumer. federation: the same with the consumer on a
// second server, so delivery crosses a federation transaction. The
// baseline is one durable SQLite commit of a row, the floor of a send that
// is on disk before it is acknowledged.

// consumer long-polls /sync and records when each message arrives.
type consumer struct {
	a       *api
	mu      sync.Mutex
	arrived map[int]time.Time
	stop    chan struct{}
	done    chan struct{}
}

func startConsumer(a *api, since string) *consumer {
	c := &consumer{a: a, arrived: map[int]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			select {
			case <-c.stop:
				return
			default:
			}
			var r struct {
				NextBatch string `json:"next_batch"`
				Rooms     struct {
					Join map[string]struct {
						Timeline struct {
							Events []struct {
								Content struct {
									Body string `json:"body"`
								} `json:"content"`
							} `json:"events"`
						} `json:"timeline"`
					} `json:"join"`
				} `json:"rooms"`
			}
			q := "/sync?timeout=1000&filter=" + url.QueryEscape(`{"room":{"timeline":{"limit":100}}}`)
			if since != "" {
				q += "&since=" + url.QueryEscape(since)
			}
			if _, err := a.do("GET", q, nil, &r); err != nil {
				return
			}
			now := time.Now()
			since = r.NextBatch
			c.mu.Lock()
			for _, jr := range r.Rooms.Join {
				for _, ev := range jr.Timeline.Events {
					if n, ok := strings.CutPrefix(ev.Content.Body, "load "); ok {
						if i, err := strconv.Atoi(n); err == nil {
							c.arrived[i] = now
						}
					}
				}
			}
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *consumer) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.arrived)
}

func (c *consumer) close() {
	close(c.stop)
	<-c.done
}

func syncToken(t testing.TB, a *api) string {
	var r struct {
		NextBatch string `json:"next_batch"`
	}
	if _, err := a.do("GET", "/sync", nil, &r); err != nil {
		t.Fatal(err)
	}
	return r.NextBatch
}

// runLoad sends b.N messages as sender into roomPath and reports the
// rate and the delivery latencies to the consumers.
func runLoad(b *testing.B, sender *api, roomPath string, consumers []*consumer) {
	sent := make([]time.Time, 0, 1024)
	start := time.Now()
	i := 0
	for b.Loop() {
		sent = append(sent, time.Now())
		body := map[string]string{"msgtype": "m.text", "body": fmt.Sprintf("load %d", i)}
		if _, err := sender.do("PUT", roomPath+"/send/m.room.message/load-"+strconv.Itoa(i)+"-"+strconv.FormatInt(start.UnixNano(), 36), body, nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
	elapsed := time.Since(start)
	b.StopTimer()
	// Wait (bounded) for every consumer to have every message.
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range consumers {
		for c.count() < i && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	var lat []time.Duration
	for _, c := range consumers {
		c.close()
		for n, at := range c.arrived {
			if n < len(sent) {
				lat = append(lat, at.Sub(sent[n]))
			}
		}
		if len(c.arrived) < i {
			b.Errorf("a consumer got %d of %d messages", len(c.arrived), i)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(i)/elapsed.Seconds(), "msgs/s")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "sync-p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "sync-p99-ms")
	}
}

func BenchmarkLoad(b *testing.B) {
	b.Run("send", func(b *testing.B) {
		b.ReportAllocs()
		hs := startInProcess(b, "load.localhost", false, nil)
		base := hs.hs.ClientURL()
		alice := register(b, base, "alice")
		var room struct {
			RoomID string `json:"room_id"`
		}
		alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
		rp := "/rooms/" + url.PathEscape(room.RoomID)
		var consumers []*consumer
		for n := range 4 {
			u := register(b, base, fmt.Sprintf("reader%d", n))
			u.must("POST", rp+"/join", map[string]any{}, nil)
			consumers = append(consumers, startConsumer(u, syncToken(b, u)))
		}
		runLoad(b, alice, rp, consumers)
	})
	b.Run("federation", func(b *testing.B) {
		b.ReportAllocs()
		p := startPair(b)
		alice := register(b, p.a.hs.ClientURL(), "alice")
		bob := register(b, p.b.hs.ClientURL(), "bob")
		var room struct {
			RoomID string `json:"room_id"`
		}
		alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
		rp := "/rooms/" + url.PathEscape(room.RoomID)
		bob.must("POST", "/join/"+url.PathEscape(room.RoomID)+"?server_name=a.test", map[string]any{}, nil)
		c := startConsumer(bob, syncToken(b, bob))
		runLoad(b, alice, rp, []*consumer{c})
	})
	b.Run("baseline=sqlite-commit", func(b *testing.B) {
		b.ReportAllocs()
		db, err := OpenStore(filepath.Join(b.TempDir(), "base.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		ctx := context.Background()
		payload, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": "load"})
		i := 0
		for b.Loop() {
			err := db.Tx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO client_txns (user_id, device_id, endpoint, txn_id, body) VALUES ('u', 'd', 'e', ?, ?)`, strconv.Itoa(i), payload)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
