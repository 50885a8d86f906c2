package bench

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/mxkit/mxkit/client"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// syncBody is one /sync response: 10 joined rooms with 12 state events,
// 20 timeline messages, typing and account data each, an invite, presence
// and global account data (the client package's fuzz seed).
func syncBody(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("../client/testdata/sync.json")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestSyncDecodersAgree: both decoders see the same timeline events, so
// the benchmarks compare equal work.
func TestSyncDecodersAgree(t *testing.T) {
	body := syncBody(t)
	ours, err := client.DecodeSync(body)
	if err != nil {
		t.Fatal(err)
	}
	var theirs mautrix.RespSync
	if err := json.Unmarshal(body, &theirs); err != nil {
		t.Fatal(err)
	}
	if len(ours.Rooms.Join) != len(theirs.Rooms.Join) || len(ours.Rooms.Join) == 0 {
		t.Fatalf("joined rooms: %d vs %d", len(ours.Rooms.Join), len(theirs.Rooms.Join))
	}
	for roomID, r := range ours.Rooms.Join {
		tr := theirs.Rooms.Join[id.RoomID(roomID)]
		if tr == nil || len(tr.Timeline.Events) != len(r.Timeline.Events) || len(tr.State.Events) != len(r.State.Events) {
			t.Fatalf("room %s differs", roomID)
		}
		for i, ev := range r.Timeline.Events {
			if string(tr.Timeline.Events[i].ID) != ev.EventID {
				t.Fatalf("room %s event %d: %s vs %s", roomID, i, ev.EventID, tr.Timeline.Events[i].ID)
			}
		}
	}
}

// BenchmarkSyncDecode decodes the same /sync body with the client
// package, with mautrix-go's RespSync (encoding/json into its types, as
// mautrix.Client.SyncRequest does), and into map[string]any as the
// baseline of a generic decode.
func BenchmarkSyncDecode(b *testing.B) {
	body := syncBody(b)
	b.Run("mxkit", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := client.DecodeSync(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mautrix", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var r mautrix.RespSync
			if err := json.Unmarshal(body, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
