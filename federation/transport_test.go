package federation

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/mxkit/mxkit/signing"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echoServer answers with the Host header, the SNI and the body it got.
func echoServer(t *testing.T, tlsOn bool) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni := ""
		if r.TLS != nil {
			sni = r.TLS.ServerName
		}
		b, _ := io.ReadAll(r.Body)
		w.Write([]byte(r.Host + "|" + sni + "|" + r.URL.RequestURI() + "|" + string(b)))
	})
	s := httptest.NewUnstartedServer(h)
	// The certificate test makes the server log a failed handshake.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsOn {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func roots(s *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &tls.Config{RootCAs: pool}
}

func get(t *testing.T, rt http.RoundTripper, method, url, body string) (string, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

func TestTransportTLS(t *testing.T) {
	s := echoServer(t, true)
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	dns := &fakeDNS{ips: map[string][]string{"example.com": {"127.0.0.1"}, "other.test": {"127.0.0.1"}}}
	r := &Resolver{LookupIPAddr: dns.LookupIPAddr, LookupSRV: dns.LookupSRV, AllowPrivate: true}
	rt := NewTransport(r, roots(s), false)

	// Step 2: Host is the server name with port, SNI and certificate the host.
	got, err := get(t, rt, "PUT", "matrix-federation://example.com:"+port+"/_matrix/x?y=%2F", `{"a":1}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "example.com:" + port + "|example.com|/_matrix/x?y=%2F|{\"a\":1}"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Step 1: an IP literal gets no SNI; the certificate must hold the IP.
	got, err = get(t, rt, "GET", "matrix-federation://127.0.0.1:"+port+"/v", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "127.0.0.1:" + port + "||/v|"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// The certificate does not name other.test: refused.
	if _, err := get(t, rt, "GET", "matrix-federation://other.test:"+port+"/v", ""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
}

// Without AllowPrivate the transport does not reach loopback, even when
// a name resolves there; a Static entry does.
func TestTransportAddressPolicy(t *testing.T) {
	s := echoServer(t, false)
	addr := s.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	dns := &fakeDNS{ips: map[string][]string{"example.com": {"127.0.0.1"}}}
	r := &Resolver{LookupIPAddr: dns.LookupIPAddr, LookupSRV: dns.LookupSRV, Static: map[string]string{"peer.test": addr}}
	rt := NewTransport(r, nil, true)
	if _, err := get(t, rt, "GET", "matrix-federation://example.com:"+port+"/v", ""); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("err = %v, want ErrForbiddenAddress", err)
	}
	got, err := get(t, rt, "GET", "matrix-federation://peer.test/v", "")
	if err != nil || got != "peer.test||/v|" {
		t.Fatalf("static peer: %q, %v", got, err)
	}
}

// The transport tries the destinations in order: a refused connection
// moves on to the next, with the body sent again.
func TestTransportFallback(t *testing.T) {
	s := echoServer(t, false)
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, deadPort, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	p1, _ := strconv.Atoi(deadPort)
	p2, _ := strconv.Atoi(port)
	dns := &fakeDNS{
		srv: map[string][]*net.SRV{"_matrix-fed._tcp.example.com": {{Target: "dead.example.", Port: uint16(p1), Priority: 1}, {Target: "live.example.", Port: uint16(p2), Priority: 2}}},
		ips: map[string][]string{"dead.example": {"127.0.0.1"}, "live.example": {"127.0.0.1"}},
	}
	web := &fakeWeb{}
	r := &Resolver{LookupIPAddr: dns.LookupIPAddr, LookupSRV: dns.LookupSRV, WellKnownTransport: web, AllowPrivate: true}
	rt := NewTransport(r, nil, true)
	got, err := get(t, rt, "POST", "matrix-federation://example.com/p", `{"b":2}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `example.com||/p|{"b":2}`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func ExampleNewTransport() {
	// A server publishing its keys, on loopback.
	key, _ := signing.NewSigningKey("ed25519:1", make([]byte, 32))
	srv := httptest.NewServer(ServerKeysHandler("peer.example", key, nil, time.Hour))
	defer srv.Close()

	// Map the server name to it (as --peer NAME=ADDR would); real servers
	// are found by discovery, over TLS.
	resolver := &Resolver{Static: map[string]string{"peer.example": srv.Listener.Addr().String()}}
	client := &http.Client{Transport: NewTransport(resolver, nil, true)}

	resp, err := client.Get("matrix-federation://peer.example/_matrix/key/v2/server")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	keys, err := signing.ParseServerKeysFor(body, "peer.example")
	fmt.Println(keys.ServerName, len(keys.VerifyKeys), err)
	// Output:
	// peer.example 1 <nil>
}

// The Host header is the destination's, not the URL's: after a
// delegation they differ.
func TestTransportHostHeaderAfterDelegation(t *testing.T) {
	s := echoServer(t, false)
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	dns := &fakeDNS{ips: map[string][]string{"matrix.example.net": {"127.0.0.1"}}}
	web := &fakeWeb{}
	web.set(wk("example.com"), respond(200, `{"m.server":"matrix.example.net:`+port+`"}`))
	r := &Resolver{LookupIPAddr: dns.LookupIPAddr, LookupSRV: dns.LookupSRV, WellKnownTransport: web, AllowPrivate: true}
	got, err := get(t, NewTransport(r, nil, true), "GET", "matrix-federation://example.com/v", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "matrix.example.net:" + port + "||/v|"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestTrustedRoots: a self-signed peer is refused with the system's roots
// alone and reached once its certificate is trusted with TrustedRoots; a
// file without a certificate is an error.
func TestTrustedRoots(t *testing.T) {
	s := echoServer(t, true)
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	r := &Resolver{AllowPrivate: true}
	url := "matrix-federation://127.0.0.1:" + port + "/v"
	if _, err := get(t, NewTransport(r, nil, false), "GET", url, ""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("system roots only: err = %v, want a certificate error", err)
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	// Other blocks (a key beside the certificate) are skipped.
	pool, err := TrustedRoots(append([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), pemCert...))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := get(t, NewTransport(r, &tls.Config{RootCAs: pool}, false), "GET", url, ""); err != nil || got != "127.0.0.1:"+port+"||/v|" {
		t.Fatalf("trusted: %q, %v", got, err)
	}
	for _, bad := range []string{"", "not pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		if _, err := TrustedRoots([]byte(bad)); err == nil {
			t.Errorf("TrustedRoots(%q): no error", bad)
		}
	}
}

// FuzzTrustedRoots: any input is a pool or an error, never a panic.
func FuzzTrustedRoots(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pool, err := TrustedRoots(data)
		if (pool == nil) == (err == nil) {
			t.Fatalf("pool %v with err %v", pool, err)
		}
	})
}
