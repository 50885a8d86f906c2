package clientapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"sync"
	"time"
)

// MemoryMedia is a Media kept in memory, for tests and examples: it
// serves its own server's media (a thumbnail is the content itself) and
// no remote media. A zero MemoryMedia is ready to use.
type MemoryMedia struct {
	// ServerName, when set, is the only server whose media it has.
	ServerName string
	// UnusedExpiry is how long an ID from CreateMedia waits for its
	// content (0: 24 hours, the spec's recommendation).
	UnusedExpiry time.Duration
	// MaxPending bounds a user's created IDs still without content
	// (0: 10); past it CreateMedia answers 429 M_LIMIT_EXCEEDED.
	MaxPending int

	mu    sync.Mutex
	items map[string]*memoryMediaItem
}

type memoryMediaItem struct {
	owner       string
	contentType string
	fileName    string
	data        []byte
	expires     time.Time
	// uploaded is closed when the content arrives.
	uploaded chan struct{}
	done     bool
}

func newMediaID() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (m *MemoryMedia) init() {
	if m.items == nil {
		m.items = map[string]*memoryMediaItem{}
	}
}

// CreateMedia implements Media.
func (m *MemoryMedia) CreateMedia(_ context.Context, who Identity) (string, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	limit := m.MaxPending
	if limit <= 0 {
		limit = 10
	}
	now := time.Now()
	pending := 0
	for _, it := range m.items {
		if it.owner == who.UserID && !it.done && now.Before(it.expires) {
			pending++
		}
	}
	if pending >= limit {
		return "", 0, LimitExceeded(time.Minute)
	}
	exp := m.UnusedExpiry
	if exp <= 0 {
		exp = 24 * time.Hour
	}
	id := newMediaID()
	it := &memoryMediaItem{owner: who.UserID, expires: now.Add(exp), uploaded: make(chan struct{})}
	m.items[id] = it
	return id, it.expires.UnixMilli(), nil
}

// UploadMedia implements Media. The content is read in full before
// anything is kept, so a body over the limit leaves nothing behind.
func (m *MemoryMedia) UploadMedia(_ context.Context, who Identity, mediaID string, up MediaUpload) (string, error) {
	data, err := io.ReadAll(up.Body)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	if mediaID == "" {
		mediaID = newMediaID()
		m.items[mediaID] = &memoryMediaItem{owner: who.UserID, uploaded: make(chan struct{})}
	}
	it, ok := m.items[mediaID]
	switch {
	case !ok || (!it.done && !it.expires.IsZero() && time.Now().After(it.expires)):
		return "", NotFound("unknown media ID")
	case it.done:
		return "", ErrCannotOverwriteMedia
	case it.owner != who.UserID:
		return "", Forbidden("the media ID was created by another user")
	}
	it.contentType, it.fileName, it.data, it.done = up.ContentType, up.FileName, data, true
	close(it.uploaded)
	return mediaID, nil
}

// MediaContent implements Media.
func (m *MemoryMedia) MediaContent(ctx context.Context, _ Identity, req MediaRequest) (*MediaContent, error) {
	m.mu.Lock()
	m.init()
	it, ok := m.items[req.MediaID]
	m.mu.Unlock()
	if !ok || (m.ServerName != "" && req.ServerName != m.ServerName) {
		return nil, NotFound("media not found")
	}
	select {
	case <-it.uploaded:
	default:
		t := time.NewTimer(req.Timeout)
		defer t.Stop()
		select {
		case <-it.uploaded:
		case <-t.C:
			return nil, ErrNotYetUploaded
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return &MediaContent{ContentType: it.contentType, FileName: it.fileName, Size: int64(len(it.data)),
		Body: io.NopCloser(bytes.NewReader(it.data))}, nil
}
