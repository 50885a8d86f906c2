package federation

import (
	"net/http"
	"time"
)

// Timeouts for an http.Server that serves the federation API, which
// ConfigureHTTPServer applies. Without them a peer can hold a connection
// (and the memory of a half-sent body) for as long as it likes: net/http
// has no timeout by default.
const (
	// DefaultReadHeaderTimeout bounds the time to send the request line
	// and headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the time to send the whole request, body
	// included: a 16 MiB transaction at 1 MiB/s fits. A handler that runs
	// longer (a long poll) is not cut by it: net/http stops reading once
	// the body is read.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds the time from the end of the request
	// headers to the end of the response: room for the slowest handler
	// (a join that fetches a large room's state) and a large media
	// download.
	DefaultWriteTimeout = 5 * time.Minute
	// DefaultIdleTimeout bounds the time a kept-alive connection waits for
	// its next request.
	DefaultIdleTimeout = 90 * time.Second
)

// ConfigureHTTPServer sets each timeout of srv that is zero to its default
// above, and returns srv. A program that serves other APIs on the same
// server (the client-server API's /sync long polls up to its timeout
// parameter) sets WriteTimeout above its longest response first.
func ConfigureHTTPServer(srv *http.Server) *http.Server {
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if srv.ReadTimeout == 0 {
		srv.ReadTimeout = DefaultReadTimeout
	}
	if srv.WriteTimeout == 0 {
		srv.WriteTimeout = DefaultWriteTimeout
	}
	if srv.IdleTimeout == 0 {
		srv.IdleTimeout = DefaultIdleTimeout
	}
	return srv
}
