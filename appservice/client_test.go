package appservice

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// pathLog is a fake application service that records requests and answers
// by path prefix.
type pathLog struct {
	mu      sync.Mutex
	reqs    []string // "METHOD path?query auth"
	bodies  []string
	answer  func(r *http.Request) (int, string)
	lastRaw string
}

func (p *pathLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.reqs = append(p.reqs, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
	p.bodies = append(p.bodies, string(b))
	answer := p.answer
	p.mu.Unlock()
	status, body := answer(r)
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (p *pathLog) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.reqs...)
}

func TestClientLegacyFallback(t *testing.T) {
	// An old service: only the legacy paths exist.
	old := &pathLog{answer: func(r *http.Request) (int, string) {
		p, ok := strings.CutPrefix(r.URL.Path, "/base")
		if !ok {
			return 500, ""
		}
		if strings.HasPrefix(p, "/_matrix/app/v1/") {
			return 404, `{"errcode":"M_UNRECOGNIZED"}`
		}
		if p == "/users/@a:example.org" {
			return 200, `{}`
		}
		if strings.HasPrefix(p, "/_matrix/app/unstable/thirdparty/protocol/") {
			return 200, `{"instances":[]}`
		}
		return 200, `{}`
	}}
	srv := httptest.NewServer(old)
	defer srv.Close()
	g := reg(t, "old", "as", "hs", "bot", nil, nil, nil)
	g.URL = srv.URL + "/base"
	clock := &stepClock{now: time.Unix(1000, 0)}
	c := &Client{Clock: clock, LegacyRecheck: time.Minute}
	ctx := context.Background()
	if err := c.SendTransaction(ctx, g, "7", []byte(`{"events":[]}`)); err != nil {
		t.Fatal(err)
	}
	if !c.Legacy(g) {
		t.Fatal("not in legacy mode")
	}
	// In legacy mode the legacy path is asked directly.
	if ok, err := c.QueryUser(ctx, g, "@a:example.org"); !ok || err != nil {
		t.Fatalf("QueryUser %v %v", ok, err)
	}
	if _, err := c.Protocol(ctx, g, "irc"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PUT /base/_matrix/app/v1/transactions/7 Bearer hs",
		"PUT /base/transactions/7 Bearer hs",
		"GET /base/users/@a:example.org Bearer hs",
		"GET /base/_matrix/app/unstable/thirdparty/protocol/irc Bearer hs",
	}
	if got := old.log(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The same body went to both paths.
	if old.bodies[0] != old.bodies[1] || old.bodies[0] != `{"events":[]}` {
		t.Fatalf("bodies %q", old.bodies)
	}
	// After LegacyRecheck, v1 is tried again.
	clock.now = clock.now.Add(2 * time.Minute)
	if c.Legacy(g) {
		t.Fatal("still legacy after the recheck time")
	}
	// An upgraded service is followed at once: in legacy mode, a legacy
	// path that fails is retried on v1, and v1 is used from then on.
	if err := c.SendTransaction(ctx, g, "10", []byte(`{"events":[]}`)); err != nil || !c.Legacy(g) {
		t.Fatalf("back to legacy: %v %v", err, c.Legacy(g))
	}
	old.mu.Lock()
	old.answer = func(r *http.Request) (int, string) {
		if strings.HasPrefix(r.URL.Path, "/base/_matrix/app/v1/") {
			return 200, `{}`
		}
		return 404, `{"errcode":"M_UNRECOGNIZED"}`
	}
	old.mu.Unlock()
	n := len(old.log())
	if err := c.SendTransaction(ctx, g, "11", []byte(`{"events":[]}`)); err != nil || c.Legacy(g) {
		t.Fatalf("upgrade: %v %v", err, c.Legacy(g))
	}
	if got := old.log()[n:]; len(got) != 2 || !strings.Contains(got[0], "/base/transactions/11") || !strings.Contains(got[1], "/base/_matrix/app/v1/transactions/11") {
		t.Fatalf("%q", got)
	}

	// A current service that fails: the legacy path is tried once and the
	// v1 answer is reported; no legacy mode.
	failing := &pathLog{answer: func(r *http.Request) (int, string) {
		if strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/") {
			return 500, `{"errcode":"M_UNKNOWN","error":"db"}`
		}
		return 404, `{"errcode":"M_UNRECOGNIZED"}`
	}}
	srv2 := httptest.NewServer(failing)
	defer srv2.Close()
	g2 := reg(t, "new", "as2", "hs2", "bot2", nil, nil, nil)
	g2.URL = srv2.URL
	err := c.SendTransaction(ctx, g2, "8", []byte(`{"events":[]}`))
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 500 || se.Matrix().Message != "db" {
		t.Fatalf("err %v", err)
	}
	if c.Legacy(g2) || len(failing.log()) != 2 {
		t.Fatalf("legacy %v, %d requests", c.Legacy(g2), len(failing.log()))
	}
	// With the fallback off, one request.
	c2 := &Client{NoLegacyFallback: true, LegacyAuth: true}
	c2.SendTransaction(ctx, g2, "9", []byte(`{"events":[]}`))
	got := failing.log()
	if len(got) != 3 || got[2] != "PUT /_matrix/app/v1/transactions/9?access_token=hs2 Bearer hs2" {
		t.Fatalf("%q", got)
	}
	// No url: nothing is sent.
	g3 := reg(t, "none", "as3", "hs3", "bot3", nil, nil, nil)
	g3.URL = ""
	if err := c.SendTransaction(ctx, g3, "1", nil); !errors.Is(err, ErrNoURL) {
		t.Fatal(err)
	}
}

func TestClientQueriesAndThirdParty(t *testing.T) {
	svc := &pathLog{answer: func(r *http.Request) (int, string) {
		switch {
		case r.URL.Path == "/_matrix/app/v1/users/@yes:x", r.URL.Path == "/_matrix/app/v1/rooms/#yes:x":
			return 200, `{}`
		case strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/users/"), strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/rooms/"):
			return 404, `{"errcode":"M_NOT_FOUND"}`
		case r.URL.Path == "/_matrix/app/v1/thirdparty/protocol/irc":
			return 200, ` {"instances":[]} `
		case r.URL.Path == "/_matrix/app/v1/thirdparty/protocol/bad":
			return 200, `[]`
		case strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/thirdparty/"):
			return 200, `[]`
		}
		return 418, ""
	}}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	g := reg(t, "s", "as", "hs", "bot", nil, nil, nil)
	g.URL = srv.URL
	c := &Client{NoLegacyFallback: true}
	ctx := context.Background()
	for _, tc := range []struct {
		f    func() (bool, error)
		want bool
	}{
		{func() (bool, error) { return c.QueryUser(ctx, g, "@yes:x") }, true},
		{func() (bool, error) { return c.QueryUser(ctx, g, "@no:x") }, false},
		{func() (bool, error) { return c.QueryAlias(ctx, g, "#yes:x") }, true},
		{func() (bool, error) { return c.QueryAlias(ctx, g, "#no:x") }, false},
	} {
		if got, err := tc.f(); got != tc.want || err != nil {
			t.Errorf("%v %v", got, err)
		}
	}
	if p, err := c.Protocol(ctx, g, "irc"); err != nil || string(p) != `{"instances":[]}` {
		t.Fatalf("%s %v", p, err)
	}
	if _, err := c.Protocol(ctx, g, "bad"); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("array for a protocol: %v", err)
	}
	c.ThirdPartyUsers(ctx, g, "irc", url.Values{"nick": {"bob"}})
	c.ThirdPartyLocations(ctx, g, "irc", url.Values{"channel": {"#m"}})
	c.ThirdPartyUsersByID(ctx, g, "@a:x")
	c.ThirdPartyLocationsByAlias(ctx, g, "#a:x")
	got := svc.log()
	tail := got[len(got)-4:]
	want := []string{
		"GET /_matrix/app/v1/thirdparty/user/irc?nick=bob Bearer hs",
		"GET /_matrix/app/v1/thirdparty/location/irc?channel=%23m Bearer hs",
		"GET /_matrix/app/v1/thirdparty/user?userid=%40a%3Ax Bearer hs",
		"GET /_matrix/app/v1/thirdparty/location?alias=%23a%3Ax Bearer hs",
	}
	if strings.Join(tail, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%q", tail)
	}
	// Path parameters are escaped: a user ID with "/" stays one segment.
	c.QueryUser(ctx, g, "@a/b:x")
	if got := svc.log(); !strings.HasPrefix(got[len(got)-1], "GET /_matrix/app/v1/users/@a%2Fb:x ") {
		t.Fatalf("%q", got[len(got)-1])
	}
	// Another status is an error, not "no".
	svc.answer = func(*http.Request) (int, string) { return 500, "" }
	if ok, err := c.QueryUser(ctx, g, "@yes:x"); ok || err == nil {
		t.Fatal("500 taken as an answer")
	}
}

func TestTransport(t *testing.T) {
	var got []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
	}))
	defer hs.Close()
	c := &http.Client{Transport: &Transport{ASToken: "as", UserID: "@bot:x"}}
	c.Get(hs.URL + "/_matrix/client/v3/account/whoami")
	ctx := WithTimestamp(WithUser(context.Background(), "@_irc_a:x", "DEV"), time.UnixMilli(1234))
	req, _ := http.NewRequestWithContext(ctx, "PUT", hs.URL+"/_matrix/client/v3/rooms/!r:x/send/m.room.message/1", strings.NewReader("{}"))
	c.Do(req)
	req, _ = http.NewRequest("GET", hs.URL+"/x?user_id=%40own%3Ax", nil)
	c.Do(req)
	want := []string{
		"/_matrix/client/v3/account/whoami?user_id=%40bot%3Ax Bearer as",
		"/_matrix/client/v3/rooms/!r:x/send/m.room.message/1?device_id=DEV&ts=1234&user_id=%40_irc_a%3Ax Bearer as",
		"/x?user_id=%40own%3Ax Bearer as",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%q", got)
	}
	if req.Header.Get("Authorization") != "" {
		t.Fatal("the caller's request was changed")
	}
}
