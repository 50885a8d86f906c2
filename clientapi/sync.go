package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SyncResponse is the body of GET /sync
// (content/client-server-api/_index.md "Syncing",
// data/api/client-server/sync.yaml).
//
// It encodes the way the reference server does: every block present even
// when empty (rooms with join, invite, leave and knock; presence,
// account_data, to_device, device_lists, device_one_time_keys_count; per
// joined room timeline with limited and prev_batch, state, ephemeral,
// account_data, unread_notifications and summary). The spec marks most of
// them optional, but real clients rely on them: matrix-nio validates each
// sync against a schema that requires next_batch, rooms, to_device,
// device_lists and device_one_time_keys_count, and per joined room
// timeline (with events, limited and prev_batch), state, ephemeral and
// account_data. Backends leave blocks nil; they should always set
// Timeline.PrevBatch for rooms with a timeline.
type SyncResponse struct {
	NextBatch   string       `json:"next_batch"`
	Rooms       *SyncRooms   `json:"rooms"`
	Presence    *EventsBlock `json:"presence"`
	AccountData *EventsBlock `json:"account_data"`
	ToDevice    *EventsBlock `json:"to_device"`
	DeviceLists *DeviceLists `json:"device_lists"`
	// DeviceOneTimeKeysCount is required by end-to-end encryption
	// clients; nil is sent as {}.
	DeviceOneTimeKeysCount       map[string]int `json:"device_one_time_keys_count"`
	DeviceUnusedFallbackKeyTypes []string       `json:"device_unused_fallback_key_types,omitempty"`
}

// SyncRooms are the rooms of a sync by membership.
type SyncRooms struct {
	Join   map[string]*JoinedRoom  `json:"join"`
	Invite map[string]*InvitedRoom `json:"invite"`
	Leave  map[string]*LeftRoom    `json:"leave"`
	Knock  map[string]*KnockedRoom `json:"knock"`
}

// EventsBlock is {"events": [...]}.
type EventsBlock struct {
	Events EventList `json:"events"`
}

// Timeline is a room's timeline slice.
type Timeline struct {
	Events    EventList `json:"events"`
	Limited   bool      `json:"limited"`
	PrevBatch string    `json:"prev_batch"`
}

// JoinedRoom is one room under rooms.join. State is left out when
// StateAfter is set (use_state_after).
type JoinedRoom struct {
	Summary             *RoomSummary         `json:"summary"`
	State               *EventsBlock         `json:"state,omitempty"`
	StateAfter          *EventsBlock         `json:"state_after,omitempty"`
	Timeline            *Timeline            `json:"timeline"`
	Ephemeral           *EventsBlock         `json:"ephemeral"`
	AccountData         *EventsBlock         `json:"account_data"`
	UnreadNotifications *UnreadNotifications `json:"unread_notifications"`
	// UnreadThreadNotifications counts by thread root when the timeline
	// filter sets unread_thread_notifications; UnreadNotifications then
	// counts the main timeline alone ("Threaded read receipts").
	UnreadThreadNotifications map[string]UnreadNotifications `json:"unread_thread_notifications,omitempty"`
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

// LeftRoom is one room under rooms.leave. State is left out when
// StateAfter is set.
type LeftRoom struct {
	State       *EventsBlock `json:"state,omitempty"`
	StateAfter  *EventsBlock `json:"state_after,omitempty"`
	Timeline    *Timeline    `json:"timeline"`
	AccountData *EventsBlock `json:"account_data"`
}

// DeviceLists are the device list changes of end-to-end encryption.
type DeviceLists struct {
	Changed []string `json:"changed"`
	Left    []string `json:"left"`
}

func emptyBlock(b *EventsBlock) *EventsBlock {
	if b == nil {
		return &EventsBlock{Events: EventList{}}
	}
	if b.Events == nil {
		return &EventsBlock{Events: EventList{}}
	}
	return b
}

func fullTimeline(t *Timeline) *Timeline {
	if t == nil {
		return &Timeline{Events: EventList{}}
	}
	if t.Events == nil {
		c := *t
		c.Events = EventList{}
		return &c
	}
	return t
}

// syncJSON is SyncResponse with every block filled, encoded without
// custom marshalers below it (see EventList).
type syncJSON SyncResponse

// MarshalJSON implements json.Marshaler: nil blocks and lists are sent
// empty. The backend's values are not modified.
func (r *SyncResponse) MarshalJSON() ([]byte, error) {
	c := *r
	if c.DeviceOneTimeKeysCount == nil {
		c.DeviceOneTimeKeysCount = map[string]int{}
	}
	rooms := SyncRooms{
		Join:   map[string]*JoinedRoom{},
		Invite: map[string]*InvitedRoom{},
		Leave:  map[string]*LeftRoom{},
		Knock:  map[string]*KnockedRoom{},
	}
	if c.Rooms != nil {
		for id, j := range c.Rooms.Join {
			if j == nil {
				j = &JoinedRoom{}
			}
			jc := *j
			if jc.Summary == nil {
				jc.Summary = &RoomSummary{}
			}
			if jc.StateAfter == nil {
				jc.State = emptyBlock(jc.State)
			} else {
				jc.StateAfter = emptyBlock(jc.StateAfter)
			}
			jc.Timeline = fullTimeline(jc.Timeline)
			jc.Ephemeral, jc.AccountData = emptyBlock(jc.Ephemeral), emptyBlock(jc.AccountData)
			if jc.UnreadNotifications == nil {
				jc.UnreadNotifications = &UnreadNotifications{}
			}
			rooms.Join[id] = &jc
		}
		for id, l := range c.Rooms.Leave {
			if l == nil {
				l = &LeftRoom{}
			}
			lc := *l
			if lc.StateAfter == nil {
				lc.State = emptyBlock(lc.State)
			} else {
				lc.StateAfter = emptyBlock(lc.StateAfter)
			}
			lc.Timeline = fullTimeline(lc.Timeline)
			lc.AccountData = emptyBlock(lc.AccountData)
			rooms.Leave[id] = &lc
		}
		for id, i := range c.Rooms.Invite {
			if i == nil {
				i = &InvitedRoom{}
			}
			ic := *i
			ic.InviteState.Events = nonNil(ic.InviteState.Events)
			rooms.Invite[id] = &ic
		}
		for id, k := range c.Rooms.Knock {
			if k == nil {
				k = &KnockedRoom{}
			}
			kc := *k
			kc.KnockState.Events = nonNil(kc.KnockState.Events)
			rooms.Knock[id] = &kc
		}
	}
	c.Rooms = &rooms
	c.Presence, c.AccountData, c.ToDevice = emptyBlock(c.Presence), emptyBlock(c.AccountData), emptyBlock(c.ToDevice)
	dl := DeviceLists{}
	if c.DeviceLists != nil {
		dl = *c.DeviceLists
	}
	if dl.Changed == nil {
		dl.Changed = []string{}
	}
	if dl.Left == nil {
		dl.Left = []string{}
	}
	c.DeviceLists = &dl
	return json.Marshal((*syncJSON)(&c))
}

// Empty reports whether the response carries nothing a client would
// act on, so a long-poll should keep waiting.
func (r *SyncResponse) Empty() bool {
	if r.Rooms != nil && (len(r.Rooms.Join)+len(r.Rooms.Invite)+len(r.Rooms.Leave)+len(r.Rooms.Knock) > 0) {
		return false
	}
	for _, b := range []*EventsBlock{r.Presence, r.AccountData, r.ToDevice} {
		if b != nil && len(b.Events) > 0 {
			return false
		}
	}
	if r.DeviceLists != nil && len(r.DeviceLists.Changed)+len(r.DeviceLists.Left) > 0 {
		return false
	}
	return true
}

func (c *call) sync() (any, error) {
	if err := need(c.s.Syncer != nil); err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	req := SyncRequest{Since: q.Get("since"), SetPresence: q.Get("set_presence")}
	switch req.SetPresence {
	case "":
		req.SetPresence = "online"
	case "online", "offline", "unavailable":
	default:
		return nil, InvalidParam("set_presence must be online, offline or unavailable")
	}
	if t := q.Get("timeout"); t != "" {
		ms, err := strconv.ParseInt(t, 10, 64)
		if err != nil || ms < 0 {
			return nil, InvalidParam("timeout must be a non-negative integer (milliseconds)")
		}
		req.Timeout = time.Duration(min(ms, int64(c.s.MaxSyncTimeout/time.Millisecond))) * time.Millisecond
	}
	var err error
	if req.FullState, err = boolParam(q.Get("full_state"), "full_state"); err != nil {
		return nil, err
	}
	if req.UseStateAfter, err = boolParam(q.Get("use_state_after"), "use_state_after"); err != nil {
		return nil, err
	}
	if f := q.Get("filter"); f != "" {
		if req.Filter, err = c.resolveFilter(f); err != nil {
			return nil, err
		}
	}
	resp, err := c.s.Syncer.Sync(c.ctx, c.who, req)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, errNilSync
	}
	// Long-poll: only an incremental sync waits, and not with full_state
	// (content/client-server-api/_index.md "Syncing": the server returns
	// at once when there is something, else waits up to timeout).
	if req.Since == "" || req.FullState || req.Timeout <= 0 || !resp.Empty() {
		return resp, nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, req.Timeout)
	defer cancel()
	since := req.Since
	for resp.Empty() {
		if resp.NextBatch != "" {
			since = resp.NextBatch
		}
		if err := c.s.Syncer.Wait(ctx, c.who, since); err != nil {
			if c.ctx.Err() != nil {
				// The client went away; nothing will read the answer.
				return nil, c.ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				// Timeout: an empty answer with a token that moves on.
				return resp, nil
			}
			return nil, err
		}
		r2 := req
		r2.Since = since
		next, err := c.s.Syncer.Sync(c.ctx, c.who, r2)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return nil, errNilSync
		}
		resp = next
	}
	return resp, nil
}

var errNilSync = errNoAnswer

func boolParam(v, name string) (bool, error) {
	switch v {
	case "":
		return false, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, InvalidParam(name + " must be true or false")
}

// resolveFilter takes a filter parameter: inline JSON (it starts with
// "{") or a filter ID of the user.
func (c *call) resolveFilter(f string) (json.RawMessage, error) {
	if strings.HasPrefix(f, "{") {
		if err := ValidateFilter([]byte(f)); err != nil {
			return nil, err
		}
		return json.RawMessage(f), nil
	}
	raw, err := c.s.filters.GetFilter(c.ctx, c.who.UserID, f)
	if err != nil {
		if e, ok := asError(err); ok && e.Code == CodeNotFound {
			return nil, InvalidParam("unknown filter " + quote(f))
		}
		return nil, err
	}
	return raw, nil
}
