package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxkit/mxkit/stateres/roomgen"
)

// FuzzLoadFile: any file gives a room or an error, never a panic; a room
// that loads can be explained as a page and as text.
func FuzzLoadFile(f *testing.F) {
	for _, name := range []string{"msc4297_b_v21.json", "ban_vs_power_levels_v10.json", "rejected_auth_event_v21.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`[]`, `{}`, `[1]`, `{"events":[{}]}`, `{"events":null}`,
		`[{"type":"m.room.create","event_id":"$c","sender":"@a:x","room_id":"!r:x","state_key":"","content":{},"depth":1,"origin_server_ts":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"AAAA"},"signatures":{}}]`,
		`{"room_version":"10","state_sets":[["$x"]],"events":[]}`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "room.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := loadFile(path, "")
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
