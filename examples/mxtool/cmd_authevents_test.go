package main

import (
	"encoding/json"
	"testing"
)

func TestAuthEvents(t *testing.T) {
	enc := func(m map[string]any) string {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name    string
		version string
		event   map[string]any
		want    string
	}{
		{
			name:    "message",
			version: "10",
			event:   authEvent("$m", "m.room.message", "@bob:a.test", nil, `{"body":"x"}`, []string{"$p"}, []string{}, nil),
			want:    `{"needed":[{"state_key":"","type":"m.room.create"},{"state_key":"@bob:a.test","type":"m.room.member"},{"state_key":"","type":"m.room.power_levels"}]}` + "\n",
		},
		{
			name:    "message v12: no create event",
			version: "12",
			event:   authEvent("$m", "m.room.message", "@bob:a.test", nil, `{"body":"x"}`, []string{"$p"}, []string{}, map[string]any{"room_id": "!abc"}),
			want:    `{"needed":[{"state_key":"@bob:a.test","type":"m.room.member"},{"state_key":"","type":"m.room.power_levels"}]}` + "\n",
		},
		{
			name:    "create",
			version: "10",
			event:   authEvent("$c", "m.room.create", "@bob:a.test", sk(""), `{"creator":"@bob:a.test"}`, []string{}, []string{}, nil),
			want:    `{"needed":[]}` + "\n",
		},
		{
			name:    "invite",
			version: "10",
			event:   authEvent("$i", "m.room.member", "@bob:a.test", sk("@carol:a.test"), `{"membership":"invite"}`, []string{"$p"}, []string{}, nil),
			want:    `{"needed":[{"state_key":"","type":"m.room.create"},{"state_key":"","type":"m.room.join_rules"},{"state_key":"@bob:a.test","type":"m.room.member"},{"state_key":"@carol:a.test","type":"m.room.member"},{"state_key":"","type":"m.room.power_levels"}]}` + "\n",
		},
		{
			name:    "third-party invite",
			version: "10",
			event: authEvent("$i", "m.room.member", "@bob:a.test", sk("@zara:b.test"),
				`{"membership":"invite","third_party_invite":{"signed":{"mxid":"@zara:b.test","token":"tok"}}}`, []string{"$p"}, []string{}, nil),
			want: `{"needed":[{"state_key":"","type":"m.room.create"},{"state_key":"","type":"m.room.join_rules"},{"state_key":"@bob:a.test","type":"m.room.member"},{"state_key":"@zara:b.test","type":"m.room.member"},{"state_key":"","type":"m.room.power_levels"},{"state_key":"tok","type":"m.room.third_party_invite"}]}` + "\n",
		},
		{
			name:    "restricted join",
			version: "8",
			event: authEvent("$j", "m.room.member", "@dave:a.test", sk("@dave:a.test"),
				`{"membership":"join","join_authorised_via_users_server":"@alice:a.test"}`, []string{"$p"}, []string{}, nil),
			want: `{"needed":[{"state_key":"","type":"m.room.create"},{"state_key":"","type":"m.room.join_rules"},{"state_key":"@alice:a.test","type":"m.room.member"},{"state_key":"@dave:a.test","type":"m.room.member"},{"state_key":"","type":"m.room.power_levels"}]}` + "\n",
		},
		{
			name:    "restricted join field before v8",
			version: "7",
			event: authEvent("$j", "m.room.member", "@dave:a.test", sk("@dave:a.test"),
				`{"membership":"join","join_authorised_via_users_server":"@alice:a.test"}`, []string{"$p"}, []string{}, nil),
			want: `{"needed":[{"state_key":"","type":"m.room.create"},{"state_key":"","type":"m.room.join_rules"},{"state_key":"@dave:a.test","type":"m.room.member"},{"state_key":"","type":"m.room.power_levels"}]}` + "\n",
		},
		{
			name:    "leave needs no join rules",
			version: "10",
			event:   authEvent("$l", "m.room.member", "@dave:a.test", sk("@dave:a.test"), `{"membership":"leave"}`, []string{"$p"}, []string{}, nil),
			want:    `{"needed":[{"state_key":"","type":"m.room.create"},{"state_key":"@dave:a.test","type":"m.room.member"},{"state_key":"","type":"m.room.power_levels"}]}` + "\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runTool(t, enc(tc.event), "auth-events", "--room-version", tc.version)
			if r.code != 0 {
				t.Fatalf("status %d, stderr %q", r.code, r.stderr)
			}
			if r.stdout != tc.want {
				t.Fatalf("got  %s\nwant %s", r.stdout, tc.want)
			}
		})
	}
}

func TestAuthEventsUsage(t *testing.T) {
	member := authEvent("$j", "m.room.member", "@dave:a.test", nil, `{"membership":"join"}`, []string{"$p"}, []string{}, nil)
	b, _ := json.Marshal(member)
	cases := []struct {
		name  string
		args  []string
		input string
	}{
		{"no room version", []string{"auth-events"}, `{}`},
		{"unknown room version", []string{"auth-events", "--room-version", "13"}, `{}`},
		{"not JSON", []string{"auth-events", "--room-version", "10"}, `{`},
		{"not an object", []string{"auth-events", "--room-version", "10"}, `"x"`},
		{"not an event", []string{"auth-events", "--room-version", "10"}, `{"type":"m.room.message"}`},
		{"member without state_key", []string{"auth-events", "--room-version", "10"}, string(b)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := runTool(t, c.input, c.args...); r.code != 2 {
				t.Fatalf("status %d (stdout %q, stderr %q), want 2", r.code, r.stdout, r.stderr)
			}
		})
	}
}
