package clientapi

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mxkit/mxkit/base64"
)

// Keys stores the end-to-end encryption keys of devices
// (content/client-server-api/modules/end_to_end_encryption.md, "Key
// management API"): device keys, one-time keys and fallback keys, queried
// and claimed by other users. Optional: without it keys/upload answers as
// a server that stores nothing, and keys/query, keys/claim and keys/changes
// answer empty.
type Keys interface {
	// UploadKeys stores the keys of who's device and returns the counts
	// of its unclaimed one-time keys by algorithm.
	UploadKeys(ctx context.Context, who Identity, up KeysUpload) (map[string]int, error)
	// QueryKeys returns the device keys of the users' devices (all of a
	// user's devices for an empty list).
	QueryKeys(ctx context.Context, who Identity, users map[string][]string) (*KeysQueryResponse, error)
	// ClaimKeys claims one one-time key (or, when none is left, the
	// fallback key) of each device for the algorithm asked.
	ClaimKeys(ctx context.Context, who Identity, claim map[string]map[string]string) (*KeysClaimResponse, error)
	// KeyChanges lists the users whose device keys changed between two
	// sync tokens, and those who no longer share a room with who.
	KeyChanges(ctx context.Context, who Identity, from, to string) (changed, left []string, err error)
}

// KeysUpload is the body of POST /keys/upload, checked: the device keys
// (nil when not sent) belong to the requesting device.
type KeysUpload struct {
	DeviceKeys   json.RawMessage
	OneTimeKeys  map[string]json.RawMessage
	FallbackKeys map[string]json.RawMessage
}

// KeysQueryResponse is the answer of POST /keys/query.
type KeysQueryResponse struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	Failures        map[string]any                        `json:"failures"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys,omitempty"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys,omitempty"`
	UserSigningKeys map[string]json.RawMessage            `json:"user_signing_keys,omitempty"`
}

// KeysClaimResponse is the answer of POST /keys/claim.
type KeysClaimResponse struct {
	OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
	Failures    map[string]any                                   `json:"failures"`
}

// ToDevice delivers send-to-device messages
// (content/client-server-api/modules/send_to_device.md). Optional: without
// it PUT /sendToDevice answers 404 M_UNRECOGNIZED. The backend delivers
// them in /sync (to_device) until the next sync acknowledges them.
type ToDevice interface {
	// SendToDevice queues messages[user][device] (device "*" for all of
	// the user's devices) of type eventType from who.
	SendToDevice(ctx context.Context, who Identity, eventType string, messages map[string]map[string]json.RawMessage) error
}

// MaxToDeviceMessages bounds one sendToDevice request (each message is
// stored for a device until delivered).
const MaxToDeviceMessages = 10000

func (c *call) keysUpload() (any, error) {
	var b struct {
		DeviceKeys   json.RawMessage            `json:"device_keys"`
		OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
		FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
	}
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	if len(b.DeviceKeys) > 0 && string(b.DeviceKeys) != "null" {
		// Members are read by their exact names: encoding/json would take
		// "USER_ID" for user_id, and the check would not be of the
		// object stored.
		var dk struct {
			UserID, DeviceID string
			Algorithms       []string
			Keys, Signatures json.RawMessage
		}
		if !fields(b.DeviceKeys, map[string]any{"user_id": &dk.UserID, "device_id": &dk.DeviceID, "algorithms": &dk.Algorithms,
			"keys": &dk.Keys, "signatures": &dk.Signatures}) || !isObject(dk.Keys) || !isObject(dk.Signatures) {
			return nil, BadJSON("device_keys must have user_id, device_id, algorithms, keys and signatures")
		}
		// The reference server refuses keys of another user or device.
		if dk.UserID != c.who.UserID || dk.DeviceID != c.who.DeviceID {
			return nil, InvalidParam("device_keys are not for the device making the request")
		}
		if err := checkDeviceSelfSigned(b.DeviceKeys, dk.UserID, dk.DeviceID); err != nil {
			return nil, err
		}
	} else {
		b.DeviceKeys = nil
	}
	for _, m := range []map[string]json.RawMessage{b.OneTimeKeys, b.FallbackKeys} {
		for id := range m {
			if alg, keyID, ok := strings.Cut(id, ":"); !ok || alg == "" || keyID == "" {
				return nil, InvalidParam("key IDs are <algorithm>:<key id>, got " + quote(id))
			}
		}
	}
	if c.s.Keys == nil {
		counts := map[string]int{"signed_curve25519": 0}
		for id := range b.OneTimeKeys {
			alg, _, _ := strings.Cut(id, ":")
			counts[alg]++
		}
		return map[string]any{"one_time_key_counts": counts}, nil
	}
	counts, err := c.s.Keys.UploadKeys(c.ctx, c.who, KeysUpload{DeviceKeys: b.DeviceKeys, OneTimeKeys: b.OneTimeKeys, FallbackKeys: b.FallbackKeys})
	if err != nil {
		return nil, err
	}
	if counts == nil {
		counts = map[string]int{}
	}
	return map[string]any{"one_time_key_counts": counts}, nil
}

func (c *call) keysQuery() (any, error) {
	var b struct {
		DeviceKeys map[string][]string `json:"device_keys"`
		Timeout    *int                `json:"timeout"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	for u := range b.DeviceKeys {
		if err := ValidUserID(u, false); err != nil {
			return nil, InvalidParam("device_keys: " + quote(u) + " is not a user ID")
		}
	}
	if c.s.Keys == nil {
		dk := map[string]map[string]json.RawMessage{}
		for u := range b.DeviceKeys {
			dk[u] = map[string]json.RawMessage{}
		}
		return &KeysQueryResponse{DeviceKeys: dk, Failures: map[string]any{}}, nil
	}
	resp, err := c.s.Keys.QueryKeys(c.ctx, c.who, b.DeviceKeys)
	if err != nil {
		return nil, err
	}
	if resp.Failures == nil {
		resp.Failures = map[string]any{}
	}
	return resp, nil
}

func (c *call) keysClaim() (any, error) {
	if err := need(c.s.Keys != nil); err != nil {
		return nil, err
	}
	var b struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
		Timeout     *int                         `json:"timeout"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.OneTimeKeys == nil {
		return nil, MissingParam("one_time_keys is required")
	}
	resp, err := c.s.Keys.ClaimKeys(c.ctx, c.who, b.OneTimeKeys)
	if err != nil {
		return nil, err
	}
	if resp.Failures == nil {
		resp.Failures = map[string]any{}
	}
	if resp.OneTimeKeys == nil {
		resp.OneTimeKeys = map[string]map[string]map[string]json.RawMessage{}
	}
	return resp, nil
}

func (c *call) keysChanges() (any, error) {
	q := c.r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	if from == "" || to == "" {
		return nil, MissingParam("from and to are required")
	}
	out := map[string][]string{"changed": {}, "left": {}}
	if c.s.Keys == nil {
		return out, nil
	}
	changed, left, err := c.s.Keys.KeyChanges(c.ctx, c.who, from, to)
	if err != nil {
		return nil, err
	}
	if changed != nil {
		out["changed"] = changed
	}
	if left != nil {
		out["left"] = left
	}
	return out, nil
}

func (c *call) sendToDevice() (any, error) {
	if err := need(c.s.ToDevice != nil); err != nil {
		return nil, err
	}
	typ, err := c.eventTypeParam("eventType")
	if err != nil {
		return nil, err
	}
	txnID := c.r.PathValue("txnId")
	var b struct {
		Messages map[string]map[string]json.RawMessage `json:"messages"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.Messages == nil {
		return nil, MissingParam("messages is required")
	}
	n := 0
	for u, devs := range b.Messages {
		if err := ValidUserID(u, false); err != nil {
			return nil, InvalidParam("messages: " + quote(u) + " is not a user ID")
		}
		for d, m := range devs {
			n++
			if !isObject(m) {
				return nil, BadJSON("messages." + u + "." + d + " must be an object")
			}
		}
	}
	if n > MaxToDeviceMessages {
		return nil, NewError(http.StatusBadRequest, CodeTooLarge, "too many messages in one request")
	}
	// Transaction IDs are per device and endpoint: a retry sends nothing.
	key := TxnKey{UserID: c.who.UserID, DeviceID: c.who.DeviceID, Endpoint: "sendToDevice/" + typ, TxnID: txnID}
	unlock := txnLocks.lock(key)
	defer unlock()
	if prev, ok, err := c.s.txns.Get(c.ctx, key); err != nil {
		return nil, err
	} else if ok {
		return rawResponse(prev), nil
	}
	if err := c.s.ToDevice.SendToDevice(c.ctx, c.who, typ, b.Messages); err != nil {
		return nil, err
	}
	if err := c.s.txns.Put(c.ctx, key, []byte(`{}`)); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// checkDeviceSelfSigned checks that device keys carry the device's
// ed25519 key and are signed by it ("Uploading keys": the object "must
// include the public part of the device's Ed25519 key, and must be signed
// by that key"). The spec names no error code; a missing key is
// M_INVALID_PARAM and a missing or wrong signature M_INVALID_SIGNATURE, the
// code of the other signature checks of the module.
func checkDeviceSelfSigned(raw json.RawMessage, userID, deviceID string) error {
	var keys map[string]json.RawMessage
	if !fields(raw, map[string]any{"keys": &keys}) {
		return BadJSON("device_keys.keys must be an object")
	}
	keyID := "ed25519:" + deviceID
	var pubText string
	if err := json.Unmarshal(keys[keyID], &pubText); err != nil {
		return InvalidParam("device_keys must include the device's key " + keyID)
	}
	pub, err := base64.DecodeString(pubText)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return InvalidParam("the device's key " + keyID + " is not an ed25519 public key in unpadded base64")
	}
	if err := verifySignedBy(raw, userID, keyID, pub); err != nil {
		return invalidSignature("device_keys must be signed by the device's key " + keyID)
	}
	return nil
}
