package clientapi

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
)

// MemoryKeys is Keys and CrossSigning in memory, for tests and examples. It knows only
// local users, and every user shares a room with every other (KeyChanges
// reports every change; its tokens are the positions Changes returns).
type MemoryKeys struct {
	mu       sync.Mutex
	devices  map[string]map[string]json.RawMessage            // user -> device -> keys
	otks     map[string]map[string]map[string]json.RawMessage // user -> device -> key ID -> key
	fallback map[string]map[string]map[string]json.RawMessage
	changes  []string                              // user IDs, in order of change; a token is an index
	signing  map[string]map[string]json.RawMessage // user -> usage -> cross-signing key
	sigs     []memSignature
}

// memSignature is a signature by Signer.
type memSignature struct {
	Signer string
	KeySignature
}

// Position is the current position of the change log, the token
// KeyChanges reads.
func (m *MemoryKeys) Position() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.changes)
}

// UploadKeys implements Keys.
func (m *MemoryKeys) UploadKeys(_ context.Context, who Identity, up KeysUpload) (map[string]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.devices == nil {
		m.devices, m.otks, m.fallback = map[string]map[string]json.RawMessage{}, map[string]map[string]map[string]json.RawMessage{}, map[string]map[string]map[string]json.RawMessage{}
	}
	if up.DeviceKeys != nil {
		if m.devices[who.UserID] == nil {
			m.devices[who.UserID] = map[string]json.RawMessage{}
		}
		m.devices[who.UserID][who.DeviceID] = up.DeviceKeys
		m.changes = append(m.changes, who.UserID)
	}
	put := func(store map[string]map[string]map[string]json.RawMessage, keys map[string]json.RawMessage) {
		if len(keys) == 0 {
			return
		}
		if store[who.UserID] == nil {
			store[who.UserID] = map[string]map[string]json.RawMessage{}
		}
		if store[who.UserID][who.DeviceID] == nil {
			store[who.UserID][who.DeviceID] = map[string]json.RawMessage{}
		}
		for id, k := range keys {
			store[who.UserID][who.DeviceID][id] = k
		}
	}
	put(m.otks, up.OneTimeKeys)
	if len(up.FallbackKeys) > 0 {
		m.fallback[who.UserID] = map[string]map[string]json.RawMessage{}
		put(m.fallback, up.FallbackKeys)
	}
	counts := map[string]int{"signed_curve25519": 0}
	for id := range m.otks[who.UserID][who.DeviceID] {
		alg, _, _ := strings.Cut(id, ":")
		counts[alg]++
	}
	return counts, nil
}

// QueryKeys implements Keys.
func (m *MemoryKeys) QueryKeys(_ context.Context, who Identity, users map[string][]string) (*KeysQueryResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &KeysQueryResponse{DeviceKeys: map[string]map[string]json.RawMessage{}}
	for u, devs := range users {
		out.DeviceKeys[u] = map[string]json.RawMessage{}
		for d, k := range m.devices[u] {
			if len(devs) == 0 || slices.Contains(devs, d) {
				k, err := m.signed(who.UserID, u, d, k)
				if err != nil {
					return nil, err
				}
				out.DeviceKeys[u][d] = k
			}
		}
		for usage, k := range m.signing[u] {
			ck, err := ParseCrossSigningKey(k)
			if err != nil {
				return nil, err
			}
			if k, err = m.signed(who.UserID, u, ck.PublicKey, k); err != nil {
				return nil, err
			}
			switch {
			case usage == UsageMaster:
				out.MasterKeys = setKey(out.MasterKeys, u, k)
			case usage == UsageSelfSigning:
				out.SelfSigningKeys = setKey(out.SelfSigningKeys, u, k)
			case usage == UsageUserSigning && u == who.UserID:
				out.UserSigningKeys = setKey(out.UserSigningKeys, u, k)
			}
		}
	}
	return out, nil
}

func setKey(m map[string]json.RawMessage, u string, k json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	m[u] = k
	return m
}

// signed adds to key keyID of user the signatures viewer may see: the
// owner's and the viewer's.
func (m *MemoryKeys) signed(viewer, user, keyID string, key json.RawMessage) (json.RawMessage, error) {
	by := map[string]map[string]string{}
	for _, s := range m.sigs {
		if s.UserID == user && s.KeyID == keyID && (s.Signer == user || s.Signer == viewer) {
			if by[s.Signer] == nil {
				by[s.Signer] = map[string]string{}
			}
			by[s.Signer][s.SignerKeyID] = s.Signature
		}
	}
	for signer, sigs := range by {
		var err error
		if key, err = MergeSignatures(key, signer, sigs); err != nil {
			return nil, err
		}
	}
	return key, nil
}

// UploadSigningKeys implements CrossSigning.
func (m *MemoryKeys) UploadSigningKeys(_ context.Context, who Identity, keys map[string]json.RawMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.signing == nil {
		m.signing = map[string]map[string]json.RawMessage{}
	}
	if m.signing[who.UserID] == nil {
		m.signing[who.UserID] = map[string]json.RawMessage{}
	}
	for usage, k := range keys {
		m.signing[who.UserID][usage] = k
	}
	m.changes = append(m.changes, who.UserID)
	return nil
}

// AddSignatures implements CrossSigning. A signature replaces an earlier
// one by the same key of the same key.
func (m *MemoryKeys) AddSignatures(_ context.Context, who Identity, sigs []KeySignature) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range sigs {
		m.sigs = slices.DeleteFunc(m.sigs, func(o memSignature) bool {
			return o.Signer == who.UserID && o.UserID == s.UserID && o.KeyID == s.KeyID && o.SignerKeyID == s.SignerKeyID
		})
		m.sigs = append(m.sigs, memSignature{Signer: who.UserID, KeySignature: s})
		m.changes = append(m.changes, s.UserID)
	}
	return nil
}

// ClaimKeys implements Keys: the one-time key of the lowest ID, else the
// fallback key (kept).
func (m *MemoryKeys) ClaimKeys(_ context.Context, _ Identity, claim map[string]map[string]string) (*KeysClaimResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &KeysClaimResponse{OneTimeKeys: map[string]map[string]map[string]json.RawMessage{}}
	for u, devs := range claim {
		for d, alg := range devs {
			if id, k, ok := takeKey(m.otks[u][d], alg, true); ok {
				setClaim(out, u, d, id, k)
			} else if id, k, ok := takeKey(m.fallback[u][d], alg, false); ok {
				setClaim(out, u, d, id, k)
			}
		}
	}
	return out, nil
}

func takeKey(keys map[string]json.RawMessage, alg string, remove bool) (string, json.RawMessage, bool) {
	var ids []string
	for id := range keys {
		if strings.HasPrefix(id, alg+":") {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", nil, false
	}
	sort.Strings(ids)
	k := keys[ids[0]]
	if remove {
		delete(keys, ids[0])
	}
	return ids[0], k, true
}

func setClaim(out *KeysClaimResponse, u, d, id string, k json.RawMessage) {
	if out.OneTimeKeys[u] == nil {
		out.OneTimeKeys[u] = map[string]map[string]json.RawMessage{}
	}
	out.OneTimeKeys[u][d] = map[string]json.RawMessage{id: k}
}

// KeyChanges implements Keys with integer tokens (positions).
func (m *MemoryKeys) KeyChanges(_ context.Context, _ Identity, from, to string) ([]string, []string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, t := atoiOr(from, -1), atoiOr(to, -1)
	if f < 0 || t < f {
		return nil, nil, InvalidParam("from and to must be positions, from before to")
	}
	t = min(t, len(m.changes))
	seen := map[string]bool{}
	var changed []string
	for _, u := range m.changes[min(f, t):t] {
		if !seen[u] {
			seen[u] = true
			changed = append(changed, u)
		}
	}
	return changed, nil, nil
}

func atoiOr(s string, def int) int {
	n := 0
	if s == "" {
		return def
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// MemoryToDevice is ToDevice in memory: a queue per device that Take
// empties (a sync backend delivers what it takes).
type MemoryToDevice struct {
	mu    sync.Mutex
	queue map[[2]string][]json.RawMessage
	// Devices lists a user's devices, for messages to "*"; nil: such
	// messages are dropped.
	Devices func(userID string) []string
}

// SendToDevice implements ToDevice.
func (m *MemoryToDevice) SendToDevice(_ context.Context, who Identity, eventType string, messages map[string]map[string]json.RawMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.queue == nil {
		m.queue = map[[2]string][]json.RawMessage{}
	}
	for u, devs := range messages {
		for d, content := range devs {
			targets := []string{d}
			if d == "*" {
				targets = nil
				if m.Devices != nil {
					targets = m.Devices(u)
				}
			}
			ev, _ := json.Marshal(map[string]any{"type": eventType, "sender": who.UserID, "content": content})
			for _, t := range targets {
				k := [2]string{u, t}
				m.queue[k] = append(m.queue[k], ev)
			}
		}
	}
	return nil
}

// Take returns and forgets the messages queued for a device.
func (m *MemoryToDevice) Take(userID, deviceID string) []json.RawMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{userID, deviceID}
	out := m.queue[k]
	delete(m.queue, k)
	return out
}
