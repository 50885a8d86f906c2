package clientapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitSignal wraps the fake syncer and reports when a long-poll starts
// waiting, so tests synchronise on events instead of sleeping.
type waitSignal struct {
	*fake
	waiting chan struct{}
	waits   atomic.Int32
}

func (w *waitSignal) Wait(ctx context.Context, who Identity, since string) error {
	w.waits.Add(1)
	select {
	case w.waiting <- struct{}{}:
	default:
	}
	return w.fake.Wait(ctx, who, since)
}

func syncSetup(t *testing.T) (*fake, *Server, *waitSignal, string, string) {
	f, s, room := setup(t)
	ws := &waitSignal{fake: f, waiting: make(chan struct{}, 1)}
	s2 := f.handler()
	s2.Syncer = ws
	r := do(t, s2, "GET", "/_matrix/client/v3/sync", "tok_alice", "")
	if r.status != 200 {
		t.Fatalf("initial sync: %d %s", r.status, r.raw)
	}
	_ = s
	return f, s2, ws, room, r.body["next_batch"].(string)
}

func TestSyncLongPollWakes(t *testing.T) {
	_, s, ws, room, since := syncSetup(t)
	done := make(chan result)
	go func() {
		done <- do(t, s, "GET", "/_matrix/client/v3/sync?timeout=600000&since="+since, "tok_alice", "")
	}()
	<-ws.waiting // the request is parked in Wait
	if r := do(t, s, "PUT", "/_matrix/client/v3/rooms/"+room+"/send/m.room.message/w1", "tok_alice", `{"body":"wake"}`); r.status != 200 {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	r := <-done
	if r.status != 200 || !strings.Contains(r.raw, `"body":"wake"`) {
		t.Fatalf("long-poll answer: %d %s", r.status, r.raw)
	}
	if r.body["next_batch"] == since {
		t.Fatal("next_batch did not move")
	}
	var resp SyncResponse
	if err := json.Unmarshal([]byte(r.raw), &resp); err != nil || len(resp.Rooms.Join[room].Timeline.Events) != 1 {
		t.Fatalf("timeline: %s", r.raw)
	}
}

func TestSyncLongPollCancel(t *testing.T) {
	_, s, ws, _, since := syncSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := httptest.NewRequest("GET", "/_matrix/client/v3/sync?timeout=600000&since="+since, nil).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer tok_alice")
		s.ServeHTTP(httptest.NewRecorder(), req)
	}()
	<-ws.waiting
	cancel()
	<-done // returns because the client went away, not because of the timeout
}

func TestSyncTimeoutAnswersEmpty(t *testing.T) {
	_, s, ws, _, since := syncSetup(t)
	r := do(t, s, "GET", "/_matrix/client/v3/sync?timeout=1&since="+since, "tok_alice", "")
	if r.status != 200 || r.body["next_batch"] != since || len(r.body["rooms"].(map[string]any)["join"].(map[string]any)) != 0 {
		t.Fatalf("timeout answer: %d %s", r.status, r.raw)
	}
	if ws.waits.Load() == 0 {
		t.Fatal("no wait happened")
	}
}

func TestSyncNoWait(t *testing.T) {
	// An initial sync, full_state and timeout=0 never wait.
	_, s, ws, _, since := syncSetup(t)
	for _, q := range []string{"?timeout=600000", "?timeout=600000&full_state=true&since=" + since, "?since=" + since} {
		if r := do(t, s, "GET", "/_matrix/client/v3/sync"+q, "tok_alice", ""); r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.raw)
		}
	}
	if n := ws.waits.Load(); n != 0 {
		t.Fatalf("%d waits", n)
	}
}

// filterSyncer records the filter the library resolved.
type filterSyncer struct {
	*fake
	got json.RawMessage
	req SyncRequest
}

func (f *filterSyncer) Sync(ctx context.Context, who Identity, req SyncRequest) (*SyncResponse, error) {
	f.got = req.Filter
	f.req = req
	return f.fake.Sync(ctx, who, req)
}

func TestSyncFilter(t *testing.T) {
	f, s, _ := setup(t)
	fs := &filterSyncer{fake: f}
	s.Syncer = fs
	r := do(t, s, "POST", "/_matrix/client/v3/user/%40alice%3Aexample.org/filter", "tok_alice", `{"room":{"timeline":{"limit":1}}}`)
	id := r.body["filter_id"].(string)
	do(t, s, "GET", "/_matrix/client/v3/sync?filter="+id, "tok_alice", "")
	if string(fs.got) != `{"room":{"timeline":{"limit":1}}}` {
		t.Fatalf("filter by ID: %s", fs.got)
	}
	do(t, s, "GET", "/_matrix/client/v3/sync?filter=%7B%22presence%22%3A%7B%7D%7D", "tok_alice", "")
	if string(fs.got) != `{"presence":{}}` {
		t.Fatalf("inline filter: %s", fs.got)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/user/@alice:example.org/filter/"+id, "tok_alice", ""); r.raw != `{"room":{"timeline":{"limit":1}}}` {
		t.Fatalf("GET filter: %s", r.raw)
	}
	// Parameters reach the backend parsed, with set_presence defaulting
	// to online and the timeout capped.
	do(t, s, "GET", "/_matrix/client/v3/sync?since=s1&full_state=true&use_state_after=true&timeout=99999999", "tok_alice", "")
	if r := fs.req; r.SetPresence != "online" || !r.FullState || !r.UseStateAfter || r.Since != "s1" || r.Timeout != s.MaxSyncTimeout {
		t.Fatalf("request: %+v", r)
	}
	do(t, s, "GET", "/_matrix/client/v3/sync?set_presence=unavailable&timeout=1500", "tok_alice", "")
	if r := fs.req; r.SetPresence != "unavailable" || r.Timeout != 1500*time.Millisecond {
		t.Fatalf("request: %+v", r)
	}
	// Another user cannot use alice's filter ID.
	if r := do(t, s, "GET", "/_matrix/client/v3/sync?filter="+id, "tok_bob", ""); r.status != 400 {
		t.Fatalf("bob used alice's filter: %d %s", r.status, r.raw)
	}
}

func TestSyncResponseEncoding(t *testing.T) {
	// Every block is present even when the backend left it nil, as the
	// reference server sends them and matrix-nio's sync schema requires
	// them (next_batch, rooms, to_device, device_lists,
	// device_one_time_keys_count; per joined room timeline with limited
	// and prev_batch, state, ephemeral, account_data; per left room
	// timeline and state).
	for _, tc := range []struct {
		resp *SyncResponse
		want string
	}{
		{&SyncResponse{NextBatch: "s1", Rooms: &SyncRooms{Join: map[string]*JoinedRoom{"!a:b": {}}, Leave: map[string]*LeftRoom{"!c:d": {}}}},
			`{"next_batch":"s1","rooms":{"join":{"!a:b":{"summary":{},"state":{"events":[]},"timeline":{"events":[],"limited":false,"prev_batch":""},"ephemeral":{"events":[]},"account_data":{"events":[]},"unread_notifications":{"highlight_count":0,"notification_count":0}}},"invite":{},"leave":{"!c:d":{"state":{"events":[]},"timeline":{"events":[],"limited":false,"prev_batch":""},"account_data":{"events":[]}}},"knock":{}},"presence":{"events":[]},"account_data":{"events":[]},"to_device":{"events":[]},"device_lists":{"changed":[],"left":[]},"device_one_time_keys_count":{}}`},
		{&SyncResponse{NextBatch: "s2", Rooms: &SyncRooms{Join: map[string]*JoinedRoom{"!a:b": {StateAfter: &EventsBlock{}, Timeline: &Timeline{Limited: true, PrevBatch: "p"}}}}},
			`{"next_batch":"s2","rooms":{"join":{"!a:b":{"summary":{},"state_after":{"events":[]},"timeline":{"events":[],"limited":true,"prev_batch":"p"},"ephemeral":{"events":[]},"account_data":{"events":[]},"unread_notifications":{"highlight_count":0,"notification_count":0}}},"invite":{},"leave":{},"knock":{}},"presence":{"events":[]},"account_data":{"events":[]},"to_device":{"events":[]},"device_lists":{"changed":[],"left":[]},"device_one_time_keys_count":{}}`},
		{&SyncResponse{NextBatch: "s3", Rooms: &SyncRooms{Invite: map[string]*InvitedRoom{"!i:x": {}}, Knock: map[string]*KnockedRoom{"!k:x": nil}}, DeviceLists: &DeviceLists{Changed: []string{"@a:b"}}},
			`{"next_batch":"s3","rooms":{"join":{},"invite":{"!i:x":{"invite_state":{"events":[]}}},"leave":{},"knock":{"!k:x":{"knock_state":{"events":[]}}}},"presence":{"events":[]},"account_data":{"events":[]},"to_device":{"events":[]},"device_lists":{"changed":["@a:b"],"left":[]},"device_one_time_keys_count":{}}`},
	} {
		b, err := json.Marshal(tc.resp)
		if err != nil || string(b) != tc.want {
			t.Fatalf("got  %s (%v)\nwant %s", b, err, tc.want)
		}
	}
}
