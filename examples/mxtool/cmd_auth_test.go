package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// authEvent writes a test event of room version 3 or later (plain ID
// lists), with an event_id as the CLI contract asks of test inputs.
func authEvent(id, typ, sender string, stateKey *string, content string, prev, auth []string, extra map[string]any) map[string]any {
	m := map[string]any{
		"event_id":         id,
		"type":             typ,
		"sender":           sender,
		"room_id":          "!room:a.test",
		"content":          json.RawMessage(content),
		"depth":            3,
		"origin_server_ts": 1700000000000,
		"prev_events":      prev,
		"auth_events":      auth,
		"hashes":           map[string]string{"sha256": "aGFzaA"},
		"signatures":       map[string]any{"a.test": map[string]string{"ed25519:1": "c2ln"}},
	}
	if stateKey != nil {
		m["state_key"] = *stateKey
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func sk(s string) *string { return &s }

func authDoc(t *testing.T, ev map[string]any, auth []map[string]any, rejected []string) string {
	t.Helper()
	if auth == nil {
		auth = []map[string]any{}
	}
	doc := map[string]any{"event": ev, "auth_events": auth}
	if rejected != nil {
		doc["rejected"] = rejected
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A small room of room version 10: alice created it and joined; the power
// levels give alice 100; the room is public.
func room10() (create, join, pl, jr map[string]any) {
	create = authEvent("$create", "m.room.create", "@alice:a.test", sk(""), `{"creator":"@alice:a.test","room_version":"10"}`, []string{}, []string{}, nil)
	join = authEvent("$join", "m.room.member", "@alice:a.test", sk("@alice:a.test"), `{"membership":"join"}`, []string{"$create"}, []string{"$create"}, nil)
	pl = authEvent("$pl", "m.room.power_levels", "@alice:a.test", sk(""), `{"users":{"@alice:a.test":100},"kick":50}`, []string{"$join"}, []string{"$create", "$join"}, nil)
	jr = authEvent("$jr", "m.room.join_rules", "@alice:a.test", sk(""), `{"join_rule":"public"}`, []string{"$pl"}, []string{"$create", "$join", "$pl"}, nil)
	return
}

func TestAuth(t *testing.T) {
	create, join, pl, jr := room10()
	base := []map[string]any{create, join, pl, jr}
	msg := func(sender string, auth ...string) map[string]any {
		return authEvent("$msg", "m.room.message", sender, nil, `{"body":"hi"}`, []string{"$jr"}, auth, nil)
	}
	tests := []struct {
		name     string
		version  string
		doc      string
		want     string // the exact output
		reasonIn string // for rejections: the rule the reason must name
	}{
		{
			name:    "message allowed",
			version: "10",
			doc:     authDoc(t, msg("@alice:a.test", "$create", "$join", "$pl"), base, nil),
			want:    `{"allowed":true}` + "\n",
		},
		{
			name:     "sender not joined",
			version:  "10",
			doc:      authDoc(t, msg("@bob:a.test", "$create", "$pl"), base, nil),
			reasonIn: "sender.not_joined: ",
		},
		{
			name:     "rejected auth event",
			version:  "10",
			doc:      authDoc(t, msg("@alice:a.test", "$create", "$join", "$pl"), base, []string{"$pl"}),
			reasonIn: "auth_events.rejected: ",
		},
		{
			name:     "unexpected auth event",
			version:  "10",
			doc:      authDoc(t, msg("@alice:a.test", "$create", "$join", "$pl", "$jr"), base, nil),
			reasonIn: "auth_events.unexpected: ",
		},
		{
			name:     "no create event listed",
			version:  "10",
			doc:      authDoc(t, msg("@alice:a.test", "$join", "$pl"), base, nil),
			reasonIn: "auth_events.no_create: ",
		},
		{
			name:    "public join",
			version: "10",
			doc: authDoc(t, authEvent("$bob", "m.room.member", "@bob:a.test", sk("@bob:a.test"), `{"membership":"join"}`,
				[]string{"$jr"}, []string{"$create", "$pl", "$jr"}, nil), base, nil),
			want: `{"allowed":true}` + "\n",
		},
		{
			name:    "string power levels refused from v10",
			version: "10",
			doc: authDoc(t, authEvent("$pl2", "m.room.power_levels", "@alice:a.test", sk(""), `{"users":{"@alice:a.test":"100"}}`,
				[]string{"$jr"}, []string{"$create", "$join", "$pl"}, nil), base, nil),
			reasonIn: "power_levels.users: ",
		},
		{
			name:     "event invalid for the version: status 0, not allowed",
			version:  "10",
			doc:      authDoc(t, authEvent("$bad", "m.room.message", "not-a-user", nil, `{}`, []string{}, []string{}, nil), base, nil),
			reasonIn: "invalid event: ",
		},
		{
			name:     "event without content",
			version:  "10",
			doc:      `{"event":{"event_id":"$x","type":"m.room.message"},"auth_events":[]}`,
			reasonIn: "invalid event: ",
		},
		{
			name:     "auth event invalid",
			version:  "10",
			doc:      authDoc(t, msg("@alice:a.test", "$create"), []map[string]any{{"event_id": "$y", "type": 5}}, nil),
			reasonIn: "invalid auth event 0: ",
		},
		{
			name:    "create event",
			version: "10",
			doc:     authDoc(t, create, nil, nil),
			want:    `{"allowed":true}` + "\n",
		},
		{
			name:     "create event without creator",
			version:  "10",
			doc:      authDoc(t, authEvent("$c", "m.room.create", "@alice:a.test", sk(""), `{}`, []string{}, []string{}, nil), []map[string]any{}, nil),
			reasonIn: "create.no_creator: ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runTool(t, tc.doc, "auth", "--room-version", tc.version)
			if r.code != 0 {
				t.Fatalf("status %d, stderr %q", r.code, r.stderr)
			}
			if tc.want != "" {
				if r.stdout != tc.want {
					t.Fatalf("got %q, want %q", r.stdout, tc.want)
				}
				return
			}
			var out struct {
				Allowed *bool   `json:"allowed"`
				Reason  *string `json:"reason"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("output %q: %v", r.stdout, err)
			}
			if out.Allowed == nil || *out.Allowed || out.Reason == nil {
				t.Fatalf("got %q, want a refusal", r.stdout)
			}
			if !strings.HasPrefix(*out.Reason, tc.reasonIn) {
				t.Fatalf("reason %q, want it to start with %q", *out.Reason, tc.reasonIn)
			}
			if !strings.HasPrefix(r.stdout, `{"allowed":false,"reason":`) || !strings.HasSuffix(r.stdout, "}\n") {
				t.Fatalf("output is not canonical JSON and a newline: %q", r.stdout)
			}
		})
	}
}

// TestAuthRoomVersion12 checks the v12 shape: the create event is given
// but not listed, and the room ID is its ID with the ! sigil.
func TestAuthRoomVersion12(t *testing.T) {
	create := authEvent("$createhash", "m.room.create", "@alice:a.test", sk(""), `{"room_version":"12"}`, []string{}, []string{}, nil)
	delete(create, "room_id")
	join := authEvent("$join", "m.room.member", "@alice:a.test", sk("@alice:a.test"), `{"membership":"join"}`, []string{"$createhash"}, []string{}, map[string]any{"room_id": "!createhash"})
	msg := authEvent("$msg", "m.room.message", "@alice:a.test", nil, `{"body":"x"}`, []string{"$join"}, []string{"$join"}, map[string]any{"room_id": "!createhash"})
	listed := authEvent("$msg", "m.room.message", "@alice:a.test", nil, `{"body":"x"}`, []string{"$join"}, []string{"$createhash", "$join"}, map[string]any{"room_id": "!createhash"})
	cases := []struct {
		doc, want string
	}{
		{authDoc(t, create, nil, nil), `{"allowed":true}` + "\n"},
		{authDoc(t, join, []map[string]any{create}, nil), `{"allowed":true}` + "\n"},
		{authDoc(t, msg, []map[string]any{create, join}, nil), `{"allowed":true}` + "\n"},
		{authDoc(t, msg, []map[string]any{create, join}, []string{"$createhash"}), `"reason":"room_id.create_rejected: `},
		{authDoc(t, listed, []map[string]any{create, join}, nil), `"reason":"auth_events.create_listed: `},
		{authDoc(t, msg, []map[string]any{join}, nil), `"reason":"room_id.no_create: `},
	}
	for i, c := range cases {
		r := runTool(t, c.doc, "auth", "--room-version", "12")
		if r.code != 0 || !strings.Contains(r.stdout, c.want) {
			t.Errorf("case %d: status %d, output %q, want %q", i, r.code, r.stdout, c.want)
		}
	}
}

// TestAuthRoomVersion1 checks the v1 event format: event_id in the event
// and [id, hashes] pairs.
func TestAuthRoomVersion1(t *testing.T) {
	pair := func(id string) []any { return []any{id, map[string]string{"sha256": "aGFzaA"}} }
	create := authEvent("$create:a.test", "m.room.create", "@alice:a.test", sk(""), `{"creator":"@alice:a.test"}`, nil, nil, map[string]any{"prev_events": []any{}, "auth_events": []any{}})
	join := authEvent("$join:a.test", "m.room.member", "@alice:a.test", sk("@alice:a.test"), `{"membership":"join"}`, nil, nil,
		map[string]any{"prev_events": []any{pair("$create:a.test")}, "auth_events": []any{pair("$create:a.test")}})
	redaction := authEvent("$red:a.test", "m.room.redaction", "@bob:a.test", nil, `{}`, nil, nil,
		map[string]any{"prev_events": []any{pair("$join:a.test")}, "auth_events": []any{pair("$create:a.test")}, "redacts": "$x:b.test"})
	r := runTool(t, authDoc(t, join, []map[string]any{create}, nil), "auth", "--room-version", "1")
	if r.code != 0 || r.stdout != `{"allowed":true}`+"\n" {
		t.Fatalf("creator join: status %d, %q", r.code, r.stdout)
	}
	r = runTool(t, authDoc(t, redaction, []map[string]any{create, join}, nil), "auth", "--room-version", "1")
	if r.code != 0 || !strings.Contains(r.stdout, `"reason":"sender.not_joined: `) {
		t.Fatalf("redaction by non-member: status %d, %q", r.code, r.stdout)
	}
}

func TestAuthUsage(t *testing.T) {
	create, _, _, _ := room10()
	good := authDoc(t, create, nil, nil)
	cases := []struct {
		name  string
		args  []string
		input string
	}{
		{"no room version", []string{"auth"}, good},
		{"unknown room version", []string{"auth", "--room-version", "99"}, good},
		{"positional argument", []string{"auth", "--room-version", "10", "x"}, good},
		{"not JSON", []string{"auth", "--room-version", "10"}, `{"event":`},
		{"duplicate keys", []string{"auth", "--room-version", "10"}, `{"event":{},"event":{},"auth_events":[]}`},
		{"not an object", []string{"auth", "--room-version", "10"}, `[1,2]`},
		{"no event", []string{"auth", "--room-version", "10"}, `{"auth_events":[]}`},
		{"event not an object", []string{"auth", "--room-version", "10"}, `{"event":"x","auth_events":[]}`},
		{"no auth_events", []string{"auth", "--room-version", "10"}, `{"event":{}}`},
		{"auth_events null", []string{"auth", "--room-version", "10"}, `{"event":{},"auth_events":null}`},
		{"auth_events not an array", []string{"auth", "--room-version", "10"}, `{"event":{},"auth_events":{}}`},
		{"auth event not an object", []string{"auth", "--room-version", "10"}, `{"event":{},"auth_events":[1]}`},
		{"rejected not strings", []string{"auth", "--room-version", "10"}, `{"event":{},"auth_events":[],"rejected":[1]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runTool(t, c.input, c.args...)
			if r.code != 2 {
				t.Fatalf("status %d (stdout %q, stderr %q), want 2", r.code, r.stdout, r.stderr)
			}
		})
	}
}
