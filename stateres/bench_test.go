package stateres_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
	"github.com/mxkit/mxkit/stateres/roomgen"
)

// Generated rooms are cached for the process: generating the largest
// takes seconds.
var rooms sync.Map // roomgen.Config -> *roomgen.Room

func room(b *testing.B, cfg roomgen.Config) *roomgen.Room {
	b.Helper()
	if r, ok := rooms.Load(cfg); ok {
		return r.(*roomgen.Room)
	}
	r, err := roomgen.Generate(cfg)
	if err != nil {
		b.Fatal(err)
	}
	rooms.Store(cfg, r)
	return r
}

// recorder is a Store that remembers what the resolver loaded.
type recorder struct {
	s       *stateres.MemoryStore
	mu      sync.Mutex
	ids     []string
	batches int
}

func (r *recorder) Events(ctx context.Context, ids []string) ([]stateres.Stored, error) {
	r.mu.Lock()
	r.ids = append(r.ids, ids...)
	r.batches++
	r.mu.Unlock()
	return r.s.Events(ctx, ids)
}

func (r *recorder) ReferencedBy(ctx context.Context, ids []string) ([][]stateres.Ref, error) {
	return r.s.ReferencedBy(ctx, ids)
}

// peakHeap runs f once and returns the largest heap (live and unswept
// objects) seen while it ran, sampled every 100µs, and the heap before.
func peakHeap(f func()) (before, peak uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	before = read()
	peak = before
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if h := read(); h > peak {
					peak = h
				}
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	if h := read(); h > peak {
		peak = h
	}
	return before, peak
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchResolve measures ResolveChanges on the room's forks, with a
// baseline=load sub-benchmark that only loads, in one batch, the events
// the resolution touches.
func benchResolve(b *testing.B, r *roomgen.Room, full bool) {
	ctx := context.Background()
	rec := &recorder{s: r.Store}
	var tr stateres.Trace
	if _, err := stateres.ResolveChanges(ctx, r.Version, r.Base, r.Changes, rec, &stateres.Options{Trace: &tr}); err != nil {
		b.Fatal(err)
	}
	touched := rec.ids
	b.Run("resolve", func(b *testing.B) {
		b.ReportAllocs()
		runtime.GC() // the garbage of setting up is not the resolution's
		cpu0 := cpuTime()
		for b.Loop() {
			if _, err := stateres.ResolveChanges(ctx, r.Version, r.Base, r.Changes, r.Store, nil); err != nil {
				b.Fatal(err)
			}
		}
		// CPU time (all threads, GC included) per resolution: on a shared
		// machine it varies less than the wall clock.
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(len(touched)), "events-loaded")
		b.ReportMetric(float64(len(tr.ConflictedKeys)), "conflicted-keys")
		b.ReportMetric(float64(len(tr.AuthDifference)), "auth-diff")
		b.ReportMetric(float64(len(tr.FullConflicted)), "full-conflicted")
		before, peak := peakHeap(func() {
			if _, err := stateres.ResolveChanges(ctx, r.Version, r.Base, r.Changes, r.Store, nil); err != nil {
				b.Fatal(err)
			}
		})
		// The heap the resolution added at its peak, and the heap the
		// benchmark held before (the generated room, in memory).
		b.ReportMetric(float64(peak-before)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(before)/(1<<20), "room-heap-MiB")
	})
	if full {
		// The same forks as full state maps: Resolve itself must compare
		// every key of every set with the first set's.
		sets := r.StateSets()
		b.Run("resolve-full-maps", func(b *testing.B) {
			b.ReportAllocs()
			runtime.GC()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := stateres.Resolve(ctx, r.Version, sets, r.Store, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
	b.Run("baseline=load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Store.Events(ctx, touched); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkResolveFork is a two-way fork in a room of about 1,200 events.
func BenchmarkResolveFork(b *testing.B) {
	for _, v := range []roomversion.Version{roomversion.V10, roomversion.V12} {
		b.Run("v"+v.ID, func(b *testing.B) {
			r := room(b, roomgen.Config{Version: v, Seed: 42, Members: 900, ForkEvents: 60})
			b.ReportMetric(float64(len(r.Events)), "room-events")
			benchResolve(b, r, true)
		})
	}
}

// BenchmarkResolveRoomSize is the same small conflict (about 20
// conflicted keys) in rooms of 1,000, 10,000 and 100,000 members: the
// cost follows the conflict, not the room.
func BenchmarkResolveRoomSize(b *testing.B) {
	for _, members := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			r := room(b, roomgen.Config{Version: roomversion.V11, Seed: 7, Members: members, ForkSeed: 99, ForkEvents: 14, ForkJoins: 0.5})
			benchResolve(b, r, false)
		})
	}
}

// BenchmarkResolveLargestRooms is a room at the scale of the largest
// public rooms: 100,000 members and three forks of 23,000 state events
// each, most of them joins, so that the auth difference holds about
// 70,000 events. Readable IDs and placeholder content hashes only make the
// room quicker to generate: state resolution reads neither.
func BenchmarkResolveLargestRooms(b *testing.B) {
	if testing.Short() {
		b.Skip("large room")
	}
	r := room(b, roomgen.Config{Version: roomversion.V11, Seed: 11, Members: 100_000, Forks: 3, ForkEvents: 23_000, ForkJoins: 0.8, ReadableIDs: true, PlaceholderHashes: true})
	b.ReportMetric(float64(len(r.Events)), "room-events")
	benchResolve(b, r, false)
}
