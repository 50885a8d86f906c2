package clientapi

import (
	"encoding/json"
	"testing"
)

// TestKeyBackup walks the room_keys endpoints in order against
// MemoryKeyBackup: versions, the wrong-version error, the rule that keeps
// the better key of a session, etags and counts, and deletion.
func TestKeyBackup(t *testing.T) {
	_, s, _ := setup(t)
	s.KeyBackup = &MemoryKeyBackup{}
	const alg = "m.megolm_backup.v1.curve25519-aes-sha2"
	key := func(fmi, fc int, verified bool) string {
		b, _ := json.Marshal(map[string]any{"first_message_index": fmi, "forwarded_count": fc, "is_verified": verified, "session_data": map[string]any{"n": fmi*100 + fc}})
		return string(b)
	}
	const P = "/_matrix/client/v3"
	steps := []struct {
		name, method, path, body string
		status                   int
		errcode, raw             string
	}{
		{"no version yet", "GET", P + "/room_keys/version", "", 404, "M_NOT_FOUND", ""},
		{"put with no backup", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(5, 0, false), 404, "M_NOT_FOUND", ""},
		{"create without auth_data", "POST", P + "/room_keys/version", `{"algorithm":"` + alg + `"}`, 400, "M_MISSING_PARAM", ""},
		{"create without algorithm", "POST", P + "/room_keys/version", `{"auth_data":{}}`, 400, "M_MISSING_PARAM", ""},
		{"auth_data not an object", "POST", P + "/room_keys/version", `{"algorithm":"` + alg + `","auth_data":"x"}`, 400, "M_BAD_JSON", ""},
		{"create", "POST", P + "/room_keys/version", `{"algorithm":"` + alg + `","auth_data":{"public_key":"p"}}`, 200, "", `{"version":"1"}`},
		{"current", "GET", P + "/room_keys/version", "", 200, "", `{"algorithm":"` + alg + `","auth_data":{"public_key":"p"},"count":0,"etag":"0","version":"1"}`},
		{"put without version", "PUT", P + "/room_keys/keys/!r/s1", key(5, 0, false), 400, "M_MISSING_PARAM", ""},
		{"put a session", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(5, 0, false), 200, "", `{"count":1,"etag":"1"}`},
		// A worse key (higher first_message_index) leaves the stored one
		// and the etag unchanged.
		{"put a worse key", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(7, 0, false), 200, "", `{"count":1,"etag":"1"}`},
		{"an equal key is kept out", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(5, 0, false), 200, "", `{"count":1,"etag":"1"}`},
		{"lower index wins over forwards", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(3, 2, false), 200, "", `{"count":1,"etag":"2"}`},
		{"same index, fewer forwards", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(3, 1, false), 200, "", `{"count":1,"etag":"3"}`},
		{"same index, more forwards", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(3, 4, false), 200, "", `{"count":1,"etag":"3"}`},
		{"verified beats a lower index", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(9, 9, true), 200, "", `{"count":1,"etag":"4"}`},
		{"unverified loses to verified", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(0, 0, false), 200, "", `{"count":1,"etag":"4"}`},
		{"put a room", "PUT", P + "/room_keys/keys/!r?version=1", `{"sessions":{"s2":` + key(0, 0, false) + `}}`, 200, "", `{"count":2,"etag":"5"}`},
		{"put a room without sessions", "PUT", P + "/room_keys/keys/!r?version=1", `{}`, 400, "M_MISSING_PARAM", ""},
		{"put all", "PUT", P + "/room_keys/keys?version=1", `{"rooms":{"!q":{"sessions":{"s3":` + key(0, 0, false) + `,"s4":` + key(1, 0, false) + `}}}}`, 200, "", `{"count":4,"etag":"6"}`},
		{"key data not an object", "PUT", P + "/room_keys/keys/!r/s9?version=1", `[]`, 400, "M_BAD_JSON", ""},
		{"key data without session_data", "PUT", P + "/room_keys/keys/!r/s9?version=1", `{"first_message_index":0,"forwarded_count":0,"is_verified":false}`, 400, "M_BAD_JSON", ""},
		{"key data with a bad index", "PUT", P + "/room_keys/keys/!r/s9?version=1", `{"first_message_index":-1,"forwarded_count":0,"is_verified":false,"session_data":{}}`, 400, "M_BAD_JSON", ""},
		{"get a session", "GET", P + "/room_keys/keys/!r/s1?version=1", "", 200, "", key(9, 9, true)},
		{"get a room", "GET", P + "/room_keys/keys/!q?version=1", "", 200, "", `{"sessions":{"s3":` + key(0, 0, false) + `,"s4":` + key(1, 0, false) + `}}`},
		{"get an unknown session", "GET", P + "/room_keys/keys/!r/nope?version=1", "", 404, "M_NOT_FOUND", ""},
		{"get an empty room", "GET", P + "/room_keys/keys/!empty?version=1", "", 200, "", `{"sessions":{}}`},
		{"get an unknown version", "GET", P + "/room_keys/keys?version=9", "", 404, "M_NOT_FOUND", ""},
		{"delete a session", "DELETE", P + "/room_keys/keys/!q/s4?version=1", "", 200, "", `{"count":3,"etag":"7"}`},
		{"delete a room", "DELETE", P + "/room_keys/keys/!q?version=1", "", 200, "", `{"count":2,"etag":"8"}`},
		{"delete nothing", "DELETE", P + "/room_keys/keys/!q?version=1", "", 200, "", `{"count":2,"etag":"8"}`},
		{"new version", "POST", P + "/room_keys/version", `{"algorithm":"` + alg + `","auth_data":{"public_key":"p2"}}`, 200, "", `{"version":"2"}`},
		{"put to the old version", "PUT", P + "/room_keys/keys/!r/s1?version=1", key(0, 0, true), 403, "M_WRONG_ROOM_KEYS_VERSION", `{"current_version":"2","errcode":"M_WRONG_ROOM_KEYS_VERSION","error":"version is not the current backup version"}`},
		{"put all to an unknown version", "PUT", P + "/room_keys/keys?version=7", `{"rooms":{}}`, 403, "M_WRONG_ROOM_KEYS_VERSION", ""},
		{"old version still readable", "GET", P + "/room_keys/version/1", "", 200, "", `{"algorithm":"` + alg + `","auth_data":{"public_key":"p"},"count":2,"etag":"8","version":"1"}`},
		{"old keys still readable", "GET", P + "/room_keys/keys?version=1", "", 200, "", `{"rooms":{"!r":{"sessions":{"s1":` + key(9, 9, true) + `,"s2":` + key(0, 0, false) + `}}}}`},
		{"update with another algorithm", "PUT", P + "/room_keys/version/2", `{"algorithm":"other","auth_data":{}}`, 400, "M_INVALID_PARAM", ""},
		{"update with another version", "PUT", P + "/room_keys/version/2", `{"algorithm":"` + alg + `","auth_data":{},"version":"1"}`, 400, "M_INVALID_PARAM", ""},
		{"update an unknown version", "PUT", P + "/room_keys/version/5", `{"algorithm":"` + alg + `","auth_data":{}}`, 404, "M_NOT_FOUND", ""},
		{"update", "PUT", P + "/room_keys/version/2", `{"algorithm":"` + alg + `","auth_data":{"public_key":"p3"},"version":"2"}`, 200, "", `{}`},
		{"updated", "GET", P + "/room_keys/version/2", "", 200, "", `{"algorithm":"` + alg + `","auth_data":{"public_key":"p3"},"count":0,"etag":"0","version":"2"}`},
		{"delete the current version", "DELETE", P + "/room_keys/version/2", "", 200, "", `{}`},
		// The spec: deleting a version deleted before succeeds.
		{"delete it again", "DELETE", P + "/room_keys/version/2", "", 200, "", `{}`},
		{"delete a version never created", "DELETE", P + "/room_keys/version/3", "", 404, "M_NOT_FOUND", ""},
		{"deleted version is gone", "GET", P + "/room_keys/version/2", "", 404, "M_NOT_FOUND", ""},
		{"keys of a deleted version are gone", "GET", P + "/room_keys/keys?version=2", "", 404, "M_NOT_FOUND", ""},
		// The newest remaining version is current again, as in the
		// reference server (it picks the newest not deleted).
		{"current after delete", "GET", P + "/room_keys/version", "", 200, "", `{"algorithm":"` + alg + `","auth_data":{"public_key":"p"},"count":2,"etag":"8","version":"1"}`},
		// Version strings are not reused after a deletion.
		{"create after delete", "POST", P + "/room_keys/version", `{"algorithm":"` + alg + `","auth_data":{"public_key":"p4"}}`, 200, "", `{"version":"3"}`},
		{"put to the version deleted", "PUT", P + "/room_keys/keys/!r/s1?version=2", key(0, 0, true), 403, "M_WRONG_ROOM_KEYS_VERSION", `{"current_version":"3","errcode":"M_WRONG_ROOM_KEYS_VERSION","error":"version is not the current backup version"}`},
	}
	for _, st := range steps {
		r := do(t, s, st.method, st.path, "tok_alice", st.body)
		if r.status != st.status {
			t.Fatalf("%s: status %d, want %d: %s", st.name, r.status, st.status, r.raw)
		}
		if st.errcode != "" && r.body["errcode"] != st.errcode {
			t.Fatalf("%s: errcode %v, want %s", st.name, r.body["errcode"], st.errcode)
		}
		if st.raw != "" && r.raw != st.raw {
			t.Fatalf("%s:\n got %s\nwant %s", st.name, r.raw, st.raw)
		}
	}
	// Another user sees none of alice's backups.
	if r := do(t, s, "GET", P+"/room_keys/version", "tok_bob", ""); r.status != 404 {
		t.Fatalf("bob's current version: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "GET", P+"/room_keys/keys?version=1", "tok_bob", ""); r.status != 404 {
		t.Fatalf("bob reads alice's version 1: %d %s", r.status, r.raw)
	}
}

// TestBetterSessionKey: the order of the spec's rule, one field at a
// time, and that it is strict (an equal key does not replace).
func TestBetterSessionKey(t *testing.T) {
	k := func(fmi, fc int, v bool) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"first_message_index": fmi, "forwarded_count": fc, "is_verified": v})
		return b
	}
	cases := []struct {
		name             string
		stored, proposed json.RawMessage
		want             bool
	}{
		{"verified beats unverified", k(0, 0, false), k(5, 5, true), true},
		{"unverified loses", k(5, 5, true), k(0, 0, false), false},
		{"lower index", k(5, 0, false), k(4, 9, false), true},
		{"higher index", k(4, 0, true), k(5, 0, true), false},
		{"fewer forwards", k(4, 2, false), k(4, 1, false), true},
		{"more forwards", k(4, 1, false), k(4, 2, false), false},
		{"equal", k(4, 1, true), k(4, 1, true), false},
		{"stored unreadable", json.RawMessage(`[`), k(9, 9, false), true},
		{"proposed unreadable", k(9, 9, false), json.RawMessage(`"x"`), false},
	}
	for _, c := range cases {
		if got := BetterSessionKey(c.stored, c.proposed); got != c.want {
			t.Errorf("%s: got %v", c.name, got)
		}
	}
}
