package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/clientapi"
)

// csKey is an ed25519 key of a test client (a device's key or a
// cross-signing key) that signs JSON as content/appendices.md, "Signing
// JSON", says.
type csKey struct {
	pub  string
	priv ed25519.PrivateKey
}

func newCSKey(t testing.TB) csKey {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return csKey{base64.EncodeToString(pub), priv}
}

func (k csKey) sign(t testing.TB, obj map[string]any, user, keyName string) map[string]any {
	t.Helper()
	raw, _ := json.Marshal(obj)
	signed, err := canonicaljson.AppendWithout(nil, raw, canonicaljson.Lenient, "signatures", "unsigned")
	if err != nil {
		t.Fatal(err)
	}
	out, err := clientapi.MergeSignatures(raw, user, map[string]string{"ed25519:" + keyName: base64.EncodeToString(ed25519.Sign(k.priv, signed))})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(out, &m)
	return m
}

func (k csKey) deviceKeys(t testing.TB, user, device string) map[string]any {
	return k.sign(t, map[string]any{"user_id": user, "device_id": device, "algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys": map[string]string{"ed25519:" + device: k.pub, "curve25519:" + device: k.pub}}, user, device)
}

func (k csKey) crossSigningKey(t testing.TB, user, usage string, signer *csKey) map[string]any {
	ck := map[string]any{"user_id": user, "usage": []string{usage}, "keys": map[string]string{"ed25519:" + k.pub: k.pub}}
	if signer != nil {
		ck = signer.sign(t, ck, user, signer.pub)
	}
	return ck
}

// deviceID reads the device ID of a client's access token.
func deviceID(t *testing.T, a *api) string {
	var w struct {
		DeviceID string `json:"device_id"`
	}
	a.must("GET", "/account/whoami", nil, &w)
	return w.DeviceID
}

type keysQuery struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
	UserSigningKeys map[string]json.RawMessage            `json:"user_signing_keys"`
	Failures        map[string]any                        `json:"failures"`
}

func sigsOf(raw json.RawMessage, user string) map[string]string {
	var k struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	json.Unmarshal(raw, &k)
	return k.Signatures[user]
}

// TestCrossSigningFederation: alice (server a) and bob (server b) share a
// room. Alice publishes cross-signing keys and signs her device; bob sees
// her user in device_lists.changed (an m.signing_key_update crossed) and
// reads her master and self-signing keys, not her user-signing key, and
// her device's new signature, over user/keys/query. Alice signs bob's
// master key, fetched from his server: she sees her signature, bob does
// not. Replacing her master key then takes her password.
func TestCrossSigningFederation(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	bob := register(t, p.b.hs.ClientURL(), "bob")
	const A, B = "@alice:a.test", "@bob:b.test"
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "invite": []string{B}}, &room)
	waitFor(t, "the invite in bob's sync", func() bool {
		var r struct {
			Rooms struct {
				Invite map[string]json.RawMessage `json:"invite"`
			} `json:"rooms"`
		}
		_, err := bob.do("GET", "/sync", nil, &r)
		return err == nil && r.Rooms.Invite[room.RoomID] != nil
	})
	bob.must("POST", "/join/"+url.PathEscape(room.RoomID), map[string]any{}, nil)
	waitState(t, alice, "/rooms/"+url.PathEscape(room.RoomID), "m.room.member", B, "join")

	aDev, bDev := deviceID(t, alice), deviceID(t, bob)
	aKey, bKey := newCSKey(t), newCSKey(t)
	alice.must("POST", "/keys/upload", map[string]any{"device_keys": aKey.deviceKeys(t, A, aDev)}, nil)
	bob.must("POST", "/keys/upload", map[string]any{"device_keys": bKey.deviceKeys(t, B, bDev)}, nil)
	var s struct {
		NextBatch string `json:"next_batch"`
	}
	bob.must("GET", "/sync", nil, &s)
	since := s.NextBatch

	msk, ssk, usk := newCSKey(t), newCSKey(t), newCSKey(t)
	alice.must("POST", "/keys/device_signing/upload", map[string]any{
		"master_key":       msk.crossSigningKey(t, A, "master", nil),
		"self_signing_key": ssk.crossSigningKey(t, A, "self_signing", &msk),
		"user_signing_key": usk.crossSigningKey(t, A, "user_signing", &msk),
	}, nil)
	var fails struct {
		Failures map[string]any `json:"failures"`
	}
	alice.must("POST", "/keys/signatures/upload", map[string]any{A: map[string]any{aDev: ssk.sign(t, aKey.deviceKeys(t, A, aDev), A, ssk.pub)}}, &fails)
	if len(fails.Failures) != 0 {
		t.Fatalf("signing her device: %v", fails.Failures)
	}

	waitFor(t, "alice in bob's device_lists.changed", func() bool {
		var r struct {
			NextBatch   string `json:"next_batch"`
			DeviceLists struct {
				Changed []string `json:"changed"`
			} `json:"device_lists"`
		}
		if _, err := bob.do("GET", "/sync?timeout=500&since="+url.QueryEscape(since), nil, &r); err != nil {
			return false
		}
		since = r.NextBatch
		return slices.Contains(r.DeviceLists.Changed, A)
	})
	var q keysQuery
	bob.must("POST", "/keys/query", map[string]any{"device_keys": map[string][]string{A: {}}}, &q)
	if q.MasterKeys[A] == nil || q.SelfSigningKeys[A] == nil || q.UserSigningKeys[A] != nil {
		t.Fatalf("bob's query of alice over federation: %+v", q)
	}
	if sigsOf(q.DeviceKeys[A][aDev], A)["ed25519:"+ssk.pub] == "" {
		t.Fatalf("alice's device lacks her self-signing signature: %s", q.DeviceKeys[A][aDev])
	}
	// user/devices answers the keys too (server-server "Device
	// Management").
	ud, err := p.b.hs.fed.client.UserDevices(context.Background(), "a.test", A)
	if err != nil || ud.MasterKey == nil || ud.SelfSigningKey == nil || len(ud.Devices) != 1 {
		t.Fatalf("user/devices of alice: %+v %v", ud, err)
	}

	bmsk := newCSKey(t)
	bob.must("POST", "/keys/device_signing/upload", map[string]any{"master_key": bmsk.crossSigningKey(t, B, "master", nil)}, nil)
	alice.must("POST", "/keys/signatures/upload", map[string]any{B: map[string]any{bmsk.pub: usk.sign(t, bmsk.crossSigningKey(t, B, "master", nil), A, usk.pub)}}, &fails)
	if len(fails.Failures) != 0 {
		t.Fatalf("signing bob's master key: %v", fails.Failures)
	}
	alice.must("POST", "/keys/query", map[string]any{"device_keys": map[string][]string{A: {}, B: {}}}, &q)
	if q.UserSigningKeys[A] == nil || sigsOf(q.MasterKeys[B], A)["ed25519:"+usk.pub] == "" {
		t.Fatalf("alice's own query: user-signing %s, bob's master %s", q.UserSigningKeys[A], q.MasterKeys[B])
	}
	var qb keysQuery
	bob.must("POST", "/keys/query", map[string]any{"device_keys": map[string][]string{B: {}}}, &qb)
	if sigsOf(qb.MasterKeys[B], A) != nil {
		t.Fatalf("bob sees alice's signature of his master key: %s", qb.MasterKeys[B])
	}

	newMaster := map[string]any{"master_key": newCSKey(t).crossSigningKey(t, A, "master", nil)}
	if code, _ := alice.do("POST", "/keys/device_signing/upload", newMaster, nil); code != 401 {
		t.Fatalf("replacing the master key without UIA: %d", code)
	}
	newMaster["auth"] = map[string]any{"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": "alice"}, "password": "pw-alice"}
	alice.must("POST", "/keys/device_signing/upload", newMaster, nil)
}

// TestCrossSigningPrivateSignature: on one server, alice signs the master
// key of bob, with whom she shares no room. Her next sync names bob in
// device_lists.changed (she may now trust his devices); carol, who shares
// a room with bob, neither sees that change nor alice's signature.
func TestCrossSigningPrivateSignature(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "private.localhost", false, nil)
	base := hs.hs.ClientURL()
	alice, bob, carol := register(t, base, "alice"), register(t, base, "bob"), register(t, base, "carol")
	const A, B = "@alice:private.localhost", "@bob:private.localhost"
	var room struct {
		RoomID string `json:"room_id"`
	}
	bob.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	carol.must("POST", "/join/"+url.PathEscape(room.RoomID), map[string]any{}, nil)

	msk, usk, bmsk := newCSKey(t), newCSKey(t), newCSKey(t)
	alice.must("POST", "/keys/device_signing/upload", map[string]any{
		"master_key": msk.crossSigningKey(t, A, "master", nil), "user_signing_key": usk.crossSigningKey(t, A, "user_signing", &msk)}, nil)
	bob.must("POST", "/keys/device_signing/upload", map[string]any{"master_key": bmsk.crossSigningKey(t, B, "master", nil)}, nil)
	type syncLists struct {
		NextBatch   string `json:"next_batch"`
		DeviceLists struct {
			Changed []string `json:"changed"`
		} `json:"device_lists"`
	}
	var sa, sc syncLists
	alice.must("GET", "/sync?timeout=0", nil, &sa)
	carol.must("GET", "/sync?timeout=0", nil, &sc)

	var fails struct {
		Failures map[string]any `json:"failures"`
	}
	alice.must("POST", "/keys/signatures/upload", map[string]any{B: map[string]any{bmsk.pub: usk.sign(t, bmsk.crossSigningKey(t, B, "master", nil), A, usk.pub)}}, &fails)
	if len(fails.Failures) != 0 {
		t.Fatalf("signing bob's master key: %v", fails.Failures)
	}
	var na, nc syncLists
	alice.must("GET", "/sync?timeout=0&since="+url.QueryEscape(sa.NextBatch), nil, &na)
	carol.must("GET", "/sync?timeout=0&since="+url.QueryEscape(sc.NextBatch), nil, &nc)
	if !slices.Contains(na.DeviceLists.Changed, B) {
		t.Errorf("alice's sync after signing bob's key: changed %v", na.DeviceLists.Changed)
	}
	if slices.Contains(nc.DeviceLists.Changed, B) {
		t.Errorf("carol sees a change of bob made by alice's private signature: %v", nc.DeviceLists.Changed)
	}
	var qa, qc keysQuery
	alice.must("POST", "/keys/query", map[string]any{"device_keys": map[string][]string{B: {}}}, &qa)
	carol.must("POST", "/keys/query", map[string]any{"device_keys": map[string][]string{B: {}, A: {}}}, &qc)
	if sigsOf(qa.MasterKeys[B], A)["ed25519:"+usk.pub] == "" {
		t.Errorf("alice does not see her signature: %s", qa.MasterKeys[B])
	}
	if sigsOf(qc.MasterKeys[B], A) != nil || qc.UserSigningKeys[A] != nil || qc.MasterKeys[A] == nil {
		t.Errorf("carol's view: bob's master %s, alice's user-signing %s, alice's master %s", qc.MasterKeys[B], qc.UserSigningKeys[A], qc.MasterKeys[A])
	}
}
