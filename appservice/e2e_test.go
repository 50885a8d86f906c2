package appservice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// This file runs both sides of the library against each other over
// loopback: a homeserver made of Registry, Sender, Client, PingHandler and
// the client API pieces (a few endpoints written here), and an application
// service made of Handler and Transport.

// miniHS is the homeserver's client API, as much as the test needs:
// /register (ordinary and m.login.application_service), whoami, and the
// ping endpoint.
type miniHS struct {
	reg  *Registry
	ping *PingHandler

	mu       sync.Mutex
	accounts map[string]string // user ID -> application service ID or ""
}

func (h *miniHS) UserExists(_ context.Context, u string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.accounts[u]
	return ok, nil
}
func (h *miniHS) DeviceExists(context.Context, string, string) (bool, error) { return false, nil }

func (h *miniHS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/_matrix/client/v1/appservice/"):
		h.ping.ServeHTTP(w, r)
	case r.URL.Path == "/_matrix/client/v3/register" && r.Method == "POST":
		var body struct {
			Type         string `json:"type"`
			Username     string `json:"username"`
			InhibitLogin bool   `json:"inhibit_login"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		var userID, by string
		if body.Type == LoginTypeApplicationService {
			tok, _ := AccessToken(r)
			u, g, err := h.reg.Register(tok, body.Username, body.InhibitLogin, false)
			if err != nil {
				writeError(w, err)
				return
			}
			userID, by = u, g.ID
		} else {
			userID = "@" + body.Username + ":" + h.reg.ServerName()
			if err := h.reg.CheckUserID(userID, nil); err != nil {
				writeError(w, err)
				return
			}
		}
		h.mu.Lock()
		_, taken := h.accounts[userID]
		if !taken {
			h.accounts[userID] = by
		}
		h.mu.Unlock()
		if taken {
			writeError(w, newError(400, "M_USER_IN_USE", "taken"))
			return
		}
		fmt.Fprintf(w, `{"user_id":%q}`, userID)
	case r.URL.Path == "/_matrix/client/v3/account/whoami":
		a, ok, err := h.reg.Authenticate(r, h)
		if err != nil {
			writeError(w, err)
			return
		}
		if !ok {
			writeError(w, newError(401, "M_UNKNOWN_TOKEN", "unknown token"))
			return
		}
		fmt.Fprintf(w, `{"user_id":%q}`, a.UserID)
	default:
		writeError(w, newError(404, "M_UNRECOGNIZED", "unrecognized"))
	}
}

// bridge is the application service: it records events and creates the
// users it is asked about, through the homeserver's client API.
type bridge struct {
	hsURL string
	http  *http.Client

	mu     sync.Mutex
	events []string // event IDs in the order handled
	txns   int
}

func (b *bridge) HandleTransaction(_ context.Context, txn *IncomingTransaction) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.txns++
	for _, e := range txn.Events {
		b.events = append(b.events, e.EventID)
	}
	return nil
}

func (b *bridge) handled() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.events...)
}

// QueryUser creates every user it is asked about whose localpart starts
// with "_irc_new", with m.login.application_service.
func (b *bridge) QueryUser(ctx context.Context, userID string) (bool, error) {
	local := strings.TrimPrefix(strings.SplitN(userID, ":", 2)[0], "@")
	if !strings.HasPrefix(local, "_irc_new") {
		return false, nil
	}
	st, body, err := b.register(ctx, local)
	if err != nil {
		return false, err
	}
	if st != 200 {
		return false, fmt.Errorf("register: %d %s", st, body)
	}
	return true, nil
}

func (b *bridge) register(ctx context.Context, local string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", b.hsURL+"/_matrix/client/v3/register",
		strings.NewReader(`{"type":"m.login.application_service","username":"`+local+`","inhibit_login":true}`))
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// faults sits in front of the application service and simulates an outage
// (connections cut, or 503 answers) and lost acknowledgements (the
// transaction is handled, then the connection is cut before the answer).
type faults struct {
	next     http.Handler
	down     atomic.Bool
	dropAcks atomic.Int32

	mu    sync.Mutex
	tries map[string][]string // transaction ID -> bodies of every attempt
	cuts  int
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if id, ok := strings.CutPrefix(r.URL.Path, "/_matrix/app/v1/transactions/"); ok {
		f.mu.Lock()
		f.tries[id] = append(f.tries[id], string(body))
		f.mu.Unlock()
	}
	if f.down.Load() {
		f.mu.Lock()
		f.cuts++
		odd := f.cuts%2 == 1
		f.mu.Unlock()
		if odd {
			cut(w)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/transactions/") && f.dropAcks.Load() > 0 {
		f.dropAcks.Add(-1)
		f.next.ServeHTTP(httptest.NewRecorder(), r) // handled...
		cut(w)                                      // ...but the 200 is lost
		return
	}
	f.next.ServeHTTP(w, r)
}

func cut(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// outageClock is the homeserver's injected clock: Sleep returns at once,
// records the wait, and ends the outage after the third one.
type outageClock struct {
	mu     sync.Mutex
	sleeps []time.Duration
	f      *faults
}

func (c *outageClock) Now() time.Time { return time.Unix(1700000000, 0) }
func (c *outageClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	if len(c.sleeps) == 3 {
		c.f.down.Store(false)
	}
	c.mu.Unlock()
	return ctx.Err()
}

func TestEndToEndLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The application service, on 127.0.0.1 (httptest binds loopback).
	br := &bridge{}
	f := &faults{next: NewHandler("hs-secret", br), tries: map[string][]string{}}
	asSrv := httptest.NewServer(f)
	defer asSrv.Close()

	// Its registration, as the homeserver reads it.
	regFile := `id: irc
url: ` + asSrv.URL + `
as_token: as-secret
hs_token: hs-secret
sender_localpart: _irc_bot
namespaces:
  users:
    - exclusive: true
      regex: '@_irc_.*:example\.org'
  aliases:
    - exclusive: true
      regex: '#_irc_.*:example\.org'
`
	irc, err := ParseRegistration([]byte(regFile))
	if err != nil {
		t.Fatal(err)
	}
	registry, err := NewRegistry("example.org", irc)
	if err != nil {
		t.Fatal(err)
	}

	// The homeserver.
	clock := &outageClock{f: f}
	client := &Client{HTTP: asSrv.Client(), Clock: clock}
	delivered := make(chan Transaction, 100)
	sender := NewSender(irc, client, &SenderOptions{Clock: clock, MaxEvents: 3,
		OnDelivered: func(tx Transaction) { delivered <- tx }})
	hs := &miniHS{reg: registry, accounts: map[string]string{"@alice:example.org": ""}}
	hs.ping = &PingHandler{Registry: registry, Client: client, OnSuccess: func(*Registration) { sender.Retry() }}
	hsSrv := httptest.NewServer(hs)
	defer hsSrv.Close()
	br.hsURL = hsSrv.URL
	br.http = &http.Client{Transport: &Transport{Base: hsSrv.Client().Transport, ASToken: "as-secret"}}

	done := make(chan error, 1)
	go func() { done <- sender.Run(ctx) }()

	// The homeserver's room: events go to the service when it is
	// interested (alice's room has a bridged user; the other room not).
	rooms := &MemoryRooms{Members: map[string][]string{"!bridged:example.org": {"@alice:example.org", "@_irc_bob:example.org"}}}
	var want []string
	push := func(from, to int, room string) {
		t.Helper()
		for i := from; i <= to; i++ {
			id := fmt.Sprintf("$%s-%d", strings.TrimPrefix(strings.Split(room, ":")[0], "!"), i)
			te := testEvent{sender: "@alice:example.org", typ: "m.room.message", roomID: room}
			ok, err := registry.Interested(ctx, irc, te, rooms)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				continue
			}
			want = append(want, id)
			raw := fmt.Sprintf(`{"type":"m.room.message","event_id":%q,"sender":"@alice:example.org","room_id":%q,"origin_server_ts":%d,"content":{"body":"%d"}}`, id, room, i, i)
			if err := sender.Enqueue([]json.RawMessage{json.RawMessage(raw)}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.After(30 * time.Second) // a hang guard, not a timing assertion
		for len(br.handled()) < n {
			select {
			case <-delivered:
			case <-deadline:
				t.Fatalf("only %d of %d events arrived", len(br.handled()), n)
			}
		}
	}

	// 1. Normal delivery.
	push(1, 4, "!bridged:example.org")
	push(1, 2, "!elsewhere:example.org") // not of interest
	waitFor(4)

	// 2. Outage: the service is down for three attempts (cut connections
	// and 503s), then comes back; the queue waits and keeps its order.
	f.down.Store(true)
	push(5, 11, "!bridged:example.org")
	waitFor(11)

	// 3. Lost acknowledgement: the service handles a transaction but the
	// homeserver never hears so; the retry is deduplicated.
	f.dropAcks.Store(1)
	push(12, 13, "!bridged:example.org")
	waitFor(13)
	// The events arrived with the first attempt; wait for the retry to be
	// acknowledged too.
	for deadline := time.After(30 * time.Second); ; {
		pending, _ := sender.opts.Store.Pending(ctx, "irc")
		if n, _ := sender.Queued(); n == 0 && len(pending) == 0 {
			break
		}
		select {
		case <-delivered:
		case <-deadline:
			t.Fatal("the retried transaction was never acknowledged")
		}
	}

	got := br.handled()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events handled\n%v\nwant, in order and once each\n%v", got, want)
	}
	if len(want) != 13 {
		t.Fatalf("interest test: %d events of interest", len(want))
	}
	// Backoff from the injected clock: 2s, 4s, 8s for the outage, and 2s
	// again (reset per transaction) for the lost acknowledgement.
	clock.mu.Lock()
	sleeps := append([]time.Duration(nil), clock.sleeps...)
	clock.mu.Unlock()
	wantSleeps := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 2 * time.Second}
	if fmt.Sprint(sleeps) != fmt.Sprint(wantSleeps) {
		t.Fatalf("sleeps %v, want %v", sleeps, wantSleeps)
	}
	// Every retry of a transaction carried the same body.
	f.mu.Lock()
	retried := 0
	for id, bodies := range f.tries {
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Errorf("transaction %s changed on retry", id)
			}
		}
		if len(bodies) > 1 {
			retried++
		}
	}
	f.mu.Unlock()
	if retried != 2 {
		t.Errorf("%d transactions were retried, want 2 (the outage and the lost ack)", retried)
	}

	// 4. Queries: the homeserver asks about an unknown user in the
	// namespace; the service creates it through the client API
	// (m.login.application_service) before answering.
	exists, _ := hs.UserExists(ctx, "@_irc_new1:example.org")
	if exists {
		t.Fatal("user exists before the query")
	}
	ok, err := client.QueryUser(ctx, irc, "@_irc_new1:example.org")
	if err != nil || !ok {
		t.Fatalf("QueryUser: %v %v", ok, err)
	}
	if exists, _ := hs.UserExists(ctx, "@_irc_new1:example.org"); !exists || hs.accounts["@_irc_new1:example.org"] != "irc" {
		t.Fatal("the service did not create the user")
	}
	if ok, err := client.QueryUser(ctx, irc, "@_irc_ghost:example.org"); ok || err != nil {
		t.Fatalf("QueryUser for a user the service declines: %v %v", ok, err)
	}
	// The service can now act as the user.
	req, _ := http.NewRequestWithContext(WithUser(ctx, "@_irc_new1:example.org", ""), "GET", hsSrv.URL+"/_matrix/client/v3/account/whoami", nil)
	resp, err := br.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"@_irc_new1:example.org"`) {
		t.Fatalf("whoami: %d %s", resp.StatusCode, body)
	}
	// ...but not as a user outside its namespace.
	req, _ = http.NewRequestWithContext(WithUser(ctx, "@alice:example.org", ""), "GET", hsSrv.URL+"/_matrix/client/v3/account/whoami", nil)
	resp, _ = br.http.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("acting as alice: %d", resp.StatusCode)
	}

	// 5. Exclusive namespaces on register: an ordinary user cannot take a
	// bridged name, and the service cannot register outside its namespace.
	resp, err = http.Post(hsSrv.URL+"/_matrix/client/v3/register", "application/json", strings.NewReader(`{"username":"_irc_mallory"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"M_EXCLUSIVE"`) {
		t.Fatalf("ordinary register in an exclusive namespace: %d %s", resp.StatusCode, body)
	}
	if st, body, _ := br.register(ctx, "mallory"); st != 400 || !strings.Contains(body, `"M_EXCLUSIVE"`) {
		t.Fatalf("service register outside its namespace: %d %s", st, body)
	}
	resp, _ = http.Post(hsSrv.URL+"/_matrix/client/v3/register", "application/json", strings.NewReader(`{"username":"carol"}`))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ordinary register: %d", resp.StatusCode)
	}

	// 6. Ping, service -> homeserver -> service.
	resp, err = br.http.Post(hsSrv.URL+"/_matrix/client/v1/appservice/irc/ping", "application/json", strings.NewReader(`{"transaction_id":"meow"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"duration_ms":0`) {
		t.Fatalf("ping: %d %s", resp.StatusCode, body)
	}

	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run: %v", err)
	}
}
