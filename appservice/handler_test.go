package appservice

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// recService records what the Handler hands it.
type recService struct {
	mu      sync.Mutex
	txns    []*IncomingTransaction
	fail    error
	users   map[string]bool
	aliases map[string]bool
	pings   []string
	block   chan struct{} // if set, HandleTransaction waits on it
}

func (s *recService) HandleTransaction(_ context.Context, txn *IncomingTransaction) error {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.txns = append(s.txns, txn)
	return nil
}

func (s *recService) QueryUser(_ context.Context, u string) (bool, error) { return s.users[u], nil }
func (s *recService) QueryAlias(_ context.Context, a string) (bool, error) {
	return s.aliases[a], nil
}
func (s *recService) Ping(_ context.Context, id string) error {
	s.pings = append(s.pings, id)
	return nil
}

// tpService adds third-party lookups.
type tpService struct {
	recService
	got []string
}

func (s *tpService) ThirdPartyProtocol(_ context.Context, p string) (json.RawMessage, error) {
	s.got = append(s.got, "protocol "+p)
	if p != "irc" {
		return nil, nil
	}
	return json.RawMessage(`{"user_fields":["network","nickname"],"location_fields":[],"icon":"mxc://x/y","field_types":{},"instances":[]}`), nil
}
func (s *tpService) ThirdPartyUsers(_ context.Context, p string, f url.Values) (json.RawMessage, error) {
	s.got = append(s.got, "users "+p+" "+f.Encode())
	return json.RawMessage(`[{"userid":"@_irc_x:example.org","protocol":"irc","fields":{}}]`), nil
}
func (s *tpService) ThirdPartyLocations(_ context.Context, p string, f url.Values) (json.RawMessage, error) {
	s.got = append(s.got, "locations "+p+" "+f.Encode())
	return json.RawMessage(`[]`), nil
}
func (s *tpService) ThirdPartyUsersByID(_ context.Context, u string) (json.RawMessage, error) {
	s.got = append(s.got, "user-by-id "+u)
	return json.RawMessage(`[]`), nil
}
func (s *tpService) ThirdPartyLocationsByAlias(_ context.Context, a string) (json.RawMessage, error) {
	s.got = append(s.got, "location-by-alias "+a)
	return nil, errors.New("boom")
}

func serve(h http.Handler, method, target, auth, body string) (int, map[string]any, string) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out, rec.Body.String()
}

func TestHandlerAuth(t *testing.T) {
	h := NewHandler("secret", &recService{})
	const path = "/_matrix/app/v1/users/%40a%3Aexample.org"
	tests := []struct {
		name   string
		target string
		auth   string
		status int
		code   string
	}{
		{"header", path, "Bearer secret", 404, "M_NOT_FOUND"},
		{"header scheme any case", path, "bearer secret", 404, "M_NOT_FOUND"},
		{"legacy query", path + "?access_token=secret", "", 404, "M_NOT_FOUND"},
		{"both matching", path + "?access_token=secret", "Bearer secret", 404, "M_NOT_FOUND"},
		{"none", path, "", 401, "M_UNAUTHORIZED"},
		{"not bearer", path, "Basic c2VjcmV0", 401, "M_UNAUTHORIZED"},
		{"empty bearer", path, "Bearer ", 401, "M_UNAUTHORIZED"},
		{"wrong header", path, "Bearer nope", 403, "M_FORBIDDEN"},
		{"wrong query", path + "?access_token=nope", "", 403, "M_FORBIDDEN"},
		{"header ok, query wrong", path + "?access_token=nope", "Bearer secret", 403, "M_FORBIDDEN"},
		{"query ok, header wrong", path + "?access_token=secret", "Bearer nope", 403, "M_FORBIDDEN"},
		{"prefix of the token", path, "Bearer secre", 403, "M_FORBIDDEN"},
		{"unknown route, no token", "/_matrix/app/v1/nope", "", 404, "M_UNRECOGNIZED"},
		{"unknown route", "/_matrix/app/v2/users/x", "Bearer secret", 404, "M_UNRECOGNIZED"},
		{"wrong method", path, "", 405, "M_UNRECOGNIZED"}, // method checked below
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if tc.status == 405 {
				method = "POST"
			}
			status, out, raw := serve(h, method, tc.target, tc.auth, "")
			if status != tc.status || out["errcode"] != tc.code {
				t.Fatalf("%d %s", status, raw)
			}
		})
	}
	// An empty configured token accepts nothing.
	if status, _, _ := serve(NewHandler("", &recService{}), "GET", path, "Bearer ", ""); status != 401 {
		t.Fatalf("empty token: %d", status)
	}
	if status, _, _ := serve(NewHandler("", &recService{}), "GET", path+"?access_token=", "", ""); status != 403 {
		t.Fatalf("empty token: %d", status)
	}
}

const txnBody = `{"events":[
 {"type":"m.room.message","event_id":"$1","sender":"@a:example.org","room_id":"!r:example.org","origin_server_ts":1,"content":{"body":"hi"},"extra":true},
 {"type":"m.room.member","event_id":"$2","sender":"@a:example.org","room_id":"!r:example.org","origin_server_ts":2,"state_key":"@a:example.org","content":{"membership":"join"}}],
 "ephemeral":[{"type":"m.typing","room_id":"!r:example.org","content":{"user_ids":[]}}]}`

func TestHandlerTransactions(t *testing.T) {
	svc := &recService{}
	h := NewHandler("secret", svc)
	for i := 0; i < 3; i++ {
		status, _, raw := serve(h, "PUT", "/_matrix/app/v1/transactions/t1", "Bearer secret", txnBody)
		if status != 200 || raw != "{}" {
			t.Fatalf("attempt %d: %d %s", i, status, raw)
		}
	}
	if len(svc.txns) != 1 {
		t.Fatalf("handled %d times, want once", len(svc.txns))
	}
	txn := svc.txns[0]
	if txn.ID != "t1" || len(txn.Events) != 2 || len(txn.Ephemeral) != 1 {
		t.Fatalf("%+v", txn)
	}
	e0, e1 := txn.Events[0], txn.Events[1]
	if e0.EventID != "$1" || e0.IsState() || string(e0.Content) != `{"body":"hi"}` || !strings.Contains(string(e0.Raw), `"extra":true`) {
		t.Fatalf("event 0: %+v", e0)
	}
	if !e1.IsState() || *e1.StateKey != "@a:example.org" || e1.OriginServerTS != 2 {
		t.Fatalf("event 1: %+v", e1)
	}
	if txn.Ephemeral[0].Type != "m.typing" || txn.Ephemeral[0].RoomID != "!r:example.org" {
		t.Fatalf("ephemeral: %+v", txn.Ephemeral[0])
	}
	// The legacy path shares the log: same ID, no second handling.
	if status, _, _ := serve(h, "PUT", "/transactions/t1", "Bearer secret", txnBody); status != 200 || len(svc.txns) != 1 {
		t.Fatalf("legacy path: %d, %d handled", status, len(svc.txns))
	}
	if status, _, _ := serve(h, "PUT", "/transactions/t2?access_token=secret", "", `{"events":[]}`); status != 200 || len(svc.txns) != 2 {
		t.Fatalf("legacy new txn: %d", status)
	}
	// A failed handling is not remembered: the retry is handled.
	svc.fail = &Error{Status: 503, Code: "M_UNKNOWN", Message: "later"}
	if status, out, _ := serve(h, "PUT", "/_matrix/app/v1/transactions/t3", "Bearer secret", txnBody); status != 503 || out["error"] != "later" {
		t.Fatalf("failure: %d %v", status, out)
	}
	svc.fail = errors.New("internal detail")
	if status, out, _ := serve(h, "PUT", "/_matrix/app/v1/transactions/t3", "Bearer secret", txnBody); status != 500 || out["error"] == "internal detail" {
		t.Fatalf("failure: %d %v", status, out)
	}
	svc.fail = nil
	if status, _, _ := serve(h, "PUT", "/_matrix/app/v1/transactions/t3", "Bearer secret", txnBody); status != 200 || len(svc.txns) != 3 {
		t.Fatalf("retry after failure: %d, %d handled", status, len(svc.txns))
	}
	// MSC2409's unstable key is read when the stable one is absent.
	serve(h, "PUT", "/_matrix/app/v1/transactions/t4", "Bearer secret", `{"events":[],"de.sorunome.msc2409.ephemeral":[{"type":"m.presence","sender":"@a:example.org","content":{"presence":"online"}}]}`)
	if got := svc.txns[3].Ephemeral; len(got) != 1 || got[0].Sender != "@a:example.org" {
		t.Fatalf("unstable ephemeral: %+v", got)
	}
	// Transaction IDs are path segments: escaped characters are decoded.
	serve(h, "PUT", "/_matrix/app/v1/transactions/a%2Fb", "Bearer secret", `{"events":[]}`)
	if svc.txns[4].ID != "a/b" {
		t.Fatalf("id %q", svc.txns[4].ID)
	}
}

func TestHandlerTransactionErrors(t *testing.T) {
	svc := &recService{}
	h := NewHandler("secret", svc)
	h.MaxBody = 1 << 10
	tests := []struct {
		body   string
		status int
		code   string
	}{
		{`not json`, 400, "M_NOT_JSON"},
		{`[]`, 400, "M_NOT_JSON"},
		{`null`, 400, "M_NOT_JSON"},
		{`{}`, 400, "M_BAD_JSON"},
		{`{"events":null}`, 400, "M_BAD_JSON"},
		{`{"events":{}}`, 400, "M_BAD_JSON"},
		{`{"events":[1]}`, 400, "M_BAD_JSON"},
		{`{"events":[{"type":5}]}`, 400, "M_BAD_JSON"},
		{`{"events":[],"ephemeral":"x"}`, 400, "M_BAD_JSON"},
		{`{"events":[],"ephemeral":[[]]}`, 400, "M_BAD_JSON"},
		{`{"events":[],"ephemeral":[{"type":[]}]}`, 400, "M_BAD_JSON"},
		{`{"events":[],"pad":"` + strings.Repeat("x", 2<<10) + `"}`, 413, "M_TOO_LARGE"},
	}
	for i, tc := range tests {
		status, out, raw := serve(h, "PUT", "/_matrix/app/v1/transactions/bad"+string(rune('a'+i)), "Bearer secret", tc.body)
		if status != tc.status || out["errcode"] != tc.code {
			t.Errorf("%.40s: %d %s", tc.body, status, raw)
		}
	}
	// Errors name the element.
	for body, want := range map[string]string{
		`{"events":[{},{},1]}`:                       "events[2] is not an object",
		`{"events":[{},{"sender":{}}]}`:              "events[1]: ",
		`{"events":[],"ephemeral":[{},{"type":[]}]}`: "ephemeral[1]: ",
	} {
		_, err := ParseTransaction("x", []byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
	if len(svc.txns) != 0 {
		t.Fatal("bad transactions handled")
	}
	// A null ephemeral is taken as absent.
	if status, _, raw := serve(h, "PUT", "/_matrix/app/v1/transactions/ok", "Bearer secret", `{"events":[],"ephemeral":null}`); status != 200 {
		t.Fatalf("%d %s", status, raw)
	}
}

// TestHandlerConcurrentRetry: a retry that arrives while the first attempt
// is still being handled waits for it and is not handled again.
func TestHandlerConcurrentRetry(t *testing.T) {
	svc := &recService{block: make(chan struct{})}
	h := NewHandler("secret", svc)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = serve(h, "PUT", "/_matrix/app/v1/transactions/same", "Bearer secret", txnBody)
		}()
	}
	close(svc.block)
	wg.Wait()
	for _, c := range codes {
		if c != 200 {
			t.Fatalf("codes %v", codes)
		}
	}
	if len(svc.txns) != 1 {
		t.Fatalf("handled %d times", len(svc.txns))
	}
}

func TestHandlerQueriesAndPing(t *testing.T) {
	svc := &recService{users: map[string]bool{"@_irc_a:example.org": true}, aliases: map[string]bool{"#_irc_a:example.org": true}}
	h := NewHandler("secret", svc)
	tests := []struct {
		method, target, body string
		status               int
		code                 string
	}{
		{"GET", "/_matrix/app/v1/users/%40_irc_a%3Aexample.org", "", 200, ""},
		{"GET", "/_matrix/app/v1/users/%40_irc_b%3Aexample.org", "", 404, "M_NOT_FOUND"},
		{"GET", "/users/%40_irc_a%3Aexample.org", "", 200, ""},
		{"GET", "/_matrix/app/v1/rooms/%23_irc_a%3Aexample.org", "", 200, ""},
		{"GET", "/_matrix/app/v1/rooms/%23_irc_b%3Aexample.org", "", 404, "M_NOT_FOUND"},
		{"GET", "/rooms/%23_irc_a%3Aexample.org", "", 200, ""},
		{"GET", "/_matrix/app/v1/users/", "", 404, "M_UNRECOGNIZED"},
		{"GET", "/_matrix/app/v1/users/a/b", "", 404, "M_UNRECOGNIZED"},
		{"POST", "/_matrix/app/v1/ping", `{"transaction_id":"meow"}`, 200, ""},
		{"POST", "/_matrix/app/v1/ping", `{"transaction_id":null}`, 200, ""},
		{"POST", "/_matrix/app/v1/ping", ``, 200, ""},
		{"POST", "/_matrix/app/v1/ping", `[`, 400, "M_NOT_JSON"},
		{"POST", "/ping", `{}`, 404, "M_UNRECOGNIZED"}, // no legacy ping path
		{"GET", "/_matrix/app/v1/thirdparty/protocol/irc", "", 404, "M_UNRECOGNIZED"},
	}
	for _, tc := range tests {
		status, out, raw := serve(h, tc.method, tc.target, "Bearer secret", tc.body)
		if status != tc.status || (tc.code != "" && out["errcode"] != tc.code) {
			t.Errorf("%s %s: %d %s", tc.method, tc.target, status, raw)
		}
	}
	if len(svc.pings) != 3 || svc.pings[0] != "meow" || svc.pings[1] != "" {
		t.Fatalf("pings %q", svc.pings)
	}
	// Without the optional interfaces the queries are unsupported.
	type bare struct{ Service }
	hb := NewHandler("secret", bare{svc})
	if status, out, _ := serve(hb, "GET", "/_matrix/app/v1/users/%40_irc_a%3Aexample.org", "Bearer secret", ""); status != 404 || out["errcode"] != "M_UNRECOGNIZED" {
		t.Fatalf("bare query: %d %v", status, out)
	}
	if status, _, _ := serve(hb, "POST", "/_matrix/app/v1/ping", "Bearer secret", "{}"); status != 200 {
		t.Fatalf("bare ping: %d", status)
	}
	// Legacy routes can be turned off.
	h.NoLegacyRoutes = true
	if status, _, _ := serve(h, "GET", "/users/%40_irc_a%3Aexample.org", "Bearer secret", ""); status != 404 {
		t.Fatalf("legacy route served: %d", status)
	}
}

func TestHandlerThirdParty(t *testing.T) {
	svc := &tpService{}
	h := NewHandler("secret", svc)
	tests := []struct {
		target string
		status int
		body   string
	}{
		{"/_matrix/app/v1/thirdparty/protocol/irc", 200, `"instances":[]`},
		{"/_matrix/app/v1/thirdparty/protocol/xmpp", 404, "M_NOT_FOUND"},
		{"/_matrix/app/v1/thirdparty/user/irc?network=libera&nickname=bob&access_token=secret", 200, `"userid"`},
		{"/_matrix/app/v1/thirdparty/location/irc?channel=%23matrix", 200, `[]`},
		{"/_matrix/app/v1/thirdparty/user?userid=%40a%3Ax", 200, `[]`},
		{"/_matrix/app/v1/thirdparty/location?alias=%23a%3Ax", 500, "M_UNKNOWN"},
		{"/_matrix/app/unstable/thirdparty/protocol/irc", 200, `"instances"`},
		{"/_matrix/app/v1/thirdparty/other", 404, "M_UNRECOGNIZED"},
	}
	for _, tc := range tests {
		status, _, raw := serve(h, "GET", tc.target, "Bearer secret", "")
		if status != tc.status || !strings.Contains(raw, tc.body) {
			t.Errorf("%s: %d %s", tc.target, status, raw)
		}
	}
	want := []string{
		"protocol irc", "protocol xmpp",
		"users irc network=libera&nickname=bob", // access_token is not a field
		"locations irc channel=%23matrix",
		"user-by-id @a:x", "location-by-alias #a:x", "protocol irc",
	}
	if strings.Join(svc.got, "|") != strings.Join(want, "|") {
		t.Fatalf("calls\n%q\nwant\n%q", svc.got, want)
	}
}

func TestMemoryTxnLogBounded(t *testing.T) {
	l := &MemoryTxnLog{Size: 2}
	ctx := context.Background()
	for _, id := range []string{"a", "b", "a", "c"} {
		l.MarkHandled(ctx, id)
	}
	for id, want := range map[string]bool{"a": false, "b": true, "c": true, "d": false} {
		if got, _ := l.Handled(ctx, id); got != want {
			t.Errorf("%s: %v", id, got)
		}
	}
}

func FuzzParseTransaction(f *testing.F) {
	f.Add([]byte(txnBody))
	f.Add([]byte(`{"events":[]}`))
	f.Add([]byte(`{"events":[{}],"ephemeral":[{}]}`))
	f.Add([]byte(`{"events":[{"state_key":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		txn, err := ParseTransaction("x", body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error is not a 400 *Error: %v", err)
			}
			return
		}
		for _, ev := range txn.Events {
			if !json.Valid(ev.Raw) {
				t.Fatal("raw event is not JSON")
			}
		}
	})
}

func BenchmarkParseTransaction(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"events":[`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"type":"m.room.message","event_id":"$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG","sender":"@_irc_someone:example.org","room_id":"!roomroomroom:example.org","origin_server_ts":1700000000000,"content":{"msgtype":"m.text","body":"hello there, this is a message of ordinary length"},"unsigned":{"age":12}}`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := ParseTransaction("t", body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=json.Valid", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
}

// TestHandlerUnderPath: a registration url with a path; the service mounts
// the Handler with http.StripPrefix, and the Client puts the path first.
func TestHandlerUnderPath(t *testing.T) {
	svc := &recService{users: map[string]bool{"@a/b:example.org": true}}
	mux := http.NewServeMux()
	mux.Handle("/bridge/", http.StripPrefix("/bridge", NewHandler("secret", svc)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	g := reg(t, "s", "as", "secret", "bot", nil, nil, nil)
	g.URL = srv.URL + "/bridge/"
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	c := &Client{}
	ctx := context.Background()
	if err := c.SendTransaction(ctx, g, "1", []byte(`{"events":[]}`)); err != nil {
		t.Fatal(err)
	}
	// An escaped "/" in a user ID survives the prefix stripping.
	if ok, err := c.QueryUser(ctx, g, "@a/b:example.org"); !ok || err != nil {
		t.Fatalf("QueryUser: %v %v", ok, err)
	}
	if len(svc.txns) != 1 || c.Legacy(g) {
		t.Fatalf("%d transactions, legacy %v", len(svc.txns), c.Legacy(g))
	}
}

// FuzzHandler: any path, header and body get a Matrix error or a 200,
// never a panic, and nothing is handled without the token.
func FuzzHandler(f *testing.F) {
	f.Add("PUT", "/_matrix/app/v1/transactions/1", "Bearer secret", txnBody)
	f.Add("GET", "/_matrix/app/v1/users/%40a%3Ab", "Bearer nope", "")
	f.Add("GET", "/_matrix/app/unstable/thirdparty/user/irc?x=1", "", "")
	f.Add("POST", "/_matrix/app/v1/ping", "Bearer secret", "{")
	f.Add("PUT", "/transactions/%zz", "Bearer secret", "{}")
	f.Fuzz(func(t *testing.T, method, target, auth, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || strings.ContainsAny(method, " \r\n\t/") || method == "" {
			return
		}
		req, err := http.NewRequest(method, "http://as.example"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", auth)
		svc := &tpService{}
		rec := httptest.NewRecorder()
		NewHandler("secret", svc).ServeHTTP(rec, req)
		var out map[string]any
		if json.Unmarshal(rec.Body.Bytes(), &out) != nil && rec.Code != 200 {
			t.Fatalf("%d with a non-JSON body %q", rec.Code, rec.Body.String())
		}
		if rec.Code != 200 && out["errcode"] == nil {
			t.Fatalf("%d without errcode: %q", rec.Code, rec.Body.String())
		}
		scheme, tok, _ := strings.Cut(auth, " ")
		headerOK := strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) == "secret"
		queryOK := false
		for _, v := range req.URL.Query()["access_token"] {
			queryOK = queryOK || v == "secret"
		}
		if len(svc.txns)+len(svc.got) > 0 && !headerOK && !queryOK {
			t.Fatalf("handled without the token: %s %s %q", method, target, auth)
		}
	})
}
