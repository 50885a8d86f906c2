package stateres

import (
	"context"
	"sync"

	"github.com/mxkit/mxkit/event"
)

// MemoryStore is a Store and AuthChainIndex in memory, for tests,
// examples and small tools. It is safe for concurrent use.
type MemoryStore struct {
	mu       sync.RWMutex
	events   map[string]*event.Event
	rejected map[string]bool
	refs     map[string][]Ref
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		events:   make(map[string]*event.Event),
		rejected: make(map[string]bool),
		refs:     make(map[string][]Ref),
	}
}

// Add stores events. Adding an event ID twice keeps the first event.
func (s *MemoryStore) Add(events ...*event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range events {
		s.add(ev)
	}
}

// AddRejected stores events marked as rejected.
func (s *MemoryStore) AddRejected(events ...*event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range events {
		if s.add(ev) {
			s.rejected[ev.ID()] = true
		}
	}
}

func (s *MemoryStore) add(ev *event.Event) bool {
	id := ev.ID()
	if _, dup := s.events[id]; dup {
		return false
	}
	s.events[id] = ev
	if sk, ok := ev.StateKey(); ok {
		ref := Ref{ID: id, Type: ev.Type(), StateKey: sk}
		seen := make(map[string]bool, 4)
		for _, a := range ev.AuthEventIDs() {
			if !seen[a] {
				seen[a] = true
				s.refs[a] = append(s.refs[a], ref)
			}
		}
	}
	return true
}

// Len returns the number of stored events.
func (s *MemoryStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.events)
}

// Event returns one stored event, or nil.
func (s *MemoryStore) Event(id string) *event.Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.events[id]
}

// Events implements Store.
func (s *MemoryStore) Events(ctx context.Context, ids []string) ([]Stored, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Stored, len(ids))
	for k, id := range ids {
		if ev := s.events[id]; ev != nil {
			out[k] = Stored{Event: ev, Rejected: s.rejected[id]}
		}
	}
	return out, nil
}

// ReferencedBy implements AuthChainIndex. The returned slices are shared
// with the store and must not be modified.
func (s *MemoryStore) ReferencedBy(ctx context.Context, ids []string) ([][]Ref, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]Ref, len(ids))
	for k, id := range ids {
		out[k] = s.refs[id]
	}
	return out, nil
}
