package clientapi

import (
	"net/url"
	"strings"
	"testing"
)

func TestRegistrationTokens(t *testing.T) {
	f := newFake()
	s := f.handler()
	tokens := &MemoryRegistrationTokens{}
	tokens.Add("once", 1)
	tokens.Add("many_~.-Z9", 0)
	s.RegistrationTokens = tokens
	validity := func(q string) result {
		return do(t, s, "GET", "/_matrix/client/v1/register/m.login.registration_token/validity"+q, "", "")
	}
	for _, tc := range []struct {
		query   string
		status  int
		want    string
		errcode string
	}{
		{"?token=once", 200, `{"valid":true}`, ""},
		{"?token=" + url.QueryEscape("many_~.-Z9"), 200, `{"valid":true}`, ""},
		{"?token=unknown", 200, `{"valid":false}`, ""},
		{"?token=" + strings.Repeat("a", 65), 200, `{"valid":false}`, ""},
		{"?token=" + url.QueryEscape("sp ace"), 200, `{"valid":false}`, ""},
		{"?token=", 200, `{"valid":false}`, ""},
		{"", 400, "", "M_MISSING_PARAM"},
	} {
		r := validity(tc.query)
		if r.status != tc.status || tc.want != "" && r.raw != tc.want || tc.errcode != "" && r.body["errcode"] != tc.errcode {
			t.Errorf("validity%s: %d %s", tc.query, r.status, r.raw)
		}
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/register/m.login.registration_token/validity?token=once", "", ""); r.status != 404 {
		t.Errorf("validity under v3: %d", r.status)
	}

	// The flow offered is the token stage alone.
	r := do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"ann","password":"pw"}`)
	if r.status != 401 || !strings.Contains(r.raw, `"flows":[{"stages":["m.login.registration_token"]}]`) {
		t.Fatalf("register flows: %d %s", r.status, r.raw)
	}
	session := r.body["session"].(string)
	// The dummy stage is not enough.
	if r := do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"ann","password":"pw","auth":{"type":"m.login.dummy","session":"`+session+`"}}`); r.status != 400 || r.body["errcode"] != "M_UNRECOGNIZED" {
		t.Fatalf("dummy stage: %d %s", r.status, r.raw)
	}
	// A wrong token is a failed attempt: the challenge again, with the
	// error.
	r = do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"ann","password":"pw","auth":{"type":"m.login.registration_token","token":"nope","session":"`+session+`"}}`)
	if r.status != 401 || r.body["errcode"] != "M_UNAUTHORIZED" || r.body["session"] != session {
		t.Fatalf("wrong token: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"ann","auth":{"type":"m.login.registration_token","session":"`+session+`"}}`); r.status != 401 || r.body["errcode"] != "M_MISSING_PARAM" || r.body["session"] != session {
		// A stage without its token is a failed attempt, answered
		// with the challenge, as a password stage without a user is.
		t.Fatalf("no token: %d %s", r.status, r.raw)
	}
	if tokens.Completed("once") != 0 {
		t.Fatal("a use counted before any registration completed")
	}
	r = do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"ann","password":"pw","auth":{"type":"m.login.registration_token","token":"once","session":"`+session+`"}}`)
	if r.status != 200 || r.body["user_id"] != "@ann:example.org" {
		t.Fatalf("register with the token: %d %s", r.status, r.raw)
	}
	if tokens.Completed("once") != 1 {
		t.Fatalf("uses counted: %d", tokens.Completed("once"))
	}
	// The single use is spent.
	if r := validity("?token=once"); r.raw != `{"valid":false}` {
		t.Fatalf("validity after the use: %s", r.raw)
	}
	r = do(t, s, "POST", "/_matrix/client/v3/register", "", `{"username":"ben","password":"pw","auth":{"type":"m.login.registration_token","token":"once"}}`)
	if r.status != 401 || r.body["errcode"] != "M_UNAUTHORIZED" {
		t.Fatalf("spent token: %d %s", r.status, r.raw)
	}
	// An application service registers without a token.
	if r := do(t, s, "POST", "/_matrix/client/v3/register", "as_token", `{"type":"m.login.application_service","username":"bridge_x"}`); r.status != 200 {
		t.Fatalf("application service registration: %d %s", r.status, r.raw)
	}

	// Registration closed: the validity endpoint answers 403.
	s2 := f.handler()
	s2.AllowRegistration, s2.RegistrationTokens = false, tokens
	if r := do(t, s2, "GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=many_~.-Z9", "", ""); r.status != 403 || r.body["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("validity with registration closed: %d %s", r.status, r.raw)
	}
	// Without tokens, no token is valid, and the flow is the dummy
	// stage.
	if r := do(t, f.handler(), "GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=once", "", ""); r.status != 200 || r.raw != `{"valid":false}` {
		t.Fatalf("validity without tokens: %d %s", r.status, r.raw)
	}
	if r := do(t, f.handler(), "POST", "/_matrix/client/v3/register", "", `{"username":"cy"}`); !strings.Contains(r.raw, `"stages":["m.login.dummy"]`) {
		t.Fatalf("flows without tokens: %s", r.raw)
	}

	// The validity check is rate limited per address, as logins are.
	s3 := f.handler()
	s3.RegistrationTokens, s3.RateLimit = tokens, DefaultRateLimits()
	limited := false
	for range 50 {
		if r := do(t, s3, "GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=guess", "", ""); r.status == 429 {
			limited = r.body["errcode"] == "M_LIMIT_EXCEEDED"
			break
		}
	}
	if !limited {
		t.Fatal("50 validity checks from one address were not rate limited")
	}
}
