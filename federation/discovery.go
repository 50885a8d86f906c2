package federation

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Destination is one place to send a request for a server: the address to
// dial, the Host header to send and the name the TLS certificate must be
// valid for (also the SNI, unless it is an IP address).
type Destination struct {
	Addr    string // host:port to dial; an IP address unless from Resolver.Static
	Host    string // Host header
	TLSName string // certificate name and SNI; an IP address means no SNI

	static bool // from Resolver.Static: dialed even if private
}

// DefaultPort is the federation port used when discovery finds no other.
const DefaultPort = 8448

// Cache periods of the /.well-known/matrix/server answers
// (content/server-server-api.md, "Resolving server names", step 3).
const (
	// WellKnownDefaultCache is used when the answer has no usable
	// Cache-Control max-age (the specification's recommended default).
	WellKnownDefaultCache = 24 * time.Hour
	// WellKnownMaxCache caps what Cache-Control asks for.
	WellKnownMaxCache = 48 * time.Hour
	// WellKnownMinCache is the least time an answer is kept when its
	// headers ask for less (no-store, a small max-age, an Expires in the
	// past), as the reference server does, so that a server cannot make
	// us fetch its well-known file for every request.
	WellKnownMinCache = 5 * time.Minute
	// WellKnownInvalidCache is how long an invalid answer (a status other
	// than 200 and 5xx, bad JSON, a bad m.server) is remembered.
	WellKnownInvalidCache = time.Hour
	// WellKnownErrorBackoff is the first backoff after a failure to reach
	// the server (connection error, timeout, 5xx); it doubles with each
	// consecutive failure up to WellKnownInvalidCache.
	WellKnownErrorBackoff = 2 * time.Minute
)

// maxCacheEntries bounds each of the Resolver's caches.
const maxCacheEntries = 10000

// maxWellKnownBody bounds the /.well-known/matrix/server answer read (the
// reference server's limit); a larger answer counts as a failure to reach
// the server.
const maxWellKnownBody = 50 << 10

// Errors of discovery.
var (
	// ErrInvalidServerName: the name does not follow the grammar of
	// server names (content/appendices.md, "Server Name").
	ErrInvalidServerName = errors.New("federation: invalid server name")
	// ErrForbiddenAddress: the address is loopback, private, link-local or
	// otherwise special, and the Resolver does not allow those.
	ErrForbiddenAddress = errors.New("federation: address not allowed")
	// ErrNoAddress: discovery found no address to reach the server.
	ErrNoAddress = errors.New("federation: no address found for server")
)

// ForbiddenAddressError names the address refused; it wraps
// ErrForbiddenAddress.
type ForbiddenAddressError struct{ Addr netip.Addr }

func (e *ForbiddenAddressError) Error() string {
	return fmt.Sprintf("federation: address %s not allowed (loopback, private, link-local or reserved)", e.Addr)
}

// Unwrap returns ErrForbiddenAddress.
func (e *ForbiddenAddressError) Unwrap() error { return ErrForbiddenAddress }

// Resolver finds where to send requests for a server name, following the
// steps of "Resolving server names" (content/server-server-api.md). The
// zero value uses the system's DNS and the network; set the fields before
// first use and do not change them afterwards. It is safe for concurrent use.
type Resolver struct {
	// LookupSRV looks up the SRV records of _service._proto.name, with the
	// signature of net.Resolver.LookupSRV (nil: net.DefaultResolver).
	LookupSRV func(ctx context.Context, service, proto, name string) (cname string, addrs []*net.SRV, err error)
	// LookupIPAddr resolves a host name (CNAME, AAAA and A records), with
	// the signature of net.Resolver.LookupIPAddr (nil: net.DefaultResolver).
	// Host names met when fetching the well-known file are resolved with
	// it too.
	LookupIPAddr func(ctx context.Context, host string) ([]net.IPAddr, error)
	// WellKnownTransport, when set, makes the /.well-known/matrix/server
	// requests instead of the default transport (which resolves with
	// LookupIPAddr, dials only allowed addresses and verifies TLS with
	// TLSConfig). A transport set here is trusted to enforce its own
	// address policy.
	WellKnownTransport http.RoundTripper
	// TLSConfig is the TLS configuration of the default well-known
	// transport (nil: the system's roots).
	TLSConfig *tls.Config
	// AllowPrivate lets discovery and dialing use loopback, private,
	// link-local and other special-purpose addresses. By default they are
	// refused: a server name is chosen by whoever sends us an event or a
	// request, and would otherwise make us send requests into our own
	// network (server-side request forgery).
	AllowPrivate bool
	// Static maps server names to a fixed "host:port" to dial, bypassing
	// discovery and the address policy (for tests, examples and private
	// deployments). The Host header is the server name and the TLS name
	// its host part.
	Static map[string]string
	// CacheTTL is how long a resolution is reused (default 10 minutes;
	// never beyond the expiry of the well-known answer it used).
	CacheTTL time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu        sync.Mutex
	results   map[string]resolved
	wellKnown map[string]*wellKnownEntry
	wkFlight  flightGroup[string, wellKnownResult]
	wkOnce    sync.Once
	wkClient  *http.Client
}

type resolved struct {
	dests   []Destination
	expires time.Time
}

// wellKnownResult is the outcome of one fetch of the well-known file.
type wellKnownResult struct {
	server  string // m.server; "" when the answer was an error
	err     error
	expires time.Time
}

type wellKnownEntry struct {
	wellKnownResult
	failures int    // consecutive failures to reach the server
	lastGood string // the last valid m.server, kept through failures to reach the server
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Resolver) lookupSRV(ctx context.Context, service, name string) ([]*net.SRV, error) {
	f := r.LookupSRV
	if f == nil {
		f = net.DefaultResolver.LookupSRV
	}
	_, addrs, err := f(ctx, service, "tcp", name)
	return addrs, err
}

func (r *Resolver) lookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	f := r.LookupIPAddr
	if f == nil {
		f = net.DefaultResolver.LookupIPAddr
	}
	addrs, err := f(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no address", ErrNoAddress, host)
	}
	return out, nil
}

// Resolve returns the destinations to try, in order, for serverName. A
// result is cached (see CacheTTL); the well-known answer has its own cache.
// Addresses the Resolver does not allow are left out; when none is left
// the error wraps ErrForbiddenAddress.
func (r *Resolver) Resolve(ctx context.Context, serverName string) ([]Destination, error) {
	host, port, ok := splitServerName(serverName)
	if addr, found := r.Static[serverName]; found {
		tlsName := serverName
		if ok {
			tlsName = unbracket(host)
		}
		return []Destination{{Addr: addr, Host: serverName, TLSName: tlsName, static: true}}, nil
	}
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrInvalidServerName, truncate(serverName))
	}
	now := r.now()
	r.mu.Lock()
	if c, ok := r.results[serverName]; ok && now.Before(c.expires) {
		r.mu.Unlock()
		return slices.Clone(c.dests), nil
	}
	r.mu.Unlock()

	dests, expires, err := r.resolve(ctx, serverName, host, port)
	if err != nil {
		return nil, err
	}
	allowed := dests[:0:0]
	var refused error
	for _, d := range dests {
		if err := r.checkAddr(d.Addr); err != nil {
			refused = err
			continue
		}
		allowed = append(allowed, d)
	}
	if len(allowed) == 0 {
		if refused != nil {
			return nil, fmt.Errorf("federation: resolving %s: %w", serverName, refused)
		}
		return nil, fmt.Errorf("%w: %s", ErrNoAddress, serverName)
	}
	ttl := r.CacheTTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	if e := now.Add(ttl); expires.IsZero() || e.Before(expires) {
		expires = e
	}
	r.mu.Lock()
	if r.results == nil {
		r.results = map[string]resolved{}
	}
	if len(r.results) >= maxCacheEntries {
		for name, c := range r.results {
			if !now.Before(c.expires) {
				delete(r.results, name)
			}
		}
		if len(r.results) >= maxCacheEntries {
			clear(r.results)
		}
	}
	r.results[serverName] = resolved{dests: allowed, expires: expires}
	r.mu.Unlock()
	return slices.Clone(allowed), nil
}

// resolve runs the specification's steps. expires is the expiry of the
// well-known answer used, zero when none was.
func (r *Resolver) resolve(ctx context.Context, serverName, host, port string) ([]Destination, time.Time, error) {
	// Step 1: IP literal.
	if ip, err := netip.ParseAddr(unbracket(host)); err == nil {
		return []Destination{{Addr: net.JoinHostPort(ip.String(), portOr(port)), Host: serverName, TLSName: ip.String()}}, time.Time{}, nil
	}
	// Step 2: explicit port.
	if port != "" {
		d, err := r.hostDests(ctx, host, port, serverName, host)
		return d, time.Time{}, err
	}
	// Step 3: /.well-known/matrix/server.
	wk := r.fetchWellKnown(ctx, host)
	if wk.err == nil {
		dhost, dport, _ := splitServerName(wk.server)
		var d []Destination
		var err error
		switch ip, ipErr := netip.ParseAddr(unbracket(dhost)); {
		case ipErr == nil: // 3.1
			d = []Destination{{Addr: net.JoinHostPort(ip.String(), portOr(dport)), Host: wk.server, TLSName: ip.String()}}
		case dport != "": // 3.2
			d, err = r.hostDests(ctx, dhost, dport, wk.server, dhost)
		default: // 3.3, 3.4, 3.5
			d, err = r.srvDests(ctx, dhost)
		}
		return d, wk.expires, err
	}
	if ctx.Err() != nil {
		return nil, time.Time{}, ctx.Err()
	}
	// Steps 4, 5, 6.
	d, err := r.srvDests(ctx, host)
	return d, wk.expires, err
}

// srvDests is steps 3.3 to 3.5 for a delegated name, and 4 to 6 for the
// server's own host name: SRV _matrix-fed._tcp, then the deprecated
// _matrix._tcp, then the host itself on port 8448. Host header and TLS
// name are the name looked up, never the SRV target.
func (r *Resolver) srvDests(ctx context.Context, name string) ([]Destination, error) {
	for _, service := range []string{"matrix-fed", "matrix"} {
		records, _ := r.lookupSRV(ctx, service, name)
		if len(records) == 0 {
			// Not found, or the DNS failed: go on with the next step.
			// (The reference server gives up on a DNS failure when it
			// has no cached answer; going on reaches the server when it
			// has no SRV record, the common case. With an error,
			// net.Resolver may still return the records whose target
			// names were valid: those are used.)
			continue
		}
		if len(records) == 1 && (records[0].Target == "." || records[0].Target == "") {
			// RFC 2782: "." means the service is decidedly not available.
			return nil, fmt.Errorf("%w: SRV _%s._tcp.%s says the service is not available", ErrNoAddress, service, name)
		}
		slices.SortStableFunc(records, func(a, b *net.SRV) int { return int(a.Priority) - int(b.Priority) })
		var out []Destination
		var lastErr error
		for _, rec := range records {
			target := strings.TrimSuffix(rec.Target, ".")
			port := strconv.Itoa(int(rec.Port))
			if ip, err := netip.ParseAddr(target); err == nil {
				out = append(out, Destination{Addr: net.JoinHostPort(ip.Unmap().String(), port), Host: name, TLSName: name})
				continue
			}
			d, err := r.hostDests(ctx, target, port, name, name)
			if err != nil {
				lastErr = err
				continue
			}
			out = append(out, d...)
		}
		if len(out) == 0 {
			return nil, lastErr
		}
		return out, nil
	}
	return r.hostDests(ctx, name, strconv.Itoa(DefaultPort), name, name)
}

// hostDests resolves host and makes a destination per address.
func (r *Resolver) hostDests(ctx context.Context, host, port, hostHeader, tlsName string) ([]Destination, error) {
	ips, err := r.lookupIP(ctx, unbracket(host))
	if err != nil {
		return nil, err
	}
	out := make([]Destination, 0, len(ips))
	for _, ip := range ips {
		out = append(out, Destination{Addr: net.JoinHostPort(ip.String(), port), Host: hostHeader, TLSName: tlsName})
	}
	return out, nil
}

func portOr(port string) string {
	if port == "" {
		return strconv.Itoa(DefaultPort)
	}
	return port
}

// ForgetWellKnown drops the cached well-known answer and resolution of a
// server name, so that the next Resolve asks again.
func (r *Resolver) ForgetWellKnown(serverName string) {
	host, _, _ := splitServerName(serverName)
	r.mu.Lock()
	delete(r.wellKnown, host)
	delete(r.results, serverName)
	r.mu.Unlock()
}

// errWellKnownInvalid marks an answer that was received but is not usable.
var errWellKnownInvalid = errors.New("invalid well-known answer")

// fetchWellKnown returns the (cached) answer of
// https://host/.well-known/matrix/server.
func (r *Resolver) fetchWellKnown(ctx context.Context, host string) wellKnownResult {
	now := r.now()
	r.mu.Lock()
	if e, ok := r.wellKnown[host]; ok && now.Before(e.expires) {
		res := e.wellKnownResult
		r.mu.Unlock()
		return res
	}
	r.mu.Unlock()
	res, err := r.wkFlight.do(ctx, host, func() (wellKnownResult, error) {
		server, maxAge, err := r.getWellKnown(context.WithoutCancel(ctx), host)
		now := r.now()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.wellKnown == nil {
			r.wellKnown = map[string]*wellKnownEntry{}
		}
		if len(r.wellKnown) >= maxCacheEntries {
			// Server names come from other servers: keep the cache
			// bounded. Expired entries go first; failure counts of
			// servers dropped this way start again.
			for h, e := range r.wellKnown {
				if !now.Before(e.expires) {
					delete(r.wellKnown, h)
				}
			}
			if len(r.wellKnown) >= maxCacheEntries {
				clear(r.wellKnown)
			}
		}
		e := r.wellKnown[host]
		if e == nil {
			e = &wellKnownEntry{}
			r.wellKnown[host] = e
		}
		switch {
		case err == nil:
			e.failures, e.lastGood = 0, server
			e.wellKnownResult = wellKnownResult{server: server, expires: now.Add(maxAge)}
		case errors.Is(err, errWellKnownInvalid):
			e.failures, e.lastGood = 0, ""
			e.wellKnownResult = wellKnownResult{err: err, expires: now.Add(WellKnownInvalidCache)}
		default:
			e.failures++
			backoff := WellKnownErrorBackoff
			for i := 1; i < e.failures && backoff < WellKnownInvalidCache; i++ {
				backoff *= 2
			}
			backoff = min(backoff, WellKnownInvalidCache)
			e.wellKnownResult = wellKnownResult{err: err, expires: now.Add(backoff)}
			if e.lastGood != "" {
				// The server answered before and cannot be reached now:
				// keep its delegation rather than guess another route,
				// as the reference server does.
				e.wellKnownResult = wellKnownResult{server: e.lastGood, expires: now.Add(backoff)}
			}
		}
		return e.wellKnownResult, nil
	})
	if err != nil {
		return wellKnownResult{err: err}
	}
	return res
}

// getWellKnown makes the request; maxAge is the cache period of a valid
// answer.
func (r *Resolver) getWellKnown(ctx context.Context, host string) (server string, maxAge time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := "https://" + host + "/.well-known/matrix/server"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", errWellKnownInvalid, err)
	}
	resp, err := r.wellKnownClient().Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		return "", 0, fmt.Errorf("well-known: status %d", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("%w: status %d", errWellKnownInvalid, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWellKnownBody+1))
	if err != nil {
		return "", 0, err
	}
	if len(body) > maxWellKnownBody {
		return "", 0, fmt.Errorf("well-known: body larger than %d bytes", maxWellKnownBody)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", 0, fmt.Errorf("%w: not a JSON object: %v", errWellKnownInvalid, err)
	}
	raw, ok := doc["m.server"]
	if !ok {
		return "", 0, fmt.Errorf("%w: no m.server", errWellKnownInvalid)
	}
	if err := json.Unmarshal(raw, &server); err != nil {
		return "", 0, fmt.Errorf("%w: m.server is not a string", errWellKnownInvalid)
	}
	if _, _, ok := splitServerName(server); !ok {
		return "", 0, fmt.Errorf("%w: m.server %q is not a server name", errWellKnownInvalid, truncate(server))
	}
	return server, cachePeriod(resp.Header, r.now()), nil
}

// cachePeriod is how long a valid answer is kept: Cache-Control max-age,
// else Expires, else WellKnownDefaultCache; no-store, a max-age or an
// Expires below WellKnownMinCache give WellKnownMinCache, and nothing is
// kept beyond WellKnownMaxCache (the reference server's rules).
func cachePeriod(h http.Header, now time.Time) time.Duration {
	period, given := WellKnownDefaultCache, false
	noStore := false
	maxAge := int64(-1)
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			name, value, _ := strings.Cut(d, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store":
				noStore = true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
				if err == nil && n >= 0 {
					maxAge = n
				}
			}
		}
	}
	switch {
	case noStore:
		period, given = 0, true
	case maxAge >= 0:
		period, given = time.Duration(min(maxAge, int64(WellKnownMaxCache/time.Second)))*time.Second, true
	case h.Get("Expires") != "":
		given = true
		period = 0 // an invalid date means already expired (RFC 9111)
		if t, err := http.ParseTime(h.Get("Expires")); err == nil {
			period = t.Sub(now)
		}
	}
	if given {
		period = max(period, WellKnownMinCache)
	}
	return min(period, WellKnownMaxCache)
}

// maxRedirects bounds the redirects followed for the well-known file.
const maxRedirects = 10

func (r *Resolver) wellKnownClient() *http.Client {
	r.wkOnce.Do(func() {
		rt := r.WellKnownTransport
		if rt == nil {
			t := &http.Transport{
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					return r.dial(ctx, network, addr, false)
				},
				TLSClientConfig:     r.TLSConfig.Clone(),
				TLSHandshakeTimeout: 10 * time.Second,
				ForceAttemptHTTP2:   true,
				MaxIdleConnsPerHost: 1,
				IdleConnTimeout:     30 * time.Second,
			}
			rt = t
		}
		r.wkClient = &http.Client{
			Transport: rt,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= maxRedirects {
					return fmt.Errorf("%w: more than %d redirects", errWellKnownInvalid, maxRedirects)
				}
				if req.URL.Scheme != "https" {
					return fmt.Errorf("%w: redirect to %s URL", errWellKnownInvalid, req.URL.Scheme)
				}
				for _, v := range via {
					if sameURL(v.URL, req.URL) {
						return fmt.Errorf("%w: redirect loop at %s", errWellKnownInvalid, req.URL)
					}
				}
				return nil
			},
		}
	})
	return r.wkClient
}

func sameURL(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Host, b.Host) && a.EscapedPath() == b.EscapedPath() && a.RawQuery == b.RawQuery
}

// checkAddr applies the address policy to a destination address.
func (r *Resolver) checkAddr(addr string) error {
	if r.AllowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil // a name: checked when dialed
	}
	return checkIP(ip)
}

// DialContext connects to addr (host:port; the host a name or an IP
// address) under the Resolver's address policy: unless AllowPrivate,
// loopback, private, link-local and other special-purpose addresses are
// refused with a *ForbiddenAddressError, checked on the address actually
// connected to. It fits http.Transport's DialContext for requests made on
// behalf of users to URLs they choose (URL previews, media redirects),
// where the same server-side request forgery rules apply as to
// federation.
func (r *Resolver) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return r.dial(ctx, network, addr, false)
}

// dial connects to addr, resolving a host name with LookupIPAddr, and
// refuses, unless allowAny or AllowPrivate, the addresses checkIP refuses.
// The check is made on the address actually connected to (net.Dialer's
// Control hook), so that no resolution step can slip a private address in.
func (r *Resolver) dial(ctx context.Context, network, addr string, allowAny bool) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	guard := !allowAny && !r.AllowPrivate
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if guard {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			return checkIP(ap.Addr())
		}
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if allowAny {
		return d.DialContext(ctx, network, addr)
	} else if ips, err = r.lookupIP(ctx, host); err != nil {
		return nil, err
	}
	var lastErr error
	for _, ip := range ips {
		if guard {
			if err := checkIP(ip); err != nil {
				lastErr = err
				continue
			}
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// special are the IPv4 and IPv6 special-purpose ranges (RFC 6890 and the
// IANA registries) that a federation request must not reach by default,
// beyond what netip's predicates cover.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("192.88.99.0/24"), // 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fec0::/10"), // deprecated site-local
}

// checkIP refuses loopback, private, link-local, multicast, unspecified
// and special-purpose addresses, including IPv4 ones written as
// IPv4-mapped IPv6 and those embedded in NAT64 (64:ff9b::/96) and 6to4
// (2002::/16) addresses.
func checkIP(ip netip.Addr) error {
	orig := ip
	ip = ip.Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(ip):
			ip = netip.AddrFrom4([4]byte(b[12:16]))
		case netip.MustParsePrefix("2002::/16").Contains(ip):
			ip = netip.AddrFrom4([4]byte(b[2:6]))
		}
	}
	bad := ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid()
	if !bad && ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		bad = true
	}
	for _, p := range special {
		if bad {
			break
		}
		bad = p.Contains(ip)
	}
	if bad {
		return &ForbiddenAddressError{Addr: orig}
	}
	return nil
}

// splitServerName checks a server name against the grammar of
// content/appendices.md, "Server Name", and splits it into host (IPv6
// literals keep their brackets) and port ("" when absent).
func splitServerName(name string) (host, port string, ok bool) {
	if name == "" || len(name) > 255+6 {
		return "", "", false
	}
	host = name
	if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.HasSuffix(name, "]") {
		host, port = name[:i], name[i+1:]
		if len(port) == 0 || len(port) > 5 {
			return "", "", false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return "", "", false
			}
		}
	}
	switch {
	case strings.HasPrefix(host, "["):
		inner := strings.TrimSuffix(host[1:], "]")
		if len(inner) != len(host)-2 || len(inner) < 2 || len(inner) > 45 {
			return "", "", false
		}
		for i := 0; i < len(inner); i++ {
			c := inner[i]
			if !(isHex(c) || c == ':' || c == '.') {
				return "", "", false
			}
		}
		if ip, err := netip.ParseAddr(inner); err != nil || !ip.Is6() {
			return "", "", false
		}
	default:
		if len(host) == 0 || len(host) > 255 {
			return "", "", false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
				return "", "", false
			}
		}
	}
	return host, port, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func validServerName(name string) bool {
	_, _, ok := splitServerName(name)
	return ok
}

func unbracket(host string) string {
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
