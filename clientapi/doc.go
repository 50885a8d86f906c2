// Package clientapi is the client-server API of a Matrix homeserver as
// thin net/http adapters: it routes, parses, validates and encodes; the
// embedding program decides and stores through small interfaces
// (specification, content/client-server-api/_index.md and its modules,
// data/api/client-server/*.yaml).
//
// A Server is an http.Handler assembled from the interfaces the embedder
// implements; every one is optional:
//
//	TokenLookup    access token -> Identity (users, and application services acting as a user)
//	Accounts       passwords, login, logout           Registration  POST /register
//	Rooms          createRoom, join, invite, leave, kick, ban, unban, knock, forget, joined_rooms
//	Sender         send, state PUT, redact            RoomReader    event, state, members, messages, context
//	Syncer         /sync and its long-poll            Filters       filter storage (default: memory)
//	Directory      room aliases                       Profile       displayname, avatar_url
//	AccountData    global and per-room account data, room tags (m.tag)
//	Ephemeral      typing, receipts (m.fully_read markers are account data)
//	Presence       presence status                    UserDirectory user search
//	Transactions   txnId replay store (default: memory)
//	Devices        device list, rename, delete (with a password UIA stage)
//	PublishedRooms published room directory (publicRooms, directory/list/room)
//	PushRules      a user's push rule changes (default: the spec's rules, read-only)
//	Media          the content repository: upload, create, download, thumbnails
//	URLPreviews    GET media/preview_url
//	Keys, ToDevice keys/upload, query, claim, changes; sendToDevice
//	CrossSigning   keys/device_signing/upload, keys/signatures/upload
//	KeyBackup      room_keys/version and room_keys/keys
//	EventRooms     the room of an event, for the legacy GET /events/{eventId}
//	Refresher      POST /refresh (refresh tokens)
//	Whois, AccountModeration    server administration: whois, account lock and suspension
//	RegistrationTokens          the m.login.registration_token stage of /register
//	ThirdParty     third-party protocols, users and locations (MemoryThirdParty)
//	AppServices    application service ping, network room directories (as_token only)
//	SSO, OAuth, PolicyServer   services beside the homeserver; nil gives the
//	               spec's answer for a server without them (404 M_UNRECOGNIZED
//	               for SSO redirects and auth_metadata, 404 M_NOT_FOUND for
//	               /.well-known/matrix/policy_server)
//
// The legacy sync endpoints (GET /events, /initialSync,
// /rooms/{roomId}/initialSync) need no backend of their own: they are
// built on Syncer and RoomReader.
//
// An endpoint whose backend is nil answers 404 M_UNRECOGNIZED, as an
// unknown endpoint does (405 M_UNRECOGNIZED for a known path with an
// unknown method). Mount the Server at "/_matrix/client/" and
// "/.well-known/matrix/client" (and "/_matrix/media/" for the legacy media
// config) on the program's own mux; a more specific pattern registered on
// that mux overrides one endpoint.
//
// # Routing
//
// Endpoints are served under /_matrix/client/r0 and /_matrix/client/v3
// (older clients, matrix-nio among them, still call r0), the few the spec
// introduced under v1 under /_matrix/client/v1, plus GET
// /_matrix/client/versions and GET /.well-known/matrix/client
// ("Server Discovery", "API Versions"). Routing uses the standard
// library's ServeMux: path parameters are percent-decoded segment by
// segment, so room IDs, aliases and event IDs may arrive encoded and an
// encoded "/" stays inside its segment (a state key "a/b" is
// .../state/type/a%2Fb). A state event with an empty state key is
// reached with or without the trailing slash.
//
// Every response carries the CORS headers of "Web Browser Clients", and
// OPTIONS on any path answers 200 without running endpoint logic.
//
// # Authentication
//
// Access tokens come from "Authorization: Bearer" or the legacy
// access_token query parameter ("Using access tokens"); both at once is
// refused as the reference server refuses it. No token is 401
// M_MISSING_TOKEN, an unknown one 401 M_UNKNOWN_TOKEN with soft_logout
// ("Soft logout"): TokenLookup returns ErrUnknownToken or
// UnknownToken(true). The user_id and device_id query parameters are
// passed to TokenLookup as a Masquerade, so an application service's
// as_token can act as a user of its namespace
// (content/application-service-api.md, "Client-Server API Extensions");
// its ts parameter reaches Sender as OutgoingEvent.Timestamp. The
// Identity of an authenticated request is in the context the backends
// receive (IdentityFromContext).
//
// UIA runs user-interactive authentication ("User-Interactive
// Authentication API") with the m.login.dummy and m.login.password
// stages, and stages of other types through UIARequest.Stages;
// registration uses a single m.login.dummy flow (m.login.registration_token
// when RegistrationTokens is set), and embedders protect their own
// endpoints with UIA.Check and WriteError.
//
// # Errors and limits
//
// Errors are the spec's {"errcode","error"} objects ("Standard error
// response"); backends choose them by returning an *Error (a re-export of
// the shared error model, with constructors such as Forbidden, NotFound,
// LimitExceeded, IncompatibleRoomVersion); any other error is a 500
// M_UNKNOWN that does not leak its text. A body that is not JSON is 400
// M_NOT_JSON; JSON of the wrong shape (not an object, a field of the wrong
// type) is 400 M_BAD_JSON; a body above Server.MaxBodyBytes, or event
// content above the 65536-byte event size limit ("Size limits"), is 413
// M_TOO_LARGE. User IDs, room IDs, aliases, event IDs, event types and
// state keys are checked against content/appendices.md "Identifier
// Grammar" (255-byte limits; existing users' IDs under the historical
// grammar, new users' under the current one) and answer 400
// M_INVALID_PARAM when wrong.
//
// Event content is passed through as received. Whether a room version
// wants strict canonical JSON (no floats, integers within ±(2^53-1),
// versions 6 and later) is for the backend to check when it builds the
// event; it should answer 400 M_BAD_JSON.
//
// # Rooms
//
// PlanCreateRoom turns a createRoom request into the ordered state events
// of the room's creation ("Creation" and
// data/api/client-server/create_room.yaml), including the version 12 rules (creator not listed
// in the power levels, tombstone above state_default, trusted_private_chat
// invitees as additional_creators); the backend builds, signs and sends
// them. Sends are idempotent per device, endpoint and txnId
// ("Transaction identifiers"); retransmissions racing the original wait
// for its answer.
//
// # Sync
//
// /sync parses since, timeout (capped by Server.MaxSyncTimeout), filter
// (inline JSON or a filter ID, resolved before the backend sees it),
// full_state, set_presence and use_state_after. An incremental sync whose
// answer is empty waits in Syncer.Wait until there is news, the timeout
// passes (then the empty answer is sent) or the client goes away.
//
// # End-to-end encryption
//
// The Keys, CrossSigning and KeyBackup backends serve
// content/client-server-api/modules/end_to_end_encryption.md. The library
// checks what it can before a backend stores: device keys on keys/upload
// are the requesting device's and signed by its own ed25519 key
// ("Uploading keys"); cross-signing keys are the uploader's, of their
// usage, one ed25519 key each, the self-signing and user-signing keys
// signed by the master key, none named like a device, and
// user-interactive authentication is asked only to replace a key
// ("Cross-signing", POST keys/device_signing/upload); each uploaded
// signature is verified against the stored key it signs, with failures
// reported per key. For key backups ("Server-side key backups") it
// checks each KeyBackupData and leaves to the backend the one atomic step
// of keeping the better key of a session (BetterSessionKey) in the
// current version (WrongRoomKeysVersion otherwise). MemoryKeys and
// MemoryKeyBackup are the in-memory backends.
//
// # Content repository
//
// The Media backend serves content/client-server-api/modules/content_repo.md:
// the authenticated /_matrix/client/v1/media endpoints (download, download
// with a file name, thumbnail, preview_url, config), the legacy
// /_matrix/media/v3 (and r0) ones (upload, PUT upload of an ID from POST
// /_matrix/media/v1/create, and the deprecated unauthenticated download
// and thumbnail), with MemoryMedia as its in-memory version. Uploads are
// streamed to the backend through a reader bounded by MaxUploadSize (413
// M_TOO_LARGE past it, also announced as m.upload.size). Server names and
// media IDs (A-Za-z0-9_- only) are checked before a backend sees them
// ("Security considerations"). Content is served with the Content-Type it
// was uploaded with (application/octet-stream when none), a
// Content-Disposition of inline only for the types of "Serving inline
// content" and attachment otherwise, the file name encoded per RFC 6266
// (RFC 5987 filename* for names beyond printable ASCII), and the
// Content-Security-Policy and Cross-Origin-Resource-Policy headers the
// module recommends.
//
// # Start-up stubs
//
// Clients call some endpoints on start-up that a server without end-to-end
// encryption storage can answer simply: keys/upload (the counts of the
// uploaded keys), keys/query (no devices), keys/changes (none),
// room_keys/version (404 M_NOT_FOUND without a KeyBackup), voip/turnServer ({}, as the
// reference server answers without TURN), thirdparty/protocols ({}
// without a ThirdParty backend),
// presence (offline without a Presence backend), user directory search
// (nobody without a UserDirectory), media config (m.upload.size when a limit
// is known), and push rules (the
// "Predefined Rules" of content/client-server-api/modules/push.md, built
// by DefaultPushRules and merged with a user's changes by
// EffectivePushRules). An embedder with real implementations mounts its
// own handlers for those paths on its mux.
package clientapi
