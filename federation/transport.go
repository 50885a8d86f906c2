package federation

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// TrustedRoots returns the system's root certificates plus the
// certificates in pemCerts (PEM "CERTIFICATE" blocks: a private CA, or a
// peer's self-signed certificate), for the RootCAs of the tls.Config given
// to NewTransport and Resolver.TLSConfig. It is an error when pemCerts
// holds no certificate, or a CERTIFICATE block that does not parse.
func TrustedRoots(pemCerts []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	n := 0
	for rest := pemCerts; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("federation: trusted certificate %d: %w", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("federation: no PEM CERTIFICATE block among the trusted certificates")
	}
	return pool, nil
}

// Transport is what the key ring and the client use to reach servers: an
// http.RoundTripper.
type Transport = http.RoundTripper

// NewTransport returns an http.RoundTripper that reaches servers by their
// server name. The host of a request's URL is a server name (the scheme,
// usually "matrix-federation", is ignored): the transport resolves it with
// r and tries the destinations in order until one answers (a connection
// or TLS failure moves on to the next; any HTTP response, error status
// included, is returned). Each request is sent with the destination's
// Host header, over TLS with the destination's certificate name as SNI and
// verification name (no SNI for an IP address), using tlsConfig (nil: the
// system's roots; to trust a private CA or a self-signed peer as well,
// give a tlsConfig whose RootCAs is TrustedRoots of its certificates).
// plainHTTP sends plain HTTP instead (loopback tests and examples only).
//
// Dialing applies the Resolver's address policy on the address actually
// connected to: unless r.AllowPrivate, loopback, private and link-local
// addresses are refused (r.Static entries excepted).
func NewTransport(r *Resolver, tlsConfig *tls.Config, plainHTTP bool) http.RoundTripper {
	if r == nil {
		r = &Resolver{}
	}
	return &transport{r: r, tls: tlsConfig, plain: plainHTTP, conns: map[transportKey]*http.Transport{}}
}

type transport struct {
	r     *Resolver
	tls   *tls.Config
	plain bool

	mu    sync.Mutex
	conns map[transportKey]*http.Transport
}

type transportKey struct {
	tlsName string
	static  bool
}

func (t *transport) forDest(d Destination) *http.Transport {
	k := transportKey{d.TLSName, d.static}
	if t.plain {
		k.tlsName = ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.conns[k]; ok {
		return c
	}
	static := d.static
	c := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return t.r.dial(ctx, network, addr, static)
		},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
	}
	if !t.plain {
		cfg := t.tls.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		cfg.ServerName = k.tlsName
		c.TLSClientConfig = cfg
	}
	t.conns[k] = c
	return c
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	serverName := req.URL.Host
	dests, err := t.r.Resolve(req.Context(), serverName)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	getBody := req.GetBody
	if req.Body != nil && req.Body != http.NoBody && getBody == nil && len(dests) > 1 {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	var errs []error
	for i, d := range dests {
		out := req.Clone(req.Context())
		out.URL.Host = d.Addr
		out.URL.Scheme = "https"
		if t.plain {
			out.URL.Scheme = "http"
		}
		out.Host = d.Host
		if getBody != nil && (i > 0 || req.GetBody == nil) {
			if out.Body, err = getBody(); err != nil {
				return nil, err
			}
		}
		resp, err := t.forDest(d).RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s (%s): %w", d.Addr, d.TLSName, err))
		if req.Context().Err() != nil || getBody == nil && req.Body != nil && req.Body != http.NoBody {
			break
		}
	}
	return nil, fmt.Errorf("federation: could not reach %s: %w", truncate(serverName), errors.Join(errs...))
}

// CloseIdleConnections closes idle connections of every destination.
func (t *transport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.conns {
		c.CloseIdleConnections()
	}
}
