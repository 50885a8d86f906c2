package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fake serves fixed answers for error-path tests.
func fake(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	c.UserID = "@me:example.org"
	return c
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		header     map[string]string
		wantCode   string
		wantStatus int
		wantField  string
	}{
		{"forbidden", 403, `{"errcode":"M_FORBIDDEN","error":"no"}`, nil, CodeForbidden, 403, ""},
		{"unknown token soft logout", 401, `{"errcode":"M_UNKNOWN_TOKEN","error":"x","soft_logout":true}`, nil, CodeUnknownToken, 401, "soft_logout"},
		{"not json", 502, `<html>bad gateway</html>`, nil, CodeUnknown, 502, ""},
		{"empty body", 500, ``, nil, CodeUnknown, 500, ""},
		{"incompatible version", 400, `{"errcode":"M_INCOMPATIBLE_ROOM_VERSION","error":"x","room_version":"12"}`, nil, "M_INCOMPATIBLE_ROOM_VERSION", 400, "room_version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fake(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			_, err := c.JoinedRooms(context.Background())
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v does not wrap *Error", err)
			}
			if me.Code != tc.wantCode || me.Status != tc.wantStatus {
				t.Errorf("got %s %d, want %s %d", me.Code, me.Status, tc.wantCode, tc.wantStatus)
			}
			if !IsCode(err, tc.wantCode) {
				t.Errorf("IsCode(%s) false", tc.wantCode)
			}
			if tc.wantField != "" && me.Fields[tc.wantField] == nil {
				t.Errorf("field %s missing: %v", tc.wantField, me.Fields)
			}
		})
	}
}

// TestRateLimit: retry_after_ms and Retry-After are honoured, retries are
// bounded, and a wait longer than MaxRetryWait is not waited.
func TestRateLimit(t *testing.T) {
	cases := []struct {
		name      string
		fails     int
		header    string
		body      string
		maxWait   time.Duration
		wantCalls int32
		wantErr   bool
		wantWaits []time.Duration
	}{
		{"retry_after_ms", 1, "", `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}`, 0, 2, false, []time.Duration{1500 * time.Millisecond}},
		{"Retry-After header wins", 1, "2", `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}`, 0, 2, false, []time.Duration{2 * time.Second}},
		{"no hint: doubling backoff", 2, "", `{"errcode":"M_LIMIT_EXCEEDED"}`, 0, 3, false, []time.Duration{time.Second, 2 * time.Second}},
		{"bounded retries", 10, "", `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":10}`, 0, 4, true, []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}},
		{"too long a wait", 1, "", `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":60000}`, 5 * time.Second, 1, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			c := fake(t, func(w http.ResponseWriter, r *http.Request) {
				if int(calls.Add(1)) <= tc.fails {
					if tc.header != "" {
						w.Header().Set("Retry-After", tc.header)
					}
					w.WriteHeader(429)
					io.WriteString(w, tc.body)
					return
				}
				io.WriteString(w, `{"event_id":"$e"}`)
			})
			c.MaxRetryWait = tc.maxWait
			var waits []time.Duration
			c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			id, err := c.SendText(context.Background(), "!r:example.org", "hi")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !IsCode(err, CodeLimitExceeded) {
				t.Errorf("error %v is not M_LIMIT_EXCEEDED", err)
			}
			if err == nil && id != "$e" {
				t.Errorf("event ID %q", id)
			}
			if calls.Load() != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), tc.wantCalls)
			}
			if len(waits) != len(tc.wantWaits) {
				t.Fatalf("waits %v, want %v", waits, tc.wantWaits)
			}
			for i := range waits {
				if waits[i] != tc.wantWaits[i] {
					t.Errorf("wait %d = %v, want %v", i, waits[i], tc.wantWaits[i])
				}
			}
		})
	}
}

// TestRequestShape checks paths are escaped and the token sent.
func TestRequestShape(t *testing.T) {
	var got *http.Request
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		io.WriteString(w, `{"event_id":"$x"}`)
	})
	if _, err := c.SendState(context.Background(), "!a/b:example.org", "m.room.member", "@u:example.org", map[string]string{"membership": "join"}); err != nil {
		t.Fatal(err)
	}
	if want := "/_matrix/client/v3/rooms/%21a%2Fb:example.org/state/m.room.member/@u:example.org"; got.URL.EscapedPath() != want {
		t.Errorf("path %s, want %s", got.URL.EscapedPath(), want)
	}
	if got.Header.Get("Authorization") != "Bearer tok" {
		t.Errorf("authorization %q", got.Header.Get("Authorization"))
	}
	if _, err := c.Versions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.Header.Get("Authorization") != "" {
		t.Error("GET /versions sent the access token")
	}
}

func TestMediaFake(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			io.WriteString(w, `{"errcode":"M_MISSING_TOKEN"}`)
			return
		}
		switch {
		case r.Method == "POST" && r.URL.Path == "/_matrix/media/v3/upload":
			b, _ := io.ReadAll(r.Body)
			if string(b) != "hello" || r.Header.Get("Content-Type") != "text/plain" || r.URL.Query().Get("filename") != "a.txt" {
				w.WriteHeader(400)
				return
			}
			io.WriteString(w, `{"content_uri":"mxc://example.org/abc_1"}`)
		case r.Method == "GET" && r.URL.Path == "/_matrix/client/v1/media/download/example.org/abc_1":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Disposition", `inline; filename="a.txt"`)
			io.WriteString(w, "hello")
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"errcode":"M_NOT_FOUND"}`)
		}
	})
	ctx := context.Background()
	mxc, err := c.Upload(ctx, strings.NewReader("hello"), 5, "text/plain", "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, ct, name, err := c.Download(ctx, mxc)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, _ := io.ReadAll(body)
	if string(b) != "hello" || ct != "text/plain" || name != "a.txt" {
		t.Errorf("download %q %q %q", b, ct, name)
	}
	if _, _, _, err := c.Download(ctx, "mxc://example.org/missing"); !IsCode(err, CodeNotFound) {
		t.Errorf("missing media: %v", err)
	}
	for _, bad := range []string{"http://x/y", "mxc://", "mxc://example.org/", "mxc://example.org/a/b", "mxc:///id"} {
		if _, _, err := ParseMXC(bad); err == nil {
			t.Errorf("ParseMXC(%q) accepted", bad)
		}
	}
}

// TestSyncerStopsAndBacksOff: failures back off with doubling waits, a
// rejected token stops the loop, the token is saved after handling.
func TestSyncerStopsAndBacksOff(t *testing.T) {
	var calls atomic.Int32
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case n <= 3:
			w.WriteHeader(502)
		case n == 4:
			if r.URL.Query().Get("since") != "" {
				t.Errorf("first successful sync had since=%q", r.URL.Query().Get("since"))
			}
			io.WriteString(w, `{"next_batch":"s1","rooms":{"join":{"!r:x":{"timeline":{"events":[{"type":"m.room.message","event_id":"$1","sender":"@a:x","content":{"body":"hi"}}]}}}}}`)
		case n == 5:
			if r.URL.Query().Get("since") != "s1" {
				t.Errorf("second sync since=%q, want s1", r.URL.Query().Get("since"))
			}
			w.WriteHeader(401)
			io.WriteString(w, `{"errcode":"M_UNKNOWN_TOKEN","error":"gone"}`)
		}
	})
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	var got []string
	store := &MemorySyncStore{}
	s := &Syncer{Client: c, Store: store}
	s.On("m.room.message", func(_ context.Context, ev *SyncEvent) error {
		got = append(got, ev.RoomID+" "+ev.EventID+" "+ev.Block)
		return nil
	})
	err := s.Run(context.Background())
	if !IsCode(err, CodeUnknownToken) {
		t.Fatalf("Run = %v, want M_UNKNOWN_TOKEN", err)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; len(waits) != 3 || waits[0] != want[0] || waits[1] != want[1] || waits[2] != want[2] {
		t.Errorf("backoff waits %v, want %v", waits, want)
	}
	if len(got) != 1 || got[0] != "!r:x $1 timeline" {
		t.Errorf("handled %v", got)
	}
	if tok, _ := store.LoadNextBatch(context.Background(), c.UserID); tok != "s1" {
		t.Errorf("saved token %q", tok)
	}
}

func TestSyncerStopsOnContext(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := (&Syncer{Client: c}).Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v", err)
	}
}

// TestDevicesFake: device management requests and the UIA round trip
// (the example homeserver does not serve devices).
func TestDevicesFake(t *testing.T) {
	var lastBody string
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lastBody = string(b)
		switch {
		case r.Method == "GET" && r.URL.Path == "/_matrix/client/v3/devices":
			io.WriteString(w, `{"devices":[{"device_id":"D1","display_name":"x"}]}`)
		case r.Method == "DELETE" && r.URL.Path == "/_matrix/client/v3/devices/D1":
			if !strings.Contains(lastBody, `"session":"S"`) {
				w.WriteHeader(401)
				io.WriteString(w, `{"flows":[{"stages":["m.login.password"]}],"params":{},"session":"S"}`)
				return
			}
			io.WriteString(w, `{}`)
		default:
			w.WriteHeader(404)
		}
	})
	ctx := context.Background()
	devs, err := c.Devices(ctx)
	if err != nil || len(devs) != 1 || devs[0].DeviceID != "D1" {
		t.Fatalf("devices %+v %v", devs, err)
	}
	err = c.DeleteDevice(ctx, "D1", nil)
	ui, ok := AsUIA(err)
	if !ok || ui.Session != "S" || !ui.HasSingleStageFlow(LoginPassword) {
		t.Fatalf("UIA %+v %v", ui, err)
	}
	if err := c.DeleteDevice(ctx, "D1", map[string]string{"type": LoginPassword, "session": ui.Session}); err != nil {
		t.Fatal(err)
	}
}

// TestUploadRetry: a rate-limited upload is sent again with the whole
// body.
func TestUploadRetry(t *testing.T) {
	var calls atomic.Int32
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			w.WriteHeader(429)
			io.WriteString(w, `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1}`)
			return
		}
		if string(b) != "0123456789" {
			w.WriteHeader(400)
			io.WriteString(w, `{"errcode":"M_BAD_JSON","error":"body `+string(b)+`"}`)
			return
		}
		io.WriteString(w, `{"content_uri":"mxc://example.org/m1"}`)
	})
	c.sleep = func(context.Context, time.Duration) error { return nil }
	mxc, err := c.Upload(context.Background(), strings.NewReader("0123456789"), 10, "", "")
	if err != nil || mxc != "mxc://example.org/m1" || calls.Load() != 2 {
		t.Fatalf("upload %q %v after %d calls", mxc, err, calls.Load())
	}
}

// TestSyncerHandlerError: a failing handler is reported to OnError, the
// other handlers and events still run, and the loop goes on.
func TestSyncerHandlerError(t *testing.T) {
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			cancel()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, `{"next_batch":"s1","presence":{"events":[{"type":"m.presence","sender":"@a:x","content":{}},{"type":"m.presence","sender":"@b:x","content":{}}]}}`)
	})
	var errs []error
	var seen []string
	s := &Syncer{Client: c, OnError: func(err error) { errs = append(errs, err) }}
	s.On("m.presence", func(_ context.Context, ev *SyncEvent) error {
		seen = append(seen, ev.Sender)
		if ev.Sender == "@a:x" {
			return errors.New("boom")
		}
		return nil
	})
	if err := s.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "boom") {
		t.Errorf("OnError got %v", errs)
	}
	if strings.Join(seen, ",") != "@a:x,@b:x" {
		t.Errorf("handled %v", seen)
	}
	if calls.Load() < 2 {
		t.Error("the loop stopped after the handler error")
	}
}
