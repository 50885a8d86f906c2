package appservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Transaction is one push to an application service. Body is the exact
// request body; a retried transaction sends the same ID and the same bytes
// ("Homeservers MUST NOT alter (e.g. add more) events they were going to
// send within that transaction ID on retries").
type Transaction struct {
	ID   string
	Body []byte
}

// TxnStore keeps the transactions of application services until they are
// delivered, so a restarted homeserver resends them with the same IDs. The
// homeserver implements it over its storage; MemoryTxnStore is an
// in-memory one.
type TxnStore interface {
	// Create persists body as the next transaction of the service and
	// returns it with its ID. IDs must never repeat for a service, also
	// across restarts: a service deduplicates by ID and would drop a new
	// transaction that reuses one.
	Create(ctx context.Context, serviceID string, body []byte) (Transaction, error)
	// Pending returns the service's undelivered transactions, oldest first.
	Pending(ctx context.Context, serviceID string) ([]Transaction, error)
	// Complete forgets a delivered transaction.
	Complete(ctx context.Context, serviceID, txnID string) error
}

// MemoryTxnStore is an in-memory TxnStore. Its IDs are decimal integers
// counting up from the Unix time in milliseconds at which the store was
// made, so that a restarted process (with a new store) does not reuse the
// IDs of the previous one.
type MemoryTxnStore struct {
	mu      sync.Mutex
	next    int64
	pending map[string][]Transaction
}

// NewMemoryTxnStore returns an empty store whose IDs start at start (use
// time.Now().UnixMilli()).
func NewMemoryTxnStore(start int64) *MemoryTxnStore {
	return &MemoryTxnStore{next: start, pending: map[string][]Transaction{}}
}

// Create implements TxnStore.
func (m *MemoryTxnStore) Create(_ context.Context, serviceID string, body []byte) (Transaction, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := Transaction{ID: strconv.FormatInt(m.next, 10), Body: body}
	m.next++
	m.pending[serviceID] = append(m.pending[serviceID], t)
	return t, nil
}

// Pending implements TxnStore.
func (m *MemoryTxnStore) Pending(_ context.Context, serviceID string) ([]Transaction, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Transaction(nil), m.pending[serviceID]...), nil
}

// Complete implements TxnStore.
func (m *MemoryTxnStore) Complete(_ context.Context, serviceID, txnID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending[serviceID]
	for i, t := range p {
		if t.ID == txnID {
			m.pending[serviceID] = append(p[:i:i], p[i+1:]...)
			return nil
		}
	}
	return nil
}

// SenderOptions configure a Sender; the zero value is Synapse's behaviour.
type SenderOptions struct {
	// Store keeps undelivered transactions; nil means a new MemoryTxnStore.
	Store TxnStore
	// Clock times the backoff; nil means the system clock.
	Clock Clock
	// MinBackoff is the wait after the first failure (default 2s); each
	// further failure doubles it, up to MaxBackoff (default 512s, Synapse's
	// cap of 2^9 seconds). Retries never stop: the specification asks the
	// homeserver to back off "until the application service is reachable
	// again".
	MinBackoff, MaxBackoff time.Duration
	// MaxEvents and MaxEphemeral bound one transaction (default 100 each,
	// as Synapse).
	MaxEvents, MaxEphemeral int
	// OnFailure, if set, is told of each failed attempt and the wait
	// before the next.
	OnFailure func(txn Transaction, attempt int, err error, wait time.Duration)
	// OnDelivered, if set, is told of each delivered transaction after the
	// store has forgotten it (e.g. to advance a stream position).
	OnDelivered func(txn Transaction)
}

// ErrBadEvent is returned by Enqueue for an event that is not a JSON object.
var ErrBadEvent = errors.New("appservice: event is not a JSON object")

// Sender is the homeserver's transaction queue for one application service
// (content/application-service-api.md, "Pushing events"). Enqueue adds
// client-format events and ephemeral events; Run sends them in order, in
// transactions of at most MaxEvents events and MaxEphemeral ephemeral
// events, one transaction at a time, each retried with the same ID and body
// and an exponential backoff until it is delivered. Transactions left over
// in the store from an earlier run go first.
//
// Ephemeral events are sent only if the registration has receive_ephemeral
// (otherwise Enqueue drops them), in the "ephemeral" array, which is
// omitted when empty. A registration with a null url gets nothing: Enqueue
// drops everything, as Synapse counts such pushes as done.
type Sender struct {
	reg    *Registration
	client *Client
	opts   SenderOptions

	mu        sync.Mutex
	events    []json.RawMessage
	ephemeral []json.RawMessage
	wake      chan struct{}
	kick      chan struct{}
}

// NewSender returns a Sender for reg that sends with client. opts may be nil.
func NewSender(reg *Registration, client *Client, opts *SenderOptions) *Sender {
	s := &Sender{reg: reg, client: client, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Store == nil {
		s.opts.Store = NewMemoryTxnStore(time.Now().UnixMilli())
	}
	if s.opts.Clock == nil {
		s.opts.Clock = SystemClock{}
	}
	if s.opts.MinBackoff <= 0 {
		s.opts.MinBackoff = 2 * time.Second
	}
	if s.opts.MaxBackoff <= 0 {
		s.opts.MaxBackoff = 512 * time.Second
	}
	if s.opts.MaxBackoff < s.opts.MinBackoff {
		s.opts.MaxBackoff = s.opts.MinBackoff
	}
	if s.opts.MaxEvents <= 0 {
		s.opts.MaxEvents = 100
	}
	if s.opts.MaxEphemeral <= 0 {
		s.opts.MaxEphemeral = 100
	}
	return s
}

// Registration returns the registration the Sender sends to.
func (s *Sender) Registration() *Registration { return s.reg }

// Enqueue queues events and ephemeral events (client-format JSON objects)
// for the service, in order. It does not block on the network. An element
// that is not a JSON object fails the whole call with ErrBadEvent and
// nothing is queued.
func (s *Sender) Enqueue(events, ephemeral []json.RawMessage) error {
	for i, e := range events {
		if !isObject(e) {
			return fmt.Errorf("%w: events[%d]", ErrBadEvent, i)
		}
	}
	for i, e := range ephemeral {
		if !isObject(e) {
			return fmt.Errorf("%w: ephemeral[%d]", ErrBadEvent, i)
		}
	}
	if s.reg.URL == "" {
		return nil
	}
	if !s.reg.ReceiveEphemeral {
		ephemeral = nil
	}
	if len(events) == 0 && len(ephemeral) == 0 {
		return nil
	}
	s.mu.Lock()
	s.events = append(s.events, events...)
	s.ephemeral = append(s.ephemeral, ephemeral...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

func isObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

// Queued returns the number of events and ephemeral events not yet put in
// a transaction.
func (s *Sender) Queued() (events, ephemeral int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events), len(s.ephemeral)
}

// Retry ends the current backoff wait, if any, and tries at once (e.g.
// after the service answered a ping, as Synapse does).
func (s *Sender) Retry() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run sends until ctx is done; it returns ctx.Err() or a store error.
// Call it once per Sender (one goroutine sends, so order is kept).
func (s *Sender) Run(ctx context.Context) error {
	store := s.opts.Store
	old, err := store.Pending(ctx, s.reg.ID)
	if err != nil {
		return err
	}
	for _, t := range old {
		if err := s.deliver(ctx, t); err != nil {
			return err
		}
	}
	for {
		body, nev, neph := s.nextBody()
		if body == nil {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		t, err := store.Create(ctx, s.reg.ID, body)
		if err != nil {
			return err
		}
		// Only now leave the queue: a failed Create loses nothing.
		s.mu.Lock()
		s.events = s.events[nev:]
		s.ephemeral = s.ephemeral[neph:]
		s.mu.Unlock()
		if err := s.deliver(ctx, t); err != nil {
			return err
		}
	}
}

// nextBody builds the body of the next transaction from the head of the
// queue, without removing it; nil if the queue is empty.
func (s *Sender) nextBody() ([]byte, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nev := min(len(s.events), s.opts.MaxEvents)
	neph := min(len(s.ephemeral), s.opts.MaxEphemeral)
	if nev == 0 && neph == 0 {
		return nil, 0, 0
	}
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i, e := range s.events[:nev] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(bytes.TrimSpace(e))
	}
	b.WriteByte(']')
	if neph > 0 {
		b.WriteString(`,"ephemeral":[`)
		for i, e := range s.ephemeral[:neph] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(bytes.TrimSpace(e))
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes(), nev, neph
}

// Backoff returns the wait after the given number of failed attempts
// (1-based): MinBackoff doubled attempt-1 times, capped at MaxBackoff.
func (s *Sender) Backoff(attempt int) time.Duration {
	d := s.opts.MinBackoff
	for i := 1; i < attempt; i++ {
		d *= 2
		if d >= s.opts.MaxBackoff {
			return s.opts.MaxBackoff
		}
	}
	return min(d, s.opts.MaxBackoff)
}

func (s *Sender) deliver(ctx context.Context, t Transaction) error {
	for attempt := 1; ; attempt++ {
		err := s.client.SendTransaction(ctx, s.reg, t.ID, t.Body)
		if err == nil || errors.Is(err, ErrNoURL) {
			if err := s.opts.Store.Complete(ctx, s.reg.ID, t.ID); err != nil {
				return err
			}
			if s.opts.OnDelivered != nil {
				s.opts.OnDelivered(t)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := s.Backoff(attempt)
		if s.opts.OnFailure != nil {
			s.opts.OnFailure(t, attempt, err, wait)
		}
		if err := s.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// sleep waits for d on the clock, cut short by Retry.
func (s *Sender) sleep(ctx context.Context, d time.Duration) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-s.kick:
			cancel()
		case <-sctx.Done():
		}
	}()
	s.opts.Clock.Sleep(sctx, d)
	cancel()
	<-done
	return ctx.Err()
}
