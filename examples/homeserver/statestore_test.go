package main

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/mxkit/mxkit/event"
)

// groupBytes sums the stored state of a room's groups.
func groupBytes(t testing.TB, hs *Homeserver, roomID string) (rows, bytes, maxDepth int64) {
	t.Helper()
	err := hs.db.queryRow(context.Background(), `SELECT count(*), coalesce(sum(length(state)), 0), coalesce(max(depth), 0) FROM state_groups WHERE room_id = ?`, roomID).Scan(&rows, &bytes, &maxDepth)
	if err != nil {
		t.Fatal(err)
	}
	return
}

// TestStateGroupsAreDeltas: a state change costs a row the size of the
// change, not a copy of the room's state; chains of deltas stay bounded;
// every group still reads as the state it stands for.
func TestStateGroupsAreDeltas(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "sg.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	const n = 120 // more than maxGroupChain changes
	invites := make([]string, n)
	for i := range invites {
		invites[i] = fmt.Sprintf("@user%d:sg.test", i)
	}
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "invite": invites}, &room)
	rows, bytes, depth := groupBytes(t, hs.hs, room.RoomID)
	// A copy per invite would be about n²/2 entries of ~100 bytes.
	if bytes > int64(n)*2000 {
		t.Fatalf("%d groups take %d bytes for %d invites: not deltas", rows, bytes, n)
	}
	if depth > maxGroupChain {
		t.Fatalf("a chain of %d deltas", depth)
	}
	// Every event's group reads as its state: the state after the last
	// invite has them all; the one after the first invite has one.
	ctx := context.Background()
	cur, err := hs.hs.rooms.CurrentState(ctx, room.RoomID)
	if err != nil {
		t.Fatal(err)
	}
	// Read uncached, from the rows.
	hs.hs.rooms.groupMu.Lock()
	clear(hs.hs.rooms.groups)
	hs.hs.rooms.groupEntries = 0
	hs.hs.rooms.groupMu.Unlock()
	var g int64
	hs.hs.db.queryRow(ctx, `SELECT state_group FROM rooms WHERE room_id = ?`, room.RoomID).Scan(&g)
	got, err := hs.hs.rooms.Group(ctx, g)
	if err != nil || !maps.Equal(got, cur) {
		t.Fatalf("the current group reads as %d entries, want %d (%v)", len(got), len(cur), err)
	}
	invited := 0
	for k := range cur {
		if k.Type == event.TypeMember && k.StateKey != "@alice:sg.test" {
			invited++
		}
	}
	if invited != n {
		t.Fatalf("%d invited in the current state, want %d", invited, n)
	}
	// A user who was invited then left shows as left (a removal-free
	// change on a delta), and messages add no group.
	before, _, _ := groupBytes(t, hs.hs, room.RoomID)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	for i := range 5 {
		alice.must("PUT", rp+"/send/m.room.message/"+fmt.Sprint(i), map[string]string{"msgtype": "m.text", "body": "x"}, nil)
	}
	if after, _, _ := groupBytes(t, hs.hs, room.RoomID); after != before {
		t.Fatalf("messages made %d new groups", after-before)
	}
}

// BenchmarkStateChange measures one membership change on a room of 1k,
// 10k and 100k members as this server stores it: the delta row written
// (the bytes and the time to compute and store it) beside the snapshot a
// copy of the state would write (the schema before deltas).
func BenchmarkStateChange(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		st := map[stateKey]string{{Type: event.TypeCreate}: "$create"}
		for i := range n {
			st[stateKey{Type: event.TypeMember, StateKey: fmt.Sprintf("@user%d:example.org", i)}] = fmt.Sprintf("$join%d", i)
		}
		for _, mode := range []string{"delta", "snapshot-baseline"} {
			b.Run(fmt.Sprintf("members=%d/%s", n, mode), func(b *testing.B) {
				db, err := OpenStore(b.TempDir() + "/hs.db")
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				ctx := context.Background()
				var base int64
				db.Tx(ctx, func(tx *sql.Tx) error {
					base, err = insertGroup(ctx, tx, "!r:example.org", st)
					return err
				})
				next := maps.Clone(st)
				var written int64
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					next[stateKey{Type: event.TypeMember, StateKey: fmt.Sprintf("@new%d:example.org", i)}] = "$j"
					err := db.Tx(ctx, func(tx *sql.Tx) error {
						var id int64
						var err error
						if mode == "delta" {
							id, err = insertGroupOn(ctx, tx, "!r:example.org", next, base, st, 0)
						} else {
							id, err = insertGroup(ctx, tx, "!r:example.org", next)
						}
						if err != nil {
							return err
						}
						var l int64
						err = tx.QueryRowContext(ctx, `SELECT length(state) FROM state_groups WHERE id = ?`, id).Scan(&l)
						written += l
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
					delete(next, stateKey{Type: event.TypeMember, StateKey: fmt.Sprintf("@new%d:example.org", i)})
				}
				b.ReportMetric(float64(written)/float64(b.N), "state-bytes/op")
			})
		}
	}
}

// BenchmarkCreateRoom2000Invites is createRoom with 2,000 invites, once per
// iteration, on a fresh server: the time, and the database's growth.
func BenchmarkCreateRoom2000Invites(b *testing.B) {
	invites := make([]string, 2000)
	for i := range invites {
		invites[i] = fmt.Sprintf("@user%d:bench.test", i)
	}
	for b.Loop() {
		b.StopTimer()
		hs := startInProcess(b, "bench.test", false, nil)
		alice := register(b, hs.hs.ClientURL(), "alice")
		runtime.GC()
		b.StartTimer()
		start := time.Now()
		var room struct {
			RoomID string `json:"room_id"`
		}
		alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "invite": invites}, &room)
		b.ReportMetric(time.Since(start).Seconds(), "s/createRoom")
		_, bytes, _ := groupBytes(b, hs.hs, room.RoomID)
		b.ReportMetric(float64(bytes), "state-bytes")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	}
}
