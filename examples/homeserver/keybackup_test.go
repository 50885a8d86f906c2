package main

import (
	"strings"
	"testing"
)

// TestKeyBackupSQLite runs the key backup endpoints on the homeserver's
// store: the better-key rule and etags, counts at the three
// granularities, the wrong-version error with current_version, version
// numbers not reused after a deletion, and a second deletion that
// succeeds.
func TestKeyBackupSQLite(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "backup.localhost", false, nil)
	a := register(t, hs.hs.ClientURL(), "alice")
	b := register(t, hs.hs.ClientURL(), "bob")
	const alg = "m.megolm_backup.v1.curve25519-aes-sha2"
	var v struct {
		Version string `json:"version"`
	}
	if code, _ := a.do("GET", "/room_keys/version", nil, nil); code != 404 {
		t.Fatalf("current version before any: %d", code)
	}
	a.must("POST", "/room_keys/version", map[string]any{"algorithm": alg, "auth_data": map[string]string{"public_key": "p"}}, &v)
	if v.Version != "1" {
		t.Fatalf("first version %q", v.Version)
	}
	type ec struct {
		Etag  string `json:"etag"`
		Count int    `json:"count"`
	}
	key := func(fmi, fc int, verified bool) map[string]any {
		return map[string]any{"first_message_index": fmi, "forwarded_count": fc, "is_verified": verified, "session_data": map[string]int{"i": fmi*100 + fc}}
	}
	const s1 = "/room_keys/keys/!r:backup.localhost/s1?version=1"
	var r [5]ec
	a.must("PUT", s1, key(5, 0, false), &r[0])
	a.must("PUT", s1, key(9, 0, false), &r[1]) // worse: kept out
	a.must("PUT", s1, key(5, 1, false), &r[2]) // more forwards: kept out
	a.must("PUT", s1, key(5, 0, true), &r[3])  // verified: replaces
	a.must("PUT", s1, key(1, 0, false), &r[4]) // unverified: kept out
	if r[0].Count != 1 || r[1] != r[0] || r[2] != r[0] || r[3].Etag == r[0].Etag || r[4] != r[3] {
		t.Fatalf("etags and counts: %+v", r)
	}
	var got map[string]any
	a.must("GET", s1, nil, &got)
	if got["first_message_index"] != float64(5) || got["is_verified"] != true {
		t.Fatalf("stored key: %v", got)
	}
	var all ec
	a.must("PUT", "/room_keys/keys?version=1", map[string]any{"rooms": map[string]any{
		"!q:backup.localhost": map[string]any{"sessions": map[string]any{"s2": key(0, 0, false), "s3": key(0, 0, false)}}}}, &all)
	if all.Count != 3 {
		t.Fatalf("count after putting a room: %+v", all)
	}
	var rooms struct {
		Rooms map[string]struct {
			Sessions map[string]any `json:"sessions"`
		} `json:"rooms"`
	}
	a.must("GET", "/room_keys/keys?version=1", nil, &rooms)
	if len(rooms.Rooms) != 2 || len(rooms.Rooms["!q:backup.localhost"].Sessions) != 2 {
		t.Fatalf("all keys: %+v", rooms)
	}
	if code, _ := b.do("GET", "/room_keys/keys?version=1", nil, nil); code != 404 {
		t.Fatalf("bob reads alice's backup: %d", code)
	}
	a.must("DELETE", "/room_keys/keys/!q:backup.localhost/s2?version=1", nil, &all)
	if all.Count != 2 {
		t.Fatalf("count after deleting a session: %+v", all)
	}
	var info struct {
		Count   int    `json:"count"`
		Etag    string `json:"etag"`
		Version string `json:"version"`
	}
	a.must("GET", "/room_keys/version", nil, &info)
	if info.Count != 2 || info.Etag != all.Etag || info.Version != "1" {
		t.Fatalf("version info %+v, last answer %+v", info, all)
	}
	a.must("POST", "/room_keys/version", map[string]any{"algorithm": alg, "auth_data": map[string]string{}}, &v)
	if v.Version != "2" {
		t.Fatalf("second version %q", v.Version)
	}
	code, err := a.do("PUT", s1, key(0, 0, true), nil)
	if code != 403 || !strings.Contains(err.Error(), `"current_version":"2"`) || !strings.Contains(err.Error(), "M_WRONG_ROOM_KEYS_VERSION") {
		t.Fatalf("put to an old version: %d %v", code, err)
	}
	if code, _ := a.do("PUT", "/room_keys/version/2", map[string]any{"algorithm": "other", "auth_data": map[string]string{}}, nil); code != 400 {
		t.Fatalf("update changing the algorithm: %d", code)
	}
	a.must("DELETE", "/room_keys/version/2", nil, nil)
	a.must("DELETE", "/room_keys/version/2", nil, nil)
	if code, _ := a.do("DELETE", "/room_keys/version/9", nil, nil); code != 404 {
		t.Fatalf("delete a version never created: %d", code)
	}
	a.must("GET", "/room_keys/version", nil, &info)
	if info.Version != "1" {
		t.Fatalf("current after deleting version 2: %+v", info)
	}
	a.must("POST", "/room_keys/version", map[string]any{"algorithm": alg, "auth_data": map[string]string{}}, &v)
	if v.Version != "3" {
		t.Fatalf("version after a deletion %q, want 3", v.Version)
	}
}
