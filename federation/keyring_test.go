package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mxkit/mxkit/signing"
)

// loadRecordingStore records which servers the ring looked up.
type loadRecordingStore struct {
	MemoryKeyStore
	mu     sync.Mutex
	loaded []string
}

func (s *loadRecordingStore) LoadServerKeys(ctx context.Context, names []string) (map[string][]*signing.ServerKeys, error) {
	s.mu.Lock()
	s.loaded = append(s.loaded, names...)
	s.mu.Unlock()
	return s.MemoryKeyStore.LoadServerKeys(ctx, names)
}

// The server's own keys, given with SetLocal, are answered without a
// fetch or a store lookup, even where the network would answer otherwise.
func TestFetchingKeyRingLocal(t *testing.T) {
	n := newKeyNet(t)
	own := testKey(t, "own")
	oldOwn := testKey(t, "was")
	impostor := testKey(t, "own") // same key ID, another key
	other := testKey(t, "cur")
	n.serve("self.test", keyMux("self.test", impostor, nil, nil))
	n.serve("origin.test", keyMux("origin.test", other, nil, nil))
	store := &loadRecordingStore{}
	ring := &FetchingKeyRing{Client: n.client, Store: store}
	const expired = 1_000_000
	ring.SetLocal("self.test",
		map[signing.KeyID]ed25519.PublicKey{own.ID: own.Public()},
		map[signing.KeyID]signing.OldKey{oldOwn.ID: {Key: oldOwn.Public(), ExpiredTS: expired}})

	ctx := context.Background()
	farFuture := time.Now().Add(365 * 24 * time.Hour).UnixMilli()
	got, err := ring.PublicKeys(ctx, []signing.KeyRequest{
		{ServerName: "self.test", KeyID: own.ID, MinimumValidUntilTS: farFuture},
		{ServerName: "self.test", KeyID: oldOwn.ID, MinimumValidUntilTS: farFuture},
		{ServerName: "self.test", KeyID: "ed25519:unknown"},
		{ServerName: "origin.test", KeyID: other.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	cur, ok := got[signing.ServerKeyID{ServerName: "self.test", KeyID: own.ID}]
	if !ok || !bytes.Equal(cur.Key, own.Public()) || cur.ValidUntilTS != math.MaxInt64 || cur.ExpiredTS != 0 {
		t.Fatalf("own key: %+v, %v", cur, ok)
	}
	// Never expiring, but capped as any key is for events: valid for an
	// event stamped up to a week ahead, not beyond.
	now := time.Now()
	if !signing.ValidAt(cur, now.Add(signing.MaxKeyValidity-time.Minute).UnixMilli(), now) ||
		signing.ValidAt(cur, now.Add(signing.MaxKeyValidity+time.Minute).UnixMilli(), now) {
		t.Fatal("own key validity not capped at now + MaxKeyValidity")
	}
	was, ok := got[signing.ServerKeyID{ServerName: "self.test", KeyID: oldOwn.ID}]
	if !ok || !bytes.Equal(was.Key, oldOwn.Public()) || was.ExpiredTS != expired || was.ValidUntilTS != expired {
		t.Fatalf("old own key: %+v, %v", was, ok)
	}
	if _, ok := got[signing.ServerKeyID{ServerName: "self.test", KeyID: "ed25519:unknown"}]; ok {
		t.Fatal("unknown own key ID answered")
	}
	if _, ok := got[signing.ServerKeyID{ServerName: "origin.test", KeyID: other.ID}]; !ok {
		t.Fatal("the other server's key, asked in the same batch, is missing")
	}
	if c := n.count("self.test"); c != 0 {
		t.Fatalf("own keys fetched %d times", c)
	}
	if c := n.count("origin.test"); c != 1 {
		t.Fatalf("origin asked %d times, want 1", c)
	}
	if slices.Contains(store.loaded, "self.test") {
		t.Fatalf("own keys looked up in the store: %v", store.loaded)
	}
}

// SetLocal replaces a server's keys (key rotation), copies the maps it is
// given, and with no keys forgets the server, which is fetched again.
func TestFetchingKeyRingSetLocalReplaces(t *testing.T) {
	n := newKeyNet(t)
	first := testKey(t, "one")
	second := testKey(t, "two")
	published := testKey(t, "pub")
	n.serve("self.test", keyMux("self.test", published, nil, nil))
	ring := &FetchingKeyRing{Client: n.client, RefetchInterval: -1}
	ctx := context.Background()
	ask := func() map[signing.ServerKeyID]signing.PublicKey {
		t.Helper()
		got, err := ring.PublicKeys(ctx, []signing.KeyRequest{
			{ServerName: "self.test", KeyID: first.ID},
			{ServerName: "self.test", KeyID: second.ID},
			{ServerName: "self.test", KeyID: published.ID},
		})
		if err != nil {
			t.Fatal(err)
		}
		keys := map[signing.ServerKeyID]signing.PublicKey{}
		for id, pk := range got {
			keys[id] = pk
		}
		return keys
	}
	id := func(k *signing.SigningKey) signing.ServerKeyID {
		return signing.ServerKeyID{ServerName: "self.test", KeyID: k.ID}
	}

	verify := map[signing.KeyID]ed25519.PublicKey{first.ID: first.Public()}
	ring.SetLocal("self.test", verify, nil)
	verify[second.ID] = second.Public() // the ring keeps its own copy
	got := ask()
	if _, ok := got[id(first)]; !ok || len(got) != 1 {
		t.Fatalf("after the first SetLocal: %v", got)
	}

	// Rotation: the second key now, the first one old.
	ring.SetLocal("self.test", map[signing.KeyID]ed25519.PublicKey{second.ID: second.Public()},
		map[signing.KeyID]signing.OldKey{first.ID: {Key: first.Public(), ExpiredTS: 42}})
	got = ask()
	if pk := got[id(first)]; pk.ExpiredTS != 42 || len(got) != 2 {
		t.Fatalf("after rotation: %v", got)
	}
	if pk := got[id(second)]; !bytes.Equal(pk.Key, second.Public()) || pk.ValidUntilTS != math.MaxInt64 {
		t.Fatalf("after rotation, the new key: %+v", pk)
	}
	if c := n.count("self.test"); c != 0 {
		t.Fatalf("own keys fetched %d times", c)
	}

	// Forgotten: the server is an ordinary one again.
	ring.SetLocal("self.test", nil, nil)
	got = ask()
	if _, ok := got[id(published)]; !ok || len(got) != 1 {
		t.Fatalf("after forgetting: %v", got)
	}
	if c := n.count("self.test"); c != 1 {
		t.Fatalf("fetched %d times after forgetting, want 1", c)
	}
}

// SetLocal may be called while lookups run (run with -race).
func TestFetchingKeyRingSetLocalConcurrent(t *testing.T) {
	ring := &FetchingKeyRing{Client: newKeyNet(t).client}
	keys := []*signing.SigningKey{testKey(t, "a"), testKey(t, "b")}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 200 {
			k := keys[i%2]
			ring.SetLocal("self.test", map[signing.KeyID]ed25519.PublicKey{k.ID: k.Public()}, nil)
			ring.SetLocal("also.test", map[signing.KeyID]ed25519.PublicKey{k.ID: k.Public()}, nil)
		}
	}()
	go func() {
		defer wg.Done()
		for range 200 {
			got, err := ring.PublicKeys(context.Background(), []signing.KeyRequest{
				{ServerName: "self.test", KeyID: keys[0].ID}, {ServerName: "self.test", KeyID: keys[1].ID},
			})
			if err != nil || len(got) > 1 {
				t.Errorf("got %v, %v: one key at a time is set", got, err)
				return
			}
		}
	}()
	wg.Wait()
}
