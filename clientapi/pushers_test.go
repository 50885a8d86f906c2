package clientapi

import (
	"strings"
	"testing"
)

// TestPushers: POST /pushers/set and GET /pushers
// (data/api/client-server/pusher.yaml), with the validation of each field
// and the append rule across users.
func TestPushers(t *testing.T) {
	f, s, _ := setup(t)
	bobTok := "tok_bob"
	_ = f
	const ok = `{"kind":"http","app_id":"com.example.app","pushkey":"KEY","app_display_name":"App","device_display_name":"Phone","lang":"en","data":{"url":"https://push.example.org/_matrix/push/v1/notify","format":"event_id_only","custom":1}}`
	set := func(tok, body string) result { return do(t, s, "POST", "/_matrix/client/v3/pushers/set", tok, body) }
	get := func(tok string) []any {
		r := do(t, s, "GET", "/_matrix/client/v3/pushers", tok, "")
		if r.status != 200 {
			t.Fatalf("GET /pushers: %d %s", r.status, r.raw)
		}
		return r.body["pushers"].([]any)
	}
	if n := len(get("tok_alice")); n != 0 {
		t.Fatalf("%d pushers before any was set", n)
	}
	bad := []struct{ name, body, code string }{
		{"no kind", `{"app_id":"a","pushkey":"k"}`, "M_MISSING_PARAM"},
		{"no app_id", `{"kind":"http","pushkey":"k"}`, "M_MISSING_PARAM"},
		{"no lang and data", strings.Replace(strings.Replace(ok, `"lang":"en",`, "", 1), `,"data":{"url":"https://push.example.org/_matrix/push/v1/notify","format":"event_id_only","custom":1}`, "", 1), "M_MISSING_PARAM"},
		{"data not an object", strings.Replace(ok, `"data":{`, `"data":[{`, 1)[:len(ok)] + `]}`, "M_BAD_JSON"},
		{"no url", strings.Replace(ok, `"url":"https://push.example.org/_matrix/push/v1/notify",`, "", 1), "M_MISSING_PARAM"},
		{"wrong path", strings.Replace(ok, "/_matrix/push/v1/notify", "/notify", 1), "M_INVALID_PARAM"},
		{"plain http off loopback", strings.Replace(ok, "https://push.example.org", "http://push.example.org", 1), "M_INVALID_PARAM"},
		{"email", strings.Replace(ok, `"kind":"http"`, `"kind":"email"`, 1), "M_INVALID_PARAM"},
		{"unknown kind", strings.Replace(ok, `"kind":"http"`, `"kind":"sms"`, 1), "M_INVALID_PARAM"},
		{"pushkey too long", strings.Replace(ok, `"KEY"`, `"`+strings.Repeat("k", 513)+`"`, 1), "M_INVALID_PARAM"},
		{"app_id too long", strings.Replace(ok, `"com.example.app"`, `"`+strings.Repeat("é", 65)+`"`, 1), "M_INVALID_PARAM"},
	}
	for _, tc := range bad {
		if r := set("tok_alice", tc.body); r.status != 400 || r.body["errcode"] != tc.code {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, r.status, r.raw, tc.code)
		}
	}
	if r := set("tok_alice", ok); r.status != 200 {
		t.Fatalf("set: %d %s", r.status, r.raw)
	}
	if r := set("tok_alice", strings.Replace(ok, `"app_id":"com.example.app"`, `"app_id":"`+strings.Repeat("é", 64)+`"`, 1)); r.status != 200 {
		t.Fatalf("app_id of 64 characters: %d %s", r.status, r.raw)
	}
	loopback := strings.Replace(strings.Replace(ok, "https://push.example.org", "http://127.0.0.1:9999", 1), `"KEY"`, `"LOCAL"`, 1)
	if r := set("tok_alice", loopback); r.status != 200 {
		t.Fatalf("plain http on loopback: %d %s", r.status, r.raw)
	}
	list := get("tok_alice")
	if len(list) != 3 {
		t.Fatalf("alice has %d pushers, want 3", len(list))
	}
	first := list[0].(map[string]any)
	if first["pushkey"] != "KEY" || first["lang"] != "en" || first["data"].(map[string]any)["custom"] != float64(1) {
		t.Errorf("pusher kept as %v", first)
	}
	// Bob takes KEY for the same app without append: alice loses it.
	if r := set(bobTok, ok); r.status != 200 {
		t.Fatalf("bob set: %d %s", r.status, r.raw)
	}
	if n := len(get("tok_alice")); n != 2 {
		t.Errorf("alice has %d pushers after bob took her key without append, want 2", n)
	}
	// With append, both keep it.
	if r := set("tok_alice", strings.Replace(ok, `"kind":"http"`, `"append":true,"kind":"http"`, 1)); r.status != 200 {
		t.Fatalf("append: %d %s", r.status, r.raw)
	}
	if len(get("tok_alice")) != 3 || len(get(bobTok)) != 1 {
		t.Errorf("append: alice %d, bob %d pushers", len(get("tok_alice")), len(get(bobTok)))
	}
	// kind null deletes (other fields not needed).
	if r := set("tok_alice", `{"kind":null,"app_id":"com.example.app","pushkey":"KEY"}`); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if n := len(get("tok_alice")); n != 2 {
		t.Errorf("alice has %d pushers after deleting one, want 2", n)
	}
}

func TestNotificationsWithoutBackend(t *testing.T) {
	_, s, _ := setup(t)
	r := do(t, s, "GET", "/_matrix/client/v3/notifications?only=highlight&limit=5", "tok_alice", "")
	if r.status != 200 || r.raw != `{"notifications":[]}` {
		t.Fatalf("notifications: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/notifications?limit=x", "tok_alice", ""); r.status != 400 {
		t.Fatalf("bad limit: %d %s", r.status, r.raw)
	}
}
