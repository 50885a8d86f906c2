package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func checkPW(_ context.Context, userID, pw string) error {
	if userID == "@alice:example.org" && pw == "secret" {
		return nil
	}
	return Forbidden("invalid password")
}

func challengeOf(t *testing.T, err error) *UIAChallenge {
	t.Helper()
	var ch *UIAChallenge
	if !errors.As(err, &ch) {
		t.Fatalf("want a UIA challenge, got %v", err)
	}
	return ch
}

func TestUIATwoStages(t *testing.T) {
	u := &UIA{}
	req := UIARequest{
		Operation:     "POST /account/deactivate",
		Flows:         []UIAFlow{{Stages: []string{AuthTypePassword, AuthTypeDummy}}, {Stages: []string{AuthTypeDummy, AuthTypeDummy, AuthTypePassword}}},
		Params:        map[string]any{"example": map[string]any{"k": "v"}},
		UserID:        "@alice:example.org",
		ServerName:    "example.org",
		CheckPassword: checkPW,
	}
	ctx := context.Background()

	// 1. No auth: 401 with flows, params, a session and no completed.
	ch := challengeOf(t, u.Check(ctx, nil, req))
	var body map[string]any
	json.Unmarshal(ch.Body(), &body)
	if body["session"] == "" || body["completed"] != nil || body["params"].(map[string]any)["example"] == nil {
		t.Fatalf("first challenge: %s", ch.Body())
	}
	sess := ch.Session

	// 2. A stage out of order is refused.
	err := u.Check(ctx, json.RawMessage(`{"type":"m.login.application_service","session":"`+sess+`"}`), req)
	if e, ok := asError(err); !ok || e.Code != CodeUnrecognized {
		t.Fatalf("unknown stage: %v", err)
	}

	// 3. Wrong password: 401 with errcode M_FORBIDDEN, nothing completed.
	ch = challengeOf(t, u.Check(ctx, json.RawMessage(`{"type":"m.login.password","session":"`+sess+`","identifier":{"type":"m.id.user","user":"alice"},"password":"no"}`), req))
	if ch.Err == nil || ch.Err.Code != CodeForbidden || len(ch.Completed) != 0 || ch.Session != sess {
		t.Fatalf("wrong password: %s", ch.Body())
	}
	if !strings.Contains(string(ch.Body()), `"errcode":"M_FORBIDDEN"`) {
		t.Fatalf("body lacks errcode: %s", ch.Body())
	}

	// 4. Another user's password does not do.
	ch = challengeOf(t, u.Check(ctx, json.RawMessage(`{"type":"m.login.password","session":"`+sess+`","user":"@bob:example.org","password":"secret"}`), req))
	if ch.Err == nil || ch.Err.Code != CodeForbidden {
		t.Fatalf("other user: %s", ch.Body())
	}

	// 5. Right password (legacy "user" form): completed [password].
	ch = challengeOf(t, u.Check(ctx, json.RawMessage(`{"type":"m.login.password","session":"`+sess+`","user":"alice","password":"secret"}`), req))
	if ch.Err != nil || len(ch.Completed) != 1 || ch.Completed[0] != AuthTypePassword {
		t.Fatalf("after password: %s", ch.Body())
	}

	// 6. Retrying a completed stage reports progress again.
	ch = challengeOf(t, u.Check(ctx, json.RawMessage(`{"type":"m.login.password","session":"`+sess+`","user":"alice","password":"secret"}`), req))
	if len(ch.Completed) != 1 {
		t.Fatalf("retry: %s", ch.Body())
	}

	// 7. The session is bound to its operation.
	other := req
	other.Operation = "POST /delete_devices"
	if e, ok := asError(u.Check(ctx, json.RawMessage(`{"type":"m.login.dummy","session":"`+sess+`"}`), other)); !ok || e.Code != CodeForbidden {
		t.Fatalf("operation change accepted")
	}

	// 8. Dummy completes the first flow; the session ends.
	if err := u.Check(ctx, json.RawMessage(`{"type":"m.login.dummy","session":"`+sess+`"}`), req); err != nil {
		t.Fatalf("flow not complete: %v", err)
	}
	if e, ok := asError(u.Check(ctx, json.RawMessage(`{"type":"m.login.dummy","session":"`+sess+`"}`), req)); !ok || e.Status != 400 {
		t.Fatalf("ended session still usable")
	}
}

func TestUIAExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	u := &UIA{TTL: time.Minute, Now: func() time.Time { return now }}
	req := UIARequest{Operation: "op", Flows: []UIAFlow{{Stages: []string{AuthTypeDummy, AuthTypeDummy}}}}
	ch := challengeOf(t, u.Check(context.Background(), nil, req))
	ch = challengeOf(t, u.Check(context.Background(), json.RawMessage(`{"type":"m.login.dummy","session":"`+ch.Session+`"}`), req))
	now = now.Add(2 * time.Minute)
	if e, ok := asError(u.Check(context.Background(), json.RawMessage(`{"type":"m.login.dummy","session":"`+ch.Session+`"}`), req)); !ok || e.Code != CodeUnknown {
		t.Fatalf("expired session accepted")
	}
}

func TestUIABadAuth(t *testing.T) {
	u := &UIA{}
	req := UIARequest{Operation: "op", Flows: []UIAFlow{{Stages: []string{AuthTypePassword}}}, ServerName: "example.org", CheckPassword: checkPW}
	for _, auth := range []string{`"x"`, `{"type":5}`, `{"type":"m.login.password","identifier":"alice"}`, `{"type":"m.login.password","identifier":{"type":"m.id.phone"}}`} {
		err := u.Check(context.Background(), json.RawMessage(auth), req)
		if err == nil {
			t.Errorf("%s accepted", auth)
		}
		w := httptest.NewRecorder()
		WriteError(w, err)
		if w.Code != 400 && w.Code != 401 {
			t.Errorf("%s: status %d", auth, w.Code)
		}
	}
}

func TestRegisterUIARoundTrip(t *testing.T) {
	_, s, _ := setup(t)
	r := do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"carol","password":"pw"}`)
	if r.status != 401 {
		t.Fatalf("first: %d %s", r.status, r.raw)
	}
	sess := r.body["session"].(string)
	r = do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"carol","password":"pw","auth":{"type":"m.login.dummy","session":"`+sess+`"}}`)
	if r.status != 200 || r.body["user_id"] != "@carol:example.org" {
		t.Fatalf("second: %d %s", r.status, r.raw)
	}
	tok := r.body["access_token"].(string)
	if r := do(t, s, "GET", "/_matrix/client/v3/account/whoami", tok, ""); r.body["user_id"] != "@carol:example.org" {
		t.Fatalf("new token: %s", r.raw)
	}
	// The user now exists: a second registration is refused before UIA.
	r = do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"carol","password":"pw"}`)
	if r.status != 400 || r.body["errcode"] != "M_USER_IN_USE" {
		t.Fatalf("again: %d %s", r.status, r.raw)
	}
	// Without a username the server picks one.
	r = do(t, s, "POST", "/_matrix/client/v3/register", "", `{"auth":{"type":"m.login.dummy"}}`)
	if r.status != 200 || ValidUserID(r.body["user_id"].(string), false) != nil {
		t.Fatalf("generated: %d %s", r.status, r.raw)
	}
}

func TestRegistrationDisabled(t *testing.T) {
	_, s, _ := setup(t)
	s.AllowRegistration = false
	r := do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"carol","auth":{"type":"m.login.dummy"}}`)
	if r.status != 403 || r.body["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

func TestUIASessionCap(t *testing.T) {
	u := &UIA{MaxSessions: 10}
	req := UIARequest{Operation: "op", Flows: []UIAFlow{{Stages: []string{AuthTypeDummy, AuthTypeDummy}}}}
	for range 100 {
		challengeOf(t, u.Check(context.Background(), nil, req))
	}
	if n := len(u.sessions); n > 10 {
		t.Fatalf("%d sessions kept", n)
	}
}
