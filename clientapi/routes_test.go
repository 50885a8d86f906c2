package clientapi

import (
	"regexp"
	"strings"
	"testing"
)

type routeInfo struct {
	method, path string
	auth         authMode
}

func allRoutes() []routeInfo {
	var out []routeInfo
	s := &Server{}
	add := func(prefixes []string, method, path string, auth authMode, _ handlerFunc) {
		for _, p := range prefixes {
			out = append(out, routeInfo{method, p + path, auth})
		}
	}
	s.routes(add)
	s.deviceRoutes(add)
	s.publicRoomRoutes(add)
	s.tagRoutes(add)
	s.pushRuleRoutes(add)
	s.moduleRoutes(add)
	s.keyBackupRoutes(add)
	s.crossSigningRoutes(add)
	return out
}

var wildcard = regexp.MustCompile(`\{[^}]+\}`)

func samplePath(p string) string {
	return wildcard.ReplaceAllStringFunc(p, func(w string) string {
		switch strings.Trim(w, "{.}") {
		case "roomId", "roomIdOrAlias":
			return "%21room%3Aexample.org"
		case "userId":
			return "%40alice%3Aexample.org"
		case "eventId":
			return "%24e1"
		case "roomAlias":
			return "%23room%3Aexample.org"
		case "rest":
			return "global/override/r1"
		}
		return "x"
	})
}

// TestEveryRouteNeedsItsToken: every endpoint that requires an access
// token answers 401 M_MISSING_TOKEN without one and 401 M_UNKNOWN_TOKEN
// with a bad one, before looking at anything else.
func TestEveryRouteNeedsItsToken(t *testing.T) {
	f, s, _ := setup(t)
	_ = f
	n := 0
	for _, rt := range allRoutes() {
		if rt.auth != authRequired {
			continue
		}
		n++
		path := samplePath(rt.path)
		if r := do(t, s, rt.method, path, "", `{}`); r.status != 401 || r.body["errcode"] != "M_MISSING_TOKEN" {
			t.Errorf("%s %s without token: %d %s", rt.method, path, r.status, r.raw)
		}
		if r := do(t, s, rt.method, path, "bogus", `{}`); r.status != 401 || r.body["errcode"] != "M_UNKNOWN_TOKEN" {
			t.Errorf("%s %s with a bad token: %d %s", rt.method, path, r.status, r.raw)
		}
	}
	if n < 100 {
		t.Fatalf("only %d authenticated routes", n)
	}
}

// TestEveryBodyRouteRejectsBadJSON: endpoints that take a JSON body answer
// M_NOT_JSON for a body that is not JSON, M_BAD_JSON for JSON that is not
// an object; none answers 500.
func TestEveryBodyRouteRejectsBadJSON(t *testing.T) {
	_, s, _ := setup(t)
	// Endpoints whose body is optional or ignored are listed: they accept
	// anything (POST /logout, /forget, /leave take no required body).
	noBody := map[string]bool{"/logout": true, "/logout/all": true, "/forget": true}
	n := 0
	defer func() {
		if n < 50 {
			t.Errorf("only %d body routes checked", n)
		}
	}()
	for _, rt := range allRoutes() {
		if rt.method == "GET" || rt.method == "DELETE" {
			continue
		}
		skip := false
		for suffix := range noBody {
			if strings.HasSuffix(rt.path, suffix) {
				skip = true
			}
		}
		if skip {
			continue
		}
		n++
		path := samplePath(rt.path)
		for _, tc := range []struct{ body, code string }{{`{"a":`, "M_NOT_JSON"}, {`[1]`, "M_BAD_JSON"}, {"{\"a\":\"\xff\"}", "M_NOT_JSON"}} {
			r := do(t, s, rt.method, path, "tok_alice", tc.body)
			if r.status >= 500 {
				t.Errorf("%s %s %s: %d %s", rt.method, path, tc.body, r.status, r.raw)
			}
			if r.status != 400 && r.status != 401 {
				t.Errorf("%s %s %s: accepted: %d %s", rt.method, path, tc.body, r.status, r.raw)
			} else if r.status == 400 && r.body["errcode"] != tc.code {
				t.Errorf("%s %s %s: %s, want %s", rt.method, path, tc.body, r.body["errcode"], tc.code)
			}
		}
	}
}

// TestInvalidUTF8IsNotJSON: JSON must be UTF-8 (RFC 8259 section 8.1, which
// the spec's "API Standards" require); encoding/json's Valid does not check
// the bytes of strings, so a body with a stray 0xff byte passed as JSON and
// reached the user-interactive auth of /register (401 with flows) instead
// of being refused as 400 M_NOT_JSON, as Synapse refuses it.
func TestInvalidUTF8IsNotJSON(t *testing.T) {
	_, s, _ := setup(t)
	for _, body := range []string{"{\"username\":\"a\xffb\"}", "{\"a\xc0\xaf\":1}", "{\"a\":\"\xed\xa0\x80\"}"} {
		r := do(t, s, "POST", "/_matrix/client/v3/register", "", body)
		if r.status != 400 || r.body["errcode"] != "M_NOT_JSON" {
			t.Errorf("register %q: %d %s, want 400 M_NOT_JSON", body, r.status, r.raw)
		}
	}
}
