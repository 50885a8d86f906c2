package federation

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxkit/mxkit/roomversion"
)

// countingBody is an endless request body that counts the bytes read from
// it.
type countingBody struct{ n atomic.Int64 }

func (c *countingBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

func (c *countingBody) Close() error { return nil }

// TestAuthenticateHeaderBeforeBody: a request whose header cannot
// authenticate (malformed, wrong destination, origin denied, unknown or
// expired key) is refused without reading a byte of its body, however
// large it says it is.
func TestAuthenticateHeaderBeforeBody(t *testing.T) {
	f := newAuthFixture(t)
	f.auth.MaxBody = 16 << 20
	f.auth.AllowOrigin = func(o string) bool { return o != "denied.example" }
	const target = "/_matrix/federation/v1/send/txn1"
	for _, c := range []struct {
		name   string
		header string
		status int
	}{
		{"malformed", `X-Matrix origin=`, 401},
		{"wrong destination", signed(t, "PUT", target, "origin.example", "other.example", "{}", f.k1), 401},
		{"origin denied", signed(t, "PUT", target, "denied.example", "dest.example", "{}", f.k1), 403},
		{"unknown origin (garbage signature)", `X-Matrix origin="stranger.example",destination="dest.example",key="ed25519:x",sig="Z2FyYmFnZQ"`, 401},
		{"unknown key", signed(t, "PUT", target, "origin.example", "dest.example", "{}", f.stranger), 401},
		{"expired key", signed(t, "PUT", target, "origin.example", "dest.example", "{}", f.k2), 401},
	} {
		for _, length := range []int64{16 << 20, -1} { // declared, and chunked
			body := &countingBody{}
			r := httptest.NewRequest("PUT", target, nil)
			r.Body, r.ContentLength = body, length
			r.Header.Set("Authorization", c.header)
			_, _, err := f.auth.Authenticate(r)
			var me *Error
			if !errors.As(err, &me) || me.Status != c.status {
				t.Errorf("%s (length %d): error %v, want %d", c.name, length, err, c.status)
			}
			if n := body.n.Load(); n != 0 {
				t.Errorf("%s (length %d): read %d bytes of the body before refusing", c.name, length, n)
			}
		}
	}
	// A known key with a bad signature: the body must be read to check
	// it, within MaxBody.
	body := &countingBody{}
	r := httptest.NewRequest("PUT", target, nil)
	r.Body, r.ContentLength = body, -1
	r.Header.Set("Authorization", signed(t, "PUT", target, "origin.example", "dest.example", "{}", f.k1))
	if _, _, err := f.auth.Authenticate(r); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("endless body of a known key: %v, want too large", err)
	}
	if n := body.n.Load(); n > f.auth.MaxBody+64<<10 {
		t.Errorf("read %d bytes for a limit of %d", n, f.auth.MaxBody)
	}
}

// gatedJSON is {} padded to 500 bytes: canonically {}, which the requests
// sign.
var gatedJSON = "{}" + strings.Repeat(" ", 498)

// gatedBody is a request body that blocks until released, then ends.
type gatedBody struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	done    bool
}

func (g *gatedBody) Read(p []byte) (int, error) {
	g.once.Do(func() { close(g.started) })
	if g.done {
		return 0, io.EOF
	}
	<-g.release
	g.done = true
	return copy(p, gatedJSON), nil
}

func (g *gatedBody) Close() error { return nil }

// TestAuthenticateBodyBudget: bodies read before their signature is
// checked share MaxPendingBody; a request that does not fit waits, and is
// refused with 503 after PendingBodyWait.
func TestAuthenticateBodyBudget(t *testing.T) {
	f := newAuthFixture(t)
	f.auth.MaxBody = 1000
	f.auth.MaxPendingBody = 2000 // a 500-byte body reserves 1000
	f.auth.PendingBodyWait = 200 * time.Millisecond
	const target = "/_matrix/federation/v1/send/txn1"
	header := signed(t, "PUT", target, "origin.example", "dest.example", "{}", f.k1)
	request := func(g *gatedBody) *http.Request {
		r := httptest.NewRequest("PUT", target, nil)
		r.Body, r.ContentLength = g, int64(len(gatedJSON))
		r.Header.Set("Authorization", header)
		return r
	}
	newGate := func() *gatedBody { return &gatedBody{started: make(chan struct{}), release: make(chan struct{})} }
	a, b, c := newGate(), newGate(), newGate()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, g := range []*gatedBody{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = f.auth.Authenticate(request(g))
		}()
	}
	<-a.started
	<-b.started
	// a and b hold the budget until released: c is not read and, after
	// the wait, refused.
	cDone := make(chan struct{})
	go func() {
		defer close(cDone)
		_, _, errs[2] = f.auth.Authenticate(request(c))
	}()
	select {
	case <-cDone:
	case <-time.After(30 * time.Second):
		t.Fatal("the third request was neither read nor refused")
	}
	select {
	case <-c.started:
		t.Error("a third body was read while two filled the budget")
	default:
	}
	close(a.release)
	close(b.release)
	close(c.release)
	wg.Wait()
	var me *Error
	if !errors.As(errs[2], &me) || me.Status != http.StatusServiceUnavailable {
		t.Errorf("third request: %v, want 503", errs[2])
	}
	for i := range 2 {
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
		}
	}
	if n := f.auth.budget.inUse(); n != 0 {
		t.Errorf("budget holds %d bytes after every request ended", n)
	}
	// Once released, the budget lets a request through.
	g := newGate()
	close(g.release)
	if _, _, err := f.auth.Authenticate(request(g)); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestByteBudgetContext(t *testing.T) {
	b := newByteBudget(10)
	if err := b.acquire(context.Background(), 8, time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.acquire(ctx, 8, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	b.release(8)
	// A reservation over the whole budget is granted alone.
	if err := b.acquire(context.Background(), 50, time.Second); err != nil {
		t.Errorf("a large reservation on an empty budget: %v", err)
	}
}

// TestSlowBodyClosed: an http.Server set up by ConfigureHTTPServer closes a
// connection whose body does not arrive within ReadTimeout, and a
// kept-alive connection left idle for IdleTimeout.
func TestSlowBodyClosed(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	srv := ConfigureHTTPServer(&http.Server{Handler: f.srv, ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	if srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.WriteTimeout != DefaultWriteTimeout {
		t.Errorf("ConfigureHTTPServer left a timeout at zero: %+v", srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	const target = "/_matrix/federation/v1/send/slow"
	header := signed(t, "PUT", target, "remote.test", "hs.test", `{"pdus":[]}`, f.remoteKey)

	// A known key (the body must be read) sends 10 bytes of 1,000,000.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: hs.test\r\nAuthorization: %s\r\nContent-Length: 1000000\r\n\r\n{\"pdus\":[]", target, header)
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, conn) // until the server closes
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("slow body connection open for %v", d)
	}

	// An idle kept-alive connection is closed too.
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /_matrix/federation/v1/version HTTP/1.1\r\nHost: hs.test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("version: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	start = time.Now()
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, idle)
	if d := time.Since(start); d > 5*time.Second || n != 0 {
		t.Errorf("idle connection open for %v (%d bytes)", d, n)
	}
}

// TestReadTimeoutSparesLongHandlers: ReadTimeout bounds the reading of a
// request, not a handler that runs longer once the body is in (a long poll
// served on the same http.Server); ConfigureHTTPServer relies on it.
func TestReadTimeoutSparesLongHandlers(t *testing.T) {
	srv := ConfigureHTTPServer(&http.Server{ReadTimeout: 100 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			w.WriteHeader(http.StatusServiceUnavailable)
		case <-time.After(400 * time.Millisecond):
			io.WriteString(w, "done")
		}
	})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	resp, err := http.Post("http://"+ln.Addr().String(), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "done" {
		t.Errorf("long handler: %d %q", resp.StatusCode, b)
	}
}

// TestOpenEndpointBodyBounded: the body of an unauthenticated endpoint
// (3pid/onbind) over Server.MaxBody is refused from its declared length,
// before it is read, and shares the body budget.
func TestOpenEndpointBodyBounded(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	body := &countingBody{}
	r := httptest.NewRequest("PUT", "/_matrix/federation/v1/3pid/onbind", nil)
	r.Body, r.ContentLength = body, 16<<20
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || body.n.Load() != 0 {
		t.Errorf("16 MiB onbind body: %d after reading %d bytes, want 413 before reading", w.Code, body.n.Load())
	}
	if n := f.srv.Auth.budget.inUse(); n != 0 {
		t.Errorf("budget holds %d bytes after the request", n)
	}
}
