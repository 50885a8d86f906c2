package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Event is an event in the client-server format
// (data/api/client-server/definitions/client_event.yaml and, inside a
// sync, client_event_without_room_id.yaml). Content and Unsigned are kept
// raw: decode Content into the struct of the type you expect. Stripped
// state, ephemeral, account data, presence and to-device events use the
// same type with the fields they have.
type Event struct {
	Type           string          `json:"type"`
	EventID        string          `json:"event_id,omitempty"`
	Sender         string          `json:"sender,omitempty"`
	RoomID         string          `json:"room_id,omitempty"`
	StateKey       *string         `json:"state_key,omitempty"`
	OriginServerTS int64           `json:"origin_server_ts,omitempty"`
	Content        json.RawMessage `json:"content"`
	Unsigned       json.RawMessage `json:"unsigned,omitempty"`
	// Redacts is the top-level redacts of m.room.redaction before room
	// version 11 (from v11 on it is in Content).
	Redacts string `json:"redacts,omitempty"`
	// Raw is the event as received, with any fields not listed here,
	// where the decoder keeps it: appservice.ParseTransaction does (this
	// type is also appservice.ClientEvent); the sync decoder does not, to
	// read each event once.
	Raw json.RawMessage `json:"-"`
}

// IsState reports whether the event is a state event (it has a
// state_key, possibly empty).
func (e *Event) IsState() bool { return e.StateKey != nil }

// DecodeContent decodes the event's content into v.
func (e *Event) DecodeContent(v any) error {
	if len(e.Content) == 0 {
		return fmt.Errorf("client: event %s has no content", e.EventID)
	}
	return json.Unmarshal(e.Content, v)
}

// SyncResponse is the body of GET /sync
// (content/client-server-api/_index.md "Syncing";
// data/api/client-server/sync.yaml). Blocks the server left out are nil.
type SyncResponse struct {
	NextBatch                    string         `json:"next_batch"`
	Rooms                        *SyncRooms     `json:"rooms,omitempty"`
	Presence                     *EventsBlock   `json:"presence,omitempty"`
	AccountData                  *EventsBlock   `json:"account_data,omitempty"`
	ToDevice                     *EventsBlock   `json:"to_device,omitempty"`
	DeviceLists                  *DeviceLists   `json:"device_lists,omitempty"`
	DeviceOneTimeKeysCount       map[string]int `json:"device_one_time_keys_count,omitempty"`
	DeviceUnusedFallbackKeyTypes []string       `json:"device_unused_fallback_key_types,omitempty"`
}

// SyncRooms are the rooms of a sync by membership.
type SyncRooms struct {
	Join   map[string]*JoinedRoom  `json:"join,omitempty"`
	Invite map[string]*InvitedRoom `json:"invite,omitempty"`
	Leave  map[string]*LeftRoom    `json:"leave,omitempty"`
	Knock  map[string]*KnockedRoom `json:"knock,omitempty"`
}

// EventsBlock is {"events": [...]}.
type EventsBlock struct {
	Events []*Event `json:"events"`
}

// Timeline is a room's slice of timeline.
type Timeline struct {
	Events    []*Event `json:"events"`
	Limited   bool     `json:"limited,omitempty"`
	PrevBatch string   `json:"prev_batch,omitempty"`
}

// JoinedRoom is one room under rooms.join.
type JoinedRoom struct {
	Summary             *RoomSummary         `json:"summary,omitempty"`
	State               *EventsBlock         `json:"state,omitempty"`
	StateAfter          *EventsBlock         `json:"state_after,omitempty"`
	Timeline            *Timeline            `json:"timeline,omitempty"`
	Ephemeral           *EventsBlock         `json:"ephemeral,omitempty"`
	AccountData         *EventsBlock         `json:"account_data,omitempty"`
	UnreadNotifications *UnreadNotifications `json:"unread_notifications,omitempty"`
}

// RoomSummary is a joined room's summary.
type RoomSummary struct {
	Heroes             []string `json:"m.heroes,omitempty"`
	JoinedMemberCount  *int     `json:"m.joined_member_count,omitempty"`
	InvitedMemberCount *int     `json:"m.invited_member_count,omitempty"`
}

// UnreadNotifications are a joined room's notification counts.
type UnreadNotifications struct {
	HighlightCount    int `json:"highlight_count"`
	NotificationCount int `json:"notification_count"`
}

// InvitedRoom is one room under rooms.invite: stripped state.
type InvitedRoom struct {
	InviteState EventsBlock `json:"invite_state"`
}

// KnockedRoom is one room under rooms.knock: stripped state.
type KnockedRoom struct {
	KnockState EventsBlock `json:"knock_state"`
}

// LeftRoom is one room under rooms.leave.
type LeftRoom struct {
	State       *EventsBlock `json:"state,omitempty"`
	StateAfter  *EventsBlock `json:"state_after,omitempty"`
	Timeline    *Timeline    `json:"timeline,omitempty"`
	AccountData *EventsBlock `json:"account_data,omitempty"`
}

// DeviceLists are the device list changes of end-to-end encryption.
type DeviceLists struct {
	Changed []string `json:"changed,omitempty"`
	Left    []string `json:"left,omitempty"`
}

// ErrBadSync is wrapped by DecodeSync's errors.
var ErrBadSync = errors.New("client: malformed sync response")

// DecodeSync decodes a /sync response body. Beyond JSON syntax and types
// it checks what a sync loop relies on: the body is an object with a
// non-empty next_batch, and no event in it is null (an event that is null
// or has no type is an error naming the room and block).
func DecodeSync(data []byte) (*SyncResponse, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadSync)
	}
	var r SyncResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSync, err)
	}
	if r.NextBatch == "" {
		return nil, fmt.Errorf("%w: no next_batch", ErrBadSync)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSync, err)
	}
	return &r, nil
}

// check finds null events and events without a type.
func (r *SyncResponse) check() error {
	var err error
	r.forEach(func(where string, roomID string, ev *Event) bool {
		switch {
		case ev == nil:
			err = fmt.Errorf("%s%s: null event", where, inRoom(roomID))
		case ev.Type == "":
			err = fmt.Errorf("%s%s: event without a type", where, inRoom(roomID))
		}
		return err == nil
	})
	return err
}

func inRoom(roomID string) string {
	if roomID == "" {
		return ""
	}
	return " of " + roomID
}

// Block names of a sync response, as SyncEvent.Block.
const (
	BlockPresence        = "presence"
	BlockAccountData     = "account_data"
	BlockToDevice        = "to_device"
	BlockState           = "state"
	BlockStateAfter      = "state_after"
	BlockTimeline        = "timeline"
	BlockEphemeral       = "ephemeral"
	BlockRoomAccountData = "room_account_data"
	BlockInviteState     = "invite_state"
	BlockKnockState      = "knock_state"
)

// forEach calls f for every event of the response in a fixed order:
// global blocks, then per joined room state, timeline, ephemeral and
// account data, then left, invited and knocked rooms. Rooms come in map
// order. f returns false to stop.
func (r *SyncResponse) forEach(f func(block, roomID string, ev *Event) bool) bool {
	each := func(block, roomID string, b *EventsBlock) bool {
		if b == nil {
			return true
		}
		for _, ev := range b.Events {
			if !f(block, roomID, ev) {
				return false
			}
		}
		return true
	}
	timeline := func(roomID string, t *Timeline) bool {
		if t == nil {
			return true
		}
		for _, ev := range t.Events {
			if !f(BlockTimeline, roomID, ev) {
				return false
			}
		}
		return true
	}
	if !each(BlockPresence, "", r.Presence) || !each(BlockAccountData, "", r.AccountData) || !each(BlockToDevice, "", r.ToDevice) {
		return false
	}
	if r.Rooms == nil {
		return true
	}
	for id, j := range r.Rooms.Join {
		if j == nil {
			continue
		}
		if !each(BlockState, id, j.State) || !each(BlockStateAfter, id, j.StateAfter) || !timeline(id, j.Timeline) ||
			!each(BlockEphemeral, id, j.Ephemeral) || !each(BlockRoomAccountData, id, j.AccountData) {
			return false
		}
	}
	for id, l := range r.Rooms.Leave {
		if l == nil {
			continue
		}
		if !each(BlockState, id, l.State) || !each(BlockStateAfter, id, l.StateAfter) || !timeline(id, l.Timeline) ||
			!each(BlockRoomAccountData, id, l.AccountData) {
			return false
		}
	}
	for id, i := range r.Rooms.Invite {
		if i != nil && !each(BlockInviteState, id, &i.InviteState) {
			return false
		}
	}
	for id, k := range r.Rooms.Knock {
		if k != nil && !each(BlockKnockState, id, &k.KnockState) {
			return false
		}
	}
	return true
}

// SyncRequest is GET /sync.
type SyncRequest struct {
	Since string
	// Timeout is how long the server may wait for something new
	// (0: answer at once).
	Timeout time.Duration
	// Filter is a filter ID or an inline filter (JSON, starting with "{").
	Filter      string
	FullState   bool
	SetPresence string // "online", "offline" or "unavailable"
	// UseStateAfter asks for state_after instead of state.
	UseStateAfter bool
}

// Sync sends one GET /sync. The HTTP client's own timeout, if any, must
// be longer than req.Timeout.
func (c *Client) Sync(ctx context.Context, req *SyncRequest) (*SyncResponse, error) {
	q := url.Values{}
	set(q, "since", req.Since)
	set(q, "filter", req.Filter)
	set(q, "set_presence", req.SetPresence)
	if req.Timeout > 0 {
		q.Set("timeout", strconv.FormatInt(req.Timeout.Milliseconds(), 10))
	}
	if req.FullState {
		q.Set("full_state", "true")
	}
	if req.UseStateAfter {
		q.Set("use_state_after", "true")
	}
	body, err := c.callBytes(ctx, request{method: http.MethodGet, path: v3("sync"), query: q})
	if err != nil {
		return nil, err
	}
	return DecodeSync(body)
}

// Filter is a filter for /sync ("Filtering";
// data/api/client-server/definitions/sync_filter.yaml). Leave out what
// you do not restrict.
type Filter struct {
	EventFields []string     `json:"event_fields,omitempty"`
	EventFormat string       `json:"event_format,omitempty"`
	Presence    *EventFilter `json:"presence,omitempty"`
	AccountData *EventFilter `json:"account_data,omitempty"`
	Room        *RoomFilter  `json:"room,omitempty"`
}

// EventFilter restricts non-room events.
type EventFilter struct {
	Limit      int      `json:"limit,omitempty"`
	Types      []string `json:"types,omitempty"`
	NotTypes   []string `json:"not_types,omitempty"`
	Senders    []string `json:"senders,omitempty"`
	NotSenders []string `json:"not_senders,omitempty"`
}

// RoomFilter restricts the rooms block.
type RoomFilter struct {
	Rooms        []string         `json:"rooms,omitempty"`
	NotRooms     []string         `json:"not_rooms,omitempty"`
	IncludeLeave bool             `json:"include_leave,omitempty"`
	State        *RoomEventFilter `json:"state,omitempty"`
	Timeline     *RoomEventFilter `json:"timeline,omitempty"`
	Ephemeral    *RoomEventFilter `json:"ephemeral,omitempty"`
	AccountData  *RoomEventFilter `json:"account_data,omitempty"`
}

// RoomEventFilter restricts room events.
type RoomEventFilter struct {
	EventFilter
	Rooms                   []string `json:"rooms,omitempty"`
	NotRooms                []string `json:"not_rooms,omitempty"`
	ContainsURL             *bool    `json:"contains_url,omitempty"`
	LazyLoadMembers         bool     `json:"lazy_load_members,omitempty"`
	IncludeRedundantMembers bool     `json:"include_redundant_members,omitempty"`
	UnreadThreadNotifs      bool     `json:"unread_thread_notifications,omitempty"`
}

// CreateFilter uploads a filter (POST /user/{userId}/filter) and returns
// its ID.
func (c *Client) CreateFilter(ctx context.Context, f *Filter) (string, error) {
	var out struct {
		FilterID string `json:"filter_id"`
	}
	err := c.call(ctx, request{method: http.MethodPost, path: v3("user", c.UserID, "filter"), body: f}, &out)
	return out.FilterID, err
}

// GetFilter downloads a filter.
func (c *Client) GetFilter(ctx context.Context, filterID string) (*Filter, error) {
	var f Filter
	err := c.call(ctx, request{method: http.MethodGet, path: v3("user", c.UserID, "filter", filterID)}, &f)
	return &f, err
}
