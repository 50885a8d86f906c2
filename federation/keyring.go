package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"crypto/ed25519"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/signing"
)

// KeyStore persists the server keys objects a FetchingKeyRing has fetched,
// so that keys survive restarts and other processes can share them.
// MemoryKeyStore is the in-memory implementation.
type KeyStore interface {
	// LoadServerKeys returns the stored objects of each server named
	// (servers with none are absent from the map).
	LoadServerKeys(ctx context.Context, serverNames []string) (map[string][]*signing.ServerKeys, error)
	// StoreServerKeys stores objects that have been verified.
	StoreServerKeys(ctx context.Context, keys []*signing.ServerKeys) error
}

// MemoryKeyStore is a KeyStore in memory. For each key of each server it
// keeps the newest object (greatest valid_until_ts) that lists the key.
// The zero value is ready to use; it is safe for concurrent use.
type MemoryKeyStore struct {
	mu   sync.RWMutex
	keys map[string]map[signing.KeyID]*signing.ServerKeys
}

// LoadServerKeys implements KeyStore.
func (s *MemoryKeyStore) LoadServerKeys(ctx context.Context, serverNames []string) (map[string][]*signing.ServerKeys, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string][]*signing.ServerKeys, len(serverNames))
	for _, name := range serverNames {
		byID := s.keys[name]
		if len(byID) == 0 {
			continue
		}
		var list []*signing.ServerKeys
		for _, k := range byID {
			if !slices.Contains(list, k) {
				list = append(list, k)
			}
		}
		slices.SortFunc(list, func(a, b *signing.ServerKeys) int { return compareInt(b.ValidUntilTS, a.ValidUntilTS) })
		out[name] = list
	}
	return out, nil
}

// StoreServerKeys implements KeyStore.
func (s *MemoryKeyStore) StoreServerKeys(ctx context.Context, keys []*signing.ServerKeys) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]map[signing.KeyID]*signing.ServerKeys{}
	}
	for _, k := range keys {
		byID := s.keys[k.ServerName]
		if byID == nil {
			byID = map[signing.KeyID]*signing.ServerKeys{}
			s.keys[k.ServerName] = byID
		}
		put := func(id signing.KeyID) {
			if cur, ok := byID[id]; !ok || k.ValidUntilTS >= cur.ValidUntilTS {
				byID[id] = k
			}
		}
		for id := range k.VerifyKeys {
			put(id)
		}
		for id := range k.OldVerifyKeys {
			put(id)
		}
	}
	return nil
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TrustedNotary is a notary server a FetchingKeyRing asks for keys, with
// the keys its answers must be signed with.
type TrustedNotary struct {
	ServerName string
	Keys       map[signing.KeyID]ed25519.PublicKey
}

// maxKeysResponse bounds the key responses read.
const maxKeysResponse = 1 << 20

// FetchingKeyRing is a signing.KeyRing that fetches the keys it does not
// have ("Retrieving server keys", content/server-server-api.md): from the
// notaries it trusts (GET /_matrix/key/v2/query/{serverName}), then from
// the server itself (GET /_matrix/key/v2/server), in that order, as the
// reference server does. Every object is checked: the server's own
// signature by a key it lists, server_name equal to the server asked for,
// and for notary answers the notary's signature by one of its trusted
// keys. Fetched objects go to Store and are used while valid.
//
// A key is fetched again when the stored one's valid_until_ts is before
// the request's MinimumValidUntilTS (old keys are never refetched), or when
// it is unknown, but not twice within RefetchInterval; if the fetch fails,
// the stored key is returned anyway, and the caller judges its validity. Concurrent lookups that need the same server's keys
// share one fetch. Fetch failures are not errors of PublicKeys: the keys
// are just absent.
//
// The server's own keys are not fetched: the embedder gives them with
// SetLocal (a server verifying its own events, or requests it made to
// itself, should not ask the network, where its name may not even lead
// back to it).
//
// Set the fields before first use.
type FetchingKeyRing struct {
	// Client makes the requests, to URLs "matrix-federation://<server
	// name>/..."; it needs a transport that resolves server names, such as
	// NewTransport. nil: a client over NewTransport with a default
	// Resolver.
	Client *http.Client
	// Notaries are asked first, in order.
	Notaries []TrustedNotary
	// NoDirect stops the ring from asking servers for their own keys
	// (notaries only).
	NoDirect bool
	// Store holds the fetched keys (nil: a MemoryKeyStore).
	Store KeyStore
	// RefetchInterval is the least time between two fetches of one
	// server's keys (0: DefaultRefetchInterval; negative: no limit). The
	// specification asks requesting servers to limit how often they query
	// ("GET /_matrix/key/v2/server", keys_server.yaml): without a limit,
	// requests signed with made-up key IDs would make us fetch each time.
	RefetchInterval time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	// local holds the keys given with SetLocal, replaced as a whole so
	// that PublicKeys reads it without a lock.
	local atomic.Pointer[map[string]localKeys]

	mu       sync.Mutex
	attempts map[string]time.Time // last fetch started, per server
	fetched  map[string]time.Time // last successful fetch, per server

	once   sync.Once
	client *http.Client
	store  KeyStore
	flight flightGroup[string, []*signing.ServerKeys]
}

func (k *FetchingKeyRing) init() {
	k.once.Do(func() {
		k.client = k.Client
		if k.client == nil {
			k.client = &http.Client{Transport: NewTransport(&Resolver{}, nil, false), Timeout: time.Minute}
		}
		k.store = k.Store
		if k.store == nil {
			k.store = &MemoryKeyStore{}
		}
	})
}

func (k *FetchingKeyRing) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// DefaultRefetchInterval is the RefetchInterval of a FetchingKeyRing that
// sets none.
const DefaultRefetchInterval = time.Minute

// recentlyFetched reports whether a fetch of name's keys started less
// than RefetchInterval ago.
func (k *FetchingKeyRing) recentlyFetched(name string) bool {
	interval := k.RefetchInterval
	if interval == 0 {
		interval = DefaultRefetchInterval
	}
	if interval < 0 {
		return false
	}
	k.mu.Lock()
	last, ok := k.attempts[name]
	k.mu.Unlock()
	return ok && k.now().Sub(last) < interval
}

// lastFetched returns when name's keys were last fetched successfully by
// this ring (ok false: not since it started).
func (k *FetchingKeyRing) lastFetched(name string) (time.Time, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.fetched[name]
	return t, ok
}

// localKeys are the keys of one server given with SetLocal.
type localKeys struct {
	verify map[signing.KeyID]ed25519.PublicKey
	old    map[signing.KeyID]signing.OldKey
}

// SetLocal tells the ring the keys of a server it answers for itself,
// typically the embedder's own server name with the public half of its
// signing key (and the keys it used before, with the time each expired,
// as ServerKeysHandler publishes them). Requests for serverName are then
// answered from verify and old only, never fetched nor looked up in
// Store; a key ID among neither is absent from the answer.
//
// A key in verify does not expire while it is set: its ValidUntilTS is
// math.MaxInt64, which signing.ValidAt caps at now + 7 days as for any
// key. A key in old is valid until its ExpiredTS. Call SetLocal again
// after rotating keys; with verify and old both empty, serverName is
// forgotten and fetched like any other server. The maps are copied. It is
// safe to call at any time, concurrently with PublicKeys.
func (k *FetchingKeyRing) SetLocal(serverName string, verify map[signing.KeyID]ed25519.PublicKey, old map[signing.KeyID]signing.OldKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	next := map[string]localKeys{}
	if cur := k.local.Load(); cur != nil {
		maps.Copy(next, *cur)
	}
	if len(verify) == 0 && len(old) == 0 {
		delete(next, serverName)
	} else {
		next[serverName] = localKeys{verify: maps.Clone(verify), old: maps.Clone(old)}
	}
	if len(next) == 0 {
		k.local.Store(nil)
		return
	}
	k.local.Store(&next)
}

// localKey looks up q among the keys given with SetLocal (local is one
// snapshot of them, taken once per PublicKeys call so that a concurrent
// SetLocal never mixes two key sets in one answer); isLocal is true when
// q's server is one of them (found or not).
func localKey(local *map[string]localKeys, q signing.KeyRequest) (pub signing.PublicKey, found, isLocal bool) {
	if local == nil {
		return pub, false, false
	}
	lk, isLocal := (*local)[q.ServerName]
	if !isLocal {
		return pub, false, false
	}
	if key, ok := lk.verify[q.KeyID]; ok {
		return signing.PublicKey{Key: key, ValidUntilTS: math.MaxInt64}, true, true
	}
	if old, ok := lk.old[q.KeyID]; ok {
		return signing.PublicKey{Key: old.Key, ValidUntilTS: old.ExpiredTS, ExpiredTS: old.ExpiredTS}, true, true
	}
	return pub, false, true
}

// findKey looks up id in the objects, preferring the newest object.
func findKey(objs []*signing.ServerKeys, id signing.KeyID) (signing.PublicKey, bool) {
	var best signing.PublicKey
	var bestTS int64 = -1 << 63
	found := false
	for _, o := range objs {
		if o.ValidUntilTS < bestTS && found {
			continue
		}
		if pub, ok := o.VerifyKeys[id]; ok {
			best, bestTS, found = signing.PublicKey{Key: pub, ValidUntilTS: o.ValidUntilTS}, o.ValidUntilTS, true
		} else if old, ok := o.OldVerifyKeys[id]; ok {
			best, bestTS, found = signing.PublicKey{Key: old.Key, ValidUntilTS: old.ExpiredTS, ExpiredTS: old.ExpiredTS}, o.ValidUntilTS, true
		}
	}
	return best, found
}

// PublicKeys implements signing.KeyRing.
func (k *FetchingKeyRing) PublicKeys(ctx context.Context, reqs []signing.KeyRequest) (map[signing.ServerKeyID]signing.PublicKey, error) {
	k.init()
	out := make(map[signing.ServerKeyID]signing.PublicKey, len(reqs))
	names := make([]string, 0, 1)
	local := k.local.Load()
	for _, q := range reqs {
		if pub, found, isLocal := localKey(local, q); isLocal {
			if found {
				out[signing.ServerKeyID{ServerName: q.ServerName, KeyID: q.KeyID}] = pub
			}
			continue
		}
		if !slices.Contains(names, q.ServerName) {
			names = append(names, q.ServerName)
		}
	}
	if len(names) == 0 {
		return out, nil
	}
	stored, err := k.store.LoadServerKeys(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("federation: loading keys: %w", err)
	}
	need := map[string]int64{} // server -> greatest MinimumValidUntilTS wanted
	for _, q := range reqs {
		if !slices.Contains(names, q.ServerName) {
			continue // answered from the local keys
		}
		id := signing.ServerKeyID{ServerName: q.ServerName, KeyID: q.KeyID}
		pub, ok := findKey(stored[q.ServerName], q.KeyID)
		if ok {
			out[id] = pub
		}
		if ok && (pub.ExpiredTS != 0 || pub.ValidUntilTS >= q.MinimumValidUntilTS) {
			continue
		}
		if !validServerName(q.ServerName) {
			continue
		}
		need[q.ServerName] = max(need[q.ServerName], q.MinimumValidUntilTS)
	}
	if len(need) == 0 {
		return out, nil
	}
	type result struct {
		name string
		objs []*signing.ServerKeys
	}
	results := make(chan result, len(need))
	for name, minTS := range need {
		go func() {
			// Callers join a fetch in flight; a new fetch starts only
			// RefetchInterval after the last one.
			objs, _ := k.flight.do(ctx, name, func() ([]*signing.ServerKeys, error) {
				if k.recentlyFetched(name) {
					return nil, nil
				}
				return k.fetch(context.WithoutCancel(ctx), name, minTS, false)
			})
			results <- result{name, objs}
		}()
	}
	for range need {
		var r result
		select {
		case r = <-results:
		case <-ctx.Done():
			return out, nil
		}
		for _, q := range reqs {
			if q.ServerName != r.name {
				continue
			}
			if pub, ok := findKey(r.objs, q.KeyID); ok {
				id := signing.ServerKeyID{ServerName: q.ServerName, KeyID: q.KeyID}
				if cur, had := out[id]; !had || pub.ValidUntilTS >= cur.ValidUntilTS {
					out[id] = pub
				}
			}
		}
	}
	return out, nil
}

// ErrNoKeys is returned by fetches that found no usable keys object.
var ErrNoKeys = errors.New("federation: no usable server keys")

// fetch asks the notaries (unless directOnly) then the server, stores what
// verified and returns it. It returns at the first source that gave an
// object valid until minTS, else everything gathered.
func (k *FetchingKeyRing) fetch(ctx context.Context, name string, minTS int64, directOnly bool) ([]*signing.ServerKeys, error) {
	k.mu.Lock()
	if k.attempts == nil {
		k.attempts, k.fetched = map[string]time.Time{}, map[string]time.Time{}
	}
	k.attempts[name] = k.now()
	k.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var got []*signing.ServerKeys
	var errs []error
	enough := func() bool {
		for _, o := range got {
			if o.ValidUntilTS >= minTS {
				return true
			}
		}
		return false
	}
	if !directOnly {
		for _, n := range k.Notaries {
			objs, err := k.fetchFromNotary(ctx, n, name, minTS)
			if err != nil {
				errs = append(errs, err)
			}
			got = append(got, objs...)
			if enough() {
				break
			}
		}
	}
	if !enough() && (!k.NoDirect || directOnly) {
		obj, err := k.fetchDirect(ctx, name)
		if err != nil {
			errs = append(errs, err)
		} else {
			got = append(got, obj)
		}
	}
	if len(got) == 0 {
		return nil, errors.Join(append([]error{ErrNoKeys}, errs...)...)
	}
	k.mu.Lock()
	k.fetched[name] = k.now()
	k.mu.Unlock()
	if err := k.store.StoreServerKeys(ctx, got); err != nil {
		return got, err
	}
	return got, nil
}

func (k *FetchingKeyRing) get(ctx context.Context, server, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "matrix-federation://"+server+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysResponse+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxKeysResponse {
		return nil, fmt.Errorf("federation: %s%s: answer larger than %d bytes", truncate(server), path, maxKeysResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("federation: %s%s: status %d", truncate(server), path, resp.StatusCode)
	}
	return body, nil
}

func (k *FetchingKeyRing) fetchDirect(ctx context.Context, name string) (*signing.ServerKeys, error) {
	body, err := k.get(ctx, name, "/_matrix/key/v2/server")
	if err != nil {
		return nil, err
	}
	return signing.ParseServerKeysFor(body, name)
}

func (k *FetchingKeyRing) fetchFromNotary(ctx context.Context, n TrustedNotary, name string, minTS int64) ([]*signing.ServerKeys, error) {
	path := "/_matrix/key/v2/query/" + url.PathEscape(name)
	if minTS > 0 {
		path += "?minimum_valid_until_ts=" + strconv.FormatInt(minTS, 10)
	}
	body, err := k.get(ctx, n.ServerName, path)
	if err != nil {
		return nil, err
	}
	objs, errs := parseNotaryAnswer(body, n, name)
	return objs, errors.Join(errs...)
}

// parseNotaryAnswer reads {"server_keys":[...]} and keeps the objects
// about name signed by the notary and by the server itself.
func parseNotaryAnswer(body []byte, n TrustedNotary, name string) ([]*signing.ServerKeys, []error) {
	var doc struct {
		ServerKeys []json.RawMessage `json:"server_keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, []error{fmt.Errorf("federation: notary %s: %w", truncate(n.ServerName), err)}
	}
	var objs []*signing.ServerKeys
	var errs []error
	for i, raw := range doc.ServerKeys {
		if err := signing.VerifyJSON(raw, n.ServerName, n.Keys, canonicaljson.Lenient); err != nil {
			errs = append(errs, fmt.Errorf("federation: notary %s: server_keys[%d]: notary signature: %w", truncate(n.ServerName), i, err))
			continue
		}
		obj, err := signing.ParseServerKeysFor(raw, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("federation: notary %s: server_keys[%d]: %w", truncate(n.ServerName), i, err))
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errs
}

// flightGroup runs one call per key at a time; concurrent callers with the
// same key wait for it and share its result.
type flightGroup[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*flightCall[V]
}

type flightCall[V any] struct {
	done    chan struct{}
	waiters int // callers that joined the call (for tests)
	val     V
	err     error
}

// waiting returns how many callers joined the call in flight for key.
func (g *flightGroup[K, V]) waiting(key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return -1
}

// do runs fn for key unless a call is in flight, then returns its result.
// A caller whose ctx ends stops waiting (the call goes on for the others).
func (g *flightGroup[K, V]) do(ctx context.Context, key K, fn func() (V, error)) (V, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[K]*flightCall[V]{}
	}
	if c, ok := g.calls[key]; ok {
		c.waiters++
		g.mu.Unlock()
		select {
		case <-c.done:
			return c.val, c.err
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
	c := &flightCall[V]{done: make(chan struct{})}
	g.calls[key] = c
	g.mu.Unlock()
	go func() {
		defer func() {
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
			close(c.done)
		}()
		c.val, c.err = fn()
	}()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
