package clientapi

import (
	"context"
	"encoding/json"
	"time"
)

// Identity is who an authenticated request acts as.
type Identity struct {
	// UserID is the user the request acts as. For an application
	// service it is the user named by the user_id query parameter (or
	// the service's sender user).
	UserID string
	// DeviceID is the device of the access token, or the device named by
	// an application service's device_id parameter; may be empty for
	// an application service.
	DeviceID string
	// IsGuest marks a guest account.
	IsGuest bool
	// AppService is the ID of the application service whose as_token
	// authenticated the request, empty for ordinary users.
	AppService string
	// AccessToken is the token the request presented (for logout).
	AccessToken string
	// RateLimitExempt spares the request the rate limits (an application
	// service whose registration says rate_limited: false).
	RateLimitExempt bool
	// Locked and Suspended are the moderation state of the account
	// (admin.go): a locked account may only log out, a suspended one is
	// refused the actions of "Account suspension".
	Locked, Suspended bool
}

// Masquerade is what an application service asks to act as: the user_id
// and device_id query parameters (content/application-service-api.md,
// "Client-Server API Extensions"). Ordinary users' tokens ignore it.
type Masquerade struct {
	UserID   string
	DeviceID string
}

// TokenLookup resolves access tokens. Auth calls it for every
// authenticated request.
type TokenLookup interface {
	// LookupToken returns the identity behind token. For an ordinary
	// user's token it ignores as. For an application service's as_token
	// it returns Identity.AppService set and UserID/DeviceID taken from
	// as (after checking the user is in the service's namespace, else
	// 403 M_FORBIDDEN — the specification names no code for this, and
	// the reference server answers M_FORBIDDEN, as appservice.Registry.ActAs
	// does — and the device exists, else 400 M_UNKNOWN_DEVICE), or the
	// service's sender user when as.UserID is empty.
	// An unknown token is ErrUnknownToken (or UnknownToken(true) for an
	// expired one); a locked or suspended account is reported in
	// Identity.Locked and Identity.Suspended, and the Server answers
	// with the codes of those states.
	LookupToken(ctx context.Context, token string, as Masquerade) (Identity, error)
}

// Accounts is the account store: passwords, sessions and registration.
type Accounts interface {
	// CheckPassword verifies a local user's password; a wrong password
	// or unknown user is a 403 M_FORBIDDEN *Error.
	CheckPassword(ctx context.Context, userID, password string) error
	// Login creates (or, when req.DeviceID names an existing device of
	// the user, reuses) a device and issues a new access token for it.
	Login(ctx context.Context, req LoginRequest) (Credentials, error)
	// Logout invalidates one access token (and deletes its device).
	Logout(ctx context.Context, who Identity) error
	// LogoutAll invalidates every access token of the user.
	LogoutAll(ctx context.Context, userID string) error
}

// Registration creates accounts. Optional: without it /register answers
// 403 M_FORBIDDEN ("registration is disabled").
type Registration interface {
	// Available reports whether a localpart is free; the library has
	// already checked its grammar.
	Available(ctx context.Context, localpart string) (bool, error)
	// Register creates the account userID with password (may be empty
	// for application services). A taken ID is a 400 M_USER_IN_USE.
	// appService is the registering application service, "" for a
	// user; the backend answers 400 M_EXCLUSIVE for a service outside
	// its namespace or a user inside an exclusive namespace
	// (content/application-service-api.md "Server admin style
	// permissions").
	Register(ctx context.Context, userID, password string, appService string) error
}

// LoginRequest asks Accounts for a new session of a user.
type LoginRequest struct {
	UserID             string
	DeviceID           string // empty: the backend generates one
	InitialDisplayName string
	// AppService is set for m.login.application_service (and for
	// registrations by an application service): the backend checks
	// UserID is in the service's namespace, else 400 M_EXCLUSIVE.
	AppService string
	// RefreshToken is the client's refresh_token: true (v1.3): the
	// backend may issue an expiring access token with a refresh token
	// (Credentials.RefreshToken, ExpiresInMS); see Refresher.
	RefreshToken bool
}

// Credentials are the result of a login or registration.
type Credentials struct {
	UserID      string `json:"user_id"`
	AccessToken string `json:"access_token"`
	DeviceID    string `json:"device_id"`
	// RefreshToken and ExpiresInMS are set when the access token
	// expires (only when the client asked for a refresh token).
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresInMS  int64  `json:"expires_in_ms,omitempty"`
}

// Rooms creates rooms and changes memberships.
type Rooms interface {
	// CreateRoom builds and sends the events of plan in order and
	// returns the new room's ID. The plan is complete and validated; the
	// backend fills in the room ID, event IDs, auth and signatures.
	CreateRoom(ctx context.Context, who Identity, plan *CreateRoomPlan) (roomID string, err error)
	// Join joins a room by ID or alias (via are candidate servers for a
	// remote join).
	Join(ctx context.Context, who Identity, req JoinRequest) (roomID string, err error)
	// ChangeMembership invites, leaves, kicks, bans, unbans or knocks.
	ChangeMembership(ctx context.Context, who Identity, req MembershipRequest) (roomID string, err error)
	// Forget forgets a room the user has left.
	Forget(ctx context.Context, who Identity, roomID string) error
	// JoinedRooms lists the rooms the user is joined to.
	JoinedRooms(ctx context.Context, who Identity) ([]string, error)
}

// JoinRequest is POST /join/{roomIdOrAlias} and POST /rooms/{roomId}/join.
type JoinRequest struct {
	RoomIDOrAlias    string
	Via              []string // via plus the deprecated server_name parameter
	Reason           string
	ThirdPartySigned json.RawMessage // raw third_party_signed object, if any
}

// Membership actions of MembershipRequest.
const (
	ActionInvite = "invite"
	ActionLeave  = "leave"
	ActionKick   = "kick"
	ActionBan    = "ban"
	ActionUnban  = "unban"
	ActionKnock  = "knock"
)

// MembershipRequest is one of invite, leave, kick, ban, unban, knock.
type MembershipRequest struct {
	Action string
	// RoomID is the room; for knock it may be an alias.
	RoomID string
	// Target is the user affected (the sender itself for leave, knock).
	Target string
	Reason string
	Via    []string // knock only
}

// Sender sends events into rooms.
type Sender interface {
	// Send builds and sends an event and returns its ID. For state
	// events StateKey is non-nil; for redactions Type is m.room.redaction
	// and Redacts is set (the backend puts it where the room version
	// wants). Idempotency on TxnID is handled by the library.
	Send(ctx context.Context, who Identity, ev OutgoingEvent) (eventID string, err error)
}

// OutgoingEvent is an event a client asks to send.
type OutgoingEvent struct {
	RoomID   string
	Type     string
	StateKey *string
	Content  json.RawMessage
	Redacts  string
	TxnID    string
	// Timestamp is an application service's ts parameter (ms since the
	// epoch), zero otherwise.
	Timestamp int64
}

// RoomReader reads room state and history for a user. The backend applies
// history visibility, which package visibility implements (UserMaySee, from
// the room state at each event).
type RoomReader interface {
	// Event returns one event in client format; M_NOT_FOUND when the user
	// may not see it.
	Event(ctx context.Context, who Identity, roomID, eventID string) (json.RawMessage, error)
	// State returns the full current state (events in client format) or,
	// with key non-nil, that one state event.
	State(ctx context.Context, who Identity, roomID string, key *StateKey) ([]json.RawMessage, error)
	// Members returns m.room.member events for GET /members.
	Members(ctx context.Context, who Identity, req MembersRequest) ([]json.RawMessage, error)
	// Messages paginates the timeline.
	Messages(ctx context.Context, who Identity, req MessagesRequest) (*MessagesResponse, error)
	// Context returns the events around one event.
	Context(ctx context.Context, who Identity, req ContextRequest) (*ContextResponse, error)
}

// StateKey names a state entry.
type StateKey struct{ Type, StateKey string }

// MembersRequest is GET /rooms/{roomId}/members.
type MembersRequest struct {
	RoomID        string
	At            string
	Membership    string
	NotMembership string
	// Joined asks only for joined members (GET /joined_members).
	Joined bool
}

// MessagesRequest is GET /rooms/{roomId}/messages.
type MessagesRequest struct {
	RoomID   string
	From, To string
	Dir      string // "b" or "f"
	Limit    int
	Filter   json.RawMessage // a RoomEventFilter object, nil if none
}

// MessagesResponse is the answer to GET /messages.
type MessagesResponse struct {
	Start string    `json:"start"`
	End   string    `json:"end,omitempty"`
	Chunk EventList `json:"chunk"`
	State EventList `json:"state,omitempty"`
}

// ContextRequest is GET /rooms/{roomId}/context/{eventId}.
type ContextRequest struct {
	RoomID  string
	EventID string
	Limit   int
	Filter  json.RawMessage
}

// ContextResponse is the answer to GET /context.
type ContextResponse struct {
	Start        string          `json:"start,omitempty"`
	End          string          `json:"end,omitempty"`
	EventsBefore EventList       `json:"events_before"`
	Event        json.RawMessage `json:"event"`
	EventsAfter  EventList       `json:"events_after"`
	State        EventList       `json:"state"`
}

// EventList is a list of events as raw JSON (client format). In the
// responses the Server writes, a nil list is sent as [] because the
// spec's required arrays must be present. It has no MarshalJSON of its
// own on purpose: each nested json.Marshaler makes encoding/json re-scan
// its output, and event lists are the bulk of a sync.
type EventList []json.RawMessage

func nonNil(l EventList) EventList {
	if l == nil {
		return EventList{}
	}
	return l
}

// MarshalJSON implements json.Marshaler: nil lists are sent as [].
func (m *MessagesResponse) MarshalJSON() ([]byte, error) {
	type plain MessagesResponse
	c := *m
	c.Chunk = nonNil(c.Chunk)
	return json.Marshal((*plain)(&c))
}

// MarshalJSON implements json.Marshaler: nil lists are sent as [].
func (r *ContextResponse) MarshalJSON() ([]byte, error) {
	type plain ContextResponse
	c := *r
	c.EventsBefore, c.EventsAfter, c.State = nonNil(c.EventsBefore), nonNil(c.EventsAfter), nonNil(c.State)
	return json.Marshal((*plain)(&c))
}

// Syncer answers /sync. The library does the long-poll: it calls Sync,
// and when the answer is empty and the client asked for a timeout it
// calls Wait and syncs again when Wait returns.
type Syncer interface {
	// Sync returns what changed for who since req.Since (everything when
	// empty) and the next_batch token.
	Sync(ctx context.Context, who Identity, req SyncRequest) (*SyncResponse, error)
	// Wait blocks until something may have changed for who after the
	// since token, or ctx is done (then it returns ctx.Err()).
	Wait(ctx context.Context, who Identity, since string) error
}

// SyncRequest is GET /sync, parsed.
type SyncRequest struct {
	Since       string
	Timeout     time.Duration
	Filter      json.RawMessage // the resolved filter (inline or by ID), nil if none
	FullState   bool
	SetPresence string // "online" (default), "offline" or "unavailable"
	// UseStateAfter asks for state_after instead of state (v1.16).
	UseStateAfter bool
}

// Filters stores the filters of POST /user/{userId}/filter. Optional:
// without it the library keeps filters in memory.
type Filters interface {
	PutFilter(ctx context.Context, userID string, filter json.RawMessage) (filterID string, err error)
	// GetFilter returns M_NOT_FOUND for an unknown filter.
	GetFilter(ctx context.Context, userID, filterID string) (json.RawMessage, error)
}

// Directory maps room aliases (content/client-server-api/_index.md "Room
// aliases").
type Directory interface {
	// ResolveAlias returns the room and the servers that know it;
	// M_NOT_FOUND when unknown.
	ResolveAlias(ctx context.Context, alias string) (roomID string, servers []string, err error)
	// SetAlias maps alias to roomID (M_UNKNOWN 409 when taken, as
	// Synapse answers).
	SetAlias(ctx context.Context, who Identity, alias, roomID string) error
	// DeleteAlias removes a mapping the user may remove.
	DeleteAlias(ctx context.Context, who Identity, alias string) error
	// RoomAliases lists the local aliases of a room.
	RoomAliases(ctx context.Context, who Identity, roomID string) ([]string, error)
}

// Profile holds users' display names and avatars.
type Profile interface {
	// Profile returns the user's profile fields (displayname,
	// avatar_url, and any other field); M_NOT_FOUND for an unknown user.
	Profile(ctx context.Context, userID string) (map[string]any, error)
	// SetProfileField sets (value non-nil) or removes one field of the
	// user's own profile.
	SetProfileField(ctx context.Context, who Identity, field string, value any) error
}

// AccountData stores per-user data, global (roomID "") or per room.
type AccountData interface {
	// AccountData returns the content; M_NOT_FOUND when unset.
	AccountData(ctx context.Context, userID, roomID, dataType string) (json.RawMessage, error)
	SetAccountData(ctx context.Context, userID, roomID, dataType string, content json.RawMessage) error
}

// Ephemeral takes typing notifications and receipts.
type Ephemeral interface {
	SetTyping(ctx context.Context, who Identity, roomID string, typing bool, timeout time.Duration) error
	// SetReceipt records an m.read or m.read.private receipt; threadID
	// is "" for an unthreaded receipt. (m.fully_read is account data.)
	SetReceipt(ctx context.Context, who Identity, roomID, receiptType, eventID, threadID string) error
}

// Presence stores presence. Optional: without it every user is
// reported offline and PUT is accepted and ignored.
type Presence interface {
	Presence(ctx context.Context, userID string) (*PresenceStatus, error)
	SetPresence(ctx context.Context, who Identity, status PresenceStatus) error
}

// PresenceStatus is the body of GET/PUT /presence/{userId}/status.
type PresenceStatus struct {
	Presence        string `json:"presence"`
	StatusMsg       string `json:"status_msg,omitempty"`
	LastActiveAgo   int64  `json:"last_active_ago,omitempty"`
	CurrentlyActive *bool  `json:"currently_active,omitempty"`
}

// UserDirectory answers POST /user_directory/search. Optional: without
// it the search finds nobody.
type UserDirectory interface {
	SearchUsers(ctx context.Context, who Identity, term string, limit int) (results []UserResult, limited bool, err error)
}

// UserResult is one user directory hit.
type UserResult struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// Transactions remembers the responses to transactional requests (PUT
// with a txnId), so a retransmission gets the original answer
// (content/client-server-api/_index.md "Transaction identifiers").
// Optional: without it the library keeps them in memory for a day.
type Transactions interface {
	// Get returns the stored response body for key, ok false if none.
	Get(ctx context.Context, key TxnKey) (body []byte, ok bool, err error)
	// Put stores the response body for key.
	Put(ctx context.Context, key TxnKey, body []byte) error
}

// TxnKey identifies a transaction: the device (or application service),
// the endpoint and the client's txnId.
type TxnKey struct {
	UserID   string
	DeviceID string // "as:<id>" for an application service without a device
	Endpoint string // e.g. "send/!room:server/m.room.message"
	TxnID    string
}
