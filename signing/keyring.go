package signing

import (
	"context"
	"crypto/ed25519"
	"sync"
	"time"
)

// KeyRequest asks a KeyRing for one key of one server.
type KeyRequest struct {
	ServerName string
	KeyID      KeyID
	// MinimumValidUntilTS is the time (ms since the epoch) the key must
	// be valid until for the caller's purpose, usually the event's
	// origin_server_ts (0 when validity does not matter). A key ring that
	// fetches keys passes it on as minimum_valid_until_ts to notaries, and
	// may refetch a key whose known validity ends earlier. The caller
	// still checks validity itself, with ValidAt.
	MinimumValidUntilTS int64
}

// ServerKeyID names one key of one server.
type ServerKeyID struct {
	ServerName string
	KeyID      KeyID
}

// PublicKey is a verify key with what is known of its validity.
type PublicKey struct {
	Key ed25519.PublicKey
	// ValidUntilTS is the valid_until_ts of the server keys object the
	// key came from (ms since the epoch).
	ValidUntilTS int64
	// ExpiredTS is 0 for a current key, and the expired_ts of an old key
	// (one listed in old_verify_keys).
	ExpiredTS int64
}

// KeyRing gives public keys of servers. It is the seam through which the
// event package finds the keys to check signatures with; an embedder
// implements it over its own cache, database and federation client, and
// MemoryKeyRing is the in-memory implementation.
type KeyRing interface {
	// PublicKeys returns the keys it knows for the requests, in one batch;
	// a key it does not know is simply absent from the map. An error means
	// the ring could not answer at all (not that a key is unknown).
	PublicKeys(ctx context.Context, reqs []KeyRequest) (map[ServerKeyID]PublicKey, error)
}

// MaxKeyValidity is how far into the future a key's validity is trusted,
// whatever valid_until_ts says ("Servers MUST use the lesser of
// valid_until_ts and 7 days into the future", content/server-server-api.md
// and content/rooms/fragments/v5-signing-requirements.md).
const MaxKeyValidity = 7 * 24 * time.Hour

// ValidAt reports whether key may be used to check the signature of an
// event whose origin_server_ts is eventTS, at time now, under the rule of
// room versions 5 and later ("Signing key validity period",
// content/rooms/fragments/v5-signing-requirements.md): the key's validity
// must reach at least eventTS, its validity being valid_until_ts capped at
// now + 7 days. For an old key (ExpiredTS != 0) the validity is its
// expired_ts, capped the same way: the specification ignores keys "known
// to have expired prior to the event's origin_server_ts"
// (content/server-server-api.md, "Validating hashes and signatures on
// received events"), so a key that expired at the very millisecond of the
// event is still valid, as the reference server also decides (it stores
// expired_ts as the old key's valid_until_ts and compares with >=).
//
// Room versions 1 to 4 ignore validity; the caller asks only when the
// room version's Signing.EnforceKeyValidity is set.
func ValidAt(key PublicKey, eventTS int64, now time.Time) bool {
	until := key.ValidUntilTS
	if key.ExpiredTS != 0 {
		until = key.ExpiredTS
	}
	if limit := now.Add(MaxKeyValidity).UnixMilli(); until > limit {
		until = limit
	}
	return eventTS <= until
}

// MemoryKeyRing is a KeyRing that holds keys in memory. The zero value is
// empty and ready to use; it is safe for concurrent use.
type MemoryKeyRing struct {
	mu   sync.RWMutex
	keys map[ServerKeyID]PublicKey
}

// NewMemoryKeyRing returns an empty MemoryKeyRing.
func NewMemoryKeyRing() *MemoryKeyRing { return &MemoryKeyRing{} }

// Add stores key as the key id of serverName, replacing any key stored
// under that name. The key bytes are copied.
func (r *MemoryKeyRing) Add(serverName string, id KeyID, key PublicKey) {
	key.Key = append(ed25519.PublicKey(nil), key.Key...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = map[ServerKeyID]PublicKey{}
	}
	r.keys[ServerKeyID{serverName, id}] = key
}

// AddServerKeys stores every key of a parsed server keys object: the
// verify keys valid until its valid_until_ts, the old keys with their
// expired_ts.
func (r *MemoryKeyRing) AddServerKeys(k *ServerKeys) {
	for id, pub := range k.VerifyKeys {
		r.Add(k.ServerName, id, PublicKey{Key: pub, ValidUntilTS: k.ValidUntilTS})
	}
	for id, old := range k.OldVerifyKeys {
		r.Add(k.ServerName, id, PublicKey{Key: old.Key, ValidUntilTS: old.ExpiredTS, ExpiredTS: old.ExpiredTS})
	}
}

// PublicKeys returns the stored keys among those requested. It does not
// filter by MinimumValidUntilTS: the caller judges validity with ValidAt.
func (r *MemoryKeyRing) PublicKeys(ctx context.Context, reqs []KeyRequest) (map[ServerKeyID]PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[ServerKeyID]PublicKey, len(reqs))
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, q := range reqs {
		id := ServerKeyID{q.ServerName, q.KeyID}
		if k, ok := r.keys[id]; ok {
			out[id] = k
		}
	}
	return out, nil
}
