package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/mxkit/mxkit/internal/mxerr"
)

// Devices answers device list and end-to-end key requests ("Device
// Management", "End-to-End Encryption", content/server-server-api.md). The
// server only asks about users of its own server name.
type Devices interface {
	// UserDevices returns a local user's devices; an error wrapping
	// ErrNotFound answers 404 M_NOT_FOUND.
	UserDevices(ctx context.Context, userID string) (*UserDevices, error)
	// QueryKeys returns the device keys of local users (user ID to device
	// IDs; no device IDs: all of them).
	QueryKeys(ctx context.Context, deviceKeys map[string][]string) (*KeysQueryResponse, error)
	// ClaimKeys claims one-time keys (user ID to device ID to algorithm)
	// and returns user ID to device ID to key ID to key.
	ClaimKeys(ctx context.Context, oneTimeKeys map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error)
}

// MemoryDevices is Devices in memory: the device lists and device keys by
// user, and one-time keys that are handed out once each.
type MemoryDevices struct {
	mu sync.Mutex
	// Lists are the answers of UserDevices by user ID.
	Lists map[string]UserDevices
	// Keys are device keys: user ID -> device ID -> DeviceKeys object.
	Keys map[string]map[string]json.RawMessage
	// OneTime are one-time keys: user ID -> device ID -> "alg:id" -> key.
	OneTime map[string]map[string]map[string]json.RawMessage
}

// UserDevices implements Devices.
func (m *MemoryDevices) UserDevices(ctx context.Context, userID string) (*UserDevices, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.Lists[userID]
	if !ok {
		return nil, notFoundErr("user " + userID + " not found")
	}
	return &d, nil
}

// QueryKeys implements Devices.
func (m *MemoryDevices) QueryKeys(ctx context.Context, q map[string][]string) (*KeysQueryResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &KeysQueryResponse{DeviceKeys: map[string]map[string]json.RawMessage{}}
	for user, devices := range q {
		all := m.Keys[user]
		got := map[string]json.RawMessage{}
		for id, k := range all {
			if len(devices) == 0 || contains(devices, id) {
				got[id] = k
			}
		}
		out.DeviceKeys[user] = got
	}
	return out, nil
}

// ClaimKeys implements Devices: the first key of the algorithm is handed out
// and removed.
func (m *MemoryDevices) ClaimKeys(ctx context.Context, q map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]map[string]map[string]json.RawMessage{}
	for user, devs := range q {
		for dev, alg := range devs {
			for kid, k := range m.OneTime[user][dev] {
				if strings.HasPrefix(kid, alg+":") {
					if out[user] == nil {
						out[user] = map[string]map[string]json.RawMessage{}
					}
					out[user][dev] = map[string]json.RawMessage{kid: k}
					delete(m.OneTime[user][dev], kid)
					break
				}
			}
		}
	}
	return out, nil
}

func (s *Server) handleUserDevices(w http.ResponseWriter, r *http.Request) {
	if s.Devices == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	user := r.PathValue("userId")
	if !strings.HasPrefix(user, "@") || serverOf(user) == "" {
		fail(w, badRequest(mxerr.InvalidParam, "userId is not a user ID"))
		return
	}
	if serverOf(user) != s.ServerName {
		fail(w, forbidden("user "+user+" is not a user of this server"))
		return
	}
	d, err := s.Devices.UserDevices(r.Context(), user)
	if err != nil {
		fail(w, err)
		return
	}
	if d.Devices == nil {
		d.Devices = []json.RawMessage{}
	}
	respondJSON(w, http.StatusOK, d)
}

func (s *Server) handleKeysQuery(w http.ResponseWriter, r *http.Request) {
	if s.Devices == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	var req struct {
		DeviceKeys map[string][]string `json:"device_keys"`
	}
	if err := s.decodeBody(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.DeviceKeys == nil {
		fail(w, badRequest(mxerr.BadJSON, "device_keys is required"))
		return
	}
	for u := range req.DeviceKeys {
		if serverOf(u) != s.ServerName {
			delete(req.DeviceKeys, u) // only our users are answered for
		}
	}
	out, err := s.Devices.QueryKeys(r.Context(), req.DeviceKeys)
	if err != nil {
		fail(w, err)
		return
	}
	if out.DeviceKeys == nil {
		out.DeviceKeys = map[string]map[string]json.RawMessage{}
	}
	respondJSON(w, http.StatusOK, out)
}

func (s *Server) handleKeysClaim(w http.ResponseWriter, r *http.Request) {
	if s.Devices == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	var req struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	}
	if err := s.decodeBody(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.OneTimeKeys == nil {
		fail(w, badRequest(mxerr.BadJSON, "one_time_keys is required"))
		return
	}
	for u := range req.OneTimeKeys {
		if serverOf(u) != s.ServerName {
			delete(req.OneTimeKeys, u)
		}
	}
	out, err := s.Devices.ClaimKeys(r.Context(), req.OneTimeKeys)
	if err != nil {
		fail(w, err)
		return
	}
	if out == nil {
		out = map[string]map[string]map[string]json.RawMessage{}
	}
	respondJSON(w, http.StatusOK, map[string]any{"one_time_keys": out})
}
