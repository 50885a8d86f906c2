package clientapi

import (
	"strings"
	"testing"
)

// TestKeysAndToDevice: keys/upload checks the device keys are the
// requesting device's, keys/query and keys/claim serve them (a one-time
// key once, then the fallback key), keys/changes reads positions, and
// sendToDevice queues once per transaction ID.
func TestKeysAndToDevice(t *testing.T) {
	f, s, _ := setup(t)
	keys := &MemoryKeys{}
	td := &MemoryToDevice{}
	s.Keys, s.ToDevice = keys, td
	dev := f.tokens["tok_alice"].DeviceID
	key, other := newTestKey(t), newTestKey(t)
	dk := key.deviceKeys(t, "@alice:example.org", dev)
	bad := []struct{ name, body, code string }{
		{"another user's keys", key.deviceKeys(t, "@bob:example.org", dev), "M_INVALID_PARAM"},
		{"another device", key.deviceKeys(t, "@alice:example.org", "OTHER"), "M_INVALID_PARAM"},
		// A member named like user_id in another case is not user_id.
		{"user ID in another case", key.sign(t, `{"user_id":"@bob:example.org","USER_ID":"@alice:example.org","device_id":"`+dev+`","algorithms":[],"keys":{"ed25519:`+dev+`":"`+key.pub+`"}}`, "@alice:example.org", dev), "M_INVALID_PARAM"},
		{"no keys", `{"device_keys":{"user_id":"@alice:example.org","device_id":"` + dev + `"}}`, "M_BAD_JSON"},
		// "Uploading keys": the device's ed25519 key is included and
		// signs the object.
		{"not signed", `{"user_id":"@alice:example.org","device_id":"` + dev + `","algorithms":[],"keys":{"ed25519:` + dev + `":"` + key.pub + `"},"signatures":{}}`, "M_INVALID_SIGNATURE"},
		{"signed by another key", other.sign(t, `{"user_id":"@alice:example.org","device_id":"`+dev+`","algorithms":[],"keys":{"ed25519:`+dev+`":"`+key.pub+`"}}`, "@alice:example.org", dev), "M_INVALID_SIGNATURE"},
		{"changed after signing", strings.Replace(dk, `"c"`, `"d"`, 1), "M_INVALID_SIGNATURE"},
		{"no ed25519 key", `{"user_id":"@alice:example.org","device_id":"` + dev + `","algorithms":[],"keys":{"curve25519:` + dev + `":"c"},"signatures":{}}`, "M_INVALID_PARAM"},
		{"ed25519 key not a key", `{"user_id":"@alice:example.org","device_id":"` + dev + `","algorithms":[],"keys":{"ed25519:` + dev + `":"abc"},"signatures":{}}`, "M_INVALID_PARAM"},
		{"bad key ID", `{"one_time_keys":{"curve25519":"x"}}`, "M_INVALID_PARAM"},
	}
	for _, tc := range bad {
		body := tc.body
		if !strings.HasPrefix(body, `{"device_keys"`) && !strings.HasPrefix(body, `{"one_time_keys"`) {
			body = `{"device_keys":` + body + `}`
		}
		if r := do(t, s, "POST", "/_matrix/client/v3/keys/upload", "tok_alice", body); r.status != 400 || r.body["errcode"] != tc.code {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		}
	}
	up := `{"device_keys":` + dk + `,"one_time_keys":{"signed_curve25519:AAA":{"key":"a"},"signed_curve25519:AAB":{"key":"b"}},"fallback_keys":{"signed_curve25519:FB":{"key":"f","fallback":true}}}`
	r := do(t, s, "POST", "/_matrix/client/v3/keys/upload", "tok_alice", up)
	if r.status != 200 || r.body["one_time_key_counts"].(map[string]any)["signed_curve25519"] != float64(2) {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	r = do(t, s, "POST", "/_matrix/client/v3/keys/query", "tok_bob", `{"device_keys":{"@alice:example.org":[]}}`)
	if r.status != 200 || !strings.Contains(r.raw, `"`+dev+`":`+dk) {
		t.Fatalf("query: %d %s", r.status, r.raw)
	}
	claim := `{"one_time_keys":{"@alice:example.org":{"` + dev + `":"signed_curve25519"}}}`
	for _, want := range []string{"AAA", "AAB", "FB", "FB"} {
		r := do(t, s, "POST", "/_matrix/client/v3/keys/claim", "tok_bob", claim)
		if r.status != 200 || !strings.Contains(r.raw, "signed_curve25519:"+want) {
			t.Fatalf("claim, want %s: %d %s", want, r.status, r.raw)
		}
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/keys/changes?from=0&to=5", "tok_bob", ""); r.status != 200 || !strings.Contains(r.raw, "@alice:example.org") {
		t.Fatalf("changes: %d %s", r.status, r.raw)
	}
	msg := `{"messages":{"@alice:example.org":{"` + dev + `":{"hello":1}}}}`
	for range 2 {
		if r := do(t, s, "PUT", "/_matrix/client/v3/sendToDevice/m.test/txn1", "tok_bob", msg); r.status != 200 {
			t.Fatalf("sendToDevice: %d %s", r.status, r.raw)
		}
	}
	got := td.Take("@alice:example.org", dev)
	if len(got) != 1 || !strings.Contains(string(got[0]), `"sender":"@bob:example.org"`) {
		t.Fatalf("queued %d messages (the retry must not queue again): %s", len(got), got)
	}
	if r := do(t, s, "PUT", "/_matrix/client/v3/sendToDevice/m.test/txn2", "tok_bob", `{"messages":{"alice":{}}}`); r.status != 400 {
		t.Fatalf("bad user ID: %d", r.status)
	}
}
