package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// CreateRoomRequest is the body of POST /createRoom
// ("Creation" under "Rooms").
type CreateRoomRequest struct {
	Visibility                string          `json:"visibility,omitempty"` // "public" or "private"
	RoomAliasName             string          `json:"room_alias_name,omitempty"`
	Name                      string          `json:"name,omitempty"`
	Topic                     string          `json:"topic,omitempty"`
	Invite                    []string        `json:"invite,omitempty"`
	RoomVersion               string          `json:"room_version,omitempty"`
	CreationContent           map[string]any  `json:"creation_content,omitempty"`
	InitialState              []StateEvent    `json:"initial_state,omitempty"`
	Preset                    string          `json:"preset,omitempty"` // private_chat, public_chat, trusted_private_chat
	IsDirect                  bool            `json:"is_direct,omitempty"`
	PowerLevelContentOverride json.RawMessage `json:"power_level_content_override,omitempty"`
}

// StateEvent is one entry of CreateRoomRequest.InitialState.
type StateEvent struct {
	Type     string `json:"type"`
	StateKey string `json:"state_key"`
	Content  any    `json:"content"`
}

// CreateRoom creates a room and returns its ID.
func (c *Client) CreateRoom(ctx context.Context, req *CreateRoomRequest) (string, error) {
	var out struct {
		RoomID string `json:"room_id"`
	}
	err := c.call(ctx, request{method: http.MethodPost, path: v3("createRoom"), body: req}, &out)
	return out.RoomID, err
}

// JoinRoom joins a room by ID or alias (POST /join/{roomIdOrAlias}); via
// names servers to join through, for a room the server is not in.
func (c *Client) JoinRoom(ctx context.Context, roomIDOrAlias string, via []string, reason string) (string, error) {
	var q url.Values
	if len(via) > 0 {
		q = url.Values{"via": via}
	}
	return c.roomIDCall(ctx, request{method: http.MethodPost, path: v3("join", roomIDOrAlias), query: q, body: reasonBody(reason)})
}

// Knock knocks on a room by ID or alias (POST /knock/{roomIdOrAlias}).
func (c *Client) Knock(ctx context.Context, roomIDOrAlias string, via []string, reason string) (string, error) {
	var q url.Values
	if len(via) > 0 {
		q = url.Values{"via": via}
	}
	return c.roomIDCall(ctx, request{method: http.MethodPost, path: v3("knock", roomIDOrAlias), query: q, body: reasonBody(reason)})
}

func (c *Client) roomIDCall(ctx context.Context, r request) (string, error) {
	var out struct {
		RoomID string `json:"room_id"`
	}
	err := c.call(ctx, r, &out)
	return out.RoomID, err
}

func reasonBody(reason string) map[string]string {
	if reason == "" {
		return map[string]string{}
	}
	return map[string]string{"reason": reason}
}

// Invite invites userID to a room (POST /rooms/{roomId}/invite).
func (c *Client) Invite(ctx context.Context, roomID, userID, reason string) error {
	return c.membership(ctx, roomID, "invite", userID, reason)
}

// Kick kicks userID from a room.
func (c *Client) Kick(ctx context.Context, roomID, userID, reason string) error {
	return c.membership(ctx, roomID, "kick", userID, reason)
}

// Ban bans userID from a room.
func (c *Client) Ban(ctx context.Context, roomID, userID, reason string) error {
	return c.membership(ctx, roomID, "ban", userID, reason)
}

// Unban lifts userID's ban.
func (c *Client) Unban(ctx context.Context, roomID, userID, reason string) error {
	return c.membership(ctx, roomID, "unban", userID, reason)
}

// Leave leaves a room (or rejects an invite).
func (c *Client) Leave(ctx context.Context, roomID, reason string) error {
	return c.membership(ctx, roomID, "leave", "", reason)
}

// Forget forgets a room the user has left.
func (c *Client) Forget(ctx context.Context, roomID string) error {
	return c.call(ctx, request{method: http.MethodPost, path: v3("rooms", roomID, "forget"), body: struct{}{}}, nil)
}

func (c *Client) membership(ctx context.Context, roomID, action, userID, reason string) error {
	body := reasonBody(reason)
	if userID != "" {
		body["user_id"] = userID
	}
	return c.call(ctx, request{method: http.MethodPost, path: v3("rooms", roomID, action), body: body}, nil)
}

// JoinedRooms lists the rooms the user is joined to.
func (c *Client) JoinedRooms(ctx context.Context) ([]string, error) {
	var out struct {
		JoinedRooms []string `json:"joined_rooms"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("joined_rooms")}, &out)
	return out.JoinedRooms, err
}

// NewTxnID returns a random transaction ID for SendEvent
// ("Transaction identifiers": unique per access token).
func NewTxnID() string {
	var b [12]byte
	rand.Read(b[:])
	return "mxkit" + hex.EncodeToString(b[:])
}

// SendEvent sends a message event (PUT
// /rooms/{roomId}/send/{eventType}/{txnId}) and returns its event ID.
// txnID "" means a fresh NewTxnID; give your own to make a retry after a
// lost answer idempotent. content is encoded as JSON (a json.RawMessage is
// sent as is).
func (c *Client) SendEvent(ctx context.Context, roomID, eventType string, content any, txnID string) (string, error) {
	if txnID == "" {
		txnID = NewTxnID()
	}
	return c.eventIDCall(ctx, request{method: http.MethodPut, path: v3("rooms", roomID, "send", eventType, txnID), body: content})
}

// SendText sends an m.room.message with msgtype m.text.
func (c *Client) SendText(ctx context.Context, roomID, text string) (string, error) {
	return c.SendEvent(ctx, roomID, "m.room.message", map[string]string{"msgtype": "m.text", "body": text}, "")
}

// SendNotice sends an m.room.message with msgtype m.notice, the msgtype
// for automated messages (bots should not answer notices).
func (c *Client) SendNotice(ctx context.Context, roomID, text string) (string, error) {
	return c.SendEvent(ctx, roomID, "m.room.message", map[string]string{"msgtype": "m.notice", "body": text}, "")
}

// SendState sets a state event (PUT /rooms/{roomId}/state/{eventType}/{stateKey})
// and returns its event ID.
func (c *Client) SendState(ctx context.Context, roomID, eventType, stateKey string, content any) (string, error) {
	return c.eventIDCall(ctx, request{method: http.MethodPut, path: statePath(roomID, eventType, stateKey), body: content})
}

// statePath is the path of a state event. For the empty state key it
// leaves the trailing slash off, which the specification allows
// ("the trailing slash ... is optional" under PUT
// /rooms/{roomId}/state/{eventType}/{stateKey}) and every server routes.
func statePath(roomID, eventType, stateKey string) string {
	if stateKey == "" {
		return v3("rooms", roomID, "state", eventType)
	}
	return v3("rooms", roomID, "state", eventType, stateKey)
}

// Redact redacts an event (PUT /rooms/{roomId}/redact/{eventId}/{txnId})
// and returns the redaction's event ID.
func (c *Client) Redact(ctx context.Context, roomID, eventID, reason, txnID string) (string, error) {
	if txnID == "" {
		txnID = NewTxnID()
	}
	return c.eventIDCall(ctx, request{method: http.MethodPut, path: v3("rooms", roomID, "redact", eventID, txnID), body: reasonBody(reason)})
}

func (c *Client) eventIDCall(ctx context.Context, r request) (string, error) {
	var out struct {
		EventID string `json:"event_id"`
	}
	err := c.call(ctx, r, &out)
	return out.EventID, err
}

// Event fetches one event (GET /rooms/{roomId}/event/{eventId}).
func (c *Client) Event(ctx context.Context, roomID, eventID string) (*Event, error) {
	var ev Event
	err := c.call(ctx, request{method: http.MethodGet, path: v3("rooms", roomID, "event", eventID)}, &ev)
	return &ev, err
}

// StateEvent reads the content of one state event into out (GET
// /rooms/{roomId}/state/{eventType}/{stateKey}); out may be a
// *json.RawMessage.
func (c *Client) StateEvent(ctx context.Context, roomID, eventType, stateKey string, out any) error {
	return c.call(ctx, request{method: http.MethodGet, path: statePath(roomID, eventType, stateKey)}, out)
}

// State returns the room's full current state (GET /rooms/{roomId}/state).
func (c *Client) State(ctx context.Context, roomID string) ([]*Event, error) {
	var evs []*Event
	err := c.call(ctx, request{method: http.MethodGet, path: v3("rooms", roomID, "state")}, &evs)
	return evs, err
}

// MembersRequest filters GET /rooms/{roomId}/members.
type MembersRequest struct {
	At            string
	Membership    string
	NotMembership string
}

// Members returns a room's m.room.member events.
func (c *Client) Members(ctx context.Context, roomID string, req *MembersRequest) ([]*Event, error) {
	q := url.Values{}
	if req != nil {
		set(q, "at", req.At)
		set(q, "membership", req.Membership)
		set(q, "not_membership", req.NotMembership)
	}
	var out struct {
		Chunk []*Event `json:"chunk"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("rooms", roomID, "members"), query: q}, &out)
	return out.Chunk, err
}

// JoinedMember is one entry of GET /rooms/{roomId}/joined_members.
type JoinedMember struct {
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// JoinedMembers returns the joined members by user ID.
func (c *Client) JoinedMembers(ctx context.Context, roomID string) (map[string]JoinedMember, error) {
	var out struct {
		Joined map[string]JoinedMember `json:"joined"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("rooms", roomID, "joined_members")}, &out)
	return out.Joined, err
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// MessagesRequest is GET /rooms/{roomId}/messages.
type MessagesRequest struct {
	From, To string
	Dir      string // "b" (default) or "f"
	Limit    int
	Filter   json.RawMessage // a RoomEventFilter
}

// Messages is the answer to GET /rooms/{roomId}/messages.
type Messages struct {
	Start string   `json:"start"`
	End   string   `json:"end,omitempty"`
	Chunk []*Event `json:"chunk"`
	State []*Event `json:"state,omitempty"`
}

// Messages paginates a room's timeline.
func (c *Client) Messages(ctx context.Context, roomID string, req *MessagesRequest) (*Messages, error) {
	q := url.Values{}
	dir := req.Dir
	if dir == "" {
		dir = "b"
	}
	q.Set("dir", dir)
	set(q, "from", req.From)
	set(q, "to", req.To)
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if len(req.Filter) > 0 {
		q.Set("filter", string(req.Filter))
	}
	var m Messages
	err := c.call(ctx, request{method: http.MethodGet, path: v3("rooms", roomID, "messages"), query: q}, &m)
	return &m, err
}

// EventContext is the answer to GET /rooms/{roomId}/context/{eventId}.
type EventContext struct {
	Start        string   `json:"start,omitempty"`
	End          string   `json:"end,omitempty"`
	EventsBefore []*Event `json:"events_before"`
	Event        *Event   `json:"event"`
	EventsAfter  []*Event `json:"events_after"`
	State        []*Event `json:"state"`
}

// Context returns the events around eventID; limit 0 is the server's
// default.
func (c *Client) Context(ctx context.Context, roomID, eventID string, limit int, filter json.RawMessage) (*EventContext, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(filter) > 0 {
		q.Set("filter", string(filter))
	}
	var out EventContext
	err := c.call(ctx, request{method: http.MethodGet, path: v3("rooms", roomID, "context", eventID), query: q}, &out)
	return &out, err
}
