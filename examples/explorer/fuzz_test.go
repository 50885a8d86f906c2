package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/mxkit/mxkit/stateres/roomgen"
)

// FuzzLoadFile: any file gives a room or an error, never a panic; a room
// that loads can be explained as a page and as text.
//
// Inputs are bounded to maxFuzzFile and the seeds are small: the fuzzer
// minimises each new interesting input by running the target on shrinking
// copies of it, a number of runs that grows with the square of its length,
// and seeds of 4 to 7 KB (the rooms of testdata, which the unit tests load)
// made that minimisation outlast a short -fuzztime.
func FuzzLoadFile(f *testing.F) {
	for _, s := range []string{
		smallFork,
		`[]`, `{}`, `[1]`, `{"events":[{}]}`, `{"events":null}`,
		`[{"type":"m.room.create","event_id":"$c","sender":"@a:x","room_id":"!r:x","state_key":"","content":{},"depth":1,"origin_server_ts":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"AAAA"},"signatures":{}}]`,
		`{"room_version":"10","state_sets":[["$x"]],"events":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzFile {
			return
		}
		r, err := loadData("room.json", data, "")
		if err != nil {
			return
		}
		var res *resolution
		if len(r.stateSets) > 0 || len(r.tips()) > 1 {
			if res, err = r.chooseResolution(context.Background(), ""); err != nil {
				return
			}
		}
		if err := writePage(io.Discard, buildPage(r, res, "")); err != nil {
			t.Fatal(err)
		}
		if err := writeText(io.Discard, r, res, "", true); err != nil {
			t.Fatal(err)
		}
	})
}

// maxFuzzFile bounds the inputs of FuzzLoadFile.
const maxFuzzFile = 1 << 10

// smallFork is a room of room version 10 in four events (create, join, and
// two topics on two branches) with a state set for each branch: the
// smallest input that reaches a real resolution.
const smallFork = `{"room_version":"10","state_sets":[["$c","$a","$1"],["$c","$a","$2"]],"events":[{"event_id":"$c","room_id":"!r:x","sender":"@a:x","type":"m.room.create","content":{"creator":"@a:x"},"depth":1,"origin_server_ts":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"A"},"signatures":{},"state_key":""},{"event_id":"$a","room_id":"!r:x","sender":"@a:x","type":"m.room.member","content":{"membership":"join"},"depth":2,"origin_server_ts":2,"prev_events":["$c"],"auth_events":["$c"],"hashes":{"sha256":"A"},"signatures":{},"state_key":"@a:x"},{"event_id":"$1","room_id":"!r:x","sender":"@a:x","type":"m.room.topic","content":{"topic":"1"},"depth":3,"origin_server_ts":3,"prev_events":["$a"],"auth_events":["$c","$a"],"hashes":{"sha256":"A"},"signatures":{},"state_key":""},{"event_id":"$2","room_id":"!r:x","sender":"@a:x","type":"m.room.topic","content":{"topic":"2"},"depth":3,"origin_server_ts":3,"prev_events":["$a"],"auth_events":["$c","$a"],"hashes":{"sha256":"A"},"signatures":{},"state_key":""}]}`

// TestSmallForkResolves: the small fuzz seed loads and resolves to one of
// its topics.
func TestSmallForkResolves(t *testing.T) {
	if len(smallFork) > maxFuzzFile {
		t.Fatalf("seed of %d bytes, over the fuzz input bound", len(smallFork))
	}
	r, err := loadData("room.json", []byte(smallFork), "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.chooseResolution(context.Background(), "")
	if err != nil || res == nil {
		t.Fatalf("resolution: %v", err)
	}
	if err := writeText(io.Discard, r, res, "", true); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPage measures writing the page of a room of about 10,000
// events, beside encoding its data alone.
func BenchmarkPage(b *testing.B) {
	g, err := roomgen.Generate(roomgen.Config{Seed: 1, Members: 8300, Forks: 2, ReadableIDs: true})
	if err != nil {
		b.Fatal(err)
	}
	r, err := newRoom(g.Version, g.Events, nil)
	if err != nil {
		b.Fatal(err)
	}
	r.stateSets = g.StateSets()
	res, err := r.chooseResolution(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.Run("page", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := writePage(&buf, buildPage(r, res, "")); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
	d := buildPage(r, res, "")
	b.Run("baseline=json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
