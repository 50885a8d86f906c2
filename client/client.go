package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mxkit/mxkit/internal/mxerr"
)

// Client calls the client-server API of one homeserver as one user. Set
// its fields before the first call and do not change them while calls run
// (SetCredentials is the exception: Login and Register use it).
type Client struct {
	// HomeserverURL is the base URL of the client API, such as
	// "https://matrix.example.org" (no /_matrix suffix).
	HomeserverURL string
	// AccessToken is sent as "Authorization: Bearer"; empty: no header
	// (an application service's http.Client may add its own, see
	// appservice.Transport).
	AccessToken string
	// UserID and DeviceID are who the client acts as; Login and Register
	// fill them.
	UserID, DeviceID string
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// MaxRetries bounds how often a rate-limited request (429 or
	// M_LIMIT_EXCEEDED) is sent again; 0 means 3, negative means never.
	MaxRetries int
	// MaxRetryWait caps one wait before a retry, whatever the server asks;
	// 0 means 30 seconds. A server asking for longer gets its error back.
	MaxRetryWait time.Duration
	// MaxResponseBytes bounds JSON response bodies; 0 means 64 MiB (a
	// first sync of a large account is big). Media downloads are not
	// bounded by it.
	MaxResponseBytes int64
	// RefreshToken, when set, refreshes an expired access token: a
	// request answered 401 M_UNKNOWN_TOKEN with soft_logout is sent once
	// more after POST /refresh (refresh.go). Login and Register set it.
	RefreshToken string
	// OnTokenRefresh, when set, is called with the new tokens after each
	// refresh, to persist them.
	OnTokenRefresh func(ctx context.Context, t *RefreshedTokens)

	// tokenMu guards AccessToken and RefreshToken while a refresh
	// replaces them.
	tokenMu sync.Mutex
	// sleep waits between retries; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Client for the homeserver at baseURL using accessToken
// ("" before Login or Register).
func New(baseURL, accessToken string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: homeserver URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: homeserver URL %q: want http(s)://host[:port]", baseURL)
	}
	return &Client{HomeserverURL: strings.TrimSuffix(baseURL, "/"), AccessToken: accessToken}, nil
}

// SetCredentials makes the client act with the credentials of a login or
// registration.
func (c *Client) SetCredentials(cr *Credentials) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	c.AccessToken, c.UserID, c.DeviceID = cr.AccessToken, cr.UserID, cr.DeviceID
	c.RefreshToken = cr.RefreshToken
}

// Error is a Matrix error response (content/client-server-api/_index.md,
// "Standard error response"): every call's error wraps one when the server
// answered with a non-2xx status, so
//
//	var merr *client.Error
//	if errors.As(err, &merr) && merr.Code == client.CodeForbidden { ... }
//
// A body that is not a Matrix error (a proxy's HTML page) is an Error with
// Code M_UNKNOWN and the HTTP status. RetryAfter holds retry_after_ms or
// the Retry-After header; Fields holds the other top-level fields, such as
// the flows and session of a user-interactive authentication answer.
type Error = mxerr.Error

// Error codes of the specification ("Common error codes", "Other error
// codes"), for comparison with Error.Code.
const (
	CodeForbidden              = mxerr.Forbidden
	CodeUnknownToken           = mxerr.UnknownToken
	CodeMissingToken           = mxerr.MissingToken
	CodeBadJSON                = mxerr.BadJSON
	CodeNotJSON                = mxerr.NotJSON
	CodeNotFound               = mxerr.NotFound
	CodeLimitExceeded          = mxerr.LimitExceeded
	CodeUnrecognized           = mxerr.Unrecognized
	CodeUnknown                = mxerr.Unknown
	CodeUserInUse              = mxerr.UserInUse
	CodeInvalidUsername        = mxerr.InvalidUsername
	CodeRoomInUse              = mxerr.RoomInUse
	CodeUnsupportedRoomVersion = mxerr.UnsupportedRoomVersion
	CodeMissingParam           = mxerr.MissingParam
	CodeInvalidParam           = mxerr.InvalidParam
	CodeTooLarge               = mxerr.TooLarge
	CodeExclusive              = mxerr.Exclusive
	CodeUserDeactivated        = mxerr.UserDeactivated
	CodeUnknownDevice          = mxerr.UnknownDevice
	CodeUserLocked             = mxerr.UserLocked
	CodeUserSuspended          = mxerr.UserSuspended
)

// IsCode reports whether err is (or wraps) a Matrix error with errcode
// code.
func IsCode(err error, code string) bool {
	var me *Error
	return errors.As(err, &me) && me.Code == code
}

// ErrResponseTooLarge is returned when a response body exceeds
// MaxResponseBytes.
var ErrResponseTooLarge = errors.New("client: response body too large")

const (
	defaultMaxRetries   = 3
	defaultMaxRetryWait = 30 * time.Second
	defaultMaxResponse  = 64 << 20
	// firstRetryWait is the wait before the first retry when a
	// rate-limited answer says nothing of how long to wait; it doubles on
	// each further retry.
	firstRetryWait = time.Second
)

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// request is one API call.
type request struct {
	method string
	// path is the escaped path below the base URL.
	path  string
	query url.Values
	// body is the JSON request body (nil: none), or raw with
	// contentType for media.
	body        any
	raw         io.Reader
	rawLen      int64
	contentType string
	// noAuth leaves the access token off (GET /versions, /login flows).
	noAuth bool
}

// path joins a path prefix and escaped path segments.
func path(prefix string, segments ...string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// v3 builds a path below /_matrix/client/v3.
func v3(segments ...string) string { return path("/_matrix/client/v3", segments...) }

// call sends r and decodes a JSON answer into out (nil: the answer is
// discarded).
func (c *Client) call(ctx context.Context, r request, out any) error {
	body, err := c.callBytes(ctx, r)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("client: %s %s: decoding the response: %w", r.method, r.path, err)
	}
	return nil
}

// callBytes sends r and returns the body of a 2xx answer.
func (c *Client) callBytes(ctx context.Context, r request) ([]byte, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	max := c.MaxResponseBytes
	if max <= 0 {
		max = defaultMaxResponse
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: reading the response: %w", r.method, r.path, err)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, ErrResponseTooLarge)
	}
	return body, nil
}

// send sends r, retrying a rate-limited request, and returns a 2xx
// response (whose body the caller closes) or an error wrapping *Error.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("client: %s %s: encoding the request: %w", r.method, r.path, err)
		}
	}
	maxRetries := c.MaxRetries
	if maxRetries == 0 {
		maxRetries = defaultMaxRetries
	}
	// getBody re-reads a media body for a retry (set by net/http for
	// bytes, strings and bytes.Buffer readers; other readers are not
	// retried).
	var getBody func() (io.ReadCloser, error)
	refreshed := false
	for attempt := 0; ; attempt++ {
		req, err := c.newRequest(ctx, r, body)
		if err != nil {
			return nil, err
		}
		if attempt == 0 {
			getBody = req.GetBody
		}
		resp, err := c.httpClient().Do(req)
		if err != nil {
			return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		errBody, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		me := mxerr.FromResponse(resp.StatusCode, errBody, resp.Header)
		wait, retry := c.retryWait(me, attempt, maxRetries)
		if !refreshed && c.needsRefresh(r, me) {
			refreshed, retry, wait = true, true, 0
			if rerr := c.refreshFrom(ctx, req.Header.Get("Authorization")); rerr != nil {
				return nil, fmt.Errorf("client: %s %s: %w (refreshing the access token: %v)", r.method, r.path, me, rerr)
			}
		}
		if !retry || (r.raw != nil && getBody == nil) {
			return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, me)
		}
		if err := c.wait(ctx, wait); err != nil {
			return nil, fmt.Errorf("client: %s %s: %w (while waiting to retry after %v)", r.method, r.path, err, me)
		}
		if r.raw != nil {
			if r.raw, err = getBody(); err != nil {
				return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
			}
		}
	}
}

// retryWait decides whether a failed attempt is retried and after how
// long: only rate limiting is (429, or M_LIMIT_EXCEEDED under another
// status, as older servers sent it), at most maxRetries times, after the
// time the server asked for or, when it did not say, one second doubling
// per attempt; never after more than MaxRetryWait.
func (c *Client) retryWait(me *Error, attempt, maxRetries int) (time.Duration, bool) {
	if me.Status != http.StatusTooManyRequests && me.Code != CodeLimitExceeded {
		return 0, false
	}
	if attempt >= maxRetries {
		return 0, false
	}
	cap := c.MaxRetryWait
	if cap <= 0 {
		cap = defaultMaxRetryWait
	}
	wait := me.RetryAfter
	if wait <= 0 {
		wait = firstRetryWait << attempt
	}
	if wait > cap {
		return 0, false
	}
	return wait, true
}

func (c *Client) wait(ctx context.Context, d time.Duration) error {
	if c.sleep != nil {
		return c.sleep(ctx, d)
	}
	return sleepCtx(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) newRequest(ctx context.Context, r request, body []byte) (*http.Request, error) {
	u := c.HomeserverURL + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var rd io.Reader
	switch {
	case r.raw != nil:
		rd = r.raw
	case body != nil:
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	switch {
	case r.raw != nil:
		req.Header.Set("Content-Type", r.contentType)
		if r.rawLen >= 0 {
			req.ContentLength = r.rawLen
		}
	case body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if !r.noAuth {
		if tok := c.accessToken(); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	return req, nil
}

// Do sends a request to an endpoint this package has no method for: path
// is below the base URL and already escaped (build it with url.PathEscape),
// in (nil: no body) is encoded as JSON and the answer decoded into out
// (nil: discarded). Errors and rate limiting are handled as for every
// other call.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return c.call(ctx, request{method: method, path: path, query: query, body: in}, out)
}
