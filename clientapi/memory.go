package clientapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// memoryFilters is the default Filters: per user, numbered from 0, kept
// for the life of the process.
type memoryFilters struct {
	mu sync.Mutex
	m  map[string][]json.RawMessage
}

func newMemoryFilters() *memoryFilters { return &memoryFilters{m: map[string][]json.RawMessage{}} }

func (f *memoryFilters) PutFilter(_ context.Context, userID string, filter json.RawMessage) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[userID] = append(f.m[userID], append(json.RawMessage(nil), filter...))
	return strconv.Itoa(len(f.m[userID]) - 1), nil
}

func (f *memoryFilters) GetFilter(_ context.Context, userID, id string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := strconv.Atoi(id)
	if err != nil || n < 0 || n >= len(f.m[userID]) || strconv.Itoa(n) != id {
		return nil, NotFound("no such filter")
	}
	return f.m[userID][n], nil
}

// MemoryTransactions is an in-memory Transactions that forgets entries
// after a time to live. It is the Server's default.
type MemoryTransactions struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[TxnKey]txnEntry
	// order holds the keys by insertion time, so expired entries are
	// dropped from its front in amortised constant time.
	order []txnOrder
}

type txnOrder struct {
	key TxnKey
	at  time.Time
}

type txnEntry struct {
	body []byte
	at   time.Time
}

// NewMemoryTransactions returns an empty store keeping entries for ttl.
func NewMemoryTransactions(ttl time.Duration) *MemoryTransactions {
	return &MemoryTransactions{ttl: ttl, now: time.Now, m: map[TxnKey]txnEntry{}}
}

// Get implements Transactions.
func (t *MemoryTransactions) Get(_ context.Context, key TxnKey) ([]byte, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[key]
	if !ok || t.now().Sub(e.at) > t.ttl {
		return nil, false, nil
	}
	return e.body, true, nil
}

// Put implements Transactions.
func (t *MemoryTransactions) Put(_ context.Context, key TxnKey, body []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.m[key] = txnEntry{body: append([]byte(nil), body...), at: now}
	t.order = append(t.order, txnOrder{key, now})
	i := 0
	for ; i < len(t.order) && now.Sub(t.order[i].at) > t.ttl; i++ {
		o := t.order[i]
		// A key stored again later has a newer entry: keep that one.
		if e, ok := t.m[o.key]; ok && e.at.Equal(o.at) {
			delete(t.m, o.key)
		}
	}
	if i > 0 {
		t.order = append(t.order[:0], t.order[i:]...)
	}
	return nil
}

// randomID returns n random characters from a-z0-9.
func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
