// Package appservice implements the Matrix application service API, both
// sides (specification: content/application-service-api.md, "Application
// Service API", and the OpenAPI files
// data/api/application-service/*.yaml; the client API companions in
// data/api/client-server/appservice_ping.yaml and
// appservice_room_directory.yaml). Bridges and bots use it to receive a
// homeserver's events; homeservers use it to host them.
//
// # Registration
//
// An application service is registered with a homeserver by a file
// ("Registration"; definitions/registration.yaml). ParseRegistration reads
// and validates one (YAML, through go.yaml.in/yaml/v3); NewRegistry checks a
// group: ids and as_tokens must be unique, as the specification requires,
// and a Registry also refuses shared hs_tokens and sender users.
//
// # Namespaces and interest
//
// A registration claims users, room aliases and room IDs by regular
// expressions. A namespace regex matches when it matches at the start of
// the string, as Synapse's Python re.match does; the end is not anchored
// (write "$" for that). Namespaces in the users list apply to local users
// only. Registry.Interested is the test of whether an event goes to a
// service: its sender, the target of a membership event, its room ID, the
// room's aliases and the room's local members (through the Rooms
// interface); InterestedInRoom is the test for typing and receipts, and
// FilterReceipt keeps private read receipts to the service's own users.
// ExclusiveUser/ExclusiveAlias and Registry.CheckUserID / CheckAlias give
// M_EXCLUSIVE to others for what a service claims exclusively.
//
// # Homeserver side
//
// Client makes the calls a homeserver makes to a service ("Homeserver ->
// Application Service API"): transactions, user and alias queries, ping
// and third-party lookups, with "Authorization: Bearer <hs_token>" and the
// fallback to the legacy paths ("Legacy routes"). Sender is the
// transaction queue of one service ("Pushing events"): events leave in
// order, in transactions whose ID and body never change on retry, retried
// with an exponential backoff (Synapse's 2 s doubling to 512 s) until
// delivered; the clock is injectable. TxnStore keeps undelivered
// transactions across restarts.
//
// For the client API ("Client-Server API Extensions"): Registry.ActAs and
// Authenticate resolve an as_token with the user_id and device_id
// parameters ("Identity assertion"), Timestamp reads ts ("Timestamp
// massaging"), Registry.Register and Login decide
// m.login.application_service, and PingHandler serves POST
// /_matrix/client/v1/appservice/{appserviceId}/ping, DirectoryListHandler the
// published room directories ("Published room directories"). They return *Error
// values (type Error = the shared Matrix error) to send as they are. A
// client API server plugs ActAs into its token lookup: when ActAs says
// ok, the request is the service acting as Actor.UserID on
// Actor.DeviceID; otherwise the token is an ordinary user's. With this
// module's clientapi package the embedder writes:
//
//   - in TokenLookup.LookupToken(ctx, token, as): a, ok, err :=
//     registry.ActAs(ctx, token, as.UserID, as.DeviceID, accounts); if ok,
//     return err, or clientapi.Identity{UserID: a.UserID, DeviceID:
//     a.DeviceID, AppService: a.Service.ID, AccessToken: token};
//   - in Registration.Register(ctx, userID, password, appService):
//     registry.CheckUserID(userID, registry.ByID(appService)) (nil for an
//     ordinary user: M_EXCLUSIVE in a service's exclusive namespace);
//   - in Accounts.Login with LoginRequest.AppService set:
//     registry.CheckLogin(userID, registry.ByID(req.AppService));
//   - on its mux, PingHandler at "/_matrix/client/v1/appservice/" beside
//     the client API server.
//
// # Application service side
//
// Handler is the http.Handler for everything a homeserver calls: it checks
// hs_token (401 M_UNAUTHORIZED without one, 403 M_FORBIDDEN for a wrong
// one), deduplicates transactions by ID, parses their events as client
// events (ClientEvent; services receive client-format events, not PDUs)
// and hands them to the Service the embedder implements, with the optional
// UserQuerier, AliasQuerier, Pinger and ThirdPartyService (ThirdParty
// implements it with typed functions; ParseProtocol and its siblings read
// the answers on the homeserver's side, Client.ProtocolInfo, LookupUsers
// and LookupLocations ask for them). Transport makes
// an *http.Client act as the service on the client API (as_token, user_id,
// device_id, ts).
//
// # Choices where the specification is silent
//
//   - Namespace regexes are anchored at the start only (Synapse); a string
//     in an exclusive and a non-exclusive namespace is exclusive (Synapse
//     lets the first matching entry decide).
//   - Acting as a user outside the namespace, or one not registered, is 403
//     M_FORBIDDEN (Synapse); creating or logging in as one is 400
//     M_EXCLUSIVE (the specification).
//   - rate_limited defaults to true (Synapse); url must be http or https;
//     YAML 1.1 booleans are read as PyYAML (Synapse) reads them.
//   - A non-2xx answer on a /_matrix/app/v1 path is retried once on the
//     legacy path; a service that answers only there is asked there for an
//     hour, then v1 again (at once if the legacy path fails and v1 answers).
//     A transport failure is not a reason to fall back.
//   - Transactions hold at most 100 events and 100 ephemeral events
//     (Synapse); "ephemeral" is left out when empty.
//   - Limits: transaction bodies 32 MiB, ping bodies 64 KiB, responses read
//     from a service 1 MiB; the AS side remembers the last 10000
//     transaction IDs unless given a persistent TxnLog.
package appservice
