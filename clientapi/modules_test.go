package clientapi

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mxkit/mxkit/roomversion"
)

func TestReports(t *testing.T) {
	f, s, room := setup(t)
	var sent struct{ id string }
	r := do(t, s, "PUT", "/_matrix/client/v3/rooms/"+room+"/send/m.room.message/1", "tok_alice", `{"msgtype":"m.text","body":"bad"}`)
	if r.status != 200 {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	sent.id = r.body["event_id"].(string)
	base := "/_matrix/client/v3/rooms/" + room + "/report"
	cases := []struct {
		name, token, path, body string
		status                  int
		code                    string
	}{
		{"event", "tok_alice", base + "/" + sent.id, `{"reason":"spam"}`, 200, ""},
		{"event, no body", "tok_alice", base + "/" + sent.id, ``, 200, ""},
		{"event, not joined", "tok_bob", base + "/" + sent.id, `{"reason":"spam"}`, 404, "M_NOT_FOUND"},
		{"event unknown", "tok_alice", base + "/$nope", `{"reason":"spam"}`, 404, "M_NOT_FOUND"},
		{"event, reason too long", "tok_alice", base + "/" + sent.id, `{"reason":"` + strings.Repeat("x", MaxReportReason+1) + `"}`, 400, "M_INVALID_PARAM"},
		{"room, by a non-member", "tok_bob", base, `{"reason":"bad room"}`, 200, ""},
		{"room, no reason", "tok_bob", base, `{}`, 400, "M_MISSING_PARAM"},
		{"room unknown", "tok_bob", "/_matrix/client/v3/rooms/!nope:example.org/report", `{"reason":"x"}`, 404, "M_NOT_FOUND"},
		{"user", "tok_bob", "/_matrix/client/v3/users/@alice:example.org/report", `{"reason":"rude"}`, 200, ""},
		{"user unknown", "tok_bob", "/_matrix/client/v3/users/@nobody:example.org/report", `{"reason":"rude"}`, 404, "M_NOT_FOUND"},
		{"user, bad ID", "tok_bob", "/_matrix/client/v3/users/alice/report", `{"reason":"rude"}`, 400, ""},
	}
	for _, tc := range cases {
		r := do(t, s, "POST", tc.path, tc.token, tc.body)
		if r.status != tc.status || (tc.code != "" && r.body["errcode"] != tc.code) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		}
	}
	if len(f.reports) != 4 || f.reports[0].Reason != "spam" || f.reports[2].RoomID != room || f.reports[3].UserID != "@alice:example.org" {
		t.Errorf("reports %+v", f.reports)
	}
}

func TestOpenIDToken(t *testing.T) {
	_, s, _ := setup(t)
	now := time.Unix(1000, 0)
	oid := &MemoryOpenID{TTL: time.Minute, Now: func() time.Time { return now }}
	s.OpenID = oid
	if r := do(t, s, "POST", "/_matrix/client/v3/user/@bob:example.org/openid/request_token", "tok_alice", `{}`); r.status != 403 {
		t.Fatalf("a token for someone else: %d %s", r.status, r.raw)
	}
	r := do(t, s, "POST", "/_matrix/client/v3/user/@alice:example.org/openid/request_token", "tok_alice", `{}`)
	if r.status != 200 || r.body["token_type"] != "Bearer" || r.body["matrix_server_name"] != "example.org" || r.body["expires_in"] != float64(60) {
		t.Fatalf("request_token: %d %s", r.status, r.raw)
	}
	tok := r.body["access_token"].(string)
	if u, err := oid.UserInfo(context.Background(), tok); err != nil || u != "@alice:example.org" {
		t.Fatalf("UserInfo: %q %v", u, err)
	}
	if _, err := oid.UserInfo(context.Background(), tok+"x"); err == nil {
		t.Fatalf("an unknown token answered")
	}
	now = now.Add(time.Minute)
	if _, err := oid.UserInfo(context.Background(), tok); err == nil {
		t.Fatalf("an expired token answered")
	}
}

func TestSupport(t *testing.T) {
	_, s, _ := setup(t)
	if r := do(t, s, "GET", "/.well-known/matrix/support", "", ""); r.status != 404 {
		t.Fatalf("without support information: %d", r.status)
	}
	sup := &Support{Contacts: []SupportContact{{MatrixID: "@admin:example.org", Role: "m.role.admin"}}, SupportPage: "https://example.org/help"}
	if err := sup.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := newFake()
	h := srv.handler()
	h.Support = sup
	r := do(t, h, "GET", "/.well-known/matrix/support", "", "")
	if r.status != 200 || r.body["support_page"] != "https://example.org/help" || !strings.Contains(r.raw, `"role":"m.role.admin"`) {
		t.Fatalf("support: %d %s", r.status, r.raw)
	}
	for _, bad := range []*Support{{}, {Contacts: []SupportContact{{Role: "m.role.admin"}}}, {Contacts: []SupportContact{{EmailAddress: "a@b"}}}, {Contacts: []SupportContact{{MatrixID: "admin", Role: "m.role.admin"}}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

func TestTimestampToEvent(t *testing.T) {
	_, s, room := setup(t)
	base := "/_matrix/client/v1/rooms/" + room + "/timestamp_to_event"
	for _, tc := range []struct {
		q      string
		status int
	}{{"", 400}, {"?ts=1", 400}, {"?ts=x&dir=f", 400}, {"?ts=1&dir=x", 400}, {"?ts=-1&dir=b", 400}, {"?ts=0&dir=b", 200}, {"?ts=100000&dir=f", 404}} {
		if r := do(t, s, "GET", base+tc.q, "tok_alice", ""); r.status != tc.status {
			t.Errorf("%s: %d %s", tc.q, r.status, r.raw)
		} else if r.status == 200 && (r.body["event_id"] == nil || r.body["origin_server_ts"] == nil) {
			t.Errorf("%s: %s", tc.q, r.raw)
		}
	}
	if r := do(t, s, "GET", base+"?ts=0&dir=b", "tok_bob", ""); r.status != 403 {
		t.Errorf("a non-member: %d", r.status)
	}
}

func TestSummaryVisible(t *testing.T) {
	v12, v6 := roomversion.V12, roomversion.V6
	cases := []struct {
		v                    roomversion.Version
		jr, hv, m            string
		auth, inAllowed, out bool
	}{
		{v12, "public", "shared", "", false, false, true},
		{v12, "invite", "world_readable", "", false, false, true},
		{v12, "knock", "shared", "", false, false, true},
		{v6, "knock", "shared", "", true, false, false}, // no knocking before v7
		{v12, "invite", "shared", "", false, false, false},
		{v12, "invite", "shared", "invite", true, false, true},
		{v12, "invite", "shared", "leave", true, false, false},
		{v12, "restricted", "shared", "", true, true, true},
		{v12, "restricted", "shared", "", true, false, false},
		{v12, "restricted", "shared", "", false, true, false},
	}
	for _, tc := range cases {
		if got := SummaryVisible(tc.v, tc.jr, tc.hv, tc.m, tc.auth, tc.inAllowed); got != tc.out {
			t.Errorf("%+v: %v", tc, got)
		}
	}
}

// TestPresenceStatusMsgLimit: a status message over MaxStatusMsgBytes is
// refused; one at the limit is taken.
func TestPresenceStatusMsgLimit(t *testing.T) {
	_, s, _ := setup(t)
	path := "/_matrix/client/v3/presence/@alice:example.org/status"
	at := `{"presence":"online","status_msg":"` + strings.Repeat("x", MaxStatusMsgBytes) + `"}`
	over := `{"presence":"online","status_msg":"` + strings.Repeat("x", MaxStatusMsgBytes+1) + `"}`
	if r := do(t, s, "PUT", path, "tok_alice", at); r.status != 200 {
		t.Fatalf("at the limit: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "PUT", path, "tok_alice", over); r.status != 400 || r.body["errcode"] != "M_INVALID_PARAM" {
		t.Fatalf("over the limit: %d %s", r.status, r.raw)
	}
}

func TestCreateRoomBounds(t *testing.T) {
	users := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("@u%d:example.org", i)
		}
		return out
	}
	if _, err := PlanCreateRoom(&CreateRoomRequest{Invite: users(MaxCreateRoomInvites)}, "@a:example.org", "example.org", nil, ""); err != nil {
		t.Fatalf("%d invites: %v", MaxCreateRoomInvites, err)
	}
	if _, err := PlanCreateRoom(&CreateRoomRequest{Invite: users(MaxCreateRoomInvites + 1)}, "@a:example.org", "example.org", nil, ""); err == nil || !strings.Contains(err.Error(), "invite") {
		t.Fatalf("too many invites: %v", err)
	}
	st := make([]InitialStateEvent, MaxCreateRoomInitialState+1)
	for i := range st {
		st[i] = InitialStateEvent{Type: "org.example.s", StateKey: fmt.Sprint(i), Content: []byte(`{}`)}
	}
	if _, err := PlanCreateRoom(&CreateRoomRequest{InitialState: st}, "@a:example.org", "example.org", nil, ""); err == nil || !strings.Contains(err.Error(), "initial_state") {
		t.Fatalf("too many initial_state entries: %v", err)
	}
}
