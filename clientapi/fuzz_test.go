package clientapi

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// jsonEndpoints are the adapters that take a JSON body.
var jsonEndpoints = []struct{ method, path string }{
	{"POST", "/_matrix/client/v3/login"},
	{"POST", "/_matrix/client/v3/register"},
	{"POST", "/_matrix/client/v3/createRoom"},
	{"POST", "/_matrix/client/v3/join/{room}"},
	{"POST", "/_matrix/client/v3/rooms/{room}/invite"},
	{"POST", "/_matrix/client/v3/rooms/{room}/kick"},
	{"POST", "/_matrix/client/v3/rooms/{room}/leave"},
	{"PUT", "/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"},
	{"PUT", "/_matrix/client/v3/rooms/{room}/state/m.room.topic"},
	{"PUT", "/_matrix/client/v3/rooms/{room}/redact/$e3/{txn}"},
	{"POST", "/_matrix/client/v3/user/@alice:example.org/filter"},
	{"PUT", "/_matrix/client/v3/directory/room/%23x:example.org"},
	{"PUT", "/_matrix/client/v3/profile/@alice:example.org/displayname"},
	{"PUT", "/_matrix/client/v3/user/@alice:example.org/account_data/m.direct"},
	{"PUT", "/_matrix/client/v3/rooms/{room}/typing/@alice:example.org"},
	{"POST", "/_matrix/client/v3/rooms/{room}/receipt/m.read/$e3"},
	{"POST", "/_matrix/client/v3/rooms/{room}/read_markers"},
	{"PUT", "/_matrix/client/v3/presence/@alice:example.org/status"},
	{"POST", "/_matrix/client/v3/user_directory/search"},
	{"POST", "/_matrix/client/v3/keys/upload"},
	{"POST", "/_matrix/client/v3/keys/query"},
	{"PUT", "/_matrix/client/v3/devices/DEValice"},
	{"POST", "/_matrix/client/v3/delete_devices"},
	{"PUT", "/_matrix/client/v3/user/@alice:example.org/rooms/{room}/tags/u.t"},
	{"POST", "/_matrix/client/v3/publicRooms"},
	{"PUT", "/_matrix/client/v3/pushrules/global/override/r1?before=x"},
	{"PUT", "/_matrix/client/v3/pushrules/global/content/r2"},
	{"PUT", "/_matrix/client/v3/pushrules/global/override/.m.rule.master/actions"},
	{"PUT", "/_matrix/client/v3/directory/list/room/{room}"},
	{"DELETE", "/_matrix/client/v3/devices/DEVother"},
	{"POST", "/_matrix/client/v3/room_keys/version"},
	{"PUT", "/_matrix/client/v3/room_keys/version/1"},
	{"PUT", "/_matrix/client/v3/room_keys/keys?version=1"},
	{"PUT", "/_matrix/client/v3/room_keys/keys/{room}?version=1"},
	{"PUT", "/_matrix/client/v3/room_keys/keys/{room}/s1?version=1"},
	{"POST", "/_matrix/client/v3/keys/device_signing/upload"},
	{"POST", "/_matrix/client/v3/keys/signatures/upload"},
}

// FuzzRequestBodies sends arbitrary bodies to every JSON-taking adapter:
// no panic, and every answer is JSON; errors carry errcode and error.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `[]`, `null`, `"x"`, `{"a":`, `{"type":"m.login.password","user":"alice","password":"secret"}`,
		`{"auth":{"type":"m.login.dummy"},"username":"x"}`, `{"auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":5}}}`,
		`{"preset":"trusted_private_chat","invite":["@b:c"],"room_version":"12","initial_state":[{"type":"m.room.power_levels","content":{"users":[]}}]}`,
		`{"power_level_content_override":{"users":"x"}}`, `{"creation_content":{"additional_creators":[1]}}`,
		`{"user_id":"@bob:example.org","reason":{}}`, `{"typing":true,"timeout":-1}`, `{"typing":"yes"}`,
		`{"m.fully_read":"$x","m.read":5}`, `{"presence":"online","status_msg":1}`, `{"search_term":null}`,
		`{"one_time_keys":{"a:b":1,"c":2}}`, `{"device_keys":{"@a:b":"x"}}`, `{"room_id":"!a:b"}`, `{"displayname":null}`,
		`{"a":1e400}`, "{\"a\":\"\xff\"}", `{"` + strings.Repeat("a", 300) + `":1}`,
	} {
		for i := range jsonEndpoints {
			f.Add(i, seed)
		}
	}
	fk, s, room := setup(f)
	_ = fk
	n := 0
	f.Fuzz(func(t *testing.T, i int, body string) {
		if i < 0 {
			i = -i
		}
		e := jsonEndpoints[i%len(jsonEndpoints)]
		n++
		path := strings.ReplaceAll(e.path, "{room}", url.PathEscape(room))
		path = strings.ReplaceAll(path, "{txn}", "t"+strings.Repeat("x", n%7)+string(rune('a'+n%26)))
		r := do(t, s, e.method, path, "tok_alice", body)
		if !json.Valid([]byte(r.raw)) {
			t.Fatalf("%s %s: answer is not JSON: %q", e.method, path, r.raw)
		}
		if r.status >= 400 && r.status != 401 {
			if _, ok := r.body["errcode"].(string); !ok {
				t.Fatalf("%s %s: error without errcode: %d %s", e.method, path, r.status, r.raw)
			}
		}
		if r.status >= 500 {
			t.Fatalf("%s %s: server error for client input: %d %s", e.method, path, r.status, r.raw)
		}
	})
}

// FuzzPlanCreateRoom: any request plans without panicking, and a plan
// always starts with the create event and the creator's join.
func FuzzPlanCreateRoom(f *testing.F) {
	for _, s := range []string{`{}`, `{"room_version":"1"}`, `{"room_version":"12","preset":"trusted_private_chat","invite":["@b:c","@b:c"]}`,
		`{"initial_state":[{"type":"m.room.power_levels","content":{}},{"type":"x","state_key":"","content":{}}]}`,
		`{"name":"n","topic":"t","room_alias_name":"a","visibility":"public"}`, `{"power_level_content_override":{"users":{"@alice:example.org":1}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req CreateRoomRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		plan, err := PlanCreateRoom(&req, "@alice:example.org", "example.org", nil, "")
		if err != nil {
			if _, ok := asError(err); !ok {
				t.Fatalf("error is not an *Error: %v", err)
			}
			return
		}
		if len(plan.Events) < 3 || plan.Events[0].Type != "m.room.create" || plan.Events[1].StateKey != "@alice:example.org" || plan.Events[2].Type != "m.room.power_levels" {
			t.Fatalf("plan order: %+v", plan.Events)
		}
		for _, ev := range plan.Events {
			if !isObject(ev.Content) {
				t.Fatalf("content not an object: %s", ev.Content)
			}
		}
	})
}

// FuzzUIA: arbitrary auth objects never panic and never complete a
// password flow without the password.
func FuzzUIA(f *testing.F) {
	for _, s := range []string{``, `null`, `{}`, `{"type":"m.login.password","user":"alice","password":"x"}`,
		`{"type":"m.login.dummy"}`, `{"session":"nope"}`, `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"@alice:example.org"}}`} {
		f.Add(s)
	}
	u := &UIA{}
	f.Fuzz(func(t *testing.T, auth string) {
		req := UIARequest{Operation: "op", Flows: []UIAFlow{{Stages: []string{AuthTypePassword}}}, UserID: "@alice:example.org", ServerName: "example.org", CheckPassword: checkPW}
		err := u.Check(context.Background(), json.RawMessage(auth), req)
		if err == nil && !strings.Contains(auth, "secret") {
			t.Fatalf("completed without the password: %s", auth)
		}
	})
}

// FuzzValidateFilter: any input is accepted or refused with an *Error,
// never a panic; what is accepted is a JSON object.
func FuzzValidateFilter(f *testing.F) {
	for _, s := range []string{`{}`, `{"room":{"timeline":{"limit":10,"types":["m.room.message"]}}}`, `{"event_fields":[1]}`,
		`{"presence":{"limit":-1}}`, `[]`, `{"room":{"state":{"lazy_load_members":true}}}`, `{"event_format":"client"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateFilter([]byte(s))
		if err == nil && !isObject(json.RawMessage(s)) {
			t.Fatalf("accepted a non-object %q", s)
		}
		if err != nil {
			if _, ok := asError(err); !ok {
				t.Fatalf("not an *Error: %v", err)
			}
		}
	})
}

// FuzzKeyBackupData: CheckKeyBackupData never panics, and of two key data
// that pass it, BetterSessionKey never prefers each to the other.
func FuzzKeyBackupData(f *testing.F) {
	for _, s := range [][2]string{
		{`{"first_message_index":1,"forwarded_count":0,"is_verified":false,"session_data":{}}`, `{"first_message_index":0,"forwarded_count":3,"is_verified":false,"session_data":{"a":1}}`},
		{`{"first_message_index":1,"forwarded_count":0,"is_verified":true,"session_data":{}}`, `{"first_message_index":1e3,"forwarded_count":0,"is_verified":false,"session_data":{}}`},
		{`{"first_message_index":-1}`, `[]`}, {`{"is_verified":"yes"}`, `null`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		errA, errB := CheckKeyBackupData(json.RawMessage(a)), CheckKeyBackupData(json.RawMessage(b))
		if errA != nil || errB != nil {
			return
		}
		if BetterSessionKey(json.RawMessage(a), json.RawMessage(b)) && BetterSessionKey(json.RawMessage(b), json.RawMessage(a)) {
			t.Fatalf("each better than the other: %s %s", a, b)
		}
	})
}

// FuzzCrossSigningJSON: ParseCrossSigningKey and MergeSignatures never
// panic; a merge keeps the key (same content but for signatures), adds
// the signature, and gives JSON that merges again.
func FuzzCrossSigningJSON(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"@a:b","usage":["master"],"keys":{"ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}`,
		`{"user_id":"@a:b","usage":["master"],"keys":{"ed25519:x":"x"},"signatures":{"@a:b":{"ed25519:y":"z"}}}`,
		`{"signatures":[]}`, `{"signatures":{"@a:b":1}}`, `[]`, `{}`, `{"keys":{"a":1}}`, `{"unsigned":{"x":1},"signatures":null}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		ParseCrossSigningKey(json.RawMessage(key))
		merged, err := MergeSignatures(json.RawMessage(key), "@s:example.org", map[string]string{"ed25519:k": "sig"})
		if err != nil {
			return
		}
		if signaturesBy(merged, "@s:example.org")["ed25519:k"] != "sig" {
			t.Fatalf("signature not added: %s", merged)
		}
		if !sameSignedContent(merged, json.RawMessage(key)) {
			t.Fatalf("merge changed the key: %s -> %s", key, merged)
		}
		if _, err := MergeSignatures(merged, "@t:example.org", map[string]string{"ed25519:j": "s"}); err != nil {
			t.Fatalf("merged key does not merge again: %v", err)
		}
	})
}
