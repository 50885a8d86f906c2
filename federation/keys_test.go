package federation

import (
	"bytes"
	"crypto/ed25519"
	"runtime"
	"strconv"

	"context"
	"encoding/json"
	"errors"
	"github.com/mxkit/mxkit/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/signing"
)

// keyNet is a little federation on loopback: servers by name, reached
// through a Resolver's Static map over plain HTTP.
type keyNet struct {
	t        *testing.T
	resolver *Resolver
	client   *http.Client
	hits     sync.Map // server name -> *atomic.Int64
}

func newKeyNet(t *testing.T) *keyNet {
	n := &keyNet{t: t, resolver: &Resolver{Static: map[string]string{}}}
	n.client = &http.Client{Transport: NewTransport(n.resolver, nil, true)}
	return n
}

// serve starts a server for name; it returns the httptest server.
func (n *keyNet) serve(name string, h http.Handler) *httptest.Server {
	c := &atomic.Int64{}
	n.hits.Store(name, c)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Add(1)
		h.ServeHTTP(w, r)
	}))
	n.t.Cleanup(s.Close)
	n.resolver.Static[name] = s.Listener.Addr().String()
	return s
}

func (n *keyNet) count(name string) int64 {
	v, ok := n.hits.Load(name)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

func keyMux(serverName string, key *signing.SigningKey, old map[signing.KeyID]signing.OldKey, notary *Notary) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/_matrix/key/v2/server", ServerKeysHandler(serverName, key, old, time.Hour))
	if notary != nil {
		mux.Handle("/_matrix/key/v2/query", notary)
		mux.Handle("/_matrix/key/v2/query/{serverName}", notary)
	}
	return mux
}

func TestServerKeysHandler(t *testing.T) {
	key := testKey(t, "cur")
	oldKey := testKey(t, "old")
	old := map[signing.KeyID]signing.OldKey{oldKey.ID: {Key: oldKey.Public(), ExpiredTS: 1234}}
	h := ServerKeysHandler("origin.test", key, old, 2*time.Hour)
	before := time.Now()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/_matrix/key/v2/server", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
	}
	k, err := signing.ParseServerKeysFor(w.Body.Bytes(), "origin.test")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.VerifyKeys[key.ID], key.Public()) || len(k.VerifyKeys) != 1 {
		t.Fatalf("verify_keys %v", k.VerifyKeys)
	}
	if o := k.OldVerifyKeys[oldKey.ID]; !bytes.Equal(o.Key, oldKey.Public()) || o.ExpiredTS != 1234 {
		t.Fatalf("old_verify_keys %v", k.OldVerifyKeys)
	}
	if lo, hi := before.Add(2*time.Hour).UnixMilli(), time.Now().Add(2*time.Hour).UnixMilli(); k.ValidUntilTS < lo || k.ValidUntilTS > hi {
		t.Fatalf("valid_until_ts %d not now+2h", k.ValidUntilTS)
	}
	first := w.Body.String()
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/_matrix/key/v2/server", nil))
	if w.Body.String() != first {
		t.Fatal("the signed object was not reused")
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/_matrix/key/v2/server", strings.NewReader("{}")))
	if w.Code != 405 || !strings.Contains(w.Body.String(), "M_UNRECOGNIZED") {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
}

func TestFetchingKeyRingDirect(t *testing.T) {
	n := newKeyNet(t)
	key := testKey(t, "cur")
	n.serve("origin.test", keyMux("origin.test", key, nil, nil))
	clock := time.Now()
	ring := &FetchingKeyRing{Client: n.client, Now: func() time.Time { return clock }}
	ctx := context.Background()
	id := signing.ServerKeyID{ServerName: "origin.test", KeyID: key.ID}
	nowMS := clock.UnixMilli()
	got, err := ring.PublicKeys(ctx, []signing.KeyRequest{{ServerName: "origin.test", KeyID: key.ID, MinimumValidUntilTS: nowMS}})
	if err != nil {
		t.Fatal(err)
	}
	pk, ok := got[id]
	if !ok || !bytes.Equal(pk.Key, key.Public()) || pk.ValidUntilTS < nowMS+time.Hour.Milliseconds()-60_000 || pk.ExpiredTS != 0 {
		t.Fatalf("got %+v", got)
	}
	// Cached: no second request while valid.
	clock = clock.Add(2 * DefaultRefetchInterval)
	ring.PublicKeys(ctx, []signing.KeyRequest{{ServerName: "origin.test", KeyID: key.ID, MinimumValidUntilTS: nowMS}})
	if c := n.count("origin.test"); c != 1 {
		t.Fatalf("%d requests, want 1", c)
	}
	// Asked to be valid beyond what is known: fetched again, and the key
	// still returned (the caller judges)...
	later := nowMS + 3*time.Hour.Milliseconds()
	got, _ = ring.PublicKeys(ctx, []signing.KeyRequest{{ServerName: "origin.test", KeyID: key.ID, MinimumValidUntilTS: later}})
	if c := n.count("origin.test"); c != 2 {
		t.Fatalf("%d requests, want 2", c)
	}
	if _, ok := got[id]; !ok {
		t.Fatal("stale key not returned")
	}
	// ...but not again within RefetchInterval, known key or not.
	clock = clock.Add(DefaultRefetchInterval - time.Second)
	ring.PublicKeys(ctx, []signing.KeyRequest{{ServerName: "origin.test", KeyID: key.ID, MinimumValidUntilTS: later}, {ServerName: "origin.test", KeyID: "ed25519:new"}})
	if c := n.count("origin.test"); c != 2 {
		t.Fatalf("%d requests within the refetch interval, want 2", c)
	}
	clock = clock.Add(2 * time.Second)
	got, _ = ring.PublicKeys(ctx, []signing.KeyRequest{{ServerName: "origin.test", KeyID: "ed25519:new"}})
	if c := n.count("origin.test"); c != 3 || len(got) != 0 {
		t.Fatalf("%d requests after the refetch interval, want 3; got %v", c, got)
	}
	// An unknown server, a bad name: absent, no error.
	got, err = ring.PublicKeys(ctx, []signing.KeyRequest{{ServerName: "gone.test", KeyID: key.ID}, {ServerName: "bad name", KeyID: key.ID}})
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
}

// A server answering with another server's keys is not believed.
func TestFetchingKeyRingServerNameMismatch(t *testing.T) {
	n := newKeyNet(t)
	key := testKey(t, "cur")
	n.serve("origin.test", keyMux("evil.test", key, nil, nil))
	ring := &FetchingKeyRing{Client: n.client}
	got, err := ring.PublicKeys(context.Background(), []signing.KeyRequest{{ServerName: "origin.test", KeyID: key.ID}})
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
	objs, err := ring.fetch(context.Background(), "origin.test", 0, true)
	if len(objs) != 0 || !errors.Is(err, signing.ErrServerKeys) {
		t.Fatalf("fetch: %v, %v; want a server keys error", objs, err)
	}
}

// Concurrent lookups of the same server's keys make one request.
func TestFetchingKeyRingSingleFlight(t *testing.T) {
	n := newKeyNet(t)
	key := testKey(t, "cur")
	release := make(chan struct{})
	keys := keyMux("origin.test", key, nil, nil)
	n.serve("origin.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		keys.ServeHTTP(w, r)
	}))
	ring := &FetchingKeyRing{Client: n.client}
	const callers = 16
	var wg sync.WaitGroup
	results := make(chan int, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _ := ring.PublicKeys(context.Background(), []signing.KeyRequest{{ServerName: "origin.test", KeyID: key.ID}})
			results <- len(got)
		}()
	}
	// Wait (without a clock) until every other caller has joined the
	// first one's fetch.
	for ring.flight.waiting("origin.test") != callers-1 {
		runtimeGosched()
	}
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if r != 1 {
			t.Fatalf("a caller got %d keys, want 1", r)
		}
	}
	if c := n.count("origin.test"); c != 1 {
		t.Fatalf("%d requests for %d concurrent lookups, want 1", c, callers)
	}
}

// notaryNet: origin.test publishes keys; notary.test is a notary whose
// ring fetches directly.
type notaryNet struct {
	*keyNet
	originKey, notaryKey *signing.SigningKey
	origin               *httptest.Server
	clock                time.Time // the notary's
}

func newNotaryNet(t *testing.T) *notaryNet {
	n := &notaryNet{keyNet: newKeyNet(t), originKey: testKey(t, "o1"), notaryKey: testKey(t, "n1")}
	n.origin = n.serve("origin.test", keyMux("origin.test", n.originKey, nil, nil))
	n.clock = time.Now()
	now := func() time.Time { return n.clock }
	notary := &Notary{ServerName: "notary.test", Key: n.notaryKey, Keys: &FetchingKeyRing{Client: n.client, Now: now}, Now: now}
	n.serve("notary.test", keyMux("notary.test", n.notaryKey, nil, notary))
	return n
}

func (n *notaryNet) query(t *testing.T, method, path, body string) (int, []*signing.ServerKeys, []json.RawMessage) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "matrix-federation://notary.test"+path, rd)
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil, nil
	}
	var doc struct {
		ServerKeys []json.RawMessage `json:"server_keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.ServerKeys == nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	var out []*signing.ServerKeys
	for _, raw := range doc.ServerKeys {
		// Signed by the notary...
		if err := signing.VerifyJSON(raw, "notary.test", map[signing.KeyID]ed25519PublicKey{n.notaryKey.ID: n.notaryKey.Public()}, canonicaljson.Lenient); err != nil {
			t.Fatalf("notary signature: %v (%s)", err, raw)
		}
		// ...and by the server itself.
		k, err := signing.ParseServerKeys(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return resp.StatusCode, out, doc.ServerKeys
}

func TestNotary(t *testing.T) {
	n := newNotaryNet(t)
	status, keys, _ := n.query(t, "GET", "/_matrix/key/v2/query/origin.test", "")
	if status != 200 || len(keys) != 1 || keys[0].ServerName != "origin.test" || !bytes.Equal(keys[0].VerifyKeys[n.originKey.ID], n.originKey.Public()) {
		t.Fatalf("GET: %d %+v", status, keys)
	}
	if c := n.count("origin.test"); c != 1 {
		t.Fatalf("origin asked %d times", c)
	}
	// Served from the cache while valid (no minimum: now).
	n.query(t, "GET", "/_matrix/key/v2/query/origin.test", "")
	status, keys, _ = n.query(t, "POST", "/_matrix/key/v2/query", `{"server_keys":{"origin.test":{"ed25519:o1":{}}}}`)
	if status != 200 || len(keys) != 1 || n.count("origin.test") != 1 {
		t.Fatalf("POST: %d %d keys, origin asked %d times", status, len(keys), n.count("origin.test"))
	}
	// A minimum beyond the cached validity: fetched again, though not
	// within the refetch interval.
	far := time.Now().Add(5 * time.Hour).UnixMilli()
	n.query(t, "GET", "/_matrix/key/v2/query/origin.test?minimum_valid_until_ts="+itoa(far), "")
	if c := n.count("origin.test"); c != 1 {
		t.Fatalf("origin asked %d times within the refetch interval, want 1", c)
	}
	n.clock = n.clock.Add(DefaultRefetchInterval + time.Second)
	n.query(t, "GET", "/_matrix/key/v2/query/origin.test?minimum_valid_until_ts="+itoa(far), "")
	if c := n.count("origin.test"); c != 2 {
		t.Fatalf("origin asked %d times, want 2", c)
	}
	// An unknown key ID: fetched again (maybe the server rotated).
	n.clock = n.clock.Add(DefaultRefetchInterval + time.Second)
	n.query(t, "POST", "/_matrix/key/v2/query", `{"server_keys":{"origin.test":{"ed25519:new":{}}}}`)
	if c := n.count("origin.test"); c != 3 {
		t.Fatalf("origin asked %d times, want 3", c)
	}
	// Half the lifetime passed: fetched again. The origin's answer is
	// valid for an hour from its making, about two minutes before the
	// last fetch (by the notary's clock): half is about 29 minutes on.
	n.clock = n.clock.Add(25 * time.Minute)
	n.query(t, "GET", "/_matrix/key/v2/query/origin.test", "")
	if c := n.count("origin.test"); c != 3 {
		t.Fatalf("origin asked %d times before half the lifetime, want 3", c)
	}
	n.clock = n.clock.Add(6 * time.Minute)
	n.query(t, "GET", "/_matrix/key/v2/query/origin.test", "")
	if c := n.count("origin.test"); c != 4 {
		t.Fatalf("origin asked %d times after half the lifetime, want 4", c)
	}
	// Origin offline: the cached copy is served.
	n.origin.Close()
	n.clock = n.clock.Add(DefaultRefetchInterval + time.Second)
	status, keys, _ = n.query(t, "GET", "/_matrix/key/v2/query/origin.test?minimum_valid_until_ts="+itoa(far), "")
	if status != 200 || len(keys) != 1 {
		t.Fatalf("offline origin: %d %d keys, want the cached copy", status, len(keys))
	}
	// Unknown and unreachable: an empty array.
	status, keys, raw := n.query(t, "GET", "/_matrix/key/v2/query/nowhere.test", "")
	if status != 200 || len(keys) != 0 || raw == nil {
		t.Fatalf("unknown server: %d %v", status, keys)
	}
	status, keys, _ = n.query(t, "POST", "/_matrix/key/v2/query", `{"server_keys":{}}`)
	if status != 200 || len(keys) != 0 {
		t.Fatalf("no servers: %d %v", status, keys)
	}
	// Our own keys.
	status, keys, _ = n.query(t, "POST", "/_matrix/key/v2/query", `{"server_keys":{"notary.test":{}, "origin.test":{}}}`)
	if status != 200 || len(keys) != 2 {
		t.Fatalf("own and origin: %d %d keys", status, len(keys))
	}
	// Bad requests.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/_matrix/key/v2/query", `{"server_keys":`},
		{"POST", "/_matrix/key/v2/query", `{}`},
		{"GET", "/_matrix/key/v2/query/origin.test?minimum_valid_until_ts=soon", ""},
		{"PUT", "/_matrix/key/v2/query/origin.test", "{}"},
	} {
		if status, _, _ := n.query(t, c.method, c.path, c.body); status == 200 {
			t.Errorf("%s %s %s: 200", c.method, c.path, c.body)
		}
	}
}

func TestFetchingKeyRingThroughNotary(t *testing.T) {
	n := newNotaryNet(t)
	trusted := TrustedNotary{ServerName: "notary.test", Keys: map[signing.KeyID]ed25519PublicKey{n.notaryKey.ID: n.notaryKey.Public()}}
	ring := &FetchingKeyRing{Client: n.client, Notaries: []TrustedNotary{trusted}, NoDirect: true}
	req := []signing.KeyRequest{{ServerName: "origin.test", KeyID: n.originKey.ID, MinimumValidUntilTS: time.Now().UnixMilli()}}
	got, err := ring.PublicKeys(context.Background(), req)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if c := n.count("notary.test"); c != 1 {
		t.Fatalf("notary asked %d times", c)
	}
	// A notary whose key we do not trust is not believed.
	other := testKey(t, "n2")
	ring2 := &FetchingKeyRing{Client: n.client, NoDirect: true, Notaries: []TrustedNotary{{ServerName: "notary.test", Keys: map[signing.KeyID]ed25519PublicKey{other.ID: other.Public()}}}}
	if got, _ := ring2.PublicKeys(context.Background(), req); len(got) != 0 {
		t.Fatalf("untrusted notary believed: %v", got)
	}
}

// A notary that forges keys (signs an object the server did not sign),
// or answers about another server, is not believed.
func TestParseNotaryAnswer(t *testing.T) {
	notaryKey, originKey, forged := testKey(t, "n1"), testKey(t, "o1"), testKey(t, "f1")
	trusted := TrustedNotary{ServerName: "notary.test", Keys: map[signing.KeyID]ed25519PublicKey{notaryKey.ID: notaryKey.Public()}}
	mk := func(server string, signer *signing.SigningKey, listed *signing.SigningKey) json.RawMessage {
		// An object listing listed's public key, self-signed by signer.
		obj, err := signing.MakeServerKeys(server, time.Now().Add(time.Hour).UnixMilli(), []*signing.SigningKey{signer}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if listed != signer {
			obj = bytes.Replace(obj, []byte(b64(signer.Public())), []byte(b64(listed.Public())), 1)
		}
		signed, err := signing.SignJSON(obj, "notary.test", notaryKey, canonicaljson.Lenient)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	good := mk("origin.test", originKey, originKey)
	unsignedByNotary, _ := signing.MakeServerKeys("origin.test", time.Now().Add(time.Hour).UnixMilli(), []*signing.SigningKey{originKey}, nil)
	tests := []struct {
		name string
		objs []json.RawMessage
		want int
	}{
		{"good", []json.RawMessage{good}, 1},
		{"not signed by the notary", []json.RawMessage{unsignedByNotary}, 0},
		{"key swapped (self-signature breaks)", []json.RawMessage{mk("origin.test", originKey, forged)}, 0},
		{"other server", []json.RawMessage{mk("other.test", originKey, originKey)}, 0},
		{"one good among bad", []json.RawMessage{mk("other.test", originKey, originKey), good}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"server_keys": tt.objs})
			objs, errs := parseNotaryAnswer(body, trusted, "origin.test")
			if len(objs) != tt.want || len(objs)+len(errs) != len(tt.objs) {
				t.Fatalf("%d objects, %d errors (%v); want %d objects", len(objs), len(errs), errs, tt.want)
			}
		})
	}
	if _, errs := parseNotaryAnswer([]byte(`{"server_keys":{}}`), trusted, "origin.test"); len(errs) == 0 {
		t.Fatal("bad answer accepted")
	}
}

// countingStore records what the ring stores.
type countingStore struct {
	MemoryKeyStore
	stored int
}

func (s *countingStore) StoreServerKeys(ctx context.Context, keys []*signing.ServerKeys) error {
	s.stored += len(keys)
	return s.MemoryKeyStore.StoreServerKeys(ctx, keys)
}

// Keys persisted in the store are used by a new ring without fetching.
func TestFetchingKeyRingStore(t *testing.T) {
	n := newKeyNet(t)
	key := testKey(t, "cur")
	n.serve("origin.test", keyMux("origin.test", key, nil, nil))
	store := &countingStore{}
	req := []signing.KeyRequest{{ServerName: "origin.test", KeyID: key.ID, MinimumValidUntilTS: time.Now().UnixMilli()}}
	if got, _ := (&FetchingKeyRing{Client: n.client, Store: store}).PublicKeys(context.Background(), req); len(got) != 1 {
		t.Fatal("not fetched")
	}
	if store.stored != 1 {
		t.Fatalf("stored %d objects", store.stored)
	}
	if got, _ := (&FetchingKeyRing{Client: n.client, Store: store}).PublicKeys(context.Background(), req); len(got) != 1 {
		t.Fatal("not found in the store")
	}
	if c := n.count("origin.test"); c != 1 {
		t.Fatalf("origin asked %d times, want 1", c)
	}
}

func TestMemoryKeyStoreKeepsNewest(t *testing.T) {
	a, b := testKey(t, "a"), testKey(t, "b")
	older, _ := signing.MakeServerKeys("s.test", 1000, []*signing.SigningKey{a}, nil)
	newer, _ := signing.MakeServerKeys("s.test", 2000, []*signing.SigningKey{b}, map[signing.KeyID]signing.OldKey{a.ID: {Key: a.Public(), ExpiredTS: 1500}})
	ko, _ := signing.ParseServerKeys(older)
	kn, _ := signing.ParseServerKeys(newer)
	s := &MemoryKeyStore{}
	s.StoreServerKeys(context.Background(), []*signing.ServerKeys{kn, ko})
	got, _ := s.LoadServerKeys(context.Background(), []string{"s.test", "none.test"})
	if len(got) != 1 || len(got["s.test"]) != 1 || got["s.test"][0].ValidUntilTS != 2000 {
		t.Fatalf("got %+v", got)
	}
	pk, ok := findKey(got["s.test"], a.ID)
	if !ok || pk.ExpiredTS != 1500 {
		t.Fatalf("key a: %+v %v; want it as an old key", pk, ok)
	}
}

// End to end: a request signed by origin.test is authenticated with keys
// fetched over loopback.
func TestAuthenticatorWithFetchingKeyRing(t *testing.T) {
	n := newKeyNet(t)
	key := testKey(t, "cur")
	n.serve("origin.test", keyMux("origin.test", key, nil, nil))
	auth := &Authenticator{ServerName: "dest.test", Keys: &FetchingKeyRing{Client: n.client}}
	r := httptest.NewRequest("GET", "/_matrix/federation/v1/version", nil)
	r.Header.Set("Authorization", signed(t, "GET", "/_matrix/federation/v1/version", "origin.test", "dest.test", "", key))
	origin, _, err := auth.Authenticate(r)
	if err != nil || origin != "origin.test" {
		t.Fatalf("%q, %v", origin, err)
	}
}

type ed25519PublicKey = ed25519.PublicKey

func b64(b []byte) string { return base64.EncodeToString(b) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func runtimeGosched() { runtime.Gosched() }

// FuzzParseNotaryAnswer: the fuzzer writes a server keys object; the test
// has the origin sign it (or not) and the trusted notary countersign it, and
// puts it in an answer beside the fuzzer's own raw entry (which nobody
// signed). Properties: every entry is either accepted or has its error; an
// entry is accepted exactly when the notary signed it and it is valid keys
// of the server asked for (signing.ParseServerKeysFor agrees); what is
// accepted is about that server, self-signed with one of its verify_keys,
// carries the notary's signature, and parses back to the same keys; the
// unsigned raw entry is never accepted; an answer that is not an object of
// server_keys accepts nothing.
func FuzzParseNotaryAnswer(f *testing.F) {
	notaryKey, originKey := testKey(f, "n1"), testKey(f, "o1")
	obj, _ := signing.MakeServerKeys("origin.test", 1<<50, []*signing.SigningKey{originKey}, nil)
	unsignedObj := bytes.Replace(obj, []byte(`"signatures"`), []byte(`"unsigned_sigs"`), 1)
	f.Add(obj, false, []byte(`{}`))
	f.Add(unsignedObj, true, []byte(`null`))
	f.Add([]byte(`{"server_name":"other.test","valid_until_ts":1,"verify_keys":{}}`), true, obj)
	f.Add([]byte(`{"server_name":"origin.test","valid_until_ts":"1","verify_keys":{"ed25519:x":{"key":"!"}}}`), true, []byte(`1`))
	f.Add([]byte(`[]`), false, []byte(`"x"`))
	trusted := TrustedNotary{ServerName: "notary.test", Keys: map[signing.KeyID]ed25519PublicKey{notaryKey.ID: notaryKey.Public()}}
	f.Fuzz(func(t *testing.T, candidate []byte, selfSign bool, rawEntry []byte) {
		if len(candidate) > 4096 || len(rawEntry) > 4096 {
			return
		}
		var entries []json.RawMessage
		signed := candidate
		if selfSign {
			if s, err := signing.SignJSON(candidate, "origin.test", originKey, canonicaljson.Lenient); err == nil {
				signed = s
			}
		}
		notarized, notaryErr := signing.SignJSON(signed, "notary.test", notaryKey, canonicaljson.Lenient)
		if notaryErr == nil {
			entries = append(entries, notarized)
		}
		if json.Valid(rawEntry) {
			entries = append(entries, bytes.TrimSpace(rawEntry))
		}
		body, _ := json.Marshal(map[string][]json.RawMessage{"server_keys": entries})
		objs, errs := parseNotaryAnswer(body, trusted, "origin.test")
		if len(objs)+len(errs) != len(entries) {
			t.Fatalf("%d entries gave %d keys and %d errors", len(entries), len(objs), len(errs))
		}
		_, parseErr := signing.ParseServerKeysFor(notarized, "origin.test")
		wantAccepted := notaryErr == nil && parseErr == nil
		if len(objs) != map[bool]int{true: 1, false: 0}[wantAccepted] {
			t.Fatalf("accepted %d entries, want the notarized one only when it is valid keys of origin.test (%v)", len(objs), parseErr)
		}
		for _, o := range objs {
			if !bytes.Equal(o.Raw, notarized) {
				t.Fatalf("accepted an entry the notary did not sign: %s", o.Raw)
			}
			if o.ServerName != "origin.test" {
				t.Fatalf("accepted keys of %q", o.ServerName)
			}
			if err := signing.VerifyJSON(o.Raw, "notary.test", trusted.Keys, canonicaljson.Lenient); err != nil {
				t.Fatalf("accepted without the notary's signature: %v", err)
			}
			if err := signing.VerifyJSON(o.Raw, "origin.test", o.VerifyKeys, canonicaljson.Lenient); err != nil {
				t.Fatalf("accepted without the server's own signature: %v", err)
			}
			again, err := signing.ParseServerKeysFor(o.Raw, "origin.test")
			if err != nil || again.ValidUntilTS != o.ValidUntilTS || len(again.VerifyKeys) != len(o.VerifyKeys) || len(again.OldVerifyKeys) != len(o.OldVerifyKeys) {
				t.Fatalf("accepted keys do not parse back the same: %v", err)
			}
			for id, k := range o.VerifyKeys {
				if !bytes.Equal(again.VerifyKeys[id], k) {
					t.Fatalf("key %s parses back differently", id)
				}
			}
		}
		// The same entries outside a server_keys object: nothing.
		if objs, _ := parseNotaryAnswer(append([]byte("["), append(body, ']')...), trusted, "origin.test"); len(objs) != 0 {
			t.Fatal("an answer that is not an object was accepted")
		}
	})
}
