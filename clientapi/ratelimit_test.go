package clientapi

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRateLimitBucket(t *testing.T) {
	now := time.Unix(0, 0)
	l := &RateLimits{Now: func() time.Time { return now }}
	for i := range 3 {
		if ok, _ := l.take("k", 2, 3); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i)
		}
	}
	ok, wait := l.take("k", 2, 3)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th: ok=%v wait=%v, want refused for 500ms", ok, wait)
	}
	now = now.Add(499 * time.Millisecond)
	if ok, _ := l.take("k", 2, 3); ok {
		t.Fatalf("a token before it was due")
	}
	now = now.Add(time.Millisecond)
	if ok, _ := l.take("k", 2, 3); !ok {
		t.Fatalf("no token when due")
	}
	now = now.Add(time.Hour)
	for i := range 3 {
		if ok, _ := l.take("k", 2, 3); !ok {
			t.Fatalf("after a long pause, request %d refused: the bucket holds at most the burst, at least that", i)
		}
	}
	if ok, _ := l.take("k", 2, 3); ok {
		t.Fatalf("the bucket grew past its burst")
	}
	if ok, _ := l.take("other", 2, 3); !ok {
		t.Fatalf("buckets are not per key")
	}
}

// TestRateLimitAnswers: 429 M_LIMIT_EXCEEDED with retry_after_ms and
// Retry-After; per user for changes, not for reads; per address for login;
// never for an exempt application service.
func TestRateLimitAnswers(t *testing.T) {
	f, s, room := setup(t)
	now := time.Unix(1000, 0)
	s.RateLimit = &RateLimits{PerSecond: 0.5, Burst: 2, LoginPerSecond: 0.1, LoginBurst: 1, Now: func() time.Time { return now }}
	send := func(tok, txn string) result {
		return do(t, s, "PUT", "/_matrix/client/v3/rooms/"+room+"/send/m.room.message/"+txn, tok, `{"msgtype":"m.text","body":"x"}`)
	}
	send("tok_alice", "1")
	send("tok_alice", "2")
	r := send("tok_alice", "3")
	if r.status != 429 || r.body["errcode"] != "M_LIMIT_EXCEEDED" || r.body["retry_after_ms"] != float64(2000) || r.header.Get("Retry-After") != "2" {
		t.Fatalf("third send: %d %s %v", r.status, r.raw, r.header)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/rooms/"+room+"/messages?dir=b", "tok_alice", ""); r.status != 200 {
		t.Fatalf("a read while limited: %d", r.status)
	}
	if r := send("tok_bob", "1"); r.status == 429 {
		t.Fatalf("bob limited by alice's requests")
	}
	now = now.Add(2 * time.Second)
	if r := send("tok_alice", "4"); r.status == 429 {
		t.Fatalf("still limited after the wait: %s", r.raw)
	}
	login := func(addr string) int {
		req := httptest.NewRequest("POST", "/_matrix/client/v3/login", strings.NewReader(`{"type":"m.login.password","user":"alice","password":"secret"}`))
		req.RemoteAddr = addr
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w.Code
	}
	if c := login("192.0.2.1:1000"); c != 200 {
		t.Fatalf("first login: %d", c)
	}
	if c := login("192.0.2.1:1001"); c != 429 {
		t.Fatalf("second login from the same address: %d", c)
	}
	if c := login("192.0.2.2:1000"); c != 200 {
		t.Fatalf("login from another address: %d", c)
	}
	// An exempt application service.
	f.mu.Lock()
	f.tokens["tok_as"] = Identity{UserID: "@bot:example.org", AppService: "as", RateLimitExempt: true}
	f.mu.Unlock()
	for i := range 5 {
		if r := do(t, s, "POST", "/_matrix/client/v3/createRoom", "tok_as", `{}`); r.status == 429 {
			t.Fatalf("exempt service limited at request %d", i)
		}
	}
}
