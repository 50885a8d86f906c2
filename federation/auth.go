package federation

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/internal/mxerr"
	"github.com/mxkit/mxkit/signing"
)

// Error is a Matrix error response (errcode, error, HTTP status). The
// handlers of this package answer with it; a client reads it from a
// non-2xx response.
type Error = mxerr.Error

// DefaultMaxBody is the request body limit of an Authenticator whose
// MaxBody is 0. A transaction holds at most 50 PDUs of at most 65536 bytes
// and 100 EDUs of unbounded size, so a valid /send body can exceed 3 MiB;
// the reference server accepts 200 × 65536 bytes (12.5 MiB) outside media
// uploads. 16 MiB covers that.
const DefaultMaxBody = 16 << 20

// Authenticator checks the X-Matrix signature of incoming requests
// (content/server-server-api.md, "Request Authentication").
type Authenticator struct {
	// ServerName is our own server name: a destination parameter naming
	// another server is refused.
	ServerName string
	// Keys gives the public keys of origins.
	Keys signing.KeyRing
	// MaxBody is the largest request body read (0: DefaultMaxBody). A
	// larger body is refused with 413 M_TOO_LARGE.
	MaxBody int64
	// Now is the clock for key validity (nil: time.Now).
	Now func() time.Time
	// AllowOrigin, when set, says which servers may federate with us
	// (an allow or deny list). A request from another origin is refused
	// with 403 M_FORBIDDEN before its keys are looked up, as the reference
	// server does with its federation domain whitelist.
	AllowOrigin func(origin string) bool
	// MaxPendingBody bounds the memory of request bodies read before their
	// signature is checked, across concurrent requests (0:
	// DefaultMaxPendingBody). A request reserves twice its Content-Length
	// (the body and the signed copy of it; MaxBody when the length is not
	// declared) from before its body is read until its signature is
	// checked; when the reservation does not fit, it waits (up to
	// PendingBodyWait) for earlier ones to finish and is then refused with
	// 503.
	MaxPendingBody int64
	// PendingBodyWait is how long a request waits for room under
	// MaxPendingBody (0: DefaultPendingBodyWait).
	PendingBodyWait time.Duration

	budgetOnce sync.Once
	budget     *byteBudget
}

// Defaults of the unauthenticated body budget of an Authenticator.
const (
	// DefaultMaxPendingBody: two bodies of DefaultMaxBody, or many
	// small transactions, are read at once before their signatures are
	// checked.
	DefaultMaxPendingBody = 4 * DefaultMaxBody
	// DefaultPendingBodyWait is how long a request waits for its turn.
	DefaultPendingBodyWait = 10 * time.Second
)

// Sentinel errors of Authenticate; the error returned is an *Error (with
// the status and errcode to answer) that also wraps one of these.
var (
	ErrNoAuthorization  = errors.New("no X-Matrix authorization header")
	ErrWrongDestination = errors.New("X-Matrix destination is not this server")
	ErrUnknownKey       = errors.New("origin's key is not known")
	ErrKeyExpired       = errors.New("origin's key is not valid now")
	ErrBadSignature     = errors.New("request signature does not verify")
	ErrBodyTooLarge     = errors.New("request body too large")
	ErrOriginDenied     = errors.New("origin not allowed to federate with this server")
)

// AuthError is the error of Authenticate: the response to send (Response,
// a 401, 403, 400 or 413 Matrix error) and the cause (Err, one of the
// sentinels above, a *XMatrixError or a body/JSON error).
type AuthError struct {
	Response *Error
	Err      error
}

func (e *AuthError) Error() string { return "federation: " + e.Err.Error() }

// Unwrap returns the response and the cause, so that errors.As finds the
// *Error and errors.Is the sentinel.
func (e *AuthError) Unwrap() []error { return []error{e.Response, e.Err} }

func authErr(status int, code string, err error) *AuthError {
	return &AuthError{Response: mxerr.New(status, code, err.Error()), Err: err}
}

// Authenticate checks r's X-Matrix authorization and returns the verified
// origin and the request body (r.Body is consumed and closed).
//
// Every Authorization header with the X-Matrix scheme is considered (a
// sender may send one per key); the request is authentic when one of them
// verifies. The headers must all name the same origin. The signed JSON is
// built from r.Method, the request target as received (r.RequestURI: path
// and query, exactly as sent), the header's origin, our ServerName as
// destination (also when the header has none, as the reference server
// does) and, for PUT and POST, the body as "content" (it must be a JSON
// object; bodies of other methods are read but not signed, as the
// reference server does).
//
// Keys are asked of the key ring in one batch with MinimumValidUntilTS set
// to now. A key listed only in old_verify_keys (ExpiredTS != 0) is refused
// ("old_verify_keys ... are only valid for signing events", "Publishing
// Keys"), and so is a key whose ValidUntilTS is in the past, as the
// reference server refuses it.
//
// The header is checked before the body is read: its syntax, the
// destination, AllowOrigin and the origin's keys (a request naming no known,
// valid key is refused without reading its body). The body is then read
// within MaxBody and the MaxPendingBody budget, and the signature checked.
//
// Errors: 401 M_UNAUTHORIZED for a missing or malformed header, an unknown
// or expired key, a bad signature, or a destination naming another server
// (the status the specification requires); 400 M_NOT_JSON or M_BAD_JSON for
// a PUT or POST body that is not a JSON object; 413 M_TOO_LARGE for a body
// over MaxBody; 403 M_FORBIDDEN for an origin AllowOrigin refuses; 503
// M_UNKNOWN when the body budget stays full for PendingBodyWait. The
// specification names no case of 403 M_FORBIDDEN for the signature itself;
// that answer belongs to server ACLs and deny lists, applied after
// authentication by the handlers.
func (a *Authenticator) Authenticate(r *http.Request) (origin string, body []byte, err error) {
	var headers []XMatrix
	var parseErr error
	for _, v := range r.Header.Values("Authorization") {
		if len(v) < 9 || !strings.EqualFold(v[:8], "X-Matrix") {
			continue
		}
		x, err := ParseXMatrix(v)
		if err != nil {
			parseErr = err
			continue
		}
		headers = append(headers, x)
	}
	if len(headers) == 0 {
		if parseErr != nil {
			// 401: the request carries no valid credentials. The
			// specification names 401 for the X-Matrix failures it
			// describes; the reference server answers a malformed header
			// with 400 and the same errcode.
			return "", nil, authErr(http.StatusUnauthorized, mxerr.Unauthorized, parseErr)
		}
		return "", nil, authErr(http.StatusUnauthorized, mxerr.Unauthorized, ErrNoAuthorization)
	}
	origin = headers[0].Origin
	for _, x := range headers[1:] {
		if x.Origin != origin {
			return "", nil, authErr(http.StatusUnauthorized, mxerr.Unauthorized, fmt.Errorf("X-Matrix headers name different origins (%q and %q)", truncate(origin), truncate(x.Origin)))
		}
	}
	for _, x := range headers {
		if x.Destination != "" && x.Destination != a.ServerName {
			return "", nil, authErr(http.StatusUnauthorized, mxerr.Unauthorized, fmt.Errorf("%w: %q", ErrWrongDestination, truncate(x.Destination)))
		}
	}

	if a.AllowOrigin != nil && !a.AllowOrigin(origin) {
		return "", nil, authErr(http.StatusForbidden, mxerr.Forbidden, fmt.Errorf("%w: %q", ErrOriginDenied, truncate(origin)))
	}

	// The keys are looked up before the body is read: a request whose
	// origin has no usable key is refused without reading a byte of it,
	// so that unauthenticated senders cannot make us hold their bodies.
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	nowMS := now().UnixMilli()
	reqs := make([]signing.KeyRequest, 0, len(headers))
	for _, x := range headers {
		reqs = append(reqs, signing.KeyRequest{ServerName: origin, KeyID: x.Key, MinimumValidUntilTS: nowMS})
	}
	if a.Keys == nil {
		return "", nil, authErr(http.StatusUnauthorized, mxerr.Unauthorized, ErrUnknownKey)
	}
	keys, err := a.Keys.PublicKeys(r.Context(), reqs)
	if err != nil {
		return "", nil, &AuthError{Response: mxerr.New(http.StatusInternalServerError, mxerr.Unknown, "could not look up keys"), Err: err}
	}
	if err := usableKey(headers, keys, origin, nowMS); err != nil {
		return "", nil, authErr(http.StatusUnauthorized, mxerr.Unauthorized, err)
	}

	release, err := a.reserveBody(r, a.maxBody())
	if err != nil {
		return "", nil, err
	}
	defer release()
	body, err = a.readBody(r)
	if err != nil {
		return "", nil, err
	}
	// Only PUT and POST requests have content: their body must be a JSON
	// object ("API standards": "(potentially empty) JSON object"), and it
	// is signed. A body sent with another method is not part of the
	// signed object, as the reference server builds it.
	signedBody := body
	if r.Method == http.MethodPut || r.Method == http.MethodPost {
		if err := checkObject(body); err != nil {
			return "", nil, err
		}
	} else {
		signedBody = nil
	}

	// The request target as sent; a target in absolute form
	// ("https://host/path", which HTTP/1.1 servers must accept) is signed
	// as its path and query, as the specification has senders sign.
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	msgBuf := msgPool.Get().(*[]byte)
	if len(signedBody) > maxPooledMsg {
		// A large body gets a buffer of its own, sized once, that is
		// not kept in the pool after the request.
		big := make([]byte, 0, len(signedBody)+512+len(uri))
		msgBuf = &big
	} else {
		defer msgPool.Put(msgBuf)
	}
	msg, err := requestJSON((*msgBuf)[:0], r.Method, uri, origin, a.ServerName, signedBody)
	*msgBuf = msg[:0]
	if cap(msg) > maxPooledMsg {
		*msgBuf = nil // not kept by the pool
	}
	if err != nil {
		return "", nil, authErr(http.StatusBadRequest, mxerr.NotJSON, err)
	}
	var failure error = ErrUnknownKey
	for _, x := range headers {
		k, ok := keys[signing.ServerKeyID{ServerName: origin, KeyID: x.Key}]
		switch {
		case !ok || len(k.Key) != ed25519.PublicKeySize:
			failure = moreSpecific(failure, fmt.Errorf("%w: %s of %s", ErrUnknownKey, truncate(string(x.Key)), truncate(origin)))
			continue
		case k.ExpiredTS != 0 || k.ValidUntilTS < nowMS:
			failure = moreSpecific(failure, fmt.Errorf("%w: %s of %s", ErrKeyExpired, truncate(string(x.Key)), truncate(origin)))
			continue
		}
		sig, err := base64.DecodeString(x.Sig)
		if err != nil || len(sig) != ed25519.SignatureSize || !signing.Verify(k.Key, msg, sig) {
			failure = fmt.Errorf("%w (key %s of %s)", ErrBadSignature, truncate(string(x.Key)), truncate(origin))
			continue
		}
		return origin, body, nil
	}
	return "", nil, authErr(http.StatusUnauthorized, mxerr.Unauthorized, failure)
}

// usableKey returns nil when one of the headers names a key of origin that
// is known and valid now, and otherwise the error for the first header.
func usableKey(headers []XMatrix, keys map[signing.ServerKeyID]signing.PublicKey, origin string, nowMS int64) error {
	var failure error
	for _, x := range headers {
		k, ok := keys[signing.ServerKeyID{ServerName: origin, KeyID: x.Key}]
		switch {
		case !ok || len(k.Key) != ed25519.PublicKeySize:
			failure = cmp.Or(failure, fmt.Errorf("%w: %s of %s", ErrUnknownKey, truncate(string(x.Key)), truncate(origin)))
		case k.ExpiredTS != 0 || k.ValidUntilTS < nowMS:
			failure = cmp.Or(failure, fmt.Errorf("%w: %s of %s", ErrKeyExpired, truncate(string(x.Key)), truncate(origin)))
		default:
			return nil
		}
	}
	return failure
}

// moreSpecific keeps a bad-signature error over a key error: when one
// header has a known key that does not verify, that is the news.
func moreSpecific(prev, next error) error {
	if errors.Is(prev, ErrBadSignature) {
		return prev
	}
	return next
}

// checkObject requires body to be a JSON object: 400 M_NOT_JSON when it
// is not JSON (or empty), 400 M_BAD_JSON when it is another JSON value, as
// the reference server answers.
func checkObject(body []byte) error {
	i := 0
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	if i == len(body) {
		return authErr(http.StatusBadRequest, mxerr.NotJSON, errors.New("request body is empty; PUT and POST need a JSON object"))
	}
	if !json.Valid(body) {
		return authErr(http.StatusBadRequest, mxerr.NotJSON, errors.New("request body is not JSON"))
	}
	if body[i] != '{' {
		return authErr(http.StatusBadRequest, mxerr.BadJSON, errors.New("request body is not a JSON object"))
	}
	return nil
}

var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledMsg is the largest signed message buffer msgPool keeps: a pool
// of 16 MiB buffers would hold the memory of the largest bodies ever sent.
const maxPooledMsg = 64 << 10

// reserveBody reserves the body of r in the MaxPendingBody budget until
// release is called: twice its length (the body, and the signed copy of it
// that the signature check builds), twice limit for a body of undeclared
// length. It refuses a declared length over limit with 413.
func (a *Authenticator) reserveBody(r *http.Request, limit int64) (release func(), err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return func() {}, nil
	}
	if r.ContentLength > limit {
		r.Body.Close()
		return nil, authErr(http.StatusRequestEntityTooLarge, mxerr.TooLarge, fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, r.ContentLength, limit))
	}
	reserve := 2 * limit
	if r.ContentLength >= 0 {
		reserve = 2 * r.ContentLength
	}
	a.budgetOnce.Do(func() {
		a.budget = newByteBudget(cmp.Or(max(a.MaxPendingBody, 0), DefaultMaxPendingBody))
	})
	wait := cmp.Or(max(a.PendingBodyWait, 0), DefaultPendingBodyWait)
	if err := a.budget.acquire(r.Context(), reserve, wait); err != nil {
		r.Body.Close()
		return nil, &AuthError{Response: mxerr.New(http.StatusServiceUnavailable, mxerr.Unknown, "too many request bodies being received; retry later"), Err: err}
	}
	return func() { a.budget.release(reserve) }, nil
}

func (a *Authenticator) maxBody() int64 {
	if a.MaxBody <= 0 {
		return DefaultMaxBody
	}
	return a.MaxBody
}

func (a *Authenticator) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	defer r.Body.Close()
	limit := a.maxBody()
	if n := r.ContentLength; n >= 0 {
		// A declared length within the limit has been reserved in the
		// body budget: the buffer is allocated once, at its size
		// (bytes.Buffer would grow it to twice that to find the end).
		buf := make([]byte, n)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, &AuthError{Response: mxerr.New(http.StatusBadRequest, mxerr.Unknown, "could not read the request body"), Err: err}
		}
		var one [1]byte
		if k, _ := io.ReadFull(r.Body, one[:]); k != 0 {
			return nil, &AuthError{Response: mxerr.New(http.StatusBadRequest, mxerr.Unknown, "request body longer than its Content-Length"), Err: errors.New("body longer than Content-Length")}
		}
		return buf, nil
	}
	// Without a declared length the buffer grows with the data.
	buf := bytes.NewBuffer(make([]byte, 0, 512))
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		return nil, &AuthError{Response: mxerr.New(http.StatusBadRequest, mxerr.Unknown, "could not read the request body"), Err: err}
	}
	if int64(buf.Len()) > limit {
		return nil, authErr(http.StatusRequestEntityTooLarge, mxerr.TooLarge, fmt.Errorf("%w: limit %d", ErrBodyTooLarge, limit))
	}
	return buf.Bytes(), nil
}

type ctxKey int

const (
	originKey ctxKey = iota
	bodyKey
)

// Middleware authenticates each request and calls next with the verified
// origin and the body in the request's context (OriginFromContext,
// BodyFromContext); r.Body is also replaced by a reader over the body. A
// request that fails gets the Matrix error of Authenticate.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin, body, err := a.Authenticate(r)
		if err != nil {
			mxerr.Write(w, err)
			return
		}
		ctx := WithOrigin(r.Context(), origin, body)
		r = r.WithContext(ctx)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// WithOrigin returns ctx carrying an authenticated origin and request
// body, as Middleware sets them (useful to test handlers without signing).
func WithOrigin(ctx context.Context, origin string, body []byte) context.Context {
	ctx = context.WithValue(ctx, originKey, origin)
	return context.WithValue(ctx, bodyKey, body)
}

// OriginFromContext returns the origin verified by Middleware.
func OriginFromContext(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(originKey).(string)
	return s, ok
}

// BodyFromContext returns the request body read by Middleware (nil for a
// request without one, with ok true).
func BodyFromContext(ctx context.Context) ([]byte, bool) {
	b, ok := ctx.Value(bodyKey).([]byte)
	return b, ok
}
