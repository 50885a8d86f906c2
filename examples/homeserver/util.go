package main

import (
	"crypto/rand"
	"encoding/json"
	"sync"
)

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomString returns n random letters and digits.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// jsonMembership reads content.membership of an event's JSON.
func jsonMembership(raw []byte) string {
	var v struct {
		Content struct {
			Membership string `json:"membership"`
		} `json:"content"`
	}
	json.Unmarshal(raw, &v)
	return v.Content.Membership
}

// notifier wakes the long-polling syncs when the stream moves.
type notifier struct {
	mu  sync.Mutex
	pos int64
	ch  chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

// bump records a new position and wakes every waiter.
func (n *notifier) bump(pos int64) {
	n.mu.Lock()
	if pos > n.pos {
		n.pos = pos
	}
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// wait returns a channel closed at the next bump.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}
