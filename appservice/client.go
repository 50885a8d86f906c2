package appservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mxkit/mxkit/internal/mxerr"
)

// ErrNoURL is returned by Client calls to a registration whose url is null.
var ErrNoURL = errors.New("appservice: the registration has no url")

// StatusError is a non-2xx answer of an application service. Body is the
// response body (at most MaxResponse bytes).
type StatusError struct {
	Status int
	Body   []byte
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("appservice: HTTP %d: %s", e.Status, clip(e.Body, 200))
}

// Matrix returns the body as a Matrix error (M_UNKNOWN when it is not one).
func (e *StatusError) Matrix() *Error {
	return mxerr.FromResponse(e.Status, e.Body, http.Header{})
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Clock is the time source of Client and Sender; tests inject one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done (then returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Client makes the homeserver's calls to application services
// (content/application-service-api.md, "Homeserver -> Application Service
// API"): transactions, user and alias queries, ping and third-party
// lookups. Every request carries "Authorization: Bearer <hs_token>"; with
// LegacyAuth also the access_token query parameter of older versions.
//
// Legacy routes: when a /_matrix/app/v1/... request gets an HTTP status
// that is not 2xx, the same request is made once on the legacy path
// (/transactions/{txnId}, /users/{userId}, /rooms/{roomAlias},
// /_matrix/app/unstable/thirdparty/...), as the specification's "Legacy
// routes" says. If the legacy path succeeds the service is remembered as
// legacy and asked on the legacy paths directly for LegacyRecheck, after
// which the v1 paths are tried again ("Homeservers should periodically try
// again for the newer endpoints"); a non-2xx answer on a legacy path in
// that time is retried on v1 too, so an upgraded service is followed at
// once. A connection failure does not fall back: the other path is on the
// same host. Ping has no legacy path.
//
// A Client is safe for concurrent use. The zero Client is ready to use.
type Client struct {
	// HTTP sends the requests; nil means a client with a 60 s timeout. A
	// client without a timeout lets a hung service stall its queue.
	HTTP *http.Client
	// Clock measures ping durations and legacy rechecks; nil means the
	// system clock.
	Clock Clock
	// LegacyAuth also sends hs_token as the access_token query parameter.
	LegacyAuth bool
	// NoLegacyFallback turns the legacy route fallback off.
	NoLegacyFallback bool
	// LegacyRecheck is how long a service that answered only on the legacy
	// paths is asked there before v1 is tried again; 0 means one hour.
	LegacyRecheck time.Duration
	// MaxResponse bounds the response bodies read; 0 means 1 MiB.
	MaxResponse int64

	mu     sync.Mutex
	legacy map[string]time.Time // registration id -> legacy mode until
}

// defaultHTTP bounds every call: a service that hangs must not stall the
// queue forever (Synapse's HTTP client gives up after 60 s too).
var defaultHTTP = &http.Client{Timeout: 60 * time.Second}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

func (c *Client) clock() Clock {
	if c.Clock != nil {
		return c.Clock
	}
	return SystemClock{}
}

func (c *Client) maxResponse() int64 {
	if c.MaxResponse > 0 {
		return c.MaxResponse
	}
	return 1 << 20
}

func (c *Client) inLegacyMode(reg *Registration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.legacy[reg.ID]
	if !ok {
		return false
	}
	if !c.clock().Now().Before(until) {
		delete(c.legacy, reg.ID)
		return false
	}
	return true
}

func (c *Client) setLegacyMode(reg *Registration) {
	d := c.LegacyRecheck
	if d <= 0 {
		d = time.Hour
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.legacy == nil {
		c.legacy = map[string]time.Time{}
	}
	c.legacy[reg.ID] = c.clock().Now().Add(d)
}

// Legacy reports whether the Client currently uses the legacy paths for reg.
func (c *Client) Legacy(reg *Registration) bool { return c.inLegacyMode(reg) }

// call makes one request on the v1 path, falling back to legacyPath (when
// not "") on a non-2xx status. query may be nil. It returns the body of a
// 2xx answer, a *StatusError, or a transport error.
func (c *Client) call(ctx context.Context, reg *Registration, method, v1Path, legacyPath string, query url.Values, body []byte) ([]byte, error) {
	if reg.URL == "" {
		return nil, ErrNoURL
	}
	if legacyPath == "" || c.NoLegacyFallback {
		return c.do(ctx, reg, method, v1Path, query, body)
	}
	legacy := c.inLegacyMode(reg)
	first, second := v1Path, legacyPath
	if legacy {
		first, second = legacyPath, v1Path
	}
	resp, err := c.do(ctx, reg, method, first, query, body)
	var se *StatusError
	if !errors.As(err, &se) {
		return resp, err
	}
	resp2, err2 := c.do(ctx, reg, method, second, query, body)
	if err2 != nil {
		// Report the answer of the path tried first: the other one failing
		// too says nothing new about the service.
		return nil, err
	}
	if legacy {
		// The service was upgraded: back to v1 at once.
		c.clearLegacyMode(reg)
	} else {
		c.setLegacyMode(reg)
	}
	return resp2, nil
}

func (c *Client) clearLegacyMode(reg *Registration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.legacy, reg.ID)
}

func (c *Client) do(ctx context.Context, reg *Registration, method, path string, query url.Values, body []byte) ([]byte, error) {
	u := reg.URL + path
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if c.LegacyAuth {
		q.Set("access_token", reg.HSToken)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+reg.HSToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse()))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{Status: resp.StatusCode, Body: data}
	}
	return data, nil
}

// SendTransaction pushes a transaction body ({"events": [...],
// "ephemeral": [...]}) with the given ID: PUT
// /_matrix/app/v1/transactions/{txnId}. Sender calls it with retries;
// embedders rarely need it directly.
func (c *Client) SendTransaction(ctx context.Context, reg *Registration, txnID string, body []byte) error {
	p := url.PathEscape(txnID)
	_, err := c.call(ctx, reg, http.MethodPut, "/_matrix/app/v1/transactions/"+p, "/transactions/"+p, nil, body)
	return err
}

// QueryUser asks the service whether userID exists (GET
// /_matrix/app/v1/users/{userId}); the service creates the user before
// answering 200. 404 gives false and no error; another status a
// *StatusError.
func (c *Client) QueryUser(ctx context.Context, reg *Registration, userID string) (bool, error) {
	p := url.PathEscape(userID)
	return c.query(ctx, reg, "/_matrix/app/v1/users/"+p, "/users/"+p)
}

// QueryAlias asks the service whether a room alias exists (GET
// /_matrix/app/v1/rooms/{roomAlias}); the service creates the room and the
// alias before answering 200.
func (c *Client) QueryAlias(ctx context.Context, reg *Registration, alias string) (bool, error) {
	p := url.PathEscape(alias)
	return c.query(ctx, reg, "/_matrix/app/v1/rooms/"+p, "/rooms/"+p)
}

func (c *Client) query(ctx context.Context, reg *Registration, v1, legacy string) (bool, error) {
	_, err := c.call(ctx, reg, http.MethodGet, v1, legacy, nil, nil)
	var se *StatusError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &se) && se.Status == http.StatusNotFound:
		return false, nil
	}
	return false, err
}

// Ping calls POST /_matrix/app/v1/ping with the transaction ID (omitted
// when "") and returns how long the call took.
func (c *Client) Ping(ctx context.Context, reg *Registration, txnID string) (time.Duration, error) {
	body := []byte(`{}`)
	if txnID != "" {
		body, _ = json.Marshal(map[string]string{"transaction_id": txnID})
	}
	start := c.clock().Now()
	_, err := c.call(ctx, reg, http.MethodPost, "/_matrix/app/v1/ping", "", nil, body)
	return c.clock().Now().Sub(start), err
}

// Protocol fetches the metadata of a third-party protocol (GET
// /_matrix/app/v1/thirdparty/protocol/{protocol}); the raw JSON object.
func (c *Client) Protocol(ctx context.Context, reg *Registration, protocol string) (json.RawMessage, error) {
	p := "/thirdparty/protocol/" + url.PathEscape(protocol)
	return c.thirdParty(ctx, reg, p, nil, '{')
}

// ThirdPartyUsers looks up third-party users of a protocol by fields (GET
// /_matrix/app/v1/thirdparty/user/{protocol}?fields...); the raw JSON array.
func (c *Client) ThirdPartyUsers(ctx context.Context, reg *Registration, protocol string, fields url.Values) (json.RawMessage, error) {
	return c.thirdParty(ctx, reg, "/thirdparty/user/"+url.PathEscape(protocol), fields, '[')
}

// ThirdPartyLocations looks up third-party locations of a protocol by
// fields (GET /_matrix/app/v1/thirdparty/location/{protocol}).
func (c *Client) ThirdPartyLocations(ctx context.Context, reg *Registration, protocol string, fields url.Values) (json.RawMessage, error) {
	return c.thirdParty(ctx, reg, "/thirdparty/location/"+url.PathEscape(protocol), fields, '[')
}

// ThirdPartyUsersByID looks up the third-party users of a Matrix user ID
// (GET /_matrix/app/v1/thirdparty/user?userid=).
func (c *Client) ThirdPartyUsersByID(ctx context.Context, reg *Registration, userID string) (json.RawMessage, error) {
	return c.thirdParty(ctx, reg, "/thirdparty/user", url.Values{"userid": {userID}}, '[')
}

// ThirdPartyLocationsByAlias looks up the third-party locations of a room
// alias (GET /_matrix/app/v1/thirdparty/location?alias=).
func (c *Client) ThirdPartyLocationsByAlias(ctx context.Context, reg *Registration, alias string) (json.RawMessage, error) {
	return c.thirdParty(ctx, reg, "/thirdparty/location", url.Values{"alias": {alias}}, '[')
}

// ErrBadResponse is returned when a service answers 2xx with a body of the
// wrong shape.
var ErrBadResponse = errors.New("appservice: malformed response")

func (c *Client) thirdParty(ctx context.Context, reg *Registration, sub string, q url.Values, want byte) (json.RawMessage, error) {
	data, err := c.call(ctx, reg, http.MethodGet, "/_matrix/app/v1"+sub, "/_matrix/app/unstable"+sub, q, nil)
	if err != nil {
		return nil, err
	}
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != want || !json.Valid(t) {
		kind := "an object"
		if want == '[' {
			kind = "an array"
		}
		return nil, fmt.Errorf("%w: %s must answer %s", ErrBadResponse, sub, kind)
	}
	return json.RawMessage(t), nil
}
