// Package federation implements the Matrix server-server API over net/http
// (specification, content/server-server-api.md): request signing and
// authentication, server discovery, a transport that reaches servers by
// name, server keys (publishing, notary, fetching), a Client with a method
// per endpoint, a Server that routes every endpoint to interfaces the
// embedder implements, and the pipeline that checks received PDUs.
//
// # Request authentication
//
// Every federation request carries an "Authorization: X-Matrix ..." header
// ("Request Authentication"): the sender signs the JSON object
// {"method", "uri", "origin", "destination", "content"} with the JSON
// signing algorithm (content/appendices.md, "Signing JSON"). "uri" is the
// request target as sent, path and "?query", without scheme or host;
// "content" is the body, left out when there is none; origin and
// destination are server names before delegation. SignRequest makes the
// header, ParseXMatrix reads one, and Authenticator checks requests with
// keys from a signing.KeyRing. Its Middleware hands the verified origin and
// the body to the handler in the request's context (OriginFromContext,
// BodyFromContext).
//
// Choices where the specification leaves room:
//
//   - The header follows RFC 9110 section 11.4, as the specification says:
//     case-insensitive scheme and parameter names, token or quoted values
//     with backslash escapes, spaces and tabs around commas, unknown
//     parameters ignored, each parameter at most once. Unquoted values may
//     contain ':' (the specification asks recipients to allow it) and the
//     '/', '+', '=' of base64 that older senders leave unquoted.
//   - The signature parameter is "sig": the specification's example and
//     sample code, Synapse, ruma and gomatrixserverlib all use it, while its
//     list of parameters calls it "signature". "signature" is read only when
//     "sig" is absent; SignRequest writes "sig".
//   - A request may carry several X-Matrix headers (one per key); it is
//     authentic when one verifies. They must name the same origin.
//   - "destination" may be absent (older servers); present, it must be our
//     server name, else 401 M_UNAUTHORIZED as the specification requires.
//     The signed object always uses our server name as destination, as the
//     reference server does.
//   - Authentication failures are 401 M_UNAUTHORIZED (the specification
//     names 401 for the destination check; the reference server answers
//     401 for missing and unverifiable signatures), except a malformed
//     header: 400 M_UNAUTHORIZED, as the reference server answers. 403
//     M_FORBIDDEN is for origins the embedder refuses
//     (Authenticator.AllowOrigin) and, after authentication, server ACLs.
//     A PUT or POST body must be a JSON object (400 M_NOT_JSON or
//     M_BAD_JSON otherwise); a body over the limit is 413 M_TOO_LARGE
//     (Authenticator.MaxBody, DefaultMaxBody 16 MiB).
//   - Only PUT and POST bodies are signed as "content", as the reference
//     server builds the object; SignRequest signs the content it is given.
//   - Request keys must be current: a key only in old_verify_keys, or
//     whose valid_until_ts has passed, does not authenticate a request
//     ("Publishing Keys": old keys are only valid for events).
//   - The body is encoded as the reference server encodes it for signing
//     (canonicaljson.Lenient: floats allowed, written as Python writes them);
//     request bodies are not events of a room version.
//
// # Server discovery
//
// Resolver follows "Resolving server names" step by step: 1. an IP literal
// is used with its port or 8448; 2. a host with an explicit port is
// resolved (CNAME, AAAA, A); 3. otherwise https://<host>/.well-known/
// matrix/server is fetched and its m.server processed as steps 3.1 to 3.5
// (IP literal, explicit port, SRV _matrix-fed._tcp, deprecated SRV
// _matrix._tcp, port 8448); 4 to 6. without a valid well-known answer, the
// same SRV lookups and port 8448 for the host itself. Each Destination
// carries the address to dial, the Host header and the certificate name
// each step prescribes (for SRV records, the name looked up, never the
// target). Redirects of the well-known fetch are followed (at most 10,
// https only, loops stopped). Its answers are cached as Cache-Control
// (or Expires) says, 24 hours by default, at least 5 minutes and at most
// 48 hours as the reference server does; invalid answers (a status other
// than 200 or 5xx, bad JSON, a bad m.server) for an hour; failures to reach
// the server (connection errors, 5xx, an answer over 50 KiB) with a
// backoff from 2 minutes doubling to an hour, during which a delegation
// seen before is kept. SRV records are tried by priority; a single "."
// target means the service is not offered (RFC 2782). An SRV target that
// is a CNAME (which RFC 2782 forbids) is resolved all the same.
//
// Server names come from other servers, so by default a Resolver refuses
// loopback, private, link-local, multicast and other special-purpose
// addresses (including IPv4 addresses mapped into IPv6, NAT64 and 6to4):
// they are dropped from the destinations, and checked again on the address
// actually connected to, for the well-known fetch as well as for requests,
// so that no name can point our requests into our own network.
// Resolver.AllowPrivate lifts this; Resolver.Static maps names to fixed
// addresses for tests, examples and private deployments. DNS lookups and
// the well-known transport are fields, so tests run offline.
// Resolver.DialContext is the same guard for any other outgoing request a
// server makes on behalf of others (URL previews, media redirects).
//
// NewTransport returns an http.RoundTripper for URLs whose host is a server
// name ("matrix-federation://example.org/_matrix/..."): it resolves the name,
// tries the destinations in order, sends the destination's Host header and
// verifies TLS for its certificate name (with SNI, except for IP
// addresses), or speaks plain HTTP for loopback tests. TrustedRoots adds a
// private CA or a peer's self-signed certificate to the system's roots.
//
// # Keys
//
// ServerKeysHandler publishes our keys (GET /_matrix/key/v2/server,
// "Retrieving server keys", "Publishing Keys"; data/api/server-server/
// keys_server.yaml). Notary answers other servers' queries (GET
// /_matrix/key/v2/query/{serverName}, POST /_matrix/key/v2/query; "Querying
// Keys Through Another Server", keys_query.yaml): minimum_valid_until_ts
// defaults to now, answers are refreshed after half their lifetime, cached
// copies are served when the server is unreachable, and every object
// returned is signed by us on top of the server's own signature.
// FetchingKeyRing is a signing.KeyRing that fetches what it lacks, from
// trusted notaries then from the server itself, checks every object (the
// server's self-signature, server_name, the notary's signature), stores it
// through a KeyStore (MemoryKeyStore by default), joins concurrent
// lookups of one server into one fetch, and limits refetches to one per
// RefetchInterval. The server's own keys are given to it with SetLocal
// and never fetched.
//
// # Client
//
// Client has a method for every server-server endpoint (transactions,
// events, state and state_ids, event_auth, backfill, get_missing_events,
// timestamp_to_event, the make/send handshakes of join, leave and knock,
// invite, exchange_third_party_invite, publicRooms, hierarchy, queries,
// devices and keys, media, version). It signs each request with
// SignRequest, reaches servers through the Transport, bounds time and
// response size, parses returned PDUs for the room version, and returns a
// remote error as *Error with its errcode. Media answers (multipart/mixed:
// a JSON part, then the content with its Content-Type and file name, or a
// Location) are read by ParseMediaResponse.
//
// # Server and the receive pipeline
//
// Server is an http.Handler that routes every endpoint on a standard-library
// mux, authenticates requests with Authenticator where the specification
// asks, applies server ACLs (m.room.server_acl) on the endpoints it lists, and
// answers 404 and 405 M_UNRECOGNIZED for unknown paths and methods. The
// handlers that serve room history (/event, /backfill, /get_missing_events)
// apply the history visibility rules of package visibility for the
// requesting server, from the state after each event (StateStore): what
// the server may not see is served redacted, and /event refuses with 403 a
// server not in the room unless the event is world_readable. The
// embedder implements small interfaces, each with an in-memory version:
// RoomStore (RoomVersions, EventStore, StateStore, EventWriter: events with
// their status, the state after each event, forward extremities; the join
// completing a send_join replaces every extremity, NewEvent.ReplacesExtremities),
// EDUHandler, Invites, Queries, OpenID, RoomDirectory, Devices and
// MediaRepository.
//
// Receiver runs the checks of "Checks performed on receipt of a PDU" in the
// specification's order for each PDU of a transaction (at most 50 PDUs and
// 100 EDUs): format for the room version, signatures (one batched
// event.Verifier call for the transaction), content hash (a mismatch
// continues with the redacted event), auth against the event's auth events,
// auth against the state before it (resolved with stateres), and auth against
// the current state (soft failure). Each PDU gets its own result; transaction
// IDs are deduplicated per origin; missing prev and auth events are fetched
// within limits (get_missing_events, then state_ids, then event_auth).
//
// Server.Join, Leave, Knock and Invite are our side of the membership
// handshakes ("Joining Rooms", "Leaving Rooms", "Knocking", "Inviting");
// the make_*/send_* and invite handlers are the resident side, which builds
// the template from the current state and checks and signs what it
// receives.
package federation
