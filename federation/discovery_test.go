package federation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDNS answers from tables and records the lookups.
type fakeDNS struct {
	mu    sync.Mutex
	srv   map[string][]*net.SRV // "_service._proto.name"
	ips   map[string][]string
	calls []string
}

func (d *fakeDNS) LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
	q := "_" + service + "._" + proto + "." + name
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "SRV "+q)
	recs, ok := d.srv[q]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: q, IsNotFound: true}
	}
	out := make([]*net.SRV, len(recs))
	for i, r := range recs {
		c := *r
		out[i] = &c
	}
	return q, out, nil
}

func (d *fakeDNS) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "IP "+host)
	ips, ok := d.ips[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func (d *fakeDNS) count(prefix string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// fakeWeb answers HTTPS requests from a table of URL -> response maker
// and counts them; a missing URL is a connection error.
type fakeWeb struct {
	mu    sync.Mutex
	pages map[string]func() (*http.Response, error)
	hits  map[string]int
}

func (f *fakeWeb) RoundTrip(r *http.Request) (*http.Response, error) {
	u := r.URL.String()
	f.mu.Lock()
	if f.hits == nil {
		f.hits = map[string]int{}
	}
	f.hits[u]++
	page := f.pages[u]
	f.mu.Unlock()
	if page == nil {
		return nil, fmt.Errorf("dial %s: connection refused", r.URL.Host)
	}
	resp, err := page()
	if resp != nil {
		resp.Request = r
	}
	return resp, err
}

func (f *fakeWeb) set(url string, page func() (*http.Response, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pages == nil {
		f.pages = map[string]func() (*http.Response, error){}
	}
	f.pages[url] = page
}

func (f *fakeWeb) count(url string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[url]
}

func respond(status int, body string, header ...string) func() (*http.Response, error) {
	return func() (*http.Response, error) {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Add(header[i], header[i+1])
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}, nil
	}
}

func wk(host string) string { return "https://" + host + "/.well-known/matrix/server" }

type discoveryFixture struct {
	dns *fakeDNS
	web *fakeWeb
	now time.Time
	r   *Resolver
}

func newDiscovery() *discoveryFixture {
	f := &discoveryFixture{dns: &fakeDNS{srv: map[string][]*net.SRV{}, ips: map[string][]string{}}, web: &fakeWeb{}, now: testNow}
	f.r = &Resolver{
		LookupSRV:          f.dns.LookupSRV,
		LookupIPAddr:       f.dns.LookupIPAddr,
		WellKnownTransport: f.web,
		Now:                func() time.Time { return f.now },
	}
	return f
}

func d(addr, host, tlsName string) Destination {
	return Destination{Addr: addr, Host: host, TLSName: tlsName}
}

// TestResolveSteps has a case for every numbered step of "Resolving server
// names" (content/server-server-api.md).
func TestResolveSteps(t *testing.T) {
	tests := []struct {
		name   string
		server string
		setup  func(f *discoveryFixture)
		want   []Destination
		noWK   bool // the well-known file must not be fetched
	}{
		{name: "1 IPv4 literal, default port", server: "1.2.3.4", noWK: true,
			want: []Destination{d("1.2.3.4:8448", "1.2.3.4", "1.2.3.4")}},
		{name: "1 IPv4 literal with port", server: "1.2.3.4:99", noWK: true,
			want: []Destination{d("1.2.3.4:99", "1.2.3.4:99", "1.2.3.4")}},
		{name: "1 IPv6 literal", server: "[2a00:1450::1]", noWK: true,
			want: []Destination{d("[2a00:1450::1]:8448", "[2a00:1450::1]", "2a00:1450::1")}},
		{name: "1 IPv6 literal with port", server: "[2a00:1450::1]:8000", noWK: true,
			want: []Destination{d("[2a00:1450::1]:8000", "[2a00:1450::1]:8000", "2a00:1450::1")}},
		{name: "2 explicit port: A/AAAA of the host, Host with port, cert for host", server: "example.com:8449", noWK: true,
			setup: func(f *discoveryFixture) {
				f.dns.ips["example.com"] = []string{"2a00:1450::2", "93.184.216.34"}
				f.dns.srv["_matrix-fed._tcp.example.com"] = []*net.SRV{{Target: "ignored.example.", Port: 1}}
			},
			want: []Destination{d("[2a00:1450::2]:8449", "example.com:8449", "example.com"), d("93.184.216.34:8449", "example.com:8449", "example.com")}},
		{name: "3.1 delegated IP literal without port", server: "example.com",
			setup: func(f *discoveryFixture) { f.web.set(wk("example.com"), respond(200, `{"m.server":"5.6.7.8"}`)) },
			want:  []Destination{d("5.6.7.8:8448", "5.6.7.8", "5.6.7.8")}},
		{name: "3.1 delegated IP literal with port", server: "example.com",
			setup: func(f *discoveryFixture) { f.web.set(wk("example.com"), respond(200, `{"m.server":"5.6.7.8:1234"}`)) },
			want:  []Destination{d("5.6.7.8:1234", "5.6.7.8:1234", "5.6.7.8")}},
		{name: "3.1 delegated IPv6 literal", server: "example.com",
			setup: func(f *discoveryFixture) {
				f.web.set(wk("example.com"), respond(200, `{"m.server":"[2a00:1450::3]:443"}`))
			},
			want: []Destination{d("[2a00:1450::3]:443", "[2a00:1450::3]:443", "2a00:1450::3")}},
		{name: "3.2 delegated host with port", server: "example.com",
			setup: func(f *discoveryFixture) {
				f.web.set(wk("example.com"), respond(200, `{"m.server":"matrix.example.net:9000"}`))
				f.dns.ips["matrix.example.net"] = []string{"9.9.9.9"}
				f.dns.srv["_matrix-fed._tcp.matrix.example.net"] = []*net.SRV{{Target: "ignored.example.", Port: 1}}
			},
			want: []Destination{d("9.9.9.9:9000", "matrix.example.net:9000", "matrix.example.net")}},
		{name: "3.3 delegated host, SRV _matrix-fed", server: "example.com",
			setup: func(f *discoveryFixture) {
				f.web.set(wk("example.com"), respond(200, `{"m.server":"matrix.example.net"}`))
				f.dns.srv["_matrix-fed._tcp.matrix.example.net"] = []*net.SRV{{Target: "fed.example.org.", Port: 4443}}
				f.dns.srv["_matrix._tcp.matrix.example.net"] = []*net.SRV{{Target: "old.example.org.", Port: 5553}}
				f.dns.ips["fed.example.org"] = []string{"8.8.4.4"}
				f.dns.ips["old.example.org"] = []string{"8.8.8.8"}
			},
			want: []Destination{d("8.8.4.4:4443", "matrix.example.net", "matrix.example.net")}},
		{name: "3.4 delegated host, deprecated SRV _matrix", server: "example.com",
			setup: func(f *discoveryFixture) {
				f.web.set(wk("example.com"), respond(200, `{"m.server":"matrix.example.net"}`))
				f.dns.srv["_matrix._tcp.matrix.example.net"] = []*net.SRV{{Target: "old.example.org.", Port: 5553}}
				f.dns.ips["old.example.org"] = []string{"8.8.8.8"}
			},
			want: []Destination{d("8.8.8.8:5553", "matrix.example.net", "matrix.example.net")}},
		{name: "3.5 delegated host, no SRV: port 8448", server: "example.com",
			setup: func(f *discoveryFixture) {
				f.web.set(wk("example.com"), respond(200, `{"m.server":"matrix.example.net"}`))
				f.dns.ips["matrix.example.net"] = []string{"7.7.7.7"}
			},
			want: []Destination{d("7.7.7.7:8448", "matrix.example.net", "matrix.example.net")}},
		{name: "4 no well-known: SRV _matrix-fed of the host, Host and cert of the host", server: "example.com",
			setup: func(f *discoveryFixture) {
				f.web.set(wk("example.com"), respond(404, `not found`))
				f.dns.srv["_matrix-fed._tcp.example.com"] = []*net.SRV{{Target: "fed.example.org.", Port: 4443}}
				f.dns.srv["_matrix._tcp.example.com"] = []*net.SRV{{Target: "old.example.org.", Port: 5553}}
				f.dns.ips["fed.example.org"] = []string{"8.8.4.4"}
				f.dns.ips["old.example.org"] = []string{"8.8.8.8"}
			},
			want: []Destination{d("8.8.4.4:4443", "example.com", "example.com")}},
		{name: "5 no well-known: deprecated SRV _matrix", server: "example.com",
			setup: func(f *discoveryFixture) {
				f.dns.srv["_matrix._tcp.example.com"] = []*net.SRV{{Target: "old.example.org.", Port: 5553}}
				f.dns.ips["old.example.org"] = []string{"8.8.8.8"}
			},
			want: []Destination{d("8.8.8.8:5553", "example.com", "example.com")}},
		{name: "6 nothing: host on 8448", server: "example.com",
			setup: func(f *discoveryFixture) { f.dns.ips["example.com"] = []string{"93.184.216.34"} },
			want:  []Destination{d("93.184.216.34:8448", "example.com", "example.com")}},
		{name: "SRV target written as an IP address: Host and cert still the name looked up", server: "example.com",
			setup: func(f *discoveryFixture) {
				f.dns.srv["_matrix-fed._tcp.example.com"] = []*net.SRV{{Target: "9.9.9.9", Port: 8443}}
			},
			want: []Destination{d("9.9.9.9:8443", "example.com", "example.com")}},
		{name: "SRV records in priority order, each target resolved", server: "example.com",
			setup: func(f *discoveryFixture) {
				f.dns.srv["_matrix-fed._tcp.example.com"] = []*net.SRV{
					{Target: "b.example.org.", Port: 2, Priority: 20},
					{Target: "a.example.org.", Port: 1, Priority: 10},
					{Target: "gone.example.org.", Port: 3, Priority: 15},
				}
				f.dns.ips["a.example.org"] = []string{"1.1.1.1", "1.0.0.1"}
				f.dns.ips["b.example.org"] = []string{"2.2.2.2"}
			},
			want: []Destination{d("1.1.1.1:1", "example.com", "example.com"), d("1.0.0.1:1", "example.com", "example.com"), d("2.2.2.2:2", "example.com", "example.com")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDiscovery()
			if tt.setup != nil {
				tt.setup(f)
			}
			got, err := f.r.Resolve(context.Background(), tt.server)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.server, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Resolve(%q) =\n%+v\nwant\n%+v", tt.server, got, tt.want)
			}
			wkHits := 0
			for u, n := range f.web.hits {
				if strings.HasSuffix(u, "/.well-known/matrix/server") {
					wkHits += n
				}
			}
			if tt.noWK && wkHits != 0 {
				t.Fatalf("well-known fetched %d times", wkHits)
			}
			if !tt.noWK && wkHits != 1 {
				t.Fatalf("well-known fetched %d times, want 1", wkHits)
			}
		})
	}
}

// Invalid well-known answers go to step 4 (SRV of the original host).
func TestResolveInvalidWellKnown(t *testing.T) {
	bodies := map[string]func() (*http.Response, error){
		"not JSON":            respond(200, `<html>`),
		"not an object":       respond(200, `["m.server"]`),
		"no m.server":         respond(200, `{"m.homeserver":"x"}`),
		"m.server not string": respond(200, `{"m.server":1}`),
		"m.server invalid":    respond(200, `{"m.server":"bad name/x"}`),
		"m.server bad port":   respond(200, `{"m.server":"a.example:123456"}`),
		"m.server empty":      respond(200, `{"m.server":""}`),
		"status 404":          respond(404, `{"m.server":"x.example"}`),
		"status 302 no loc":   respond(302, ``),
		"status 500":          respond(500, `{"m.server":"x.example"}`),
		"connection error":    nil,
		"too large":           respond(200, `{"m.server":"x.example","pad":"`+strings.Repeat("x", maxWellKnownBody)+`"}`),
		"status 503":          respond(503, `{"m.server":"x.example"}`),
	}
	for name, page := range bodies {
		t.Run(name, func(t *testing.T) {
			f := newDiscovery()
			if page != nil {
				f.web.set(wk("example.com"), page)
			}
			f.dns.srv["_matrix-fed._tcp.example.com"] = []*net.SRV{{Target: "fed.example.org.", Port: 4443}}
			f.dns.ips["fed.example.org"] = []string{"8.8.4.4"}
			got, err := f.r.Resolve(context.Background(), "example.com")
			if err != nil {
				t.Fatal(err)
			}
			if want := []Destination{d("8.8.4.4:4443", "example.com", "example.com")}; !slices.Equal(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestWellKnownCache(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		fresh  time.Duration // still cached just before
	}{
		{"default 24h", nil, WellKnownDefaultCache},
		{"max-age", []string{"Cache-Control", "public, max-age=3600"}, time.Hour},
		{"max-age capped at 48h", []string{"Cache-Control", "max-age=604800"}, WellKnownMaxCache},
		{"max-age raised to 5 minutes", []string{"Cache-Control", "max-age=10"}, WellKnownMinCache},
		{"no-store: 5 minutes", []string{"Cache-Control", "no-store"}, WellKnownMinCache},
		{"no-store wins over max-age", []string{"Cache-Control", "max-age=3600", "Cache-Control", "no-store"}, WellKnownMinCache},
		{"bad max-age ignored", []string{"Cache-Control", "max-age=soon"}, WellKnownDefaultCache},
		{"Expires", []string{"Expires", testNow.Add(2 * time.Hour).UTC().Format(http.TimeFormat)}, 2 * time.Hour},
		{"max-age wins over Expires", []string{"Expires", testNow.Add(2 * time.Hour).UTC().Format(http.TimeFormat), "Cache-Control", "max-age=7200, must-revalidate"}, 2 * time.Hour},
		{"invalid Expires: 5 minutes", []string{"Expires", "0"}, WellKnownMinCache},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDiscovery()
			f.r.CacheTTL = time.Minute // resolutions expire quickly; the well-known cache decides
			f.web.set(wk("example.com"), respond(200, `{"m.server":"5.6.7.8"}`, tt.header...))
			start := f.now
			resolve := func() {
				t.Helper()
				if _, err := f.r.Resolve(context.Background(), "example.com"); err != nil {
					t.Fatal(err)
				}
			}
			resolve()
			if tt.fresh > 0 {
				f.now = start.Add(tt.fresh - time.Second)
				resolve()
				if n := f.web.count(wk("example.com")); n != 1 {
					t.Fatalf("%d fetches before expiry, want 1", n)
				}
			}
			f.now = start.Add(tt.fresh + time.Second)
			resolve()
			if n := f.web.count(wk("example.com")); n != 2 {
				t.Fatalf("%d fetches after expiry, want 2", n)
			}
		})
	}
}

// Failures to reach the server are cached with exponential backoff from
// WellKnownErrorBackoff up to an hour; an invalid answer for an hour.
func TestWellKnownErrorBackoff(t *testing.T) {
	f := newDiscovery()
	f.r.CacheTTL = time.Second
	f.dns.ips["example.com"] = []string{"93.184.216.34"}
	fetches := func() int { return f.web.count(wk("example.com")) }
	resolveAt := func(at time.Time) {
		t.Helper()
		f.now = at
		if _, err := f.r.Resolve(context.Background(), "example.com"); err != nil {
			t.Fatal(err)
		}
	}
	at := testNow
	resolveAt(at)
	want := 1
	backoff := WellKnownErrorBackoff
	for i := 0; i < 8; i++ {
		resolveAt(at.Add(backoff - time.Second))
		if fetches() != want {
			t.Fatalf("failure %d: refetched before the backoff of %s", i+1, backoff)
		}
		at = at.Add(backoff + time.Second)
		resolveAt(at)
		want++
		if fetches() != want {
			t.Fatalf("failure %d: not refetched after the backoff of %s", i+1, backoff)
		}
		backoff = min(backoff*2, time.Hour)
	}
	if backoff != time.Hour {
		t.Fatalf("backoff reached %s, want the cap of 1h", backoff)
	}

	// Success resets; an invalid answer is then kept an hour.
	f.web.set(wk("example.com"), respond(404, ""))
	at = at.Add(time.Hour + time.Second)
	resolveAt(at)
	want++
	resolveAt(at.Add(WellKnownInvalidCache - time.Second))
	if fetches() != want {
		t.Fatal("invalid answer not cached for an hour")
	}
	resolveAt(at.Add(WellKnownInvalidCache + time.Second))
	if fetches() != want+1 {
		t.Fatal("invalid answer cached beyond an hour")
	}
}

func TestWellKnownRedirects(t *testing.T) {
	t.Run("followed", func(t *testing.T) {
		f := newDiscovery()
		f.web.set(wk("example.com"), respond(301, "", "Location", "https://www.example.com/.well-known/matrix/server"))
		f.web.set(wk("www.example.com"), respond(302, "", "Location", "/other"))
		f.web.set("https://www.example.com/other", respond(200, `{"m.server":"5.6.7.8"}`))
		got, err := f.r.Resolve(context.Background(), "example.com")
		if err != nil || !slices.Equal(got, []Destination{d("5.6.7.8:8448", "5.6.7.8", "5.6.7.8")}) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	for name, setup := range map[string]func(*fakeWeb){
		"loop": func(w *fakeWeb) {
			w.set(wk("example.com"), respond(301, "", "Location", "https://b.example.com/x"))
			w.set("https://b.example.com/x", respond(301, "", "Location", wk("example.com")))
		},
		"self": func(w *fakeWeb) {
			w.set(wk("example.com"), respond(307, "", "Location", wk("example.com")))
		},
		"to plain http": func(w *fakeWeb) {
			w.set(wk("example.com"), respond(301, "", "Location", "http://example.com/.well-known/matrix/server"))
			w.set("http://example.com/.well-known/matrix/server", respond(200, `{"m.server":"5.6.7.8"}`))
		},
		"too many": func(w *fakeWeb) {
			w.set(wk("example.com"), respond(301, "", "Location", "https://r0.example.com/"))
			for i := 0; i < 20; i++ {
				w.set(fmt.Sprintf("https://r%d.example.com/", i), respond(301, "", "Location", fmt.Sprintf("https://r%d.example.com/", i+1)))
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newDiscovery()
			setup(f.web)
			f.dns.ips["example.com"] = []string{"93.184.216.34"}
			got, err := f.r.Resolve(context.Background(), "example.com")
			if err != nil || !slices.Equal(got, []Destination{d("93.184.216.34:8448", "example.com", "example.com")}) {
				t.Fatalf("got %+v, %v; want the step 6 fallback", got, err)
			}
			if n := f.web.count(wk("example.com")); n > 2 {
				t.Fatalf("well-known fetched %d times: loop not stopped", n)
			}
			total := 0
			for _, n := range f.web.hits {
				total += n
			}
			if total > maxRedirects+1 {
				t.Fatalf("%d requests for one resolution", total)
			}
		})
	}
}

func TestResolveCache(t *testing.T) {
	f := newDiscovery()
	f.r.CacheTTL = 10 * time.Minute
	f.dns.ips["example.com"] = []string{"93.184.216.34"}
	f.web.set(wk("example.com"), respond(404, ""))
	for i := 0; i < 3; i++ {
		if _, err := f.r.Resolve(context.Background(), "example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.dns.count("IP example.com"); n != 1 {
		t.Fatalf("%d address lookups, want 1 (cached)", n)
	}
	f.now = f.now.Add(10*time.Minute + time.Second)
	if _, err := f.r.Resolve(context.Background(), "example.com"); err != nil {
		t.Fatal(err)
	}
	if n := f.dns.count("IP example.com"); n != 2 {
		t.Fatalf("%d address lookups after expiry, want 2", n)
	}
	f.r.ForgetWellKnown("example.com")
	if _, err := f.r.Resolve(context.Background(), "example.com"); err != nil {
		t.Fatal(err)
	}
	if n := f.web.count(wk("example.com")); n != 2 {
		t.Fatalf("%d well-known fetches after ForgetWellKnown, want 2", n)
	}
	// A resolution never outlives the well-known answer it used.
	g := newDiscovery()
	g.r.CacheTTL = time.Hour
	g.web.set(wk("example.com"), respond(200, `{"m.server":"5.6.7.8"}`, "Cache-Control", "max-age=600"))
	g.r.Resolve(context.Background(), "example.com")
	g.now = g.now.Add(601 * time.Second)
	g.r.Resolve(context.Background(), "example.com")
	if n := g.web.count(wk("example.com")); n != 2 {
		t.Fatalf("%d fetches, want 2: the resolution outlived its well-known answer", n)
	}
}

func TestResolveErrors(t *testing.T) {
	f := newDiscovery()
	for _, name := range []string{"", "a b", "example.com:", "example.com:123456", "example.com:8a", "[::1", "[zz::1]", "[1.2.3.4]", "ex/ample.com"} {
		if _, err := f.r.Resolve(context.Background(), name); !errors.Is(err, ErrInvalidServerName) {
			t.Errorf("Resolve(%q) err = %v, want ErrInvalidServerName", name, err)
		}
	}
	// Nothing resolves.
	if _, err := f.r.Resolve(context.Background(), "nowhere.example"); err == nil {
		t.Error("Resolve of an unknown host succeeded")
	}
	// SRV "." means the service is not available.
	f.dns.srv["_matrix-fed._tcp.dot.example"] = []*net.SRV{{Target: ".", Port: 0}}
	f.dns.ips["dot.example"] = []string{"93.184.216.34"}
	if _, err := f.r.Resolve(context.Background(), "dot.example"); !errors.Is(err, ErrNoAddress) {
		t.Errorf("SRV '.': err = %v, want ErrNoAddress", err)
	}
}

// Addresses in private ranges are refused unless allowed: on names, on
// delegations, and on the well-known fetch itself.
func TestResolvePrivateAddresses(t *testing.T) {
	cases := []struct {
		name   string
		server string
		setup  func(f *discoveryFixture)
	}{
		{"IP literal loopback", "127.0.0.1:8448", nil},
		{"IPv6 loopback", "[::1]", nil},
		{"host resolving to private", "intranet.example:8448", func(f *discoveryFixture) { f.dns.ips["intranet.example"] = []string{"10.1.2.3"} }},
		{"host resolving to link-local", "meta.example:80", func(f *discoveryFixture) { f.dns.ips["meta.example"] = []string{"169.254.169.254"} }},
		{"delegation to loopback", "example.com", func(f *discoveryFixture) {
			f.web.set(wk("example.com"), respond(200, `{"m.server":"127.0.0.1:6379"}`))
		}},
		{"SRV target private", "example.com", func(f *discoveryFixture) {
			f.dns.srv["_matrix-fed._tcp.example.com"] = []*net.SRV{{Target: "db.example.", Port: 5432}}
			f.dns.ips["db.example"] = []string{"192.168.0.10"}
		}},
		{"IPv4-mapped IPv6 loopback", "[::ffff:127.0.0.1]:8448", nil},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			f := newDiscovery()
			if tt.setup != nil {
				tt.setup(f)
			}
			if _, err := f.r.Resolve(context.Background(), tt.server); !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("err = %v, want ErrForbiddenAddress", err)
			}
			f2 := newDiscovery()
			f2.r.AllowPrivate = true
			if tt.setup != nil {
				tt.setup(f2)
			}
			if _, err := f2.r.Resolve(context.Background(), tt.server); err != nil {
				t.Fatalf("with AllowPrivate: %v", err)
			}
		})
	}
	t.Run("private addresses dropped, public kept", func(t *testing.T) {
		f := newDiscovery()
		f.dns.ips["mixed.example"] = []string{"10.0.0.1", "93.184.216.34", "127.0.0.1"}
		got, err := f.r.Resolve(context.Background(), "mixed.example:8448")
		if err != nil || !slices.Equal(got, []Destination{d("93.184.216.34:8448", "mixed.example:8448", "mixed.example")}) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("static override", func(t *testing.T) {
		f := newDiscovery()
		f.r.Static = map[string]string{"peer.test": "127.0.0.1:8008"}
		got, err := f.r.Resolve(context.Background(), "peer.test")
		want := []Destination{{Addr: "127.0.0.1:8008", Host: "peer.test", TLSName: "peer.test", static: true}}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("got %+v, %v", got, err)
		}
		if len(f.dns.calls) != 0 || len(f.web.hits) != 0 {
			t.Fatalf("static override still looked things up: %v %v", f.dns.calls, f.web.hits)
		}
	})
}

// The default well-known transport refuses to connect to a private
// address: the check is on the address dialed, after name resolution.
func TestWellKnownFetchRefusesPrivate(t *testing.T) {
	dns := &fakeDNS{srv: map[string][]*net.SRV{}, ips: map[string][]string{"example.com": {"127.0.0.1"}, "ok.example": {"127.0.0.1"}}}
	r := &Resolver{LookupSRV: dns.LookupSRV, LookupIPAddr: dns.LookupIPAddr, Now: func() time.Time { return testNow }}
	res := r.fetchWellKnown(context.Background(), "example.com")
	if !errors.Is(res.err, ErrForbiddenAddress) {
		t.Fatalf("well-known fetch err = %v, want ErrForbiddenAddress", res.err)
	}
	// Dialing checks too, whoever asks.
	for _, addr := range []string{"127.0.0.1:1", "[::1]:1", "ok.example:1", "10.0.0.1:1", "[fe80::1]:1", "0.0.0.0:1"} {
		if _, err := r.dial(context.Background(), "tcp", addr, false); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("dial %s: err = %v, want ErrForbiddenAddress", addr, err)
		}
	}
}

func TestCheckIP(t *testing.T) {
	refused := []string{"127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "fe80::1", "fc00::1", "fd12:3456::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1",
		"100.64.0.1", "255.255.255.255", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1",
		"192.0.2.1", "192.88.99.1", "198.18.0.1", "240.0.0.1", "fec0::1"}
	allowed := []string{"93.184.216.34", "8.8.8.8", "2a00:1450:4001::1", "172.32.0.1", "100.128.0.1", "64:ff9b::808:808", "2002:808:808::1"}
	for _, s := range refused {
		if err := checkIP(netip.MustParseAddr(s)); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("checkIP(%s) = %v, want refusal", s, err)
		}
	}
	for _, s := range allowed {
		if err := checkIP(netip.MustParseAddr(s)); err != nil {
			t.Errorf("checkIP(%s) = %v, want nil", s, err)
		}
	}
}

func TestSplitServerName(t *testing.T) {
	tests := []struct {
		in, host, port string
		ok             bool
	}{
		{"example.com", "example.com", "", true},
		{"example.com:8448", "example.com", "8448", true},
		{"1.2.3.4:1", "1.2.3.4", "1", true},
		{"[::1]", "[::1]", "", true},
		{"[::1]:80", "[::1]", "80", true},
		{"[1234:5678::abcd]:99999", "[1234:5678::abcd]", "99999", true},
		{"localhost", "localhost", "", true},
		{"", "", "", false},
		{":80", "", "", false},
		{"a:", "", "", false},
		{"a:123456", "", "", false},
		{"a:-1", "", "", false},
		{"a_b.example", "", "", false},
		{"[::1", "", "", false},
		{"[::g]", "", "", false},
		{"::1", "", "", false},
		{strings.Repeat("a", 256), "", "", false},
	}
	for _, tt := range tests {
		h, p, ok := splitServerName(tt.in)
		if ok != tt.ok || ok && (h != tt.host || p != tt.port) {
			t.Errorf("splitServerName(%q) = %q, %q, %v; want %q, %q, %v", tt.in, h, p, ok, tt.host, tt.port, tt.ok)
		}
	}
}

// A server that delegated before and cannot be reached now keeps its
// delegation (with the failure backoff), rather than being looked up as
// if it had none; an invalid answer ends the delegation.
func TestWellKnownKeptThroughFailures(t *testing.T) {
	f := newDiscovery()
	f.r.CacheTTL = time.Second
	f.dns.ips["example.com"] = []string{"93.184.216.34"}
	f.web.set(wk("example.com"), respond(200, `{"m.server":"5.6.7.8"}`, "Cache-Control", "max-age=3600"))
	delegated := []Destination{d("5.6.7.8:8448", "5.6.7.8", "5.6.7.8")}
	resolveAt := func(at time.Time, want []Destination) {
		t.Helper()
		f.now = at
		got, err := f.r.Resolve(context.Background(), "example.com")
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("at +%s: %+v, %v; want %+v", at.Sub(testNow), got, err, want)
		}
	}
	resolveAt(testNow, delegated)
	f.web.set(wk("example.com"), respond(502, "bad gateway"))
	resolveAt(testNow.Add(time.Hour+time.Second), delegated)
	if n := f.web.count(wk("example.com")); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	f.web.set(wk("example.com"), respond(404, "gone"))
	resolveAt(testNow.Add(time.Hour+WellKnownErrorBackoff+2*time.Second), []Destination{d("93.184.216.34:8448", "example.com", "example.com")})
}

// FuzzSplitServerName: no panic; an accepted name splits into a host and
// port that put together give the name back, and the host is an IP
// literal in brackets or a DNS name.
func FuzzSplitServerName(f *testing.F) {
	for _, s := range []string{"example.com", "example.com:8448", "1.2.3.4", "[::1]:80", "[::1", "a:", ":1", "[1.2.3.4]", "ex ample", "a:00000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		host, port, ok := splitServerName(name)
		if !ok {
			return
		}
		joined := host
		if port != "" {
			joined += ":" + port
		}
		if joined != name {
			t.Fatalf("%q split as %q %q", name, host, port)
		}
		if strings.HasPrefix(host, "[") {
			if ip, err := netip.ParseAddr(unbracket(host)); err != nil || !ip.Is6() {
				t.Fatalf("%q: bracketed host %q is not IPv6", name, host)
			}
		} else if strings.ContainsAny(host, ":[]") {
			t.Fatalf("%q: host %q", name, host)
		}
	})
}

// FuzzCachePeriod: whatever the headers, the period is within
// [0, WellKnownMaxCache], and at least WellKnownMinCache when the headers
// set one.
func FuzzCachePeriod(f *testing.F) {
	f.Add("max-age=3600", "")
	f.Add("no-store", "")
	f.Add("", "Thu, 01 Jan 1970 00:00:00 GMT")
	f.Add("max-age=-1, max-age=99999999999999999999", "0")
	f.Fuzz(func(t *testing.T, cc, expires string) {
		h := http.Header{}
		if cc != "" {
			h.Set("Cache-Control", cc)
		}
		if expires != "" {
			h.Set("Expires", expires)
		}
		p := cachePeriod(h, testNow)
		if p < 0 || p > WellKnownMaxCache {
			t.Fatalf("period %s for %q %q", p, cc, expires)
		}
		if p < WellKnownMinCache && p != WellKnownDefaultCache {
			t.Fatalf("period %s below the minimum for %q %q", p, cc, expires)
		}
	})
}

func ExampleResolver() {
	// DNS and HTTP are fields: here a fake DNS and no well-known file, so
	// the example runs offline. A real Resolver leaves them nil.
	srv := map[string][]*net.SRV{"_matrix-fed._tcp.example.org": {{Target: "matrix.example.net.", Port: 443}}}
	ips := map[string][]net.IPAddr{
		"matrix.example.net": {{IP: net.ParseIP("203.0.114.7")}},
		"example.org":        {{IP: net.ParseIP("203.0.114.8")}},
	}
	r := &Resolver{
		LookupSRV: func(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
			return "", srv["_"+service+"._"+proto+"."+name], nil
		},
		LookupIPAddr: func(ctx context.Context, host string) ([]net.IPAddr, error) {
			return ips[host], nil
		},
		WellKnownTransport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 404, Body: http.NoBody, Header: http.Header{}}, nil
		}),
	}
	for _, name := range []string{"example.org", "example.org:8449", "[2a00:1450::1]"} {
		dests, err := r.Resolve(context.Background(), name)
		if err != nil {
			fmt.Println(name, err)
			continue
		}
		for _, d := range dests {
			fmt.Printf("%s: dial %s, Host %s, TLS name %s\n", name, d.Addr, d.Host, d.TLSName)
		}
	}
	// The default refuses private addresses:
	_, err := r.Resolve(context.Background(), "10.0.0.1")
	fmt.Println(errors.Is(err, ErrForbiddenAddress))
	// Output:
	// example.org: dial 203.0.114.7:443, Host example.org, TLS name example.org
	// example.org:8449: dial 203.0.114.8:8449, Host example.org:8449, TLS name example.org
	// [2a00:1450::1]: dial [2a00:1450::1]:8448, Host [2a00:1450::1], TLS name 2a00:1450::1
	// true
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestResolverCachesBounded(t *testing.T) {
	f := newDiscovery()
	for i := 0; i <= maxCacheEntries+10; i++ {
		name := fmt.Sprintf("8.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		if _, err := f.r.Resolve(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.r.results); n > maxCacheEntries {
		t.Fatalf("%d cached resolutions, limit %d", n, maxCacheEntries)
	}
}

// A Static entry is used even for a name outside the server name grammar
// (a test or private deployment may name peers as it likes).
func TestResolveStaticAnyName(t *testing.T) {
	f := newDiscovery()
	f.r.Static = map[string]string{"hs_1": "127.0.0.1:8001"}
	got, err := f.r.Resolve(context.Background(), "hs_1")
	if err != nil || len(got) != 1 || got[0].Addr != "127.0.0.1:8001" || got[0].Host != "hs_1" {
		t.Fatalf("got %+v, %v", got, err)
	}
}
