package appservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type memAccounts struct {
	users   map[string]bool
	devices map[string]bool // user|device
	err     error
}

func (m *memAccounts) UserExists(_ context.Context, u string) (bool, error) { return m.users[u], m.err }
func (m *memAccounts) DeviceExists(_ context.Context, u, d string) (bool, error) {
	return m.devices[u+"|"+d], m.err
}

func wantErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want %d %s", err, status, code)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("err = %d %s (%s), want %d %s", e.Status, e.Code, e.Message, status, code)
	}
}

func TestActAs(t *testing.T) {
	r, irc, _ := testRegistry(t)
	accts := &memAccounts{
		users:   map[string]bool{"@_irc_bob:example.org": true},
		devices: map[string]bool{"@_irc_bob:example.org|DEV": true, "@_irc_bot:example.org|BOTDEV": true},
	}
	ctx := context.Background()
	tests := []struct {
		name         string
		token        string
		user, device string
		ok           bool
		wantUser     string
		wantDevice   string
		status       int
		code         string
	}{
		{"not an as_token", "user-token", "", "", false, "", "", 0, ""},
		{"sender by default", "as-irc", "", "", true, "@_irc_bot:example.org", "", 0, ""},
		{"sender named", "as-irc", "@_irc_bot:example.org", "", true, "@_irc_bot:example.org", "", 0, ""},
		{"user in namespace", "as-irc", "@_irc_bob:example.org", "", true, "@_irc_bob:example.org", "", 0, ""},
		{"user with device", "as-irc", "@_irc_bob:example.org", "DEV", true, "@_irc_bob:example.org", "DEV", 0, ""},
		{"sender's device", "as-irc", "", "BOTDEV", true, "@_irc_bot:example.org", "BOTDEV", 0, ""},
		{"unknown device", "as-irc", "@_irc_bob:example.org", "NOPE", true, "", "", 400, "M_UNKNOWN_DEVICE"},
		{"device of another user", "as-irc", "", "DEV", true, "", "", 400, "M_UNKNOWN_DEVICE"},
		{"outside namespace", "as-irc", "@alice:example.org", "", true, "", "", 403, "M_FORBIDDEN"},
		{"remote user", "as-irc", "@_irc_bob:other.org", "", true, "", "", 403, "M_FORBIDDEN"},
		{"other service's user", "as-log", "@_irc_bob:example.org", "", true, "", "", 403, "M_FORBIDDEN"},
		{"not registered", "as-irc", "@_irc_ghost:example.org", "", true, "", "", 403, "M_FORBIDDEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, ok, err := r.ActAs(ctx, tc.token, tc.user, tc.device, accts)
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if tc.code != "" {
				wantErr(t, err, tc.status, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			if a.Service != r.ByASToken(tc.token) || a.UserID != tc.wantUser || a.DeviceID != tc.wantDevice {
				t.Fatalf("actor %+v", a)
			}
		})
	}
	// Storage errors come back as they are.
	_, ok, err := r.ActAs(ctx, "as-irc", "@_irc_bob:example.org", "", &memAccounts{err: errors.New("db")})
	if !ok || err == nil || err.Error() != "db" {
		t.Fatalf("storage error: %v %v", ok, err)
	}
	_ = irc
}

func TestAuthenticateRequest(t *testing.T) {
	r, _, _ := testRegistry(t)
	accts := &memAccounts{users: map[string]bool{"@_irc_bob:example.org": true}}
	mk := func(target, auth string) *http.Request {
		req := httptest.NewRequest("GET", target, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return req
	}
	a, ok, err := r.Authenticate(mk("/_matrix/client/v3/account/whoami?user_id=%40_irc_bob%3Aexample.org", "Bearer as-irc"), accts)
	if err != nil || !ok || a.UserID != "@_irc_bob:example.org" {
		t.Fatalf("%+v %v %v", a, ok, err)
	}
	a, ok, err = r.Authenticate(mk("/x?access_token=as-log", ""), accts)
	if err != nil || !ok || a.UserID != "@logbot:example.org" {
		t.Fatalf("query token: %+v %v %v", a, ok, err)
	}
	if _, ok, err := r.Authenticate(mk("/x", "Bearer someone"), accts); ok || err != nil {
		t.Fatal("user token taken as an application service")
	}
	_, _, err = r.Authenticate(mk("/x", ""), accts)
	wantErr(t, err, 401, "M_MISSING_TOKEN")
	_, _, err = r.Authenticate(mk("/x?access_token=as-irc", "Bearer as-irc"), accts)
	wantErr(t, err, 401, "M_MISSING_TOKEN")
	_, _, err = r.Authenticate(mk("/x", "Basic abc"), accts)
	wantErr(t, err, 401, "M_MISSING_TOKEN")
}

func TestTimestamp(t *testing.T) {
	tests := []struct {
		q    string
		ts   int64
		ok   bool
		fail bool
	}{
		{"", 0, false, false},
		{"ts=1700000000000", 1700000000000, true, false},
		{"ts=0", 0, true, false},
		{"ts=9007199254740991", 1<<53 - 1, true, false},
		{"ts=9007199254740992", 0, false, true},
		{"ts=-1", 0, false, true},
		{"ts=%2B5", 0, false, true},
		{"ts=1.5", 0, false, true},
		{"ts=abc", 0, false, true},
		{"ts=", 0, false, true},
		{"ts=1&ts=2", 0, false, true},
	}
	for _, tc := range tests {
		q, _ := url.ParseQuery(tc.q)
		ts, ok, err := Timestamp(q)
		if tc.fail {
			wantErr(t, err, 400, "M_INVALID_PARAM")
			continue
		}
		if err != nil || ts != tc.ts || ok != tc.ok {
			t.Errorf("%q: %d %v %v", tc.q, ts, ok, err)
		}
	}
}

func TestRegisterAndLogin(t *testing.T) {
	r, irc, _ := testRegistry(t)
	type res struct {
		user   string
		status int
		code   string
	}
	regTests := []struct {
		name            string
		token, username string
		inhibit, legacy bool
		want            res
	}{
		{"in namespace", "as-irc", "_irc_bob", false, true, res{"@_irc_bob:example.org", 0, ""}},
		{"sender user", "as-irc", "_irc_bot", false, true, res{"@_irc_bot:example.org", 0, ""}},
		{"outside namespace", "as-irc", "alice", false, true, res{"", 400, "M_EXCLUSIVE"}},
		{"other's exclusive namespace", "as-log", "_irc_special2", false, true, res{"", 400, "M_EXCLUSIVE"}},
		{"no token", "", "_irc_bob", false, true, res{"", 401, "M_MISSING_TOKEN"}},
		{"unknown token", "nope", "_irc_bob", false, true, res{"", 401, "M_UNKNOWN_TOKEN"}},
		{"full user id", "as-irc", "@_irc_bob:example.org", false, true, res{"", 400, "M_INVALID_USERNAME"}},
		{"no legacy login, no inhibit", "as-irc", "_irc_bob", false, false, res{"", 400, "M_APPSERVICE_LOGIN_UNSUPPORTED"}},
		{"no legacy login, inhibit", "as-irc", "_irc_bob", true, false, res{"@_irc_bob:example.org", 0, ""}},
	}
	for _, tc := range regTests {
		t.Run("register/"+tc.name, func(t *testing.T) {
			u, g, err := r.Register(tc.token, tc.username, tc.inhibit, tc.legacy)
			if tc.want.code != "" {
				wantErr(t, err, tc.want.status, tc.want.code)
				return
			}
			if err != nil || u != tc.want.user || g != r.ByASToken(tc.token) {
				t.Fatalf("%q %v %v", u, g, err)
			}
		})
	}
	loginTests := []struct {
		name        string
		token, user string
		legacy      bool
		want        res
	}{
		{"localpart", "as-irc", "_irc_bob", true, res{"@_irc_bob:example.org", 0, ""}},
		{"user id", "as-irc", "@_irc_bob:example.org", true, res{"@_irc_bob:example.org", 0, ""}},
		{"outside namespace", "as-irc", "@alice:example.org", true, res{"", 400, "M_EXCLUSIVE"}},
		{"no legacy login", "as-irc", "_irc_bob", false, res{"", 400, "M_APPSERVICE_LOGIN_UNSUPPORTED"}},
		{"unknown token", "x", "_irc_bob", true, res{"", 401, "M_UNKNOWN_TOKEN"}},
		{"no token", "", "_irc_bob", true, res{"", 401, "M_MISSING_TOKEN"}},
		{"no user", "as-irc", "", true, res{"", 400, "M_INVALID_PARAM"}},
	}
	for _, tc := range loginTests {
		t.Run("login/"+tc.name, func(t *testing.T) {
			u, _, err := r.Login(tc.token, tc.user, tc.legacy)
			if tc.want.code != "" {
				wantErr(t, err, tc.want.status, tc.want.code)
				return
			}
			if err != nil || u != tc.want.user {
				t.Fatalf("%q %v", u, err)
			}
		})
	}
	// Ordinary registrations and alias creation.
	wantErr(t, r.CheckUserID("@_irc_x:example.org", nil), 400, "M_EXCLUSIVE")
	wantErr(t, r.CheckUserID("@_irc_bot:example.org", nil), 400, "M_EXCLUSIVE")
	if err := r.CheckUserID("@_irc_x:example.org", irc); err != nil {
		t.Fatal(err)
	}
	wantErr(t, r.CheckUserID("@alice:example.org", irc), 400, "M_EXCLUSIVE")
	log := r.ByID("logger")
	// In logger's (non-exclusive) namespace and irc's exclusive one:
	// logger may log in as the user but not create it.
	wantErr(t, r.CheckUserID("@_irc_special1:example.org", log), 400, "M_EXCLUSIVE")
	if err := r.CheckLogin("@_irc_special1:example.org", log); err != nil {
		t.Fatal(err)
	}
	wantErr(t, r.CheckLogin("@alice:example.org", log), 400, "M_EXCLUSIVE")
	wantErr(t, r.CheckLogin("@alice:example.org", nil), 400, "M_EXCLUSIVE")
	if err := r.CheckUserID("@irc_guest_1:example.org", nil); err != nil {
		t.Fatal("non-exclusive namespace blocked:", err)
	}
	wantErr(t, r.CheckAlias("#_irc_x:example.org", nil), 400, "M_EXCLUSIVE")
	if err := r.CheckAlias("#shared_x:example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := r.CheckAlias("#_irc_x:example.org", irc); err != nil {
		t.Fatal(err)
	}
	wantErr(t, r.CheckAlias("#other:example.org", irc), 400, "M_EXCLUSIVE")
}

// stepClock is a Clock whose Now advances by step on every call and whose
// Sleep records the waits and returns at once.
type stepClock struct {
	now     time.Time
	step    time.Duration
	sleeps  []time.Duration
	onSleep func(n int)
}

func (c *stepClock) Now() time.Time { c.now = c.now.Add(c.step); return c.now }
func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	if c.onSleep != nil {
		c.onSleep(len(c.sleeps))
	}
	return ctx.Err()
}

func TestPingHandler(t *testing.T) {
	var gotTxn, gotAuth string
	status := 200
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		gotTxn, _ = body["transaction_id"].(string)
		gotAuth = r.Header.Get("Authorization")
		if r.URL.Path != "/_matrix/app/v1/ping" {
			status = 404
		}
		w.WriteHeader(status)
		if status != 200 {
			w.Write([]byte(`{"errcode":"M_FORBIDDEN"}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer as.Close()
	irc := reg(t, "irc", "as-irc", "hs-irc", "_irc_bot", nil, nil, nil)
	irc.URL = as.URL
	nourl := reg(t, "nourl", "as-nourl", "hs-nourl", "nourlbot", nil, nil, nil)
	nourl.URL = ""
	// A port nothing listens on: take one and close it.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := reg(t, "dead", "as-dead", "hs-dead", "deadbot", nil, nil, nil)
	dead.URL = "http://" + l.Addr().String()
	l.Close()
	r, err := NewRegistry("example.org", irc, nourl, dead)
	if err != nil {
		t.Fatal(err)
	}
	var succeeded []string
	h := &PingHandler{Registry: r, Client: &Client{Clock: &stepClock{step: 123 * time.Millisecond}},
		OnSuccess: func(g *Registration) { succeeded = append(succeeded, g.ID) }}
	do := func(method, path, token, body string) (*httptest.ResponseRecorder, map[string]any) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec, out
	}
	rec, out := do("POST", "/_matrix/client/v1/appservice/irc/ping", "as-irc", `{"transaction_id":"meow"}`)
	if rec.Code != 200 || out["duration_ms"] != float64(123) || gotTxn != "meow" || gotAuth != "Bearer hs-irc" {
		t.Fatalf("%d %v txn %q auth %q", rec.Code, out, gotTxn, gotAuth)
	}
	if len(succeeded) != 1 || succeeded[0] != "irc" {
		t.Fatalf("OnSuccess: %v", succeeded)
	}
	// Wrong service in the path, or not an application service.
	rec, out = do("POST", "/_matrix/client/v1/appservice/other/ping", "as-irc", `{}`)
	if rec.Code != 403 || out["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("%d %v", rec.Code, out)
	}
	rec, out = do("POST", "/_matrix/client/v1/appservice/irc/ping", "user-token", `{}`)
	if rec.Code != 403 || out["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("%d %v", rec.Code, out)
	}
	rec, out = do("POST", "/_matrix/client/v1/appservice/irc/ping", "", `{}`)
	if rec.Code != 401 || out["errcode"] != "M_MISSING_TOKEN" {
		t.Fatalf("%d %v", rec.Code, out)
	}
	rec, out = do("POST", "/_matrix/client/v1/appservice/nourl/ping", "as-nourl", `{}`)
	if rec.Code != 400 || out["errcode"] != "M_URL_NOT_SET" {
		t.Fatalf("%d %v", rec.Code, out)
	}
	rec, out = do("POST", "/_matrix/client/v1/appservice/irc/ping", "as-irc", `[1]`)
	if rec.Code != 400 || out["errcode"] != "M_NOT_JSON" {
		t.Fatalf("%d %v", rec.Code, out)
	}
	rec, out = do("GET", "/_matrix/client/v1/appservice/irc/ping", "as-irc", ``)
	if rec.Code != 405 || out["errcode"] != "M_UNRECOGNIZED" {
		t.Fatalf("%d %v", rec.Code, out)
	}
	// The service refuses: 502 M_BAD_STATUS with its status and body (the
	// specification's "Incorrect hs_token" example).
	status = 403
	rec, out = do("POST", "/_matrix/client/v1/appservice/irc/ping", "as-irc", `{"transaction_id":"meow"}`)
	if rec.Code != 502 || out["errcode"] != "M_BAD_STATUS" || out["status"] != float64(403) || out["body"] != `{"errcode":"M_FORBIDDEN"}` {
		t.Fatalf("%d %v", rec.Code, out)
	}
	// The service cannot be reached: 502 M_CONNECTION_FAILED.
	rec, out = do("POST", "/_matrix/client/v1/appservice/dead/ping", "as-dead", `{}`)
	if rec.Code != 502 || out["errcode"] != "M_CONNECTION_FAILED" {
		t.Fatalf("%d %v", rec.Code, out)
	}
	if len(succeeded) != 1 {
		t.Fatalf("OnSuccess after failures: %v", succeeded)
	}
	// Timeouts are 504 M_CONNECTION_TIMEOUT.
	if e := PingError(context.DeadlineExceeded); e.Status != 504 || e.Code != CodeConnectionTimeout {
		t.Fatalf("%+v", e)
	}
}

type dirRecorder struct{ calls []string }

func (d *dirRecorder) SetAppServiceRoomVisibility(_ context.Context, svc, network, room string, public bool) error {
	d.calls = append(d.calls, fmt.Sprintf("%s %s %s %v", svc, network, room, public))
	return nil
}

func TestDirectoryListHandler(t *testing.T) {
	r, _, _ := testRegistry(t)
	dir := &dirRecorder{}
	h := &DirectoryListHandler{Registry: r, Directory: dir}
	const p = "/_matrix/client/v3/directory/list/appservice/irc/%21room%3Aexample.org"
	tests := []struct {
		method, target, token, body string
		status                      int
		code                        string
	}{
		{"PUT", p, "as-irc", `{"visibility":"public"}`, 200, ""},
		{"PUT", p, "as-log", `{"visibility":"private"}`, 200, ""},
		{"DELETE", p, "as-irc", ``, 200, ""},
		{"PUT", p, "as-irc", `{}`, 400, "M_BAD_JSON"},
		{"PUT", p, "as-irc", `{"visibility":"hidden"}`, 400, "M_INVALID_PARAM"},
		{"PUT", p, "as-irc", `[`, 400, "M_NOT_JSON"},
		{"PUT", p, "user-token", `{"visibility":"public"}`, 403, "M_FORBIDDEN"},
		{"PUT", p, "", `{"visibility":"public"}`, 401, "M_MISSING_TOKEN"},
		{"GET", p, "as-irc", ``, 405, "M_UNRECOGNIZED"},
		{"PUT", "/_matrix/client/v3/directory/list/appservice/irc/room", "as-irc", `{"visibility":"public"}`, 400, "M_INVALID_PARAM"},
		{"PUT", "/_matrix/client/v3/directory/list/appservice/irc", "as-irc", `{"visibility":"public"}`, 404, "M_UNRECOGNIZED"},
	}
	for _, tc := range tests {
		auth := ""
		if tc.token != "" {
			auth = "Bearer " + tc.token
		}
		status, out, raw := serve(h, tc.method, tc.target, auth, tc.body)
		if status != tc.status || (tc.code != "" && out["errcode"] != tc.code) {
			t.Errorf("%s %s %s: %d %s", tc.method, tc.target, tc.body, status, raw)
		}
	}
	want := "irc irc !room:example.org true|logger irc !room:example.org false|irc irc !room:example.org false"
	if got := strings.Join(dir.calls, "|"); got != want {
		t.Fatalf("calls %q", got)
	}
}
