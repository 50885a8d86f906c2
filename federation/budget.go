package federation

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errBudgetWait is the cause of a request refused because the body budget
// stayed full.
var errBudgetWait = errors.New("federation: no room to read the request body")

// byteBudget is a counting semaphore over bytes: the bodies being read
// before their signatures are checked. A reservation larger than the whole
// budget is granted alone, when nothing else is reserved.
type byteBudget struct {
	mu   sync.Mutex
	size int64
	used int64
	wake chan struct{} // closed and replaced at each release
}

func newByteBudget(size int64) *byteBudget {
	return &byteBudget{size: size, wake: make(chan struct{})}
}

// acquire reserves n bytes, waiting at most wait (or until ctx ends).
func (b *byteBudget) acquire(ctx context.Context, n int64, wait time.Duration) error {
	var timer *time.Timer
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.size {
			b.used += n
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-wake:
		case <-timer.C:
			return errBudgetWait
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// inUse returns the bytes reserved now (for tests).
func (b *byteBudget) inUse() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
