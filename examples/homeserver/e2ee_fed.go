package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/examples/homeserver/e2ee"
	"github.com/mxkit/mxkit/federation"
)

// End-to-end encryption across servers (content/server-server-api.md,
// "End-to-End Encryption", "Device Management", "Send-to-device
// messaging"): key queries and claims for other servers' users go to their
// server; to-device messages to them go as m.direct_to_device EDUs; a
// local user's new device keys are announced with m.device_list_update to
// the servers sharing a room with them; and the same are answered and
// taken from other servers.

// e2eeRemote implements e2ee.Remote over federation.
type e2eeRemote struct{ f *fedParts }

var _ e2ee.Remote = e2eeRemote{}

func (r e2eeRemote) QueryKeys(ctx context.Context, server string, users map[string][]string) (*clientapi.KeysQueryResponse, error) {
	resp, err := r.f.client.QueryKeys(ctx, server, users)
	if err != nil {
		return nil, err
	}
	return &clientapi.KeysQueryResponse{DeviceKeys: resp.DeviceKeys, MasterKeys: resp.MasterKeys, SelfSigningKeys: resp.SelfSigningKeys}, nil
}

func (r e2eeRemote) ClaimKeys(ctx context.Context, server string, claim map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	return r.f.client.ClaimKeys(ctx, server, claim)
}

func (r e2eeRemote) SendToDevice(ctx context.Context, server, sender, eventType string, messages map[string]map[string]json.RawMessage) {
	b, _ := json.Marshal(map[string]any{"sender": sender, "type": eventType, "message_id": randomString(16), "messages": messages})
	r.f.out.enqueueEDU(federation.EDU{Type: "m.direct_to_device", Content: b}, []string{server})
}

// sharingServers lists the other servers in the rooms userID is in.
func (r e2eeRemote) sharingServers(ctx context.Context, userID string) []string {
	rooms, err := r.f.hs.cli.JoinedRooms(ctx, clientIdentity(userID))
	if err != nil {
		return nil
	}
	var servers []string
	for _, room := range rooms {
		for _, s := range r.f.hs.rooms.serversIn(ctx, room, nil) {
			if s != r.f.hs.cfg.ServerName && !slices.Contains(servers, s) {
				servers = append(servers, s)
			}
		}
	}
	return servers
}

// SigningKeysChanged sends m.signing_key_update (content/server-server-api.md,
// "Cross-signing details") with the keys other servers may see.
func (r e2eeRemote) SigningKeysChanged(ctx context.Context, userID string, master, selfSigning json.RawMessage) {
	servers := r.sharingServers(ctx, userID)
	if len(servers) == 0 {
		return
	}
	content := map[string]any{"user_id": userID}
	if master != nil {
		content["master_key"] = master
	}
	if selfSigning != nil {
		content["self_signing_key"] = selfSigning
	}
	b, _ := json.Marshal(content)
	r.f.out.enqueueEDU(federation.EDU{Type: "m.signing_key_update", Content: b}, servers)
}

func (r e2eeRemote) KeysChanged(ctx context.Context, userID, deviceID string, keys json.RawMessage) {
	servers := r.sharingServers(ctx, userID)
	if len(servers) == 0 {
		return
	}
	b, _ := json.Marshal(map[string]any{"user_id": userID, "device_id": deviceID, "stream_id": randomStreamID(), "prev_id": []int64{},
		"keys": keys, "deleted": false})
	r.f.out.enqueueEDU(federation.EDU{Type: "m.device_list_update", Content: b}, servers)
}

// fedDevices implements federation.Devices for this server's users.
type fedDevices struct{ hs *Homeserver }

var _ federation.Devices = fedDevices{}

func (d fedDevices) UserDevices(ctx context.Context, userID string) (*federation.UserDevices, error) {
	if serverOf(userID) != d.hs.cfg.ServerName {
		return nil, fmt.Errorf("%w: not a user of this server", federation.ErrNotFound)
	}
	keys, err := d.hs.cli.e2ee.QueryLocal(ctx, map[string][]string{userID: nil})
	if err != nil {
		return nil, err
	}
	out := &federation.UserDevices{UserID: userID, StreamID: randomStreamID(), Devices: []json.RawMessage{},
		MasterKey: keys.MasterKeys[userID], SelfSigningKey: keys.SelfSigningKeys[userID]}
	for dev, k := range keys.DeviceKeys[userID] {
		b, _ := json.Marshal(map[string]any{"device_id": dev, "keys": k})
		out.Devices = append(out.Devices, b)
	}
	return out, nil
}

func (d fedDevices) QueryKeys(ctx context.Context, deviceKeys map[string][]string) (*federation.KeysQueryResponse, error) {
	keys, err := d.hs.cli.e2ee.QueryLocal(ctx, deviceKeys)
	if err != nil {
		return nil, err
	}
	return &federation.KeysQueryResponse{DeviceKeys: keys.DeviceKeys, MasterKeys: keys.MasterKeys, SelfSigningKeys: keys.SelfSigningKeys}, nil
}

func (d fedDevices) ClaimKeys(ctx context.Context, oneTimeKeys map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	local := map[string]map[string]string{}
	for u, devs := range oneTimeKeys {
		if serverOf(u) == d.hs.cfg.ServerName {
			local[u] = devs
		}
	}
	resp, err := d.hs.cli.e2ee.ClaimKeys(ctx, clientIdentity(""), local)
	if err != nil {
		return nil, err
	}
	return resp.OneTimeKeys, nil
}

// handleE2EEEDU takes m.direct_to_device and m.device_list_update EDUs of
// the origin's users.
func (e *edus) handleE2EEEDU(ctx context.Context, origin string, edu federation.EDU) error {
	store := e.hs.cli.e2ee
	switch edu.Type {
	case "m.direct_to_device":
		var m struct {
			Sender   string                                `json:"sender"`
			Type     string                                `json:"type"`
			Messages map[string]map[string]json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(edu.Content, &m); err != nil || serverOf(m.Sender) != origin || m.Type == "" {
			return fmt.Errorf("m.direct_to_device from %s: bad content or sender of another server", origin)
		}
		local := map[string]map[string]json.RawMessage{}
		for u, devs := range m.Messages {
			if serverOf(u) == e.hs.cfg.ServerName {
				local[u] = devs
			}
		}
		return store.Deliver(ctx, m.Sender, m.Type, local)
	case "m.device_list_update", "m.signing_key_update":
		var m struct {
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(edu.Content, &m); err != nil || serverOf(m.UserID) != origin {
			return fmt.Errorf("%s from %s: bad content or user of another server", edu.Type, origin)
		}
		return store.RemoteKeysChanged(ctx, m.UserID)
	}
	return nil
}

func clientIdentity(userID string) clientapi.Identity { return clientapi.Identity{UserID: userID} }

// randomStreamID is a stream_id of device list updates: this server keeps
// no per-user device stream, and receivers use the update as a hint to
// query again (the reference server falls back to a resync too).
func randomStreamID() int64 { return time.Now().UnixMilli() }
