package appservice

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Transport is the application service's side of the "Client-Server API
// Extensions": an http.RoundTripper that makes any client API request an
// application service request. It sets "Authorization: Bearer <as_token>",
// and the user_id and device_id query parameters (identity assertion) and
// ts (timestamp massaging) from the request's context (WithUser,
// WithTimestamp) or, failing that, from its own UserID and DeviceID.
// Parameters the request already has are left alone. Any client library
// that takes an *http.Client can be used this way.
type Transport struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// ASToken is the registration's as_token.
	ASToken string
	// UserID and DeviceID are the default user and device to act as ("":
	// the sender user, no device).
	UserID, DeviceID string
}

type actAsKey struct{}
type tsKey struct{}

type actAs struct{ userID, deviceID string }

// WithUser returns a context whose requests through a Transport act as
// userID (and deviceID, if not "").
func WithUser(ctx context.Context, userID, deviceID string) context.Context {
	return context.WithValue(ctx, actAsKey{}, actAs{userID, deviceID})
}

// WithTimestamp returns a context whose requests through a Transport carry
// ts (milliseconds since the epoch) as the event timestamp. The homeserver
// honours it on PUT /rooms/{roomId}/send and /state only.
func WithTimestamp(ctx context.Context, ts time.Time) context.Context {
	return context.WithValue(ctx, tsKey{}, ts.UnixMilli())
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+t.ASToken)
	q := r.URL.Query()
	user, device := t.UserID, t.DeviceID
	if a, ok := req.Context().Value(actAsKey{}).(actAs); ok {
		user, device = a.userID, a.deviceID
	}
	set := func(k, v string) {
		if v != "" && !q.Has(k) {
			q.Set(k, v)
		}
	}
	set("user_id", user)
	set("device_id", device)
	if ts, ok := req.Context().Value(tsKey{}).(int64); ok {
		set("ts", strconv.FormatInt(ts, 10))
	}
	r.URL.RawQuery = q.Encode()
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}
