package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxkit/mxkit/appservice"
)

// testService is an application service built on the library's own
// service side (appservice.NewHandler): it records the events of every
// transaction and answers user and alias queries by creating them on the
// homeserver through appservice.Transport.
type testService struct {
	mu      sync.Mutex
	events  []string // event IDs in the order received
	byID    map[string]appservice.ClientEvent
	pings   []string
	eph     []appservice.EphemeralEvent
	hsURL   atomic.Value // string: the homeserver's client API
	asToken string
}

func (s *testService) HandleTransaction(_ context.Context, txn *appservice.IncomingTransaction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range txn.Events {
		s.events = append(s.events, ev.EventID)
		s.byID[ev.EventID] = ev
	}
	s.eph = append(s.eph, txn.Ephemeral...)
	return nil
}

func (s *testService) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

func (s *testService) Ping(_ context.Context, txnID string) error {
	s.mu.Lock()
	s.pings = append(s.pings, txnID)
	s.mu.Unlock()
	return nil
}

// call makes a client API request as the service (as user, "" for its sender).
func (s *testService) call(ctx context.Context, user, method, path string, body any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(appservice.WithUser(ctx, user, ""), method, s.hsURL.Load().(string)+"/_matrix/client/v3"+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: &appservice.Transport{ASToken: s.asToken}}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, rb)
	}
	return nil
}

func (s *testService) QueryUser(ctx context.Context, userID string) (bool, error) {
	local := strings.TrimPrefix(userID[:strings.IndexByte(userID, ':')], "@")
	err := s.call(ctx, "", "POST", "/register", map[string]any{"type": appservice.LoginTypeApplicationService, "username": local, "inhibit_login": true})
	return err == nil, err
}

func (s *testService) QueryAlias(ctx context.Context, alias string) (bool, error) {
	local := strings.TrimPrefix(alias[:strings.IndexByte(alias, ':')], "#")
	err := s.call(ctx, "", "POST", "/createRoom", map[string]any{"room_alias_name": local})
	return err == nil, err
}

// outage wraps the service: while down, connections are closed without
// an answer, as a service that is not running.
type outage struct {
	down     atomic.Bool
	refused  atomic.Int64
	mu       sync.Mutex
	txnPaths []string // transaction IDs of the PUTs that reached it while down
	h        http.Handler
}

func (o *outage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if o.down.Load() {
		if r.Method == "PUT" {
			o.mu.Lock()
			o.txnPaths = append(o.txnPaths, r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
			o.mu.Unlock()
		}
		o.refused.Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	o.h.ServeHTTP(w, r)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// asRequest makes a client API request with a token and query, returning
// the status and body.
func asRequest(t *testing.T, base, token, method, path string, query url.Values, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	u := base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, _ := http.NewRequest(method, u, bytes.NewReader(b))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestAppService runs the homeserver with a registration written by the
// test and the library's application service side on a loopback server:
// namespaces on /register, masquerading with ts, ping, queries, and the
// delivery of a room's events in order and once each across an outage of
// the service and a restart of the homeserver.
func TestAppService(t *testing.T) {
	t.Parallel()
	const name = "as.localhost"
	const asToken, hsToken = "as-secret-token", "hs-secret-token"
	svc := &testService{byID: map[string]appservice.ClientEvent{}, asToken: asToken}
	wrap := &outage{h: appservice.NewHandler(hsToken, svc)}
	srv := httptest.NewServer(wrap)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	regPath := filepath.Join(dir, "bridge.yaml")
	reg := fmt.Sprintf(`id: bridge
url: %s
as_token: %s
hs_token: %s
sender_localpart: bridgebot
receive_ephemeral: true
namespaces:
  users:
    - exclusive: true
      regex: '@bridge_.*:as\.localhost'
  aliases:
    - exclusive: true
      regex: '#bridge_.*:as\.localhost'
`, srv.URL, asToken, hsToken)
	if err := os.WriteFile(regPath, []byte(reg), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{ServerName: name, Listen: "127.0.0.1:0", DB: filepath.Join(dir, "hs.db"), KeyPath: filepath.Join(dir, "signing.key"),
		OpenRegistration: "auto", AppServices: []string{regPath}, AppServiceMinBackoff: 20 * time.Millisecond}
	start := func() (*Homeserver, func()) {
		hs, err := New(cfg, discardLog())
		if err != nil {
			t.Fatal(err)
		}
		if err := hs.Listen(); err != nil {
			hs.Close()
			t.Fatal(err)
		}
		hs.Serve(make(chan error, 2))
		svc.hsURL.Store(hs.ClientURL())
		var once sync.Once
		stop := func() {
			once.Do(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				hs.Shutdown(ctx)
				hs.Close()
			})
		}
		t.Cleanup(stop)
		return hs, stop
	}
	hs, stop := start()
	base := hs.ClientURL()

	// Namespaces on registration.
	alice := register(t, base, "alice")
	if st, out := asRequest(t, base, "", "POST", "/_matrix/client/v3/register", nil,
		map[string]any{"username": "bridge_x", "password": "pw", "auth": map[string]string{"type": "m.login.dummy"}}); st != 400 || out["errcode"] != "M_EXCLUSIVE" {
		t.Fatalf("ordinary registration in the exclusive namespace: %d %v, want 400 M_EXCLUSIVE", st, out)
	}
	if st, out := asRequest(t, base, "", "GET", "/_matrix/client/v3/register/available", url.Values{"username": {"bridge_x"}}, nil); st != 400 || out["errcode"] != "M_EXCLUSIVE" {
		t.Fatalf("availability in the exclusive namespace: %d %v, want 400 M_EXCLUSIVE", st, out)
	}
	if st, out := asRequest(t, base, asToken, "POST", "/_matrix/client/v3/register", nil,
		map[string]any{"type": appservice.LoginTypeApplicationService, "username": "outsider"}); st != 400 || out["errcode"] != "M_EXCLUSIVE" {
		t.Fatalf("service registering outside its namespace: %d %v, want 400 M_EXCLUSIVE", st, out)
	}
	if st, out := asRequest(t, base, asToken, "POST", "/_matrix/client/v3/register", nil,
		map[string]any{"type": appservice.LoginTypeApplicationService, "username": "bridge_alice"}); st != 200 || out["user_id"] != "@bridge_alice:"+name {
		t.Fatalf("service registering in its namespace: %d %v", st, out)
	}
	if st, out := asRequest(t, base, asToken, "POST", "/_matrix/client/v3/login", nil,
		map[string]any{"type": appservice.LoginTypeApplicationService, "identifier": map[string]string{"type": "m.id.user", "user": "alice"}}); st != 400 || out["errcode"] != "M_EXCLUSIVE" {
		t.Fatalf("service logging in as a user outside its namespace: %d %v, want 400 M_EXCLUSIVE", st, out)
	}
	if st, out := asRequest(t, base, asToken, "POST", "/_matrix/client/v3/login", nil,
		map[string]any{"type": appservice.LoginTypeApplicationService, "identifier": map[string]string{"type": "m.id.user", "user": "bridge_alice"}, "device_id": "BRIDGEDEV"}); st != 200 || out["device_id"] != "BRIDGEDEV" {
		t.Fatalf("service logging in as its user: %d %v", st, out)
	}
	// Identity assertion with a device: one the user has, and one it has not.
	if st, out := asRequest(t, base, asToken, "GET", "/_matrix/client/v3/account/whoami", url.Values{"user_id": {"@bridge_alice:" + name}, "device_id": {"BRIDGEDEV"}}, nil); st != 200 || out["user_id"] != "@bridge_alice:"+name || out["device_id"] != "BRIDGEDEV" {
		t.Fatalf("whoami as @bridge_alice on BRIDGEDEV: %d %v", st, out)
	}
	if st, out := asRequest(t, base, asToken, "GET", "/_matrix/client/v3/account/whoami", url.Values{"user_id": {"@bridge_alice:" + name}, "device_id": {"NOPE"}}, nil); st != 400 || out["errcode"] != "M_UNKNOWN_DEVICE" {
		t.Fatalf("whoami on a device the user lacks: %d %v, want 400 M_UNKNOWN_DEVICE", st, out)
	}
	// The sender user exists from the start: whoami with the bare as_token.
	if st, out := asRequest(t, base, asToken, "GET", "/_matrix/client/v3/account/whoami", nil, nil); st != 200 || out["user_id"] != "@bridgebot:"+name {
		t.Fatalf("whoami as the service: %d %v", st, out)
	}
	// Acting as a user outside the namespace is refused (Synapse: 403 M_FORBIDDEN).
	if st, out := asRequest(t, base, asToken, "GET", "/_matrix/client/v3/account/whoami", url.Values{"user_id": {"@alice:" + name}}, nil); st != 403 || out["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("acting as a user outside the namespace: %d %v, want 403 M_FORBIDDEN", st, out)
	}

	// A room with a user of the namespace in it: its events go to the service.
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	roomPath := "/_matrix/client/v3/rooms/" + url.PathEscape(room.RoomID)
	as := url.Values{"user_id": {"@bridge_alice:" + name}}
	if st, out := asRequest(t, base, asToken, "POST", roomPath+"/join", as, map[string]any{}); st != 200 {
		t.Fatalf("join as @bridge_alice: %d %v", st, out)
	}
	var want []string // the room's events the service must get, in order
	send := func(a *api, body string) {
		t.Helper()
		var r struct {
			EventID string `json:"event_id"`
		}
		a.must("PUT", "/rooms/"+url.PathEscape(room.RoomID)+"/send/m.room.message/"+body, map[string]string{"msgtype": "m.text", "body": body}, &r)
		want = append(want, r.EventID)
	}
	send(alice, "m1")
	// The service speaks as its user, with a massaged timestamp.
	asTS := url.Values{"user_id": {"@bridge_alice:" + name}, "ts": {"1234567890"}}
	st, out := asRequest(t, base, asToken, "PUT", roomPath+"/send/m.room.message/as1", asTS, map[string]string{"msgtype": "m.text", "body": "from the bridge"})
	if st != 200 {
		t.Fatalf("send as @bridge_alice: %d %v", st, out)
	}
	bridgeMsg := out["event_id"].(string)
	want = append(want, bridgeMsg)
	send(alice, "m2")

	// Alice sees the service's message through sync, from its user, with its timestamp.
	var sync struct {
		Rooms struct {
			Join map[string]struct {
				Timeline struct {
					Events []struct {
						EventID string `json:"event_id"`
						Sender  string `json:"sender"`
						TS      int64  `json:"origin_server_ts"`
					} `json:"events"`
				} `json:"timeline"`
			} `json:"join"`
		} `json:"rooms"`
	}
	alice.must("GET", "/sync", nil, &sync)
	found := false
	for _, ev := range sync.Rooms.Join[room.RoomID].Timeline.Events {
		if ev.EventID == bridgeMsg {
			found = true
			if ev.Sender != "@bridge_alice:"+name || ev.TS != 1234567890 {
				t.Errorf("the service's message in alice's sync: sender %s ts %d", ev.Sender, ev.TS)
			}
		}
	}
	if !found {
		t.Fatalf("alice's sync lacks the service's message %s", bridgeMsg)
	}

	// inOrder checks the service got the wanted events once each, in order.
	check := func(what string) {
		t.Helper()
		eventually(t, what, func() bool {
			got := svc.received()
			n := 0
			for _, id := range got {
				if n < len(want) && id == want[n] {
					n++
				}
			}
			return n == len(want)
		})
		got := svc.received()
		seen := map[string]bool{}
		var inRoom []string
		for _, id := range got {
			if seen[id] {
				t.Fatalf("%s: event %s delivered twice", what, id)
			}
			seen[id] = true
			if slices.Contains(want, id) {
				inRoom = append(inRoom, id)
			}
		}
		if !slices.Equal(inRoom, want) {
			t.Fatalf("%s: the service got %v, want %v in this order", what, inRoom, want)
		}
	}
	check("the first events")

	// Ping: the service sees the transaction ID.
	if st, out := asRequest(t, base, asToken, "POST", "/_matrix/client/v1/appservice/bridge/ping", nil, map[string]string{"transaction_id": "ping-1"}); st != 200 || out["duration_ms"] == nil {
		t.Fatalf("ping: %d %v", st, out)
	}
	svc.mu.Lock()
	pings := slices.Clone(svc.pings)
	svc.mu.Unlock()
	if !slices.Equal(pings, []string{"ping-1"}) {
		t.Fatalf("the service saw pings %v, want [ping-1]", pings)
	}

	// Ephemeral data (receive_ephemeral): typing, and read receipts; alice's
	// private receipt is not for a service that has no interest in her.
	alice.must("PUT", "/rooms/"+url.PathEscape(room.RoomID)+"/typing/"+url.PathEscape("@alice:"+name), map[string]any{"typing": true, "timeout": 30000}, nil)
	alice.must("POST", "/rooms/"+url.PathEscape(room.RoomID)+"/receipt/m.read.private/"+url.PathEscape(want[0]), map[string]any{}, nil)
	alice.must("POST", "/rooms/"+url.PathEscape(room.RoomID)+"/receipt/m.read/"+url.PathEscape(want[1]), map[string]any{}, nil)
	ephemeral := func() (typing, read, private bool) {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		for _, e := range svc.eph {
			c := string(e.Content)
			switch {
			case e.Type == "m.typing" && e.RoomID == room.RoomID && strings.Contains(c, "@alice:"+name):
				typing = true
			case e.Type == "m.receipt" && strings.Contains(c, `"m.read.private"`):
				private = true
			case e.Type == "m.receipt" && e.RoomID == room.RoomID && strings.Contains(c, want[1]) && strings.Contains(c, `"m.read"`):
				read = true
			}
		}
		return
	}
	eventually(t, "typing and the read receipt", func() bool { typing, read, _ := ephemeral(); return typing && read })
	if _, _, private := ephemeral(); private {
		t.Fatalf("the service got alice's private read receipt")
	}

	// An outage of the service: the events wait and come once it is back.
	wrap.down.Store(true)
	send(alice, "m3")
	send(alice, "m4")
	eventually(t, "a failed attempt", func() bool { return wrap.refused.Load() >= 2 })
	wrap.down.Store(false)
	check("the events sent during the outage")

	// A restart of the homeserver with a transaction not yet delivered: it
	// is sent again with the same ID.
	wrap.mu.Lock()
	wrap.txnPaths = nil
	wrap.mu.Unlock()
	wrap.down.Store(true)
	send(alice, "m5")
	eventually(t, "an attempt to deliver m5", func() bool {
		wrap.mu.Lock()
		defer wrap.mu.Unlock()
		return len(wrap.txnPaths) > 0
	})
	stop()
	wrap.mu.Lock()
	before := wrap.txnPaths[len(wrap.txnPaths)-1]
	wrap.txnPaths = nil
	wrap.mu.Unlock()
	hs, _ = start()
	base = hs.ClientURL()
	alice.base = base
	eventually(t, "an attempt after the restart", func() bool {
		wrap.mu.Lock()
		defer wrap.mu.Unlock()
		return len(wrap.txnPaths) > 0
	})
	wrap.mu.Lock()
	after := wrap.txnPaths[0]
	wrap.mu.Unlock()
	if after != before {
		t.Fatalf("after the restart the transaction was sent as %s, before as %s", after, before)
	}
	wrap.down.Store(false)
	send(alice, "m6")
	check("the events across the restart")

	// Queries: an unknown alias and user of the namespace are asked of the
	// service, which creates them.
	var alias struct {
		RoomID string `json:"room_id"`
	}
	alice.must("GET", "/directory/room/"+url.PathEscape("#bridge_lobby:"+name), nil, &alias)
	if !strings.HasPrefix(alias.RoomID, "!") {
		t.Fatalf("alias query: room %q", alias.RoomID)
	}
	alice.must("GET", "/profile/"+url.PathEscape("@bridge_bob:"+name), nil, nil)
	if st, _ := alice.do("GET", "/profile/"+url.PathEscape("@nobody:"+name), nil, nil); st != 404 {
		t.Fatalf("profile of an unknown user outside any namespace: %d, want 404", st)
	}
	// Aliases in the exclusive namespace are the service's.
	if st, _ := alice.do("PUT", "/directory/room/"+url.PathEscape("#bridge_mine:"+name), map[string]string{"room_id": room.RoomID}, nil); st != 400 {
		t.Fatalf("alice creating an alias in the exclusive namespace: %d, want 400 M_EXCLUSIVE", st)
	}
}

// TestAppServiceBadRegistration: a registration file that does not parse
// stops the start with an error naming the file.
func TestAppServiceBadRegistration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	regPath := filepath.Join(dir, "bad.yaml")
	os.WriteFile(regPath, []byte("id: x\nurl: ftp://nope\nas_token: a\nhs_token: b\nsender_localpart: s\nnamespaces: {}\n"), 0o600)
	cfg := &Config{ServerName: "bad.localhost", Listen: "127.0.0.1:0", DB: filepath.Join(dir, "hs.db"), KeyPath: filepath.Join(dir, "signing.key"),
		OpenRegistration: "auto", AppServices: []string{regPath}}
	_, err := New(cfg, discardLog())
	if err == nil || !strings.Contains(err.Error(), "bad.yaml") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("New with a bad registration: %v, want a one-line error naming the file", err)
	}
}
