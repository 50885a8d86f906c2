package clientapi

import (
	"strings"
	"testing"
)

// TestExtendedProfile: any key can be set, read and deleted (v1.16), with
// the spec's limits and error codes; displayname keeps its string rule.
func TestExtendedProfile(t *testing.T) {
	_, s, _ := setup(t)
	base := "/_matrix/client/v3/profile/@alice:example.org/"
	if r := do(t, s, "PUT", base+"m.tz", "tok_alice", `{"m.tz":"Europe/Paris"}`); r.status != 200 {
		t.Fatalf("put m.tz: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "PUT", base+"org.example.pets", "tok_alice", `{"org.example.pets":["cat",{"name":"dog"}]}`); r.status != 200 {
		t.Fatalf("put a structured value: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "GET", base+"m.tz", "", ""); r.status != 200 || r.body["m.tz"] != "Europe/Paris" {
		t.Fatalf("get m.tz: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/profile/@alice:example.org", "", ""); !strings.Contains(r.raw, `"org.example.pets":["cat",{"name":"dog"}]`) {
		t.Fatalf("whole profile: %s", r.raw)
	}
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"someone else's", "PUT", "/_matrix/client/v3/profile/@bob:example.org/m.tz", "tok_alice", `{"m.tz":"x"}`, 403, "M_FORBIDDEN"},
		{"key missing from the body", "PUT", base + "m.tz", "tok_alice", `{"tz":"x"}`, 400, "M_MISSING_PARAM"},
		{"key too large", "PUT", base + strings.Repeat("k", 256), "tok_alice", `{}`, 400, "M_KEY_TOO_LARGE"},
		{"profile too large", "PUT", base + "big", "tok_alice", `{"big":"` + strings.Repeat("x", MaxProfileBytes) + `"}`, 400, "M_PROFILE_TOO_LARGE"},
		{"null", "PUT", base + "m.tz", "tok_alice", `{"m.tz":null}`, 400, "M_INVALID_PARAM"},
		{"displayname not a string", "PUT", base + "displayname", "tok_alice", `{"displayname":5}`, 400, "M_BAD_JSON"},
	} {
		if r := do(t, s, tc.method, tc.path, tc.token, tc.body); r.status != tc.status || r.body["errcode"] != tc.code {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		}
	}
	if r := do(t, s, "DELETE", base+"m.tz", "tok_alice", ""); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "GET", base+"m.tz", "", ""); r.status != 404 {
		t.Fatalf("after delete: %d", r.status)
	}
	do(t, s, "PUT", base+"displayname", "tok_alice", `{"displayname":"Al"}`)
	if r := do(t, s, "DELETE", base+"displayname", "tok_alice", ""); r.status != 200 {
		t.Fatalf("delete displayname: %d %s", r.status, r.raw)
	}
}
