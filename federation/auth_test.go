package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mxkit/mxkit/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mxkit/mxkit/signing"
)

var testNow = time.UnixMilli(1_700_000_000_000)

// authFixture is an origin with two keys known to the ring (k1 current,
// k2 current) and one old key (k0).
type authFixture struct {
	k0, k1, k2, stranger *signing.SigningKey
	ring                 *signing.MemoryKeyRing
	auth                 *Authenticator
}

func newAuthFixture(t testing.TB) *authFixture {
	f := &authFixture{k0: testKey(t, "k0"), k1: testKey(t, "k1"), k2: testKey(t, "k2"), stranger: testKey(t, "zz")}
	f.ring = signing.NewMemoryKeyRing()
	valid := testNow.Add(time.Hour).UnixMilli()
	f.ring.Add("origin.example", f.k1.ID, signing.PublicKey{Key: f.k1.Public(), ValidUntilTS: valid})
	f.ring.Add("origin.example", f.k2.ID, signing.PublicKey{Key: f.k2.Public(), ValidUntilTS: testNow.Add(-time.Minute).UnixMilli()})
	f.ring.Add("origin.example", f.k0.ID, signing.PublicKey{Key: f.k0.Public(), ValidUntilTS: valid, ExpiredTS: testNow.Add(-time.Hour).UnixMilli()})
	f.auth = &Authenticator{ServerName: "dest.example", Keys: f.ring, MaxBody: 1024, Now: func() time.Time { return testNow }}
	return f
}

func signed(t testing.TB, method, target, origin, dest, body string, key *signing.SigningKey) string {
	t.Helper()
	h, err := SignRequest(method, target, origin, dest, []byte(body), key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAuthenticate(t *testing.T) {
	f := newAuthFixture(t)
	const target = "/_matrix/federation/v1/send/txn1?x=%2F"
	const body = `{"origin":"origin.example","pdus":[],"edus":[]}`
	good := signed(t, "PUT", target, "origin.example", "dest.example", body, f.k1)
	x, _ := ParseXMatrix(good)
	noDest := XMatrix{Origin: x.Origin, Key: x.Key, Sig: x.Sig}.String()
	tests := []struct {
		name    string
		method  string
		target  string
		body    string
		headers []string
		status  int
		code    string
		is      error
	}{
		{name: "valid", headers: []string{good}},
		{name: "valid, destination missing (accepted per the spec)", headers: []string{noDest}},
		{name: "valid, GET without body", method: "GET", target: "/_matrix/federation/v1/version", body: "-",
			headers: []string{signed(t, "GET", "/_matrix/federation/v1/version", "origin.example", "dest.example", "", f.k1)}},
		{name: "valid body with other whitespace and key order", body: "{ \"pdus\": [], \"edus\":[],\"origin\":\"origin.example\" }", headers: []string{good}},
		{name: "no header", headers: nil, status: 401, code: "M_UNAUTHORIZED", is: ErrNoAuthorization},
		{name: "other scheme only", headers: []string{"Bearer x"}, status: 401, code: "M_UNAUTHORIZED", is: ErrNoAuthorization},
		// A malformed header is a request without valid credentials:
		// 401, the status the specification names for X-Matrix failures
		// ("Request Authentication") and RFC 9110 for missing or invalid
		// credentials. The reference server answers 400 with the same
		// errcode; a sender treats both as a refusal of its signature.
		{name: "malformed header (401)", headers: []string{`X-Matrix origin=`}, status: 401, code: "M_UNAUTHORIZED", is: ErrXMatrix},
		{name: "destination mismatch", headers: []string{signed(t, "PUT", target, "origin.example", "other.example", body, f.k1)}, status: 401, code: "M_UNAUTHORIZED", is: ErrWrongDestination},
		{name: "wrong signature (other body)", headers: []string{signed(t, "PUT", target, "origin.example", "dest.example", `{"a":1}`, f.k1)}, status: 401, code: "M_UNAUTHORIZED", is: ErrBadSignature},
		{name: "wrong signature (other method)", headers: []string{signed(t, "POST", target, "origin.example", "dest.example", body, f.k1)}, status: 401, code: "M_UNAUTHORIZED", is: ErrBadSignature},
		{name: "wrong signature (query left out)", headers: []string{signed(t, "PUT", "/_matrix/federation/v1/send/txn1", "origin.example", "dest.example", body, f.k1)}, status: 401, code: "M_UNAUTHORIZED", is: ErrBadSignature},
		{name: "wrong signature (query decoded)", headers: []string{signed(t, "PUT", "/_matrix/federation/v1/send/txn1?x=/", "origin.example", "dest.example", body, f.k1)}, status: 401, code: "M_UNAUTHORIZED", is: ErrBadSignature},
		{name: "wrong key (signed by another key, claims k1)", headers: []string{XMatrix{Origin: "origin.example", Destination: "dest.example", Key: f.k1.ID, Sig: mustParse(t, signed(t, "PUT", target, "origin.example", "dest.example", body, f.stranger)).Sig}.String()}, status: 401, code: "M_UNAUTHORIZED", is: ErrBadSignature},
		{name: "unknown key", headers: []string{signed(t, "PUT", target, "origin.example", "dest.example", body, f.stranger)}, status: 401, code: "M_UNAUTHORIZED", is: ErrUnknownKey},
		{name: "unknown origin", headers: []string{signed(t, "PUT", target, "stranger.example", "dest.example", body, f.k1)}, status: 401, code: "M_UNAUTHORIZED", is: ErrUnknownKey},
		{name: "expired key (valid_until_ts passed)", headers: []string{signed(t, "PUT", target, "origin.example", "dest.example", body, f.k2)}, status: 401, code: "M_UNAUTHORIZED", is: ErrKeyExpired},
		{name: "old key may not sign requests", headers: []string{signed(t, "PUT", target, "origin.example", "dest.example", body, f.k0)}, status: 401, code: "M_UNAUTHORIZED", is: ErrKeyExpired},
		{name: "bad base64 signature", headers: []string{XMatrix{Origin: "origin.example", Key: f.k1.ID, Sig: "!!!"}.String()}, status: 401, code: "M_UNAUTHORIZED", is: ErrBadSignature},
		{name: "several headers, second verifies", headers: []string{signed(t, "PUT", target, "origin.example", "dest.example", body, f.stranger), good}},
		{name: "several headers, first verifies", headers: []string{good, signed(t, "PUT", target, "origin.example", "dest.example", "{}", f.k1)}},
		{name: "several headers, one malformed, one verifies", headers: []string{`X-Matrix nonsense`, good}},
		{name: "several headers, other schemes ignored", headers: []string{"Bearer abc", good}},
		{name: "several headers, none verifies", headers: []string{signed(t, "PUT", target, "origin.example", "dest.example", "{}", f.k1), signed(t, "PUT", target, "origin.example", "dest.example", body, f.stranger)}, status: 401, code: "M_UNAUTHORIZED", is: ErrBadSignature},
		{name: "several headers, different origins", headers: []string{good, signed(t, "PUT", target, "stranger.example", "dest.example", body, f.k1)}, status: 401, code: "M_UNAUTHORIZED"},
		{name: "several headers, one with wrong destination", headers: []string{good, signed(t, "PUT", target, "origin.example", "x.example", body, f.k1)}, status: 401, code: "M_UNAUTHORIZED", is: ErrWrongDestination},
		{name: "body too large", body: `{"a":"` + strings.Repeat("x", 1100) + `"}`, headers: []string{good}, status: 413, code: "M_TOO_LARGE", is: ErrBodyTooLarge},
		{name: "body not JSON", body: `{"a":`, headers: []string{good}, status: 400, code: "M_NOT_JSON"},
		{name: "PUT body empty", body: " ", headers: []string{good}, status: 400, code: "M_NOT_JSON"},
		{name: "PUT body not an object", body: `[1]`, headers: []string{good}, status: 400, code: "M_BAD_JSON"},
		{name: "GET body not signed (as the reference server builds the object)", method: "GET", body: `{"x":1}`,
			headers: []string{signed(t, "GET", target, "origin.example", "dest.example", "", f.k1)}},
		{name: "GET body signed as content: refused", method: "GET", body: `{"x":1}`,
			headers: []string{signed(t, "GET", target, "origin.example", "dest.example", `{"x":1}`, f.k1)}, status: 401, code: "M_UNAUTHORIZED", is: ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, tgt, b := tt.method, tt.target, tt.body
			if method == "" {
				method = "PUT"
			}
			if tgt == "" {
				tgt = target
			}
			if b == "" {
				b = body
			}
			var rd io.Reader
			if b != "-" {
				rd = strings.NewReader(b)
			}
			r := httptest.NewRequest(method, "http://dest.example"+tgt, rd)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			origin, gotBody, err := f.auth.Authenticate(r)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if origin != "origin.example" {
					t.Fatalf("origin %q", origin)
				}
				if b != "-" && string(gotBody) != b {
					t.Fatalf("body %q, want %q", gotBody, b)
				}
				return
			}
			if err == nil {
				t.Fatalf("Authenticate accepted the request (origin %q)", origin)
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if me.Status != tt.status || me.Code != tt.code {
				t.Fatalf("error %d %s (%v), want %d %s", me.Status, me.Code, err, tt.status, tt.code)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v does not wrap %v", err, tt.is)
			}
		})
	}
}

func mustParse(t testing.TB, h string) XMatrix {
	x, err := ParseXMatrix(h)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// A body larger than MaxBody without Content-Length (chunked) is refused
// too, after reading at most MaxBody+1 bytes.
func TestAuthenticateBodyLimitWithoutLength(t *testing.T) {
	f := newAuthFixture(t)
	big := `{"a":"` + strings.Repeat("x", 2000) + `"}`
	r := httptest.NewRequest("PUT", "/x", io.MultiReader(strings.NewReader(big)))
	r.ContentLength = -1
	r.Header.Set("Authorization", signed(t, "PUT", "/x", "origin.example", "dest.example", big, f.k1))
	_, _, err := f.auth.Authenticate(r)
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
}

type failingRing struct{}

func (failingRing) PublicKeys(context.Context, []signing.KeyRequest) (map[signing.ServerKeyID]signing.PublicKey, error) {
	return nil, errors.New("database down")
}

func TestAuthenticateKeyRingFailure(t *testing.T) {
	f := newAuthFixture(t)
	a := &Authenticator{ServerName: "dest.example", Keys: failingRing{}}
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", signed(t, "GET", "/x", "origin.example", "dest.example", "", f.k1))
	_, _, err := a.Authenticate(r)
	var me *Error
	if !errors.As(err, &me) || me.Status != 500 {
		t.Fatalf("err = %v, want a 500", err)
	}
}

// recordingRing records the requests it gets.
type recordingRing struct {
	signing.KeyRing
	reqs []signing.KeyRequest
}

func (r *recordingRing) PublicKeys(ctx context.Context, reqs []signing.KeyRequest) (map[signing.ServerKeyID]signing.PublicKey, error) {
	r.reqs = append(r.reqs, reqs...)
	return r.KeyRing.PublicKeys(ctx, reqs)
}

func TestAuthenticateAsksKeysValidNow(t *testing.T) {
	f := newAuthFixture(t)
	rr := &recordingRing{KeyRing: f.ring}
	a := &Authenticator{ServerName: "dest.example", Keys: rr, Now: func() time.Time { return testNow }}
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Add("Authorization", signed(t, "GET", "/x", "origin.example", "dest.example", "", f.k1))
	r.Header.Add("Authorization", signed(t, "GET", "/x", "origin.example", "dest.example", "", f.k2))
	if _, _, err := a.Authenticate(r); err != nil {
		t.Fatal(err)
	}
	if len(rr.reqs) != 2 {
		t.Fatalf("%d key requests, want 2 in one batch", len(rr.reqs))
	}
	for _, q := range rr.reqs {
		if q.MinimumValidUntilTS != testNow.UnixMilli() || q.ServerName != "origin.example" {
			t.Fatalf("key request %+v", q)
		}
	}
}

func TestMiddleware(t *testing.T) {
	f := newAuthFixture(t)
	var gotOrigin string
	var gotBody, readBody []byte
	h := f.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotOrigin, _ = OriginFromContext(r.Context())
		gotBody, _ = BodyFromContext(r.Context())
		readBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(204)
	}))
	body := `{"a":1}`
	r := httptest.NewRequest("POST", "/p?q=1", strings.NewReader(body))
	r.Header.Set("Authorization", signed(t, "POST", "/p?q=1", "origin.example", "dest.example", body, f.k1))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 204 || gotOrigin != "origin.example" || string(gotBody) != body || string(readBody) != body {
		t.Fatalf("status %d origin %q body %q read %q", w.Code, gotOrigin, gotBody, readBody)
	}

	// A failure gets the Matrix error and never reaches the handler.
	gotOrigin = ""
	r = httptest.NewRequest("POST", "/p?q=1", strings.NewReader(body))
	r.Header.Set("Authorization", signed(t, "POST", "/p?q=2", "origin.example", "dest.example", body, f.k1))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var e struct{ Errcode string }
	json.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != 401 || e.Errcode != "M_UNAUTHORIZED" || gotOrigin != "" {
		t.Fatalf("status %d errcode %q origin %q", w.Code, e.Errcode, gotOrigin)
	}
	if _, ok := OriginFromContext(context.Background()); ok {
		t.Fatal("OriginFromContext of a bare context")
	}
}

// BenchmarkAuthenticate is the cost of authenticating a request (parse the
// header, read the body, canonicalize the signed object, look the key up,
// verify) beside the signature verification alone.
func BenchmarkAuthenticate(b *testing.B) {
	f := newAuthFixture(b)
	f.auth.MaxBody = 0
	f.auth.Now = func() time.Time { return testNow }
	cases := []struct {
		name, method, uri, body string
	}{
		{"GET", "GET", "/_matrix/federation/v1/state_ids/%21r%3Aorigin.example?event_id=%24abc", ""},
		{"PUT-send", "PUT", "/_matrix/federation/v1/send/1700000000000", `{"origin":"origin.example","origin_server_ts":1700000000000,"pdus":[{"auth_events":["$a","$b","$c"],"content":{"body":"hello","msgtype":"m.text"},"depth":10,"hashes":{"sha256":"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd28"},"origin_server_ts":1700000000000,"prev_events":["$p"],"room_id":"!r:origin.example","sender":"@a:origin.example","signatures":{"origin.example":{"ed25519:k1":"c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2ln"}},"type":"m.room.message"}],"edus":[]}`},
	}
	for _, c := range cases {
		h := signed(b, c.method, c.uri, "origin.example", "dest.example", c.body, f.k1)
		body := []byte(c.body)
		r := httptest.NewRequest(c.method, c.uri, nil)
		r.Header.Set("Authorization", h)
		b.Run("Authenticate/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(body) > 0 {
					r.Body = io.NopCloser(bytes.NewReader(body))
					r.ContentLength = int64(len(body))
				}
				if _, _, err := f.auth.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
		x := mustParse(b, h)
		sig, _ := base64.DecodeString(x.Sig)
		msg, _ := requestJSON(nil, c.method, c.uri, "origin.example", "dest.example", body)
		pub := f.k1.Public()
		b.Run("baseline=ed25519.Verify/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !ed25519.Verify(pub, msg, sig) {
					b.Fatal("verify")
				}
			}
		})
	}
}

func ExampleAuthenticator_Middleware() {
	// The origin's key, known to the key ring (a FetchingKeyRing in a
	// server: it fetches keys as requests arrive).
	key, _ := signing.NewSigningKey("ed25519:1", make([]byte, 32))
	ring := signing.NewMemoryKeyRing()
	ring.Add("origin.example", key.ID, signing.PublicKey{Key: key.Public(), ValidUntilTS: time.Now().Add(time.Hour).UnixMilli()})

	auth := &Authenticator{ServerName: "dest.example", Keys: ring}
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin, _ := OriginFromContext(r.Context())
		body, _ := BodyFromContext(r.Context())
		fmt.Fprintf(w, "hello %s, you sent %s", origin, body)
	}))

	body := `{"limit":10}`
	r := httptest.NewRequest("POST", "/_matrix/federation/v1/publicRooms", strings.NewReader(body))
	sig, _ := SignRequest("POST", "/_matrix/federation/v1/publicRooms", "origin.example", "dest.example", []byte(body), key)
	r.Header.Set("Authorization", sig)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)

	r = httptest.NewRequest("GET", "/_matrix/federation/v1/version", nil)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)
	// Output:
	// 200 hello origin.example, you sent {"limit":10}
	// 401 {"errcode":"M_UNAUTHORIZED","error":"no X-Matrix authorization header"}
}

func TestAuthenticateAllowOrigin(t *testing.T) {
	f := newAuthFixture(t)
	rr := &recordingRing{KeyRing: f.ring}
	f.auth.Keys = rr
	f.auth.AllowOrigin = func(origin string) bool { return origin != "origin.example" }
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", signed(t, "GET", "/x", "origin.example", "dest.example", "", f.k1))
	_, _, err := f.auth.Authenticate(r)
	var me *Error
	if !errors.As(err, &me) || me.Status != 403 || me.Code != "M_FORBIDDEN" || !errors.Is(err, ErrOriginDenied) {
		t.Fatalf("err = %v, want 403 M_FORBIDDEN", err)
	}
	if len(rr.reqs) != 0 {
		t.Fatal("keys looked up for a denied origin")
	}
	f.auth.AllowOrigin = func(origin string) bool { return origin == "origin.example" }
	r = httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", signed(t, "GET", "/x", "origin.example", "dest.example", "", f.k1))
	if _, _, err := f.auth.Authenticate(r); err != nil {
		t.Fatal(err)
	}
}
