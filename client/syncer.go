package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// SyncStore keeps the since token of a sync loop, so that a restarted
// program resumes where it stopped instead of syncing from the start.
type SyncStore interface {
	// LoadNextBatch returns the saved token for userID, "" if none.
	LoadNextBatch(ctx context.Context, userID string) (string, error)
	// SaveNextBatch saves the token once a response has been handled.
	SaveNextBatch(ctx context.Context, userID, token string) error
}

// MemorySyncStore is a SyncStore in memory.
type MemorySyncStore struct {
	mu     sync.Mutex
	tokens map[string]string
}

// LoadNextBatch implements SyncStore.
func (m *MemorySyncStore) LoadNextBatch(_ context.Context, userID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens[userID], nil
}

// SaveNextBatch implements SyncStore.
func (m *MemorySyncStore) SaveNextBatch(_ context.Context, userID, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = map[string]string{}
	}
	m.tokens[userID] = token
	return nil
}

// SyncEvent is an event of a sync response with where it came from.
type SyncEvent struct {
	*Event
	// Block is the block it was in (BlockTimeline, BlockState, ...).
	Block string
	// Initial is set for the events of the first sync without a since
	// token (history and current state, not news).
	Initial bool
}

// EventHandler handles one event of a sync. An error is given to
// Syncer.OnError.
type EventHandler func(ctx context.Context, ev *SyncEvent) error

// Syncer runs the sync loop of a Client ("Syncing"): it long-polls
// /sync, hands each event to the handlers of its type, saves the since
// token after each handled response, and waits with a growing backoff
// after errors. Register handlers with On before Run.
//
// Events of rooms carry their room ID (the server leaves it out inside
// a sync; Syncer fills it in).
type Syncer struct {
	Client *Client
	// Store keeps the since token; nil means a MemorySyncStore.
	Store SyncStore
	// Filter is uploaded once per Run and its ID used; nil: no filter.
	Filter *Filter
	// Timeout is the long-poll timeout; 0 means 30 seconds.
	Timeout time.Duration
	// SetPresence is sent as set_presence ("" leaves the server's default).
	SetPresence string
	// SkipInitial, when there is no saved since token, makes the first
	// sync only to learn the token: its events are not handled. Bots use
	// it so as not to answer old messages.
	SkipInitial bool
	// MinBackoff and MaxBackoff bound the wait after a failed sync: it
	// starts at MinBackoff (0: 1 s) and doubles up to MaxBackoff (0:
	// 60 s); a success resets it.
	MinBackoff, MaxBackoff time.Duration
	// OnSync, if set, is called with every response before its events
	// are handed to the handlers; an error stops Run.
	OnSync func(ctx context.Context, resp *SyncResponse) error
	// OnError is told of handler errors and of failed syncs that will be
	// retried; nil ignores them. A handler error does not stop the loop.
	OnError func(err error)

	mu       sync.Mutex
	handlers map[string][]EventHandler
}

// AnyType registers a handler for every event type.
const AnyType = "*"

// On registers h for events of eventType (AnyType: all events). Handlers
// of one response run one after the other, in the order of the
// response; On may be called while Run runs.
func (s *Syncer) On(eventType string, h EventHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handlers == nil {
		s.handlers = map[string][]EventHandler{}
	}
	s.handlers[eventType] = append(s.handlers[eventType], h)
}

// Run syncs until ctx is done (then it returns ctx's error), the server
// rejects the access token (M_UNKNOWN_TOKEN, M_MISSING_TOKEN: retrying
// cannot help), the store fails, or OnSync fails. Other errors are
// retried after a backoff.
func (s *Syncer) Run(ctx context.Context) error {
	store := s.Store
	if store == nil {
		store = &MemorySyncStore{}
		s.Store = store
	}
	since, err := store.LoadNextBatch(ctx, s.Client.UserID)
	if err != nil {
		return fmt.Errorf("client: sync: loading the since token: %w", err)
	}
	filter := ""
	backoff := time.Duration(0)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.Filter != nil && filter == "" {
			if filter, err = s.Client.CreateFilter(ctx, s.Filter); err != nil {
				filter = ""
				if backoff, err = s.failed(ctx, err, backoff); err != nil {
					return err
				}
				continue
			}
		}
		timeout := s.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		if since == "" {
			// The first sync answers at once with the current state; a
			// timeout would only delay it when the account is empty.
			timeout = 0
		}
		resp, err := s.Client.Sync(ctx, &SyncRequest{Since: since, Timeout: timeout, Filter: filter, SetPresence: s.SetPresence})
		if err != nil {
			if backoff, err = s.failed(ctx, err, backoff); err != nil {
				return err
			}
			continue
		}
		backoff = 0
		initial := since == ""
		if !(initial && s.SkipInitial) {
			if err := s.handle(ctx, resp, initial); err != nil {
				return err
			}
		}
		if err := store.SaveNextBatch(ctx, s.Client.UserID, resp.NextBatch); err != nil {
			return fmt.Errorf("client: sync: saving the since token: %w", err)
		}
		since = resp.NextBatch
	}
}

// failed decides what a failed request does to the loop: stop for a
// rejected token or a done context, else wait the next backoff.
func (s *Syncer) failed(ctx context.Context, err error, backoff time.Duration) (time.Duration, error) {
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	var me *Error
	if errors.As(err, &me) && (me.Code == CodeUnknownToken || me.Code == CodeMissingToken ||
		me.Status == http.StatusUnauthorized) {
		return 0, err
	}
	if s.OnError != nil {
		s.OnError(err)
	}
	min, max := s.MinBackoff, s.MaxBackoff
	if min <= 0 {
		min = time.Second
	}
	if max <= 0 {
		max = time.Minute
	}
	switch {
	case backoff < min:
		backoff = min
	case backoff < max:
		backoff *= 2
	}
	if backoff > max {
		backoff = max
	}
	if err := s.Client.wait(ctx, backoff); err != nil {
		return 0, err
	}
	return backoff, nil
}

// handle runs OnSync and the handlers for one response.
func (s *Syncer) handle(ctx context.Context, resp *SyncResponse, initial bool) error {
	if s.OnSync != nil {
		if err := s.OnSync(ctx, resp); err != nil {
			return err
		}
	}
	s.mu.Lock()
	handlers := s.handlers
	s.mu.Unlock()
	if len(handlers) == 0 {
		return nil
	}
	resp.forEach(func(block, roomID string, ev *Event) bool {
		if roomID != "" && ev.RoomID == "" {
			ev.RoomID = roomID
		}
		se := &SyncEvent{Event: ev, Block: block, Initial: initial}
		s.mu.Lock()
		hs := append(append([]EventHandler(nil), s.handlers[ev.Type]...), s.handlers[AnyType]...)
		s.mu.Unlock()
		for _, h := range hs {
			if err := h(ctx, se); err != nil && s.OnError != nil {
				s.OnError(fmt.Errorf("client: sync: handler for %s %s: %w", ev.Type, ev.EventID, err))
			}
		}
		return ctx.Err() == nil
	})
	return nil
}
