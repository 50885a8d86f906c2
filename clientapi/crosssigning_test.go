package clientapi

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
)

// testKey is an ed25519 key of a test client: a device's key or a
// cross-signing key.
type testKey struct {
	pub  string
	priv ed25519.PrivateKey
}

func newTestKey(t testing.TB) testKey {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{base64.EncodeToString(pub), priv}
}

// sign signs obj as user with key ID "ed25519:"+name.
func (k testKey) sign(t testing.TB, obj, user, name string) string {
	t.Helper()
	// Cross-signing key IDs hold base64 ('+', '/'), which server key IDs
	// (signing.SignJSON) may not: sign the canonical form by hand
	// (content/appendices.md, "Signing JSON").
	signed, err := canonicaljson.AppendWithout(nil, []byte(obj), canonicaljson.Lenient, "signatures", "unsigned")
	if err != nil {
		t.Fatal(err)
	}
	sig := base64.EncodeToString(ed25519.Sign(k.priv, signed))
	out, err := MergeSignatures(json.RawMessage(obj), user, map[string]string{"ed25519:" + name: sig})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// deviceKeys are the device keys of user's device, signed by its key.
func (k testKey) deviceKeys(t testing.TB, user, device string) string {
	dk := `{"user_id":"` + user + `","device_id":"` + device + `","algorithms":["m.olm.v1.curve25519-aes-sha2","m.megolm.v1.aes-sha2"],"keys":{"curve25519:` + device + `":"c","ed25519:` + device + `":"` + k.pub + `"}}`
	return k.sign(t, dk, user, device)
}

// crossSigningKey is k as user's cross-signing key of usage, signed by
// signer when not nil.
func (k testKey) crossSigningKey(t testing.TB, user, usage string, signer *testKey) string {
	ck := `{"user_id":"` + user + `","usage":["` + usage + `"],"keys":{"ed25519:` + k.pub + `":"` + k.pub + `"}}`
	if signer != nil {
		ck = signer.sign(t, ck, user, signer.pub)
	}
	return ck
}

// TestCrossSigning uploads cross-signing keys (the first set without UIA,
// the same again without, a new key with it), each check of
// device_signing/upload, signatures of each kind with their failures, and
// what keys/query shows to the owner and to another user.
func TestCrossSigning(t *testing.T) {
	f, s, _ := setup(t)
	mk := &MemoryKeys{}
	s.Keys, s.CrossSigning = mk, mk
	const P = "/_matrix/client/v3"
	const alice, bob = "@alice:example.org", "@bob:example.org"
	aliceDev, bobDev := f.tokens["tok_alice"].DeviceID, f.tokens["tok_bob"].DeviceID
	dkey, bkey := newTestKey(t), newTestKey(t)
	msk, ssk, usk, msk2 := newTestKey(t), newTestKey(t), newTestKey(t), newTestKey(t)
	bmsk, bssk := newTestKey(t), newTestKey(t)
	aliceDK := dkey.deviceKeys(t, alice, aliceDev)
	for tok, body := range map[string]string{"tok_alice": aliceDK, "tok_bob": bkey.deviceKeys(t, bob, bobDev)} {
		if r := do(t, s, "POST", P+"/keys/upload", tok, `{"device_keys":`+body+`}`); r.status != 200 {
			t.Fatalf("device keys: %d %s", r.status, r.raw)
		}
	}
	master, self, user := msk.crossSigningKey(t, alice, "master", nil), ssk.crossSigningKey(t, alice, "self_signing", &msk), usk.crossSigningKey(t, alice, "user_signing", &msk)
	upload := func(parts ...string) string { return `{` + strings.Join(parts, ",") + `}` }
	steps := []struct {
		name, path, token, body string
		status                  int
		errcode, contains       string
	}{
		{"self-signing without a master key", "/keys/device_signing/upload", "tok_alice", upload(`"self_signing_key":` + self), 400, "M_MISSING_PARAM", ""},
		{"master of another user", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":` + msk.crossSigningKey(t, bob, "master", nil)), 400, "M_INVALID_PARAM", ""},
		{"wrong usage", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":` + msk.crossSigningKey(t, alice, "self_signing", nil)), 400, "M_INVALID_PARAM", ""},
		{"two keys", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":{"user_id":"` + alice + `","usage":["master"],"keys":{"ed25519:` + msk.pub + `":"` + msk.pub + `","ed25519:` + ssk.pub + `":"` + ssk.pub + `"}}`), 400, "M_INVALID_PARAM", ""},
		{"key name not its key", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":{"user_id":"` + alice + `","usage":["master"],"keys":{"ed25519:X":"` + msk.pub + `"}}`), 400, "M_INVALID_PARAM", ""},
		{"not a key", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":{"user_id":"` + alice + `","usage":["master"],"keys":{"ed25519:abc":"abc"}}`), 400, "M_INVALID_PARAM", ""},
		{"self-signing key not signed", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":`+master, `"self_signing_key":`+ssk.crossSigningKey(t, alice, "self_signing", nil)), 400, "M_INVALID_SIGNATURE", ""},
		{"user-signing key signed by another key", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":`+master, `"user_signing_key":`+usk.crossSigningKey(t, alice, "user_signing", &msk2)), 400, "M_INVALID_SIGNATURE", ""},
		{"first upload needs no UIA", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":`+master, `"self_signing_key":`+self, `"user_signing_key":`+user), 200, "", ""},
		// The same keys again (a retry) need no UIA either.
		{"same keys again", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":`+master, `"self_signing_key":`+self), 200, "", ""},
		{"same self-signing key alone", "/keys/device_signing/upload", "tok_alice", upload(`"self_signing_key":` + self), 200, "", ""},
		// A new key with the master key stored needs UIA, even when the
		// master key sent is the stored one.
		{"a new self-signing key", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":`+master, `"self_signing_key":`+newTestKey(t).crossSigningKey(t, alice, "self_signing", &msk)), 401, "", `"flows"`},
		{"a new master key", "/keys/device_signing/upload", "tok_alice", upload(`"master_key":` + msk2.crossSigningKey(t, alice, "master", nil)), 401, "", `"flows"`},
		{"bob's keys", "/keys/device_signing/upload", "tok_bob", upload(`"master_key":`+bmsk.crossSigningKey(t, bob, "master", nil), `"self_signing_key":`+bssk.crossSigningKey(t, bob, "self_signing", &bmsk)), 200, "", ""},
		{"device signed by the self-signing key", "/keys/signatures/upload", "tok_alice", `{"` + alice + `":{"` + aliceDev + `":` + ssk.sign(t, aliceDK, alice, ssk.pub) + `}}`, 200, "", `{"failures":{}}`},
		{"master signed by the device", "/keys/signatures/upload", "tok_alice", `{"` + alice + `":{"` + msk.pub + `":` + dkey.sign(t, master, alice, aliceDev) + `}}`, 200, "", `{"failures":{}}`},
		{"bob's master signed by the user-signing key", "/keys/signatures/upload", "tok_alice", `{"` + bob + `":{"` + bmsk.pub + `":` + usk.sign(t, bmsk.crossSigningKey(t, bob, "master", nil), alice, usk.pub) + `}}`, 200, "", `{"failures":{}}`},
		{"device signed by another key", "/keys/signatures/upload", "tok_alice", `{"` + alice + `":{"` + aliceDev + `":` + msk2.sign(t, aliceDK, alice, ssk.pub) + `}}`, 200, "", `"` + aliceDev + `":{"errcode":"M_INVALID_SIGNATURE"`},
		{"device changed before signing", "/keys/signatures/upload", "tok_alice", `{"` + alice + `":{"` + aliceDev + `":` + ssk.sign(t, strings.Replace(aliceDK, `"c"`, `"d"`, 1), alice, ssk.pub) + `}}`, 200, "", `"` + aliceDev + `":{"errcode":"M_INVALID_PARAM"`},
		{"unknown device", "/keys/signatures/upload", "tok_alice", `{"` + alice + `":{"NODEVICE":{"signatures":{"` + alice + `":{"ed25519:x":"y"}}}}}`, 200, "", `"NODEVICE":{"errcode":"M_NOT_FOUND"`},
		{"no signature", "/keys/signatures/upload", "tok_alice", `{"` + alice + `":{"` + aliceDev + `":` + aliceDK + `}}`, 200, "", `"` + aliceDev + `":{"errcode":"M_INVALID_SIGNATURE"`},
		{"bob's device", "/keys/signatures/upload", "tok_alice", `{"` + bob + `":{"` + bobDev + `":` + usk.sign(t, bkey.deviceKeys(t, bob, bobDev), alice, usk.pub) + `}}`, 200, "", `"` + bobDev + `":{"errcode":"M_NOT_FOUND"`},
		{"bob has no user-signing key", "/keys/signatures/upload", "tok_bob", `{"` + alice + `":{"` + msk.pub + `":` + master + `}}`, 200, "", `"` + msk.pub + `":{"errcode":"M_NOT_FOUND"`},
		{"signed object not an object", "/keys/signatures/upload", "tok_alice", `{"` + alice + `":{"x":1}}`, 400, "M_BAD_JSON", ""},
		{"not a user ID", "/keys/signatures/upload", "tok_alice", `{"alice":{}}`, 400, "M_INVALID_PARAM", ""},
	}
	for _, st := range steps {
		r := do(t, s, "POST", P+st.path, st.token, st.body)
		if r.status != st.status {
			t.Fatalf("%s: status %d, want %d: %s", st.name, r.status, st.status, r.raw)
		}
		if st.errcode != "" && r.body["errcode"] != st.errcode {
			t.Fatalf("%s: errcode %v, want %s: %s", st.name, r.body["errcode"], st.errcode, r.raw)
		}
		if !strings.Contains(r.raw, st.contains) {
			t.Fatalf("%s: %s does not contain %s", st.name, r.raw, st.contains)
		}
	}
	query := func(tok string) *KeysQueryResponse {
		r := do(t, s, "POST", P+"/keys/query", tok, `{"device_keys":{"`+alice+`":[],"`+bob+`":[]}}`)
		var q KeysQueryResponse
		if r.status != 200 || json.Unmarshal([]byte(r.raw), &q) != nil {
			t.Fatalf("query: %d %s", r.status, r.raw)
		}
		return &q
	}
	sigs := func(raw json.RawMessage, user string) map[string]string { return signaturesBy(raw, user) }
	asBob, asAlice := query("tok_bob"), query("tok_alice")
	// Bob sees alice's master and self-signing keys, not her user-signing
	// key; her device carries her self-signing key's signature, her
	// master key her device's; his own master key does not show alice's
	// signature, which alice sees.
	if asBob.MasterKeys[alice] == nil || asBob.SelfSigningKeys[alice] == nil || asBob.UserSigningKeys[alice] != nil {
		t.Fatalf("bob's view of alice's keys: %+v", asBob)
	}
	if asAlice.UserSigningKeys[alice] == nil || asAlice.UserSigningKeys[bob] != nil {
		t.Fatalf("user-signing keys alice sees: %v", asAlice.UserSigningKeys)
	}
	if sigs(asBob.DeviceKeys[alice][aliceDev], alice)["ed25519:"+ssk.pub] == "" {
		t.Errorf("alice's device lacks the self-signing signature: %s", asBob.DeviceKeys[alice][aliceDev])
	}
	if sigs(asBob.MasterKeys[alice], alice)["ed25519:"+aliceDev] == "" {
		t.Errorf("alice's master key lacks her device's signature: %s", asBob.MasterKeys[alice])
	}
	if sigs(asBob.MasterKeys[bob], alice) != nil {
		t.Errorf("bob sees alice's signature of his master key: %s", asBob.MasterKeys[bob])
	}
	if sigs(asAlice.MasterKeys[bob], alice)["ed25519:"+usk.pub] == "" {
		t.Errorf("alice does not see her signature of bob's master key: %s", asAlice.MasterKeys[bob])
	}
	// The signatures stored verify.
	if err := verifySignedBy(asBob.DeviceKeys[alice][aliceDev], alice, "ed25519:"+ssk.pub, ed25519.PublicKey(mustDecode(t, ssk.pub))); err != nil {
		t.Error(err)
	}
	// A new master key with the password goes through.
	body := upload(`"master_key":`+msk2.crossSigningKey(t, alice, "master", nil), `"auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"secret"}`)
	if r := do(t, s, "POST", P+"/keys/device_signing/upload", "tok_alice", body); r.status != 200 {
		t.Fatalf("new master key with UIA: %d %s", r.status, r.raw)
	}
	if q := query("tok_bob"); !strings.Contains(string(q.MasterKeys[alice]), msk2.pub) {
		t.Fatalf("master key after replacement: %s", q.MasterKeys[alice])
	}
	// A cross-signing key named like a device is refused.
	f.tokens["tok_alice2"] = Identity{UserID: alice, DeviceID: msk.pub}
	body = upload(`"master_key":`+msk.crossSigningKey(t, alice, "master", nil), `"auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"secret"}`)
	if r := do(t, s, "POST", P+"/keys/device_signing/upload", "tok_alice", body); r.status != 403 || r.body["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("key named like a device: %d %s", r.status, r.raw)
	}
}

func mustDecode(t testing.TB, s string) []byte {
	b, err := base64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
