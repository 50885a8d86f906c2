package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func ircThirdParty() *MemoryThirdParty {
	m := &MemoryThirdParty{}
	m.SetProtocol("irc", &Protocol{UserFields: []string{"network", "nickname"}, LocationFields: []string{"network", "channel"},
		Instances: []ProtocolInstance{{Desc: "Libera", NetworkID: "libera", InstanceID: "bridge|libera"}}})
	m.AddUser(ThirdPartyUser{UserID: "@irc_bob:example.org", Protocol: "irc", Fields: map[string]string{"network": "libera", "nickname": "bob"}})
	m.AddUser(ThirdPartyUser{UserID: "@irc_eve:example.org", Protocol: "irc", Fields: map[string]string{"network": "oftc", "nickname": "eve"}})
	m.AddLocation(ThirdPartyLocation{Alias: "#irc_libera_#matrix:example.org", Protocol: "irc", Fields: map[string]string{"network": "libera", "channel": "#matrix"}})
	return m
}

func TestThirdPartyLookups(t *testing.T) {
	f := newFake()
	tok := f.addUser("alice", "secret")
	s := f.handler()
	// Without a backend: no protocols, and every lookup finds nothing.
	if r := do(t, s, "GET", "/_matrix/client/v3/thirdparty/protocols", tok, ""); r.status != 200 || r.raw != "{}" {
		t.Fatalf("protocols without backend: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/thirdparty/protocol/irc", tok, ""); r.status != 404 || r.body["errcode"] != CodeNotFound {
		t.Fatalf("protocol without backend: %d %s", r.status, r.raw)
	}
	s = f.handler()
	s.ThirdParty = ircThirdParty()
	for _, tc := range []struct {
		path, token string
		status      int
		want        string // substring of the body
	}{
		{"/_matrix/client/v3/thirdparty/protocols", "", 401, "M_MISSING_TOKEN"},
		{"/_matrix/client/v3/thirdparty/protocols", tok, 200, `"instance_id":"bridge|libera"`},
		{"/_matrix/client/v3/thirdparty/protocol/irc", tok, 200, `"field_types":{}`},
		{"/_matrix/client/v3/thirdparty/protocol/xmpp", tok, 404, "M_NOT_FOUND"},
		{"/_matrix/client/v3/thirdparty/user/irc?nickname=bob", tok, 200, `"userid":"@irc_bob:example.org"`},
		{"/_matrix/client/r0/thirdparty/user/irc?network=oftc", tok, 200, `@irc_eve`},
		// Nothing found is 404 M_NOT_FOUND (third_party_lookup.yaml).
		{"/_matrix/client/v3/thirdparty/user/irc?nickname=carol", tok, 404, "M_NOT_FOUND"},
		{"/_matrix/client/v3/thirdparty/user?userid=@irc_bob:example.org", tok, 200, `"nickname":"bob"`},
		{"/_matrix/client/v3/thirdparty/user", tok, 400, "M_MISSING_PARAM"},
		{"/_matrix/client/v3/thirdparty/location/irc?channel=%23matrix", tok, 200, `"alias":"#irc_libera_#matrix:example.org"`},
		{"/_matrix/client/v3/thirdparty/location?alias=%23irc_libera_%23matrix:example.org", tok, 200, `"channel":"#matrix"`},
		{"/_matrix/client/v3/thirdparty/location?alias=%23none:example.org", tok, 404, "M_NOT_FOUND"},
		{"/_matrix/client/v3/thirdparty/location", tok, 400, "M_MISSING_PARAM"},
	} {
		r := do(t, s, "GET", tc.path, tc.token, "")
		if r.status != tc.status || !strings.Contains(r.raw, tc.want) {
			t.Errorf("%s: %d %s, want %d with %s", tc.path, r.status, r.raw, tc.status, tc.want)
		}
	}
	// A protocol's answer always has the lists the spec requires.
	r := do(t, s, "GET", "/_matrix/client/v3/thirdparty/protocol/irc", tok, "")
	var p map[string]json.RawMessage
	json.Unmarshal([]byte(r.raw), &p)
	for _, k := range []string{"user_fields", "location_fields", "icon", "field_types", "instances"} {
		if p[k] == nil {
			t.Errorf("protocol without %s: %s", k, r.raw)
		}
	}
}

type fakeAppServices struct {
	pinged  []string
	lists   map[string]bool // service|network|room -> public
	pingErr error
}

func (f *fakeAppServices) PingAppService(_ context.Context, id, txn string) (time.Duration, error) {
	f.pinged = append(f.pinged, id+"/"+txn)
	return 1500 * time.Microsecond, f.pingErr
}

func (f *fakeAppServices) SetAppServiceRoomVisibility(_ context.Context, id, network, roomID string, public bool) error {
	if f.lists == nil {
		f.lists = map[string]bool{}
	}
	f.lists[id+"|"+network+"|"+roomID] = public
	return nil
}

func TestAppServiceEndpoints(t *testing.T) {
	f := newFake()
	tok := f.addUser("alice", "secret")
	s := f.handler()
	ping := "/_matrix/client/v1/appservice/bridge/ping"
	list := "/_matrix/client/v3/directory/list/appservice/libera/!room:example.org"
	if r := do(t, s, "POST", ping, "as_token", `{}`); r.status != 404 || r.body["errcode"] != CodeUnrecognized {
		t.Fatalf("ping without backend: %d %s", r.status, r.raw)
	}
	as := &fakeAppServices{}
	s = f.handler()
	s.AppServices = as
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		want                      string
	}{
		{"POST", ping, tok, `{}`, 403, "M_FORBIDDEN"},
		{"POST", "/_matrix/client/v1/appservice/other/ping", "as_token", `{}`, 403, "M_FORBIDDEN"},
		{"POST", ping, "as_token", `{"transaction_id":"t1"}`, 200, `{"duration_ms":1}`},
		{"POST", ping, "as_token", ``, 200, `"duration_ms"`},
		{"POST", ping, "as_token", `{"transaction_id":5}`, 400, "M_BAD_JSON"},
		{"PUT", list, tok, `{"visibility":"public"}`, 403, "M_FORBIDDEN"},
		{"PUT", list, "as_token", `{"visibility":"public"}`, 200, `{}`},
		{"PUT", list, "as_token", `{}`, 400, "M_MISSING_PARAM"},
		{"PUT", list, "as_token", `{"visibility":"secret"}`, 400, "M_INVALID_PARAM"},
		{"PUT", "/_matrix/client/v3/directory/list/appservice/libera/notaroom", "as_token", `{"visibility":"public"}`, 400, "M_INVALID_PARAM"},
		{"PUT", "/_matrix/client/r0/directory/list/appservice/oftc/!room:example.org", "as_token", `{"visibility":"private"}`, 200, `{}`},
	} {
		r := do(t, s, tc.method, tc.path, tc.token, tc.body)
		if r.status != tc.status || !strings.Contains(r.raw, tc.want) {
			t.Errorf("%s %s %s: %d %s, want %d with %s", tc.method, tc.path, tc.body, r.status, r.raw, tc.status, tc.want)
		}
	}
	if strings.Join(as.pinged, " ") != "bridge/t1 bridge/" {
		t.Errorf("pings: %v", as.pinged)
	}
	if pub, ok := as.lists["bridge|libera|!room:example.org"]; !ok || !pub {
		t.Errorf("libera list: %v", as.lists)
	}
	if pub, ok := as.lists["bridge|oftc|!room:example.org"]; !ok || pub {
		t.Errorf("oftc list: %v", as.lists)
	}
	// The backend's errors reach the client with their extra fields.
	as.pingErr = NewError(http.StatusBadGateway, "M_BAD_STATUS", "ping returned status 500").With("status", 500)
	if r := do(t, s, "POST", ping, "as_token", `{}`); r.status != 502 || r.body["errcode"] != "M_BAD_STATUS" || r.body["status"] != float64(500) {
		t.Errorf("bad status: %d %s", r.status, r.raw)
	}
}

type fakeSSO struct{ idp, redirect, action string }

func (f *fakeSSO) SSORedirect(_ context.Context, idp, redirect, action string) (string, error) {
	if idp == "unknown" {
		return "", NotFound("no such identity provider")
	}
	f.idp, f.redirect, f.action = idp, redirect, action
	return "https://idp.example.com/auth?state=x", nil
}

type fakeOAuth string

func (f fakeOAuth) AuthMetadata(context.Context) (json.RawMessage, error) {
	if f == "" {
		return nil, errors.New("down")
	}
	return json.RawMessage(f), nil
}

func TestExternalServices(t *testing.T) {
	f := newFake()
	s := f.handler()
	// Without the services: the answers the spec gives a server without them.
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/_matrix/client/v3/login/sso/redirect?redirectUrl=https://app.example.com/", 404, CodeUnrecognized},
		{"/_matrix/client/v3/login/sso/redirect/google?redirectUrl=https://app.example.com/", 404, CodeUnrecognized},
		{"/_matrix/client/v1/auth_metadata", 404, CodeUnrecognized},
		{"/.well-known/matrix/policy_server", 404, CodeNotFound},
	} {
		if r := do(t, s, "GET", tc.path, "", ""); r.status != tc.status || r.body["errcode"] != tc.code {
			t.Errorf("%s: %d %s", tc.path, r.status, r.raw)
		}
	}
	sso := &fakeSSO{}
	s = f.handler()
	s.SSO, s.OAuth = sso, fakeOAuth(`{"issuer":"https://auth.example.com/"}`)
	s.PolicyServer = &PolicyServer{PublicKeys: map[string]string{"ed25519": "6yhHGKhCiXTSEN2ksjV7kX"}}
	r := do(t, s, "GET", "/_matrix/client/v3/login/sso/redirect/google?redirectUrl=https%3A%2F%2Fapp.example.com%2F%3Fa%3Db&action=register", "", "")
	if r.status != http.StatusFound || r.header.Get("Location") != "https://idp.example.com/auth?state=x" ||
		sso.idp != "google" || sso.redirect != "https://app.example.com/?a=b" || sso.action != "register" {
		t.Fatalf("redirect: %d %v %+v", r.status, r.header, sso)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/_matrix/client/r0/login/sso/redirect?redirectUrl=https://app.example.com/", 302, ""},
		{"/_matrix/client/v3/login/sso/redirect", 400, "M_MISSING_PARAM"},
		{"/_matrix/client/v3/login/sso/redirect?redirectUrl=relative", 400, "M_INVALID_PARAM"},
		{"/_matrix/client/v3/login/sso/redirect?redirectUrl=https://a/&action=delete", 400, "M_INVALID_PARAM"},
		{"/_matrix/client/v3/login/sso/redirect/unknown?redirectUrl=https://a/", 404, "M_NOT_FOUND"},
		{"/_matrix/client/v1/auth_metadata", 200, `"issuer":"https://auth.example.com/"`},
		{"/.well-known/matrix/policy_server", 200, `{"public_keys":{"ed25519":"6yhHGKhCiXTSEN2ksjV7kX"}}`},
	} {
		if r := do(t, s, "GET", tc.path, "", ""); r.status != tc.status || !strings.Contains(r.raw, tc.want) {
			t.Errorf("%s: %d %s", tc.path, r.status, r.raw)
		}
	}
	if sso.idp != "" || sso.action != "" {
		t.Errorf("redirect without idp: %+v", sso)
	}
	s = f.handler()
	s.OAuth = fakeOAuth("")
	if r := do(t, s, "GET", "/_matrix/client/v1/auth_metadata", "", ""); r.status != 500 {
		t.Errorf("failing metadata: %d %s", r.status, r.raw)
	}
}
