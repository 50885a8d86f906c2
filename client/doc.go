// Package client is a client for the Matrix client-server API
// (specification: content/client-server-api/_index.md; the OpenAPI files
// data/api/client-server/*.yaml), for bots, bridges, tests and tools.
//
// A Client talks to one homeserver as one user. Every method takes a
// context, sends typed requests and returns typed results; bodies the
// package does not model (push rules, keys) are json.RawMessage.
//
//	c, _ := client.New("https://matrix.example.org", "")
//	c.LoginWithPassword(ctx, "alice", "secret")
//	roomID, _ := c.JoinRoom(ctx, "#chat:example.org", nil, "")
//	c.SendText(ctx, roomID, "hello")
//
// # Errors
//
// A non-2xx answer is an error wrapping *Error ("Standard error
// response"): errors.As gives the errcode, the HTTP status and extra
// fields. Rate limiting ("Rate limiting": 429 M_LIMIT_EXCEEDED) is
// handled inside: the request is sent again after retry_after_ms or the
// Retry-After header (or a backoff from one second, doubling), at most
// Client.MaxRetries times and never after waiting longer than
// Client.MaxRetryWait; after that the caller gets the error.
// User-interactive authentication answers (401 with flows) are read with
// AsUIA; RegisterWithDummyAuth completes the m.login.dummy flow.
//
// # Syncing
//
// Syncer is the sync loop ("Syncing"): it uploads a Filter once, keeps the
// since token in a SyncStore (MemorySyncStore, or your own to resume after
// a restart), hands events to handlers registered per event type, and
// backs off after failures, doubling from Syncer.MinBackoff to
// Syncer.MaxBackoff. It stops when its context ends or when the server
// rejects the access token. DecodeSync is the decoder of /sync bodies.
//
// # Media
//
// Upload posts to /_matrix/media/v3/upload and Download reads
// /_matrix/client/v1/media/download/{serverName}/{mediaId} with the access
// token ("Content repository", authenticated media since v1.11).
//
// # Application services
//
// An application service uses a Client whose http.Client has an
// appservice.Transport (as_token and the user_id to act as); the
// appservice/intent package builds on that. RegisterAppServiceUser and
// Login with LoginAppService are the application-service registration and
// login ("Client-Server API Extensions").
//
// Endpoints without a method here are reached with Client.Do.
package client
