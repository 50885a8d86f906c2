package appservice

import (
	"net/http"

	"github.com/mxkit/mxkit/internal/mxerr"
)

// Error is a Matrix error response: HTTP status, errcode, message and extra
// fields. Handlers in this package answer with it, and functions that
// decide a client-visible outcome return it.
type Error = mxerr.Error

// Error codes of the application service API that the common set lacks
// (content/application-service-api.md; data/api/client-server/appservice_ping.yaml).
const (
	CodeConnectionTimeout          = "M_CONNECTION_TIMEOUT"
	CodeURLNotSet                  = "M_URL_NOT_SET"
	CodeAppserviceLoginUnsupported = "M_APPSERVICE_LOGIN_UNSUPPORTED"
)

// LoginTypeApplicationService is the login and registration type of
// application services.
const LoginTypeApplicationService = "m.login.application_service"

func newError(status int, code, msg string) *Error { return mxerr.New(status, code, msg) }

// writeError answers with err (an *Error, or 500 M_UNKNOWN).
func writeError(w http.ResponseWriter, err error) { mxerr.Write(w, err) }
