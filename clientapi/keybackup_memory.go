package clientapi

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
)

// MemoryKeyBackup is KeyBackup in memory, for tests and examples.
// Versions are numbered per user from 1; the etag counts the changes of a
// version's keys.
type MemoryKeyBackup struct {
	mu    sync.Mutex
	users map[string]*memBackups
}

type memBackups struct {
	versions []*memBackup // in order of creation, deleted ones kept
}

type memBackup struct {
	version, algorithm string
	authData           json.RawMessage
	deleted            bool
	etag               int
	keys               map[string]map[string]json.RawMessage
}

func (m *MemoryKeyBackup) user(userID string) *memBackups {
	if m.users == nil {
		m.users = map[string]*memBackups{}
	}
	u := m.users[userID]
	if u == nil {
		u = &memBackups{}
		m.users[userID] = u
	}
	return u
}

// find returns a live version ("": the current one).
func (u *memBackups) find(version string) (*memBackup, error) {
	for i := len(u.versions) - 1; i >= 0; i-- {
		v := u.versions[i]
		if !v.deleted && (version == "" || v.version == version) {
			return v, nil
		}
	}
	if version == "" {
		return nil, NotFound("no current backup version")
	}
	return nil, NotFound("unknown backup version")
}

func (v *memBackup) count() int {
	n := 0
	for _, ss := range v.keys {
		n += len(ss)
	}
	return n
}

// CreateBackup implements KeyBackup.
func (m *MemoryKeyBackup) CreateBackup(_ context.Context, userID, algorithm string, authData json.RawMessage) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(userID)
	v := &memBackup{version: strconv.Itoa(len(u.versions) + 1), algorithm: algorithm, authData: authData,
		keys: map[string]map[string]json.RawMessage{}}
	u.versions = append(u.versions, v)
	return v.version, nil
}

// Backup implements KeyBackup.
func (m *MemoryKeyBackup) Backup(_ context.Context, userID, version string) (*BackupVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.user(userID).find(version)
	if err != nil {
		return nil, err
	}
	return &BackupVersion{Algorithm: v.algorithm, AuthData: v.authData, Count: v.count(), Etag: strconv.Itoa(v.etag), Version: v.version}, nil
}

// UpdateBackup implements KeyBackup.
func (m *MemoryKeyBackup) UpdateBackup(_ context.Context, userID, version string, authData json.RawMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.user(userID).find(version)
	if err == nil {
		v.authData = authData
	}
	return err
}

// DeleteBackup implements KeyBackup.
func (m *MemoryKeyBackup) DeleteBackup(_ context.Context, userID, version string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.user(userID).versions {
		if v.version == version {
			v.deleted, v.keys = true, nil
			return nil
		}
	}
	return NotFound("unknown backup version")
}

// RoomKeys implements KeyBackup.
func (m *MemoryKeyBackup) RoomKeys(_ context.Context, userID, version, roomID, sessionID string) (map[string]map[string]json.RawMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.user(userID).find(version)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]json.RawMessage{}
	for r, ss := range v.keys {
		if roomID != "" && r != roomID {
			continue
		}
		for s, k := range ss {
			if sessionID != "" && s != sessionID {
				continue
			}
			if out[r] == nil {
				out[r] = map[string]json.RawMessage{}
			}
			out[r][s] = k
		}
	}
	return out, nil
}

// PutRoomKeys implements KeyBackup.
func (m *MemoryKeyBackup) PutRoomKeys(_ context.Context, userID, version string, keys map[string]map[string]json.RawMessage) (string, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.user(userID).find("")
	if err != nil {
		return "", 0, err
	}
	if v.version != version {
		return "", 0, WrongRoomKeysVersion(v.version)
	}
	changed := false
	for r, ss := range keys {
		for s, k := range ss {
			if old, ok := v.keys[r][s]; ok && !BetterSessionKey(old, k) {
				continue
			}
			if v.keys[r] == nil {
				v.keys[r] = map[string]json.RawMessage{}
			}
			v.keys[r][s] = k
			changed = true
		}
	}
	if changed {
		v.etag++
	}
	return strconv.Itoa(v.etag), v.count(), nil
}

// DeleteRoomKeys implements KeyBackup.
func (m *MemoryKeyBackup) DeleteRoomKeys(_ context.Context, userID, version, roomID, sessionID string) (string, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.user(userID).find(version)
	if err != nil {
		return "", 0, err
	}
	changed := false
	for r, ss := range v.keys {
		if roomID != "" && r != roomID {
			continue
		}
		for s := range ss {
			if sessionID == "" || s == sessionID {
				delete(ss, s)
				changed = true
			}
		}
		if len(ss) == 0 {
			delete(v.keys, r)
		}
	}
	if changed {
		v.etag++
	}
	return strconv.Itoa(v.etag), v.count(), nil
}
