package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"
)

// The legacy synchronisation endpoints that clients still call
// (content/client-server-api/_index.md, "Syncing" and "Room previews";
// data/api/client-server/old_sync.yaml, peeking_events.yaml and
// room_initial_sync.yaml): GET /events, GET /events/{eventId}, GET
// /initialSync and GET /rooms/{roomId}/initialSync. They are built on
// the backends of /sync and /messages, so they need nothing new of the
// embedder except EventLocator for GET /events/{eventId}; history
// visibility is what those backends apply.

// EventLocator finds the room an event belongs to, for the legacy GET
// /events/{eventId}, whose path names no room. Optional: without it that
// endpoint answers 404 M_UNRECOGNIZED.
type EventLocator interface {
	// EventRoom returns the room of eventID; M_NOT_FOUND when the
	// server does not know the event.
	EventRoom(ctx context.Context, eventID string) (roomID string, err error)
}

// legacyPeekPoll is how often GET /events?room_id= looks for new events
// while it long-polls: pagination tokens are not sync tokens, so the
// Syncer's Wait cannot be asked.
const legacyPeekPoll = 250 * time.Millisecond

// legacyEventsLimit bounds the events of one answer of GET /events with
// room_id.
const legacyEventsLimit = 100

func (s *Server) legacySyncRoutes(add addFunc) {
	L := legacyPrefixes
	add(L, "GET", "/events", authRequired, (*call).legacyEvents)
	add(L, "GET", "/events/{eventId}", authRequired, (*call).legacyEvent)
	add(L, "GET", "/initialSync", authRequired, (*call).initialSync)
	add(L, "GET", "/rooms/{roomId}/initialSync", authRequired, (*call).roomInitialSync)
}

// LegacyEvents is the answer of GET /events.
type LegacyEvents struct {
	Start string    `json:"start"`
	End   string    `json:"end"`
	Chunk EventList `json:"chunk"`
}

// PaginationChunk is the messages object of the initial sync answers.
type PaginationChunk struct {
	Start string    `json:"start,omitempty"`
	End   string    `json:"end"`
	Chunk EventList `json:"chunk"`
}

// RoomInfo is one room of GET /initialSync, and the answer of GET
// /rooms/{roomId}/initialSync.
type RoomInfo struct {
	RoomID      string           `json:"room_id"`
	Membership  string           `json:"membership,omitempty"`
	Invite      json.RawMessage  `json:"invite,omitempty"`
	Messages    *PaginationChunk `json:"messages,omitempty"`
	State       EventList        `json:"state,omitempty"`
	Visibility  string           `json:"visibility,omitempty"`
	AccountData EventList        `json:"account_data,omitempty"`
	// Presence is sent by GET /rooms/{roomId}/initialSync only: the
	// presence of the room's joined members (the reference server sends
	// it; the OpenAPI file shows it in its example).
	Presence EventList `json:"presence,omitempty"`
}

// InitialSync is the answer of GET /initialSync.
type InitialSync struct {
	End         string     `json:"end"`
	Rooms       []RoomInfo `json:"rooms"`
	Presence    EventList  `json:"presence"`
	AccountData EventList  `json:"account_data"`
}

func (c *call) timeoutParam() (time.Duration, error) {
	t := c.r.URL.Query().Get("timeout")
	if t == "" {
		return 0, nil
	}
	ms, err := strconv.ParseInt(t, 10, 64)
	if err != nil || ms < 0 {
		return 0, InvalidParam("timeout must be a non-negative integer (milliseconds)")
	}
	return time.Duration(min(ms, int64(c.s.MaxSyncTimeout/time.Millisecond))) * time.Millisecond, nil
}

// legacyEvents is GET /events: the events after from, flattened across
// rooms, waiting up to timeout for one. With room_id it pages the one
// room forwards through RoomReader.Messages, which lets a user peek into
// a room whose history is world_readable.
func (c *call) legacyEvents() (any, error) {
	q := c.r.URL.Query()
	timeout, err := c.timeoutParam()
	if err != nil {
		return nil, err
	}
	if roomID := q.Get("room_id"); roomID != "" {
		if err := need(c.s.Reader != nil); err != nil {
			return nil, err
		}
		if err := ValidRoomID(roomID); err != nil {
			return nil, paramError(err)
		}
		return c.peekEvents(roomID, q.Get("from"), timeout)
	}
	if err := need(c.s.Syncer != nil); err != nil {
		return nil, err
	}
	from := q.Get("from")
	if from == "" {
		// The stream starts now: an initial sync that asks for no
		// history gives the current position.
		resp, err := c.s.Syncer.Sync(c.ctx, c.who, SyncRequest{Filter: json.RawMessage(`{"room":{"timeline":{"limit":0},"state":{"types":[]},"ephemeral":{"types":[]},"account_data":{"types":[]}},"presence":{"types":[]},"account_data":{"types":[]}}`), SetPresence: "online"})
		if err != nil {
			return nil, err
		}
		if resp == nil {
			return nil, errNilSync
		}
		from = resp.NextBatch
	}
	req := SyncRequest{Since: from, SetPresence: "online"}
	resp, err := c.s.Syncer.Sync(c.ctx, c.who, req)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, errNilSync
	}
	out := &LegacyEvents{Start: from, End: resp.NextBatch, Chunk: flattenSync(resp)}
	if timeout <= 0 || len(out.Chunk) > 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	for len(out.Chunk) == 0 {
		if err := c.s.Syncer.Wait(ctx, c.who, out.End); err != nil {
			if c.ctx.Err() != nil {
				return nil, c.ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				return out, nil
			}
			return nil, err
		}
		req.Since = out.End
		next, err := c.s.Syncer.Sync(c.ctx, c.who, req)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return nil, errNilSync
		}
		out.End, out.Chunk = next.NextBatch, flattenSync(next)
	}
	return out, nil
}

// peekEvents is GET /events?room_id=: the room's events after from.
func (c *call) peekEvents(roomID, from string, timeout time.Duration) (any, error) {
	if from == "" {
		// Now: the token before the latest event, paging backwards.
		resp, err := c.s.Reader.Messages(c.ctx, c.who, MessagesRequest{RoomID: roomID, Dir: "b", Limit: 1})
		if err != nil {
			return nil, err
		}
		if resp == nil {
			return nil, errNoAnswer
		}
		from = resp.Start
	}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.s.Reader.Messages(c.ctx, c.who, MessagesRequest{RoomID: roomID, From: from, Dir: "f", Limit: legacyEventsLimit})
		if err != nil {
			return nil, err
		}
		if resp == nil {
			return nil, errNoAnswer
		}
		out := &LegacyEvents{Start: from, End: resp.End, Chunk: withRoomID(resp.Chunk, roomID)}
		if out.End == "" {
			out.End = from
		}
		if len(out.Chunk) > 0 || !time.Now().Before(deadline) {
			return out, nil
		}
		select {
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		case <-time.After(min(legacyPeekPoll, time.Until(deadline))):
		}
	}
}

// flattenSync lists what a sync answer carries as the legacy stream
// does: each room's timeline and ephemeral events (given their room_id,
// which /sync leaves out), then presence.
func flattenSync(r *SyncResponse) EventList {
	out := EventList{}
	if r.Rooms != nil {
		for _, id := range sortedKeys(r.Rooms.Join) {
			jr := r.Rooms.Join[id]
			if jr.Timeline != nil {
				out = append(out, withRoomID(jr.Timeline.Events, id)...)
			}
			if jr.Ephemeral != nil {
				out = append(out, withRoomID(jr.Ephemeral.Events, id)...)
			}
		}
		for _, id := range sortedKeys(r.Rooms.Leave) {
			if lr := r.Rooms.Leave[id]; lr.Timeline != nil {
				out = append(out, withRoomID(lr.Timeline.Events, id)...)
			}
		}
	}
	if r.Presence != nil {
		out = append(out, r.Presence.Events...)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// withRoomID returns the events with room_id set (the legacy endpoints
// answer with ClientEvent, in which room_id is required).
func withRoomID(evs EventList, roomID string) EventList {
	out := make(EventList, 0, len(evs))
	for _, ev := range evs {
		var m map[string]json.RawMessage
		if json.Unmarshal(ev, &m) != nil || m == nil {
			continue
		}
		if _, ok := m["room_id"]; ok {
			out = append(out, ev)
			continue
		}
		m["room_id"], _ = json.Marshal(roomID)
		b, err := json.Marshal(m)
		if err != nil {
			continue
		}
		out = append(out, b)
	}
	return out
}

// legacyEvent is GET /events/{eventId}: RoomReader.Event of the room
// EventLocator names, so the same visibility rules apply.
func (c *call) legacyEvent() (any, error) {
	if err := need(c.s.Reader != nil && c.s.EventRooms != nil); err != nil {
		return nil, err
	}
	eventID, err := c.eventIDParam("eventId")
	if err != nil {
		return nil, err
	}
	roomID, err := c.s.EventRooms.EventRoom(c.ctx, eventID)
	if err != nil {
		return nil, err
	}
	ev, err := c.s.Reader.Event(c.ctx, c.who, roomID, eventID)
	if err != nil {
		return nil, err
	}
	return rawResponse(ev), nil
}

// initialSync is GET /initialSync: an initial /sync reshaped, each
// room's state being its current state (the state before the timeline
// with the timeline's state events applied).
func (c *call) initialSync() (any, error) {
	if err := need(c.s.Syncer != nil); err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	archived, err := boolParam(q.Get("archived"), "archived")
	if err != nil {
		return nil, err
	}
	filter := map[string]any{"include_leave": archived}
	if q.Get("limit") != "" {
		limit, err := c.limit(10, 1000)
		if err != nil {
			return nil, err
		}
		filter["timeline"] = map[string]any{"limit": limit}
	}
	fb, _ := json.Marshal(map[string]any{"room": filter})
	resp, err := c.s.Syncer.Sync(c.ctx, c.who, SyncRequest{Filter: fb, SetPresence: "online"})
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, errNilSync
	}
	out := &InitialSync{End: resp.NextBatch, Rooms: []RoomInfo{}, Presence: EventList{}, AccountData: EventList{}}
	if resp.Presence != nil {
		out.Presence = nonNil(resp.Presence.Events)
	}
	if resp.AccountData != nil {
		out.AccountData = nonNil(resp.AccountData.Events)
	}
	if resp.Rooms == nil {
		return out, nil
	}
	for _, id := range sortedKeys(resp.Rooms.Join) {
		jr := resp.Rooms.Join[id]
		info := RoomInfo{RoomID: id, Membership: "join", Visibility: c.roomVisibility(id)}
		var state *EventsBlock
		if jr.StateAfter != nil {
			state = jr.StateAfter
		} else {
			state = jr.State
		}
		info.Messages, info.State = messagesAndState(jr.Timeline, state, id, resp.NextBatch, jr.StateAfter == nil)
		info.AccountData = EventList{}
		if jr.AccountData != nil {
			info.AccountData = nonNil(jr.AccountData.Events)
		}
		out.Rooms = append(out.Rooms, info)
	}
	for _, id := range sortedKeys(resp.Rooms.Invite) {
		ir := resp.Rooms.Invite[id]
		info := RoomInfo{RoomID: id, Membership: "invite", State: withRoomID(ir.InviteState.Events, id)}
		// The invite is the user's stripped m.room.member event: the
		// invitee cannot read the room, and stripped state is what the
		// server gives it.
		for _, ev := range info.State {
			var e struct {
				Type     string  `json:"type"`
				StateKey *string `json:"state_key"`
			}
			if json.Unmarshal(ev, &e) == nil && e.Type == "m.room.member" && e.StateKey != nil && *e.StateKey == c.who.UserID {
				info.Invite = ev
			}
		}
		out.Rooms = append(out.Rooms, info)
	}
	for _, id := range sortedKeys(resp.Rooms.Leave) {
		lr := resp.Rooms.Leave[id]
		info := RoomInfo{RoomID: id, Visibility: c.roomVisibility(id)}
		state := lr.State
		if lr.StateAfter != nil {
			state = lr.StateAfter
		}
		info.Messages, info.State = messagesAndState(lr.Timeline, state, id, resp.NextBatch, lr.StateAfter == nil)
		info.Membership = membershipOf(info.State, c.who.UserID)
		if info.Membership == "" {
			info.Membership = "leave"
		}
		info.AccountData = EventList{}
		if lr.AccountData != nil {
			info.AccountData = nonNil(lr.AccountData.Events)
		}
		out.Rooms = append(out.Rooms, info)
	}
	return out, nil
}

// messagesAndState builds a room's messages chunk and its current state
// from a sync timeline and state block (before the timeline when
// applyTimeline, else already the state after it).
func messagesAndState(t *Timeline, state *EventsBlock, roomID, end string, applyTimeline bool) (*PaginationChunk, EventList) {
	msgs := &PaginationChunk{End: end, Chunk: EventList{}}
	var cur EventList
	if state != nil {
		cur = withRoomID(state.Events, roomID)
	}
	if t != nil {
		msgs.Start = t.PrevBatch
		msgs.Chunk = withRoomID(t.Events, roomID)
		if applyTimeline {
			cur = append(cur, msgs.Chunk...)
		}
	}
	return msgs, currentState(cur)
}

// currentState keeps the last event of each (type, state_key) among the
// state events of evs, in the order they were first seen.
func currentState(evs EventList) EventList {
	type key struct{ typ, sk string }
	index := map[key]int{}
	out := EventList{}
	for _, ev := range evs {
		var e struct {
			Type     string  `json:"type"`
			StateKey *string `json:"state_key"`
		}
		if json.Unmarshal(ev, &e) != nil || e.StateKey == nil {
			continue
		}
		k := key{e.Type, *e.StateKey}
		if i, ok := index[k]; ok {
			out[i] = ev
			continue
		}
		index[k] = len(out)
		out = append(out, ev)
	}
	return out
}

// membershipOf is the membership of userID in state, "" when absent.
func membershipOf(state EventList, userID string) string {
	for _, ev := range state {
		var e struct {
			Type     string  `json:"type"`
			StateKey *string `json:"state_key"`
			Content  struct {
				Membership string `json:"membership"`
			} `json:"content"`
		}
		if json.Unmarshal(ev, &e) == nil && e.Type == "m.room.member" && e.StateKey != nil && *e.StateKey == userID {
			return e.Content.Membership
		}
	}
	return ""
}

// roomVisibility is "public" for a room of the published room directory,
// "private" otherwise, "" when the server has no directory.
func (c *call) roomVisibility(roomID string) string {
	if c.s.PublishedRooms == nil {
		return ""
	}
	if public, err := c.s.PublishedRooms.Visibility(c.ctx, roomID); err == nil && public {
		return "public"
	}
	return "private"
}

// roomInitialSync is GET /rooms/{roomId}/initialSync: the room's current
// state and latest messages, for a member or a user peeking into a
// world_readable room (RoomReader applies history visibility).
func (c *call) roomInitialSync() (any, error) {
	roomID, err := c.room(c.s.Reader != nil)
	if err != nil {
		return nil, err
	}
	limit, err := c.limit(10, 1000)
	if err != nil {
		return nil, err
	}
	state, err := c.s.Reader.State(c.ctx, c.who, roomID, nil)
	if err != nil {
		return nil, err
	}
	page, err := c.s.Reader.Messages(c.ctx, c.who, MessagesRequest{RoomID: roomID, Dir: "b", Limit: limit})
	if err != nil {
		return nil, err
	}
	if page == nil {
		return nil, errNoAnswer
	}
	chunk := withRoomID(page.Chunk, roomID)
	slices.Reverse(chunk)
	info := &RoomInfo{RoomID: roomID, State: withRoomID(state, roomID), Visibility: c.roomVisibility(roomID),
		// Paging backwards, End is the earlier token and Start the
		// later one.
		Messages:    &PaginationChunk{Start: page.End, End: page.Start, Chunk: chunk},
		AccountData: EventList{}, Presence: EventList{}}
	if info.State == nil {
		info.State = EventList{}
	}
	info.Membership = membershipOf(info.State, c.who.UserID)
	if c.s.AccountData != nil {
		for _, typ := range []string{"m.tag", "m.fully_read"} {
			content, err := c.s.AccountData.AccountData(c.ctx, c.who.UserID, roomID, typ)
			if err != nil {
				continue
			}
			b, _ := json.Marshal(map[string]any{"type": typ, "content": content})
			info.AccountData = append(info.AccountData, b)
		}
	}
	if c.s.Presence != nil {
		for _, userID := range joinedMembers(info.State) {
			p, err := c.s.Presence.Presence(c.ctx, userID)
			if err != nil || p == nil {
				continue
			}
			content := map[string]any{"presence": p.Presence, "user_id": userID}
			if p.StatusMsg != "" {
				content["status_msg"] = p.StatusMsg
			}
			if p.LastActiveAgo > 0 {
				content["last_active_ago"] = p.LastActiveAgo
			}
			if p.CurrentlyActive != nil {
				content["currently_active"] = *p.CurrentlyActive
			}
			b, _ := json.Marshal(map[string]any{"type": "m.presence", "sender": userID, "content": content})
			info.Presence = append(info.Presence, b)
		}
	}
	return info, nil
}

// maxPresenceMembers bounds the presence lookups of a room initial sync.
const maxPresenceMembers = 100

func joinedMembers(state EventList) []string {
	var out []string
	for _, ev := range state {
		var e struct {
			Type     string  `json:"type"`
			StateKey *string `json:"state_key"`
			Content  struct {
				Membership string `json:"membership"`
			} `json:"content"`
		}
		if json.Unmarshal(ev, &e) == nil && e.Type == "m.room.member" && e.StateKey != nil && e.Content.Membership == "join" {
			out = append(out, *e.StateKey)
			if len(out) == maxPresenceMembers {
				break
			}
		}
	}
	return out
}
