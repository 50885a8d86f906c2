// Package federation implements the Matrix server-server API over net/http
// (specification, content/server-server-api.md).
//
// # Request authentication
//
// Every federation request carries an "Authorization: X-Matrix ..." header
// ("Request Authentication"): the sender signs a JSON object made of the
// method, the request target (path and query), its own server name
// (origin), the receiver's (destination) and the body (content), with the
// JSON signing algorithm (content/appendices.md, "Signing JSON").
// SignRequest makes the header; ParseXMatrix reads one; Authenticator
// checks incoming requests with keys from a signing.KeyRing, and its
// Middleware hands the verified origin and the body to the handler
// through the request's context.
//
// # Server discovery
//
// Resolver follows "Resolving server names" step by step: IP literals,
// explicit ports, /.well-known/matrix/server (cached as the specification
// recommends), SRV records _matrix-fed._tcp then the deprecated
// _matrix._tcp, and port 8448. NewTransport makes an http.RoundTripper that
// sends requests addressed to a server name to the destinations found,
// with the right Host header and TLS name. By default, addresses in
// loopback, private, link-local and other special-purpose ranges are
// refused where they are dialed, so that a remote server name cannot
// point our requests into our own network.
//
// # Keys
//
// ServerKeysHandler publishes our keys (GET /_matrix/key/v2/server,
// "Retrieving server keys"); Notary answers the key queries of other
// servers ("Querying Keys Through Another Server"); FetchingKeyRing is a
// signing.KeyRing that fetches, checks and caches other servers' keys,
// through notaries or directly, persisting them in a KeyStore.
package federation
