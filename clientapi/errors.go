package clientapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/mxkit/mxkit/internal/mxerr"
)

// Error is a Matrix error response: an HTTP status, an errcode, a message
// and the extra fields some codes carry (content/client-server-api/_index.md,
// "Standard error response"). Backends return *Error values (directly or
// wrapped) to choose the answer a client sees; any other error becomes
// 500 M_UNKNOWN with a generic message.
type Error = mxerr.Error

// Error codes used by this package, re-exported so backends can build
// errors without importing an internal package.
const (
	CodeForbidden               = mxerr.Forbidden
	CodeUnknownToken            = mxerr.UnknownToken
	CodeMissingToken            = mxerr.MissingToken
	CodeBadJSON                 = mxerr.BadJSON
	CodeNotJSON                 = mxerr.NotJSON
	CodeNotFound                = mxerr.NotFound
	CodeLimitExceeded           = mxerr.LimitExceeded
	CodeUnrecognized            = mxerr.Unrecognized
	CodeUnknown                 = mxerr.Unknown
	CodeUserInUse               = mxerr.UserInUse
	CodeInvalidUsername         = mxerr.InvalidUsername
	CodeRoomInUse               = mxerr.RoomInUse
	CodeInvalidRoomState        = mxerr.InvalidRoomState
	CodeUnsupportedRoomVersion  = mxerr.UnsupportedRoomVersion
	CodeIncompatibleRoomVersion = mxerr.IncompatibleRoomVersion
	CodeGuestAccessForbidden    = mxerr.GuestAccessForbidden
	CodeMissingParam            = mxerr.MissingParam
	CodeInvalidParam            = mxerr.InvalidParam
	CodeTooLarge                = mxerr.TooLarge
	CodeExclusive               = mxerr.Exclusive
	CodeUserDeactivated         = mxerr.UserDeactivated
	CodeUnknownDevice           = mxerr.UnknownDevice
	CodeUserLocked              = mxerr.UserLocked
	CodeUserSuspended           = mxerr.UserSuspended
	CodeBadAlias                = mxerr.BadAlias
)

// ErrUnknownToken is what a TokenLookup returns for a token it does not
// know; the client gets 401 M_UNKNOWN_TOKEN with soft_logout false. Return
// UnknownToken(true) instead for an expired token the client may refresh
// or re-login without losing its device (content/client-server-api/_index.md,
// "Soft logout").
var ErrUnknownToken = UnknownToken(false)

// ErrNotFound is a convenience 404 M_NOT_FOUND for backends.
var ErrNotFound = NewError(http.StatusNotFound, CodeNotFound, "not found")

// NewError returns an *Error with the given status, errcode and message.
func NewError(status int, code, message string) *Error { return mxerr.New(status, code, message) }

// UnknownToken returns the 401 M_UNKNOWN_TOKEN error with its soft_logout
// field.
func UnknownToken(softLogout bool) *Error {
	return NewError(http.StatusUnauthorized, CodeUnknownToken, "unknown or expired access token").With("soft_logout", softLogout)
}

// Forbidden returns a 403 M_FORBIDDEN error.
func Forbidden(message string) *Error { return NewError(http.StatusForbidden, CodeForbidden, message) }

// NotFound returns a 404 M_NOT_FOUND error.
func NotFound(message string) *Error { return NewError(http.StatusNotFound, CodeNotFound, message) }

// BadJSON returns a 400 M_BAD_JSON error.
func BadJSON(message string) *Error { return NewError(http.StatusBadRequest, CodeBadJSON, message) }

// InvalidParam returns a 400 M_INVALID_PARAM error.
func InvalidParam(message string) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidParam, message)
}

// MissingParam returns a 400 M_MISSING_PARAM error.
func MissingParam(message string) *Error {
	return NewError(http.StatusBadRequest, CodeMissingParam, message)
}

// LimitExceeded returns a 429 M_LIMIT_EXCEEDED error; retryAfter, when
// positive, is sent as Retry-After and retry_after_ms.
func LimitExceeded(retryAfter time.Duration) *Error {
	e := NewError(http.StatusTooManyRequests, CodeLimitExceeded, "too many requests")
	e.RetryAfter = retryAfter
	return e
}

// IncompatibleRoomVersion returns the 400 M_INCOMPATIBLE_ROOM_VERSION
// error with its room_version field.
func IncompatibleRoomVersion(roomVersion string) *Error {
	return NewError(http.StatusBadRequest, CodeIncompatibleRoomVersion,
		"your homeserver does not support the version of this room").With("room_version", roomVersion)
}

func unsupportedRoomVersion(id string) *Error {
	return NewError(http.StatusBadRequest, CodeUnsupportedRoomVersion, "unsupported room version "+quote(id))
}

func unrecognized(status int) *Error {
	return NewError(status, CodeUnrecognized, "unrecognized request")
}

func writeError(w http.ResponseWriter, err error) { mxerr.Write(w, err) }

// asError reports the *Error in err's chain, if any.
func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
