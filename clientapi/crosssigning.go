package clientapi

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/signing"
)

// CrossSigning stores cross-signing keys and the signatures users upload
// (content/client-server-api/modules/end_to_end_encryption.md,
// "Cross-signing", and data/api/client-server/cross_signing.yaml).
// Optional: without it (or without Keys) keys/device_signing/upload and
// keys/signatures/upload answer 404 M_UNRECOGNIZED.
//
// The library checks every key and signature before a backend sees it,
// reading what is stored through Keys.QueryKeys, which must answer, for
// each user asked, the master and self-signing keys in master_keys and
// self_signing_keys, and the requesting user's own user-signing key in
// user_signing_keys (never another user's). The keys and device keys it
// answers carry the stored signatures made by their owner and those made
// by the requesting user, and no others: a signature of Bob's master key
// by Alice's user-signing key is seen by Alice alone (the dotted lines of
// the module's diagrams). MergeSignatures does that merge.
type CrossSigning interface {
	// UploadSigningKeys stores the user's new cross-signing keys by
	// usage ("master", "self_signing", "user_signing"), replacing those
	// of the same usage. A change is a device list change of the user:
	// users who share a room with them see them in device_lists.changed.
	UploadSigningKeys(ctx context.Context, who Identity, keys map[string]json.RawMessage) error
	// AddSignatures stores signatures made by who, checked. A signature
	// of the user's own keys is a device list change of the user; one of
	// another user's master key is a change seen by who alone.
	AddSignatures(ctx context.Context, who Identity, sigs []KeySignature) error
}

// KeySignature is one signature made by a user of a key: a device's keys
// (KeyID the device ID) or a cross-signing key (KeyID its public key).
type KeySignature struct {
	UserID      string // the owner of the signed key
	KeyID       string
	SignerKeyID string // the key of the signing user that signed, "ed25519:..."
	Signature   string
}

// Cross-signing key usages.
const (
	UsageMaster      = "master"
	UsageSelfSigning = "self_signing"
	UsageUserSigning = "user_signing"
)

// CodeInvalidSignature is the error of a key or signature that does not
// verify.
const CodeInvalidSignature = "M_INVALID_SIGNATURE"

func invalidSignature(msg string) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidSignature, msg)
}

func (s *Server) crossSigningRoutes(add addFunc) {
	L := legacyPrefixes
	add(L, "POST", "/keys/device_signing/upload", authRequired, (*call).uploadSigningKeys)
	add(L, "POST", "/keys/signatures/upload", authRequired, (*call).uploadSignatures)
}

// CrossSigningKey is a parsed and checked CrossSigningKey.
type CrossSigningKey struct {
	UserID string
	Usage  []string
	// KeyID is "ed25519:" and the public key, whose unpadded base64 is
	// PublicKey (the ID under which signatures/upload names the key).
	KeyID     string
	PublicKey string
	Key       ed25519.PublicKey
}

// ParseCrossSigningKey checks a CrossSigningKey: user_id and usage
// present, exactly one key, named "ed25519:<public key>" with the public
// key as value, a valid ed25519 key in unpadded base64. Errors are
// M_INVALID_PARAM (M_BAD_JSON when raw is not an object).
func ParseCrossSigningKey(raw json.RawMessage) (*CrossSigningKey, error) {
	var k struct {
		UserID string
		Usage  []string
		Keys   map[string]string
	}
	if !fields(raw, map[string]any{"user_id": &k.UserID, "usage": &k.Usage, "keys": &k.Keys}) {
		return nil, BadJSON("a cross-signing key must be an object with user_id, usage and keys")
	}
	if k.UserID == "" || len(k.Usage) == 0 {
		return nil, InvalidParam("a cross-signing key must have user_id and usage")
	}
	if len(k.Keys) != 1 {
		return nil, InvalidParam("a cross-signing key must have exactly one key")
	}
	out := &CrossSigningKey{UserID: k.UserID, Usage: k.Usage}
	for id, pub := range k.Keys {
		alg, name, _ := strings.Cut(id, ":")
		if alg != "ed25519" || name != pub {
			return nil, InvalidParam("a cross-signing key must be named ed25519:<public key>")
		}
		b, err := base64.DecodeString(pub)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, InvalidParam("a cross-signing key must be an ed25519 public key in unpadded base64")
		}
		out.KeyID, out.PublicKey, out.Key = id, pub, ed25519.PublicKey(b)
	}
	return out, nil
}

// verifySignedBy checks the signature of raw by signerKeyID of user
// (content/appendices.md, "Checking for a signature").
func verifySignedBy(raw json.RawMessage, user, signerKeyID string, pub ed25519.PublicKey) error {
	err := signing.VerifyJSON(raw, user, map[signing.KeyID]ed25519.PublicKey{signing.KeyID(signerKeyID): pub}, canonicaljson.Lenient)
	if err != nil {
		return invalidSignature("no valid signature by " + signerKeyID + ": " + err.Error())
	}
	return nil
}

// sameSignedContent reports whether two signed objects are the same but
// for their signatures and unsigned data: an uploaded signature must be
// of the object stored, and a key uploaded again with other signatures is
// no new key.
func sameSignedContent(a, b json.RawMessage) bool {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil || x == nil || y == nil {
		return false
	}
	for _, m := range []map[string]any{x, y} {
		delete(m, "signatures")
		delete(m, "unsigned")
	}
	return reflect.DeepEqual(x, y)
}

// uploadSigningKeys publishes cross-signing keys. It checks each key
// (ParseCrossSigningKey, the uploading user's, of its usage), that the
// self-signing and user-signing keys are signed by the master key sent or
// stored (M_INVALID_SIGNATURE), that a master key is there at all
// (M_MISSING_PARAM), and that no public key is one of the user's device
// IDs (403 M_FORBIDDEN). User-interactive authentication is asked only
// when the user has a master key already and the request brings a new
// key: the first upload goes through without, and so does the same keys
// sent again (the spec's rule since v1.11, which makes a retry
// idempotent).
func (c *call) uploadSigningKeys() (any, error) {
	var b struct {
		Master      json.RawMessage `json:"master_key"`
		SelfSigning json.RawMessage `json:"self_signing_key"`
		UserSigning json.RawMessage `json:"user_signing_key"`
		Auth        json.RawMessage `json:"auth"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if err := need(c.s.CrossSigning != nil && c.s.Keys != nil); err != nil {
		return nil, err
	}
	sent := map[string]json.RawMessage{}
	parsed := map[string]*CrossSigningKey{}
	for usage, raw := range map[string]json.RawMessage{UsageMaster: b.Master, UsageSelfSigning: b.SelfSigning, UsageUserSigning: b.UserSigning} {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		k, err := ParseCrossSigningKey(raw)
		if err != nil {
			return nil, err
		}
		if k.UserID != c.who.UserID {
			return nil, InvalidParam("the " + usage + " key is not the uploading user's")
		}
		if !slices.Contains(k.Usage, usage) {
			return nil, InvalidParam("the " + usage + " key does not have the usage " + usage)
		}
		sent[usage], parsed[usage] = raw, k
	}
	stored, err := c.s.Keys.QueryKeys(c.ctx, c.who, map[string][]string{c.who.UserID: nil})
	if err != nil {
		return nil, err
	}
	old := map[string]json.RawMessage{
		UsageMaster:      stored.MasterKeys[c.who.UserID],
		UsageSelfSigning: stored.SelfSigningKeys[c.who.UserID],
		UsageUserSigning: stored.UserSigningKeys[c.who.UserID],
	}
	master := parsed[UsageMaster]
	if master == nil && old[UsageMaster] != nil {
		if master, err = ParseCrossSigningKey(old[UsageMaster]); err != nil {
			return nil, err
		}
	}
	if master == nil {
		return nil, MissingParam("no master key: upload one")
	}
	for _, usage := range []string{UsageSelfSigning, UsageUserSigning} {
		if raw := sent[usage]; raw != nil {
			if err := verifySignedBy(raw, c.who.UserID, master.KeyID, master.Key); err != nil {
				return nil, invalidSignature("the " + usage + " key is not signed by the master key")
			}
		}
	}
	devices, err := c.deviceIDs(stored)
	if err != nil {
		return nil, err
	}
	fresh := map[string]json.RawMessage{}
	for usage, raw := range sent {
		if slices.Contains(devices, parsed[usage].PublicKey) {
			return nil, Forbidden("the public key of the " + usage + " key is one of your device IDs")
		}
		if old[usage] == nil || !sameSignedContent(old[usage], raw) {
			fresh[usage] = raw
		}
	}
	if len(fresh) == 0 {
		// No new key: nothing to store, no one to tell.
		return struct{}{}, nil
	}
	if old[UsageMaster] != nil {
		if err := c.userUIA("POST keys/device_signing/upload", b.Auth); err != nil {
			return nil, err
		}
	}
	return struct{}{}, c.s.CrossSigning.UploadSigningKeys(c.ctx, c.who, fresh)
}

// deviceIDs lists the user's devices: those with keys, and those the
// Devices backend knows.
func (c *call) deviceIDs(q *KeysQueryResponse) ([]string, error) {
	var ids []string
	for d := range q.DeviceKeys[c.who.UserID] {
		ids = append(ids, d)
	}
	if c.s.Devices != nil {
		ds, err := c.s.Devices.Devices(c.ctx, c.who)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			ids = append(ids, d.DeviceID)
		}
	}
	return ids, nil
}

// uploadSignatures publishes signatures: of the user's own devices by
// their self-signing key, of their own master key by their devices, and
// of other users' master keys by their user-signing key. Each signed
// object must be the stored one but for signatures and unsigned data.
// What fails is reported per key in "failures" (M_INVALID_SIGNATURE for
// a signature missing or wrong, M_NOT_FOUND for a key unknown,
// M_INVALID_PARAM for an object that is not the stored key); the rest is
// stored.
func (c *call) uploadSignatures() (any, error) {
	var body map[string]map[string]json.RawMessage
	if err := c.decode(&body, false); err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for u, objs := range body {
		if err := ValidUserID(u, false); err != nil {
			return nil, InvalidParam(quote(u) + " is not a user ID")
		}
		for id, o := range objs {
			if !isObject(o) {
				return nil, BadJSON("the signed object " + u + " " + id + " must be an object")
			}
		}
		users[u] = nil
	}
	if err := need(c.s.CrossSigning != nil && c.s.Keys != nil); err != nil {
		return nil, err
	}
	users[c.who.UserID] = nil
	stored, err := c.s.Keys.QueryKeys(c.ctx, c.who, users)
	if err != nil {
		return nil, err
	}
	failures := map[string]map[string]*Error{}
	var sigs []KeySignature
	for u, objs := range body {
		for id, obj := range objs {
			var got []KeySignature
			var err error
			if u == c.who.UserID {
				got, err = checkSelfSignature(c.who.UserID, id, obj, stored)
			} else {
				got, err = checkUserSignature(c.who.UserID, u, id, obj, stored)
			}
			if err != nil {
				e, ok := asError(err)
				if !ok {
					return nil, err
				}
				if failures[u] == nil {
					failures[u] = map[string]*Error{}
				}
				failures[u][id] = e
				continue
			}
			sigs = append(sigs, got...)
		}
	}
	if len(sigs) > 0 {
		if err := c.s.CrossSigning.AddSignatures(c.ctx, c.who, sigs); err != nil {
			return nil, err
		}
	}
	out := map[string]map[string]map[string]string{}
	for u, ids := range failures {
		out[u] = map[string]map[string]string{}
		for id, e := range ids {
			out[u][id] = map[string]string{"errcode": e.Code, "error": e.Message}
		}
	}
	return map[string]any{"failures": out}, nil
}

// signaturesBy returns the signatures of obj by user, key ID to
// signature.
func signaturesBy(obj json.RawMessage, user string) map[string]string {
	var o map[string]json.RawMessage
	var sigs map[string]json.RawMessage
	var mine map[string]string
	if json.Unmarshal(obj, &o) != nil || json.Unmarshal(o["signatures"], &sigs) != nil || json.Unmarshal(sigs[user], &mine) != nil {
		return nil
	}
	return mine
}

// fields decodes an object member by member: encoding/json matches
// struct fields without regard to case, and a key must be read by its
// exact name (a "User_ID" member is not "user_id").
func fields(raw json.RawMessage, into map[string]any) bool {
	var o map[string]json.RawMessage
	if json.Unmarshal(raw, &o) != nil || o == nil {
		return false
	}
	for name, dst := range into {
		if v, ok := o[name]; ok && json.Unmarshal(v, dst) != nil {
			return false
		}
	}
	return true
}

// checkSelfSignature checks signatures by user of their own key id: the
// master key signed by devices, or a device signed by the self-signing
// key. Signatures already stored are skipped.
func checkSelfSignature(user, id string, obj json.RawMessage, q *KeysQueryResponse) ([]KeySignature, error) {
	sent := signaturesBy(obj, user)
	if len(sent) == 0 {
		return nil, invalidSignature("no signature by " + user)
	}
	if raw := q.MasterKeys[user]; raw != nil {
		master, err := ParseCrossSigningKey(raw)
		if err != nil {
			return nil, err
		}
		if id == master.PublicKey {
			return checkMasterByDevices(user, master, raw, obj, sent, q.DeviceKeys[user])
		}
	}
	device, ok := q.DeviceKeys[user][id]
	if !ok {
		return nil, NotFound("unknown device or key " + quote(id))
	}
	if q.SelfSigningKeys[user] == nil {
		return nil, NotFound("no self-signing key")
	}
	ssk, err := ParseCrossSigningKey(q.SelfSigningKeys[user])
	if err != nil {
		return nil, err
	}
	sig, ok := sent[ssk.KeyID]
	if !ok {
		return nil, invalidSignature("no signature by the self-signing key")
	}
	if err := checkSigned(user, ssk.KeyID, ssk.Key, obj, device); err != nil {
		return nil, err
	}
	if signaturesBy(device, user)[ssk.KeyID] == sig {
		return nil, nil
	}
	return []KeySignature{{UserID: user, KeyID: id, SignerKeyID: ssk.KeyID, Signature: sig}}, nil
}

// checkMasterByDevices checks the signatures of the master key by the
// user's devices (the master key's own signature is skipped).
func checkMasterByDevices(user string, master *CrossSigningKey, stored, obj json.RawMessage, sent map[string]string, devices map[string]json.RawMessage) ([]KeySignature, error) {
	have := signaturesBy(stored, user)
	var out []KeySignature
	for keyID, sig := range sent {
		if keyID == master.KeyID || have[keyID] == sig {
			continue
		}
		alg, dev, _ := strings.Cut(keyID, ":")
		var keys map[string]string
		if alg != "ed25519" || !fields(devices[dev], map[string]any{"keys": &keys}) || keys[keyID] == "" {
			return nil, invalidSignature("signed by " + keyID + ", not a key of your devices")
		}
		pub, err := base64.DecodeString(keys[keyID])
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, invalidSignature("the key " + keyID + " is not an ed25519 key")
		}
		if err := checkSigned(user, keyID, pub, obj, stored); err != nil {
			return nil, err
		}
		out = append(out, KeySignature{UserID: user, KeyID: master.PublicKey, SignerKeyID: keyID, Signature: sig})
	}
	return out, nil
}

// checkUserSignature checks a signature by signer's user-signing key of
// target's master key, the only key of another user one may sign.
func checkUserSignature(signer, target, id string, obj json.RawMessage, q *KeysQueryResponse) ([]KeySignature, error) {
	if q.UserSigningKeys[signer] == nil {
		return nil, NotFound("no user-signing key")
	}
	usk, err := ParseCrossSigningKey(q.UserSigningKeys[signer])
	if err != nil {
		return nil, err
	}
	raw := q.MasterKeys[target]
	if raw == nil {
		return nil, NotFound("no master key of " + target)
	}
	master, err := ParseCrossSigningKey(raw)
	if err != nil {
		return nil, err
	}
	if id != master.PublicKey {
		return nil, NotFound("only the master key of another user may be signed")
	}
	sig, ok := signaturesBy(obj, signer)[usk.KeyID]
	if !ok {
		return nil, invalidSignature("no signature by the user-signing key")
	}
	if err := checkSigned(signer, usk.KeyID, usk.Key, obj, raw); err != nil {
		return nil, err
	}
	if signaturesBy(raw, signer)[usk.KeyID] == sig {
		return nil, nil
	}
	return []KeySignature{{UserID: target, KeyID: id, SignerKeyID: usk.KeyID, Signature: sig}}, nil
}

// checkSigned checks that obj is the stored object and carries a valid
// signature by signer's key keyID.
func checkSigned(signer, keyID string, pub ed25519.PublicKey, obj, stored json.RawMessage) error {
	if !sameSignedContent(obj, stored) {
		return InvalidParam("the signed object is not the stored key")
	}
	return verifySignedBy(obj, signer, keyID, pub)
}

// MergeSignatures returns key with the signatures of signer added
// (key ID to signature), for backends answering keys/query.
func MergeSignatures(key json.RawMessage, signer string, sigs map[string]string) (json.RawMessage, error) {
	if len(sigs) == 0 {
		return key, nil
	}
	var k map[string]json.RawMessage
	if err := json.Unmarshal(key, &k); err != nil || k == nil {
		return nil, BadJSON("a stored key is not an object")
	}
	var all map[string]map[string]string
	if raw, ok := k["signatures"]; ok {
		if err := json.Unmarshal(raw, &all); err != nil {
			return nil, BadJSON("the signatures of a stored key are not an object of objects of strings")
		}
	}
	if all == nil {
		all = map[string]map[string]string{}
	}
	if all[signer] == nil {
		all[signer] = map[string]string{}
	}
	for id, s := range sigs {
		all[signer][id] = s
	}
	b, err := json.Marshal(all)
	if err != nil {
		return nil, err
	}
	k["signatures"] = b
	return json.Marshal(k)
}
