package clientapi

import (
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// RateLimits bounds how fast clients may act (the client-server API's
// "Rate limiting": a limited request is answered 429 M_LIMIT_EXCEEDED
// with retry_after_ms, and since v1.13 a Retry-After header). Each user
// has a token bucket for the requests that change something (every
// POST, PUT and DELETE but those of ExemptPaths), and each client address
// one for login and registration, the requests made before there is a
// user. Application services whose registration says rate_limited: false
// (Identity.RateLimitExempt) are not limited, as the application service
// API allows.
type RateLimits struct {
	// PerSecond and Burst are the user bucket: the steady rate and how
	// many requests may come at once.
	PerSecond float64
	Burst     int
	// LoginPerSecond and LoginBurst are the per-address bucket of POST
	// /login and /register.
	LoginPerSecond float64
	LoginBurst     int
	// Now is the clock (nil: time.Now); tests set it.
	Now func() time.Time
	// MaxKeys bounds the buckets kept (0: 100,000); past it, full
	// buckets (the ones that would not limit anyway) are dropped.
	MaxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
}

// DefaultRateLimits are generous limits: 10 changes a second per user with
// bursts of 50; logins and registrations 1 a second per address, bursts of
// 10.
func DefaultRateLimits() *RateLimits {
	return &RateLimits{PerSecond: 10, Burst: 50, LoginPerSecond: 1, LoginBurst: 10}
}

type bucket struct {
	tokens float64
	last   time.Time
	rate   float64
	burst  float64
}

func (l *RateLimits) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// take takes a token from the bucket key; when there is none it returns
// how long until there is one.
func (l *RateLimits) take(key string, rate float64, burst int) (ok bool, wait time.Duration) {
	if rate <= 0 || burst <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b := l.buckets[key]
	if b == nil {
		l.evict(now)
		b = &bucket{tokens: float64(burst), last: now, rate: rate, burst: float64(burst)}
		l.buckets[key] = b
	}
	if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = math.Min(b.burst, b.tokens+d*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration(math.Ceil((1 - b.tokens) / b.rate * float64(time.Second)))
}

// evict drops full buckets when the map is at its bound.
func (l *RateLimits) evict(now time.Time) {
	max := l.MaxKeys
	if max <= 0 {
		max = 100000
	}
	if len(l.buckets) < max {
		return
	}
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*b.rate >= b.burst || len(l.buckets) >= max {
			delete(l.buckets, k)
		}
	}
}

// check applies the limits to a request, after authentication.
func (l *RateLimits) check(r *http.Request, who Identity) error {
	if l == nil || who.RateLimitExempt {
		return nil
	}
	path := r.URL.Path
	if addressLimited(r) {
		if ok, wait := l.take("ip "+clientAddr(r), l.LoginPerSecond, l.LoginBurst); !ok {
			return limitExceeded(wait)
		}
		return nil
	}
	if who.UserID == "" || r.Method == http.MethodGet || r.Method == http.MethodOptions || exemptPath(path) {
		return nil
	}
	if ok, wait := l.take("user "+who.UserID, l.PerSecond, l.Burst); !ok {
		return limitExceeded(wait)
	}
	return nil
}

// addressLimited: the requests limited per address, those made without
// an access token that guess at secrets: logins, registrations, refresh
// tokens, and registration token checks (which "Servers should be sure
// to rate limit").
func addressLimited(r *http.Request) bool {
	path := r.URL.Path
	if r.Method == http.MethodGet {
		return strings.HasSuffix(path, "/register/"+AuthTypeRegistrationToken+"/validity")
	}
	return r.Method == http.MethodPost && (strings.HasSuffix(path, "/login") || strings.HasSuffix(path, "/register") ||
		strings.HasSuffix(path, "/refresh"))
}

// exemptPath: requests that change nothing others see, or that a client
// must be able to make while limited (logging out, read receipts and
// markers that stop notifications, typing that stops).
func exemptPath(path string) bool {
	for _, s := range []string{"/logout", "/logout/all", "/read_markers", "/filter"} {
		if strings.HasSuffix(path, s) {
			return true
		}
	}
	return strings.Contains(path, "/receipt/") || strings.Contains(path, "/typing/")
}

func limitExceeded(wait time.Duration) *Error {
	e := NewError(http.StatusTooManyRequests, CodeLimitExceeded, "too many requests")
	e.RetryAfter = max(wait, time.Millisecond)
	return e
}

// clientAddr is the address the request came from (the connection's; a
// server behind a proxy sets the limits per user only, or rewrites
// RemoteAddr).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
