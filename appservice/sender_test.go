package appservice

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func ev(i int) json.RawMessage {
	return json.RawMessage(`{"type":"m.room.message","event_id":"$` + strconv.Itoa(i) + `","sender":"@_irc_a:example.org","room_id":"!r:example.org","origin_server_ts":` + strconv.Itoa(i) + `,"content":{}}`)
}

// blockingClock's Sleep records the wait and blocks until ctx is done
// (Retry or the end of Run), telling slept each time.
type blockingClock struct {
	mu     sync.Mutex
	sleeps []time.Duration
	slept  chan struct{}
}

func (c *blockingClock) Now() time.Time { return time.Unix(0, 0) }
func (c *blockingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.slept <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func TestSenderBackoff(t *testing.T) {
	s := NewSender(&Registration{}, nil, nil)
	want := []time.Duration{2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512}
	for i, w := range want {
		if got := s.Backoff(i + 1); got != w*time.Second {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
	s = NewSender(&Registration{}, nil, &SenderOptions{MinBackoff: time.Second, MaxBackoff: 5 * time.Second})
	if s.Backoff(3) != 4*time.Second || s.Backoff(4) != 5*time.Second || s.Backoff(1000) != 5*time.Second {
		t.Fatal("custom bounds")
	}
}

// collectAS is a fake application service that fails while fail > 0 and
// records the transactions it accepted.
type collectAS struct {
	mu    sync.Mutex
	fail  int
	txns  []string // "id body"
	tries map[string][]string
}

func (a *collectAS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := strings.TrimPrefix(r.URL.Path, "/_matrix/app/v1/transactions/")
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tries == nil {
		a.tries = map[string][]string{}
	}
	if !strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/transactions/") {
		w.WriteHeader(404)
		return
	}
	a.tries[id] = append(a.tries[id], string(body))
	if a.fail > 0 {
		a.fail--
		w.WriteHeader(503)
		return
	}
	a.txns = append(a.txns, id+" "+string(body))
}

func (a *collectAS) accepted() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.txns...)
}

func runSender(t *testing.T, s *Sender) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestSenderBatchesInOrder(t *testing.T) {
	as := &collectAS{}
	srv := httptest.NewServer(as)
	defer srv.Close()
	g := reg(t, "s", "as", "hs", "bot", nil, nil, nil)
	g.URL = srv.URL
	delivered := make(chan Transaction, 10)
	s := NewSender(g, &Client{NoLegacyFallback: true}, &SenderOptions{MaxEvents: 2, Store: NewMemoryTxnStore(100),
		OnDelivered: func(tx Transaction) { delivered <- tx }})
	// Queued before Run: one batch plan, in order.
	if err := s.Enqueue([]json.RawMessage{ev(1), ev(2), ev(3), ev(4), ev(5)}, []json.RawMessage{json.RawMessage(`{"type":"m.typing"}`)}); err != nil {
		t.Fatal(err)
	}
	if n, e := s.Queued(); n != 5 || e != 0 {
		t.Fatalf("queued %d %d (ephemeral without receive_ephemeral must be dropped)", n, e)
	}
	stop := runSender(t, s)
	defer stop()
	for i := 0; i < 3; i++ {
		<-delivered
	}
	got := as.accepted()
	want := []string{
		`100 {"events":[` + string(ev(1)) + `,` + string(ev(2)) + `]}`,
		`101 {"events":[` + string(ev(3)) + `,` + string(ev(4)) + `]}`,
		`102 {"events":[` + string(ev(5)) + `]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p, _ := s.opts.Store.Pending(context.Background(), "s"); len(p) != 0 {
		t.Fatalf("pending after delivery: %v", p)
	}
}

func TestSenderEphemeral(t *testing.T) {
	as := &collectAS{}
	srv := httptest.NewServer(as)
	defer srv.Close()
	g := reg(t, "s", "as", "hs", "bot", nil, nil, nil)
	g.URL = srv.URL
	g.ReceiveEphemeral = true
	delivered := make(chan Transaction, 10)
	s := NewSender(g, &Client{}, &SenderOptions{Store: NewMemoryTxnStore(1), OnDelivered: func(tx Transaction) { delivered <- tx }})
	typing := json.RawMessage(`{"type":"m.typing","room_id":"!r:example.org","content":{"user_ids":[]}}`)
	s.Enqueue(nil, []json.RawMessage{typing})
	stop := runSender(t, s)
	defer stop()
	<-delivered
	s.Enqueue([]json.RawMessage{ev(1)}, nil)
	<-delivered
	got := as.accepted()
	if len(got) != 2 || got[0] != `1 {"events":[],"ephemeral":[`+string(typing)+`]}` || got[1] != `2 {"events":[`+string(ev(1))+`]}` {
		t.Fatalf("%q", got)
	}
}

func TestSenderEnqueueRefusesBadEvents(t *testing.T) {
	g := reg(t, "s", "as", "hs", "bot", nil, nil, nil)
	s := NewSender(g, &Client{}, nil)
	for _, bad := range []json.RawMessage{json.RawMessage(`[]`), json.RawMessage(`{`), json.RawMessage(``), json.RawMessage(`"x"`)} {
		if err := s.Enqueue([]json.RawMessage{ev(1), bad}, nil); !errors.Is(err, ErrBadEvent) {
			t.Errorf("%q: %v", bad, err)
		}
		if err := s.Enqueue(nil, []json.RawMessage{bad}); !errors.Is(err, ErrBadEvent) {
			t.Errorf("ephemeral %q: %v", bad, err)
		}
	}
	if n, _ := s.Queued(); n != 0 {
		t.Fatal("part of a refused call was queued")
	}
	// A registration without url gets nothing.
	g.URL = ""
	s.Enqueue([]json.RawMessage{ev(1)}, nil)
	if n, _ := s.Queued(); n != 0 {
		t.Fatal("queued for a service without url")
	}
}

// TestSenderRetriesSameTransaction: the retried transaction keeps its ID
// and its bytes, events enqueued meanwhile wait for the next one, the waits
// double, and Retry cuts a wait short.
func TestSenderRetriesSameTransaction(t *testing.T) {
	as := &collectAS{fail: 3}
	srv := httptest.NewServer(as)
	defer srv.Close()
	g := reg(t, "s", "as", "hs", "bot", nil, nil, nil)
	g.URL = srv.URL
	clock := &blockingClock{slept: make(chan struct{})}
	delivered := make(chan Transaction, 10)
	var failures []int
	s := NewSender(g, &Client{NoLegacyFallback: true}, &SenderOptions{Clock: clock, Store: NewMemoryTxnStore(7),
		OnDelivered: func(tx Transaction) { delivered <- tx },
		OnFailure: func(tx Transaction, attempt int, err error, wait time.Duration) {
			var se *StatusError
			if tx.ID != "7" || !errors.As(err, &se) || se.Status != 503 {
				t.Errorf("failure of %s: %v", tx.ID, err)
			}
			failures = append(failures, attempt)
		}})
	s.Enqueue([]json.RawMessage{ev(1)}, nil)
	stop := runSender(t, s)
	defer stop()
	<-clock.slept
	s.Enqueue([]json.RawMessage{ev(2)}, nil) // must not join transaction 7
	for i := 0; i < 3; i++ {
		if i > 0 {
			<-clock.slept
		}
		s.Retry()
	}
	if tx := <-delivered; tx.ID != "7" {
		t.Fatalf("delivered %s", tx.ID)
	}
	if tx := <-delivered; tx.ID != "8" {
		t.Fatalf("delivered %s", tx.ID)
	}
	as.mu.Lock()
	tries := as.tries["7"]
	as.mu.Unlock()
	if len(tries) != 4 {
		t.Fatalf("%d attempts of 7", len(tries))
	}
	for _, b := range tries {
		if b != `{"events":[`+string(ev(1))+`]}` {
			t.Fatalf("retry body changed: %s", b)
		}
	}
	clock.mu.Lock()
	sleeps := clock.sleeps
	clock.mu.Unlock()
	if len(sleeps) != 3 || sleeps[0] != 2*time.Second || sleeps[1] != 4*time.Second || sleeps[2] != 8*time.Second {
		t.Fatalf("sleeps %v", sleeps)
	}
	if len(failures) != 3 || failures[2] != 3 {
		t.Fatalf("failures %v", failures)
	}
}

// TestSenderResendsStoredTransactions: what a previous run left in the
// store goes first, with its ID and body.
func TestSenderResendsStoredTransactions(t *testing.T) {
	as := &collectAS{}
	srv := httptest.NewServer(as)
	defer srv.Close()
	g := reg(t, "s", "as", "hs", "bot", nil, nil, nil)
	g.URL = srv.URL
	store := NewMemoryTxnStore(40)
	store.Create(context.Background(), "s", []byte(`{"events":[`+string(ev(1))+`]}`))
	store.Create(context.Background(), "other", []byte(`{"events":[]}`))
	delivered := make(chan Transaction, 10)
	s := NewSender(g, &Client{}, &SenderOptions{Store: store, OnDelivered: func(tx Transaction) { delivered <- tx }})
	s.Enqueue([]json.RawMessage{ev(2)}, nil)
	stop := runSender(t, s)
	defer stop()
	<-delivered
	<-delivered
	got := as.accepted()
	if len(got) != 2 || !strings.HasPrefix(got[0], `40 {"events":[`+string(ev(1))) || !strings.HasPrefix(got[1], `42 {"events":[`+string(ev(2))) {
		t.Fatalf("%q", got)
	}
	if p, _ := store.Pending(context.Background(), "other"); len(p) != 1 {
		t.Fatal("another service's transaction was touched")
	}
}

func BenchmarkSenderBody(b *testing.B) {
	g := &Registration{ID: "s", URL: "http://127.0.0.1:1"}
	events := make([]json.RawMessage, 100)
	for i := range events {
		events[i] = ev(i)
	}
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		s := NewSender(g, &Client{}, nil)
		for b.Loop() {
			s.events = events
			if body, _, _ := s.nextBody(); body == nil {
				b.Fatal("empty")
			}
		}
	})
	b.Run("baseline=json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(map[string]any{"events": events}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
