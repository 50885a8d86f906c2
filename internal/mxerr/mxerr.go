// Package mxerr is the Matrix error model shared by the HTTP adapters
// (clientapi, federation, appservice): every error is a JSON object with
// "errcode" and "error", an HTTP status, and for some codes extra fields
// (specification, content/client-server-api/_index.md "Standard error
// response" and "Common error codes"; content/server-server-api.md "API
// standards").
//
// The adapters re-export Error under their own names (clientapi.Error,
// federation.Error, appservice.Error), so embedders never import this
// package.
package mxerr

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Error codes of the specification used by the adapters.
const (
	Forbidden               = "M_FORBIDDEN"
	UnknownToken            = "M_UNKNOWN_TOKEN"
	MissingToken            = "M_MISSING_TOKEN"
	Unauthorized            = "M_UNAUTHORIZED"
	UserLocked              = "M_USER_LOCKED"
	UserSuspended           = "M_USER_SUSPENDED"
	BadJSON                 = "M_BAD_JSON"
	NotJSON                 = "M_NOT_JSON"
	NotFound                = "M_NOT_FOUND"
	LimitExceeded           = "M_LIMIT_EXCEEDED"
	Unrecognized            = "M_UNRECOGNIZED"
	Unknown                 = "M_UNKNOWN"
	UserInUse               = "M_USER_IN_USE"
	InvalidUsername         = "M_INVALID_USERNAME"
	RoomInUse               = "M_ROOM_IN_USE"
	InvalidRoomState        = "M_INVALID_ROOM_STATE"
	UnsupportedRoomVersion  = "M_UNSUPPORTED_ROOM_VERSION"
	IncompatibleRoomVersion = "M_INCOMPATIBLE_ROOM_VERSION"
	BadState                = "M_BAD_STATE"
	GuestAccessForbidden    = "M_GUEST_ACCESS_FORBIDDEN"
	MissingParam            = "M_MISSING_PARAM"
	InvalidParam            = "M_INVALID_PARAM"
	TooLarge                = "M_TOO_LARGE"
	Exclusive               = "M_EXCLUSIVE"
	ResourceLimitExceeded   = "M_RESOURCE_LIMIT_EXCEEDED"
	UserDeactivated         = "M_USER_DEACTIVATED"
	UnknownDevice           = "M_UNKNOWN_DEVICE"
	UnableToAuthoriseJoin   = "M_UNABLE_TO_AUTHORISE_JOIN"
	UnableToGrantJoin       = "M_UNABLE_TO_GRANT_JOIN"
	WeakPassword            = "M_WEAK_PASSWORD"
	BadAlias                = "M_BAD_ALIAS"
	BadStatus               = "M_BAD_STATUS"
	ConnectionFailed        = "M_CONNECTION_FAILED"
)

// Error is a Matrix error response.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the errcode, e.g. M_FORBIDDEN.
	Code string
	// Message is the human-readable "error" field.
	Message string
	// RetryAfter, when positive, is sent as the Retry-After header (whole
	// seconds, rounded up) and as the deprecated retry_after_ms field
	// (for M_LIMIT_EXCEEDED).
	RetryAfter time.Duration
	// Fields are extra top-level fields some codes carry, such as
	// room_version (M_INCOMPATIBLE_ROOM_VERSION), soft_logout
	// (M_UNKNOWN_TOKEN), admin_contact, info_uri. They never override
	// errcode or error.
	Fields map[string]any
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// New returns an Error with the given status, code and message.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// With returns a copy of e with an extra field.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Fields = make(map[string]any, len(e.Fields)+1)
	for k, v := range e.Fields {
		c.Fields[k] = v
	}
	c.Fields[key] = value
	return &c
}

// Body returns the JSON body of the response.
func (e *Error) Body() []byte {
	m := make(map[string]any, len(e.Fields)+3)
	for k, v := range e.Fields {
		m[k] = v
	}
	m["errcode"] = e.Code
	m["error"] = e.Message
	if e.RetryAfter > 0 {
		m["retry_after_ms"] = e.RetryAfter.Milliseconds()
	}
	b, err := json.Marshal(m)
	if err != nil {
		// A field that does not encode: answer without the extras.
		b, _ = json.Marshal(map[string]string{"errcode": e.Code, "error": e.Message})
	}
	return b
}

// Write sends err as a Matrix error response. An error that is not (and
// does not wrap) an *Error becomes 500 M_UNKNOWN with a generic message,
// so internal details never reach the remote side.
func Write(w http.ResponseWriter, err error) {
	var me *Error
	if !errors.As(err, &me) {
		me = New(http.StatusInternalServerError, Unknown, "internal server error")
	}
	status := me.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if me.RetryAfter > 0 {
		secs := me.RetryAfter / time.Second // rounded up, without overflow
		if me.RetryAfter%time.Second != 0 {
			secs++
		}
		h.Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	w.WriteHeader(status)
	w.Write(me.Body())
}

// FromResponse reads a Matrix error from a non-2xx response body; for
// clients. A body that is not a Matrix error gives M_UNKNOWN with the
// status.
func FromResponse(status int, body []byte, header http.Header) *Error {
	var m map[string]json.RawMessage
	e := &Error{Status: status, Code: Unknown}
	if json.Unmarshal(body, &m) != nil {
		e.Message = http.StatusText(status)
		return e
	}
	for k, v := range m {
		switch k {
		case "errcode":
			json.Unmarshal(v, &e.Code)
		case "error":
			json.Unmarshal(v, &e.Message)
		case "retry_after_ms":
			var ms int64
			if json.Unmarshal(v, &ms) == nil && ms > 0 {
				e.RetryAfter = scaled(ms, time.Millisecond)
			}
		default:
			var x any
			if json.Unmarshal(v, &x) == nil {
				if e.Fields == nil {
					e.Fields = map[string]any{}
				}
				e.Fields[k] = x
			}
		}
	}
	if ra := header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.ParseInt(ra, 10, 64); err == nil && secs > 0 {
			e.RetryAfter = scaled(secs, time.Second)
		}
	}
	return e
}

// scaled is n units as a Duration, the longest Duration when that
// overflows (a remote server's retry_after_ms or Retry-After can be any
// integer).
func scaled(n int64, unit time.Duration) time.Duration {
	if n > int64(math.MaxInt64/unit) {
		return math.MaxInt64
	}
	return time.Duration(n) * unit
}
