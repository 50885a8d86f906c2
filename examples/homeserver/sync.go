package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/examples/homeserver/pushing"
)

// syncPos is a sync token: the last event stream position, the last
// position of the stored per-user data (account data, receipts, remote
// invites) and the typing notifications' version the client has seen,
// written "s<events>_<data>_<typing>". The typing version lives in memory
// and starts again at 0 with the process; a token from before a restart
// (a version above the current one) counts as changed.
type syncPos struct{ ev, ad, typ int64 }

func (p syncPos) String() string { return fmt.Sprintf("s%d_%d_%d", p.ev, p.ad, p.typ) }

func parseSyncPos(tok string) (syncPos, error) {
	if tok == "" {
		return syncPos{}, nil
	}
	parts := strings.Split(strings.TrimPrefix(tok, "s"), "_")
	if len(parts) < 2 || len(parts) > 3 {
		return syncPos{}, clientapi.InvalidParam("malformed since token")
	}
	var v [3]int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return syncPos{}, clientapi.InvalidParam("malformed since token")
		}
		v[i] = n
	}
	return syncPos{v[0], v[1], v[2]}, nil
}

func (c *Client) position(ctx context.Context) (syncPos, error) {
	var p syncPos
	var ev, ad sql.NullInt64
	if err := c.db.queryRow(ctx, `SELECT (SELECT max(stream) FROM events), (SELECT value FROM positions WHERE name = 'account_data')`).Scan(&ev, &ad); err != nil {
		return p, err
	}
	return syncPos{ev.Int64, ad.Int64, c.typing.current()}, nil
}

// joinedRoom is a joined room's part of a sync, nil when an incremental
// sync has nothing for it. first is a sync without a token or the room's
// first since it was joined.
func (c *Client) joinedRoom(ctx context.Context, who clientapi.Identity, roomID string, first bool, since, now syncPos, rf syncRoomFilter) (*clientapi.JoinedRoom, error) {
	from := since.ev
	if first {
		from = 0
	}
	tl, more, err := c.timeline(ctx, roomID, from, now.ev, rf.timelineLimit(), true)
	if err != nil {
		return nil, err
	}
	if tl, more, err = c.visibleTimeline(ctx, roomID, who.UserID, tl, more); err != nil {
		return nil, err
	}
	tl = slices.DeleteFunc(tl, func(se *StoredEvent) bool {
		return !rf.timeline.Matches(roomID, se.Event.Sender(), se.Event.Type(), se.Event.Content())
	})
	eph, err := c.ephemeral(ctx, who.UserID, roomID, since, now, first)
	if err != nil {
		return nil, err
	}
	if len(tl) == 0 && !first && len(eph) == 0 {
		return nil, nil
	}
	jr := &clientapi.JoinedRoom{Timeline: &clientapi.Timeline{Limited: more}}
	if err := c.unreadCounts(ctx, who, roomID, rf.timeline.UnreadThreadNotifications, jr); err != nil {
		return nil, err
	}
	if len(eph) > 0 {
		jr.Ephemeral = &clientapi.EventsBlock{Events: eph}
	}
	if jr.Timeline.Events, err = c.render(ctx, who, tl); err != nil {
		return nil, err
	}
	if len(tl) > 0 {
		jr.Timeline.PrevBatch = "s" + strconv.FormatInt(tl[0].Stream-1, 10)
	} else {
		jr.Timeline.PrevBatch = "s" + strconv.FormatInt(now.ev, 10)
	}
	block, ok, err := c.stateBlock(ctx, who, roomID, tl, first, more, since.ev, rf)
	if err != nil {
		return nil, err
	}
	if ok {
		jr.State = &clientapi.EventsBlock{Events: block}
	}
	return jr, nil
}

// unreadCounts fills unread_notifications: what the push rules notified
// and the user's read receipts leave unread; with threaded
// (unread_thread_notifications), the main timeline's there and each
// thread's in unread_thread_notifications.
func (c *Client) unreadCounts(ctx context.Context, who clientapi.Identity, roomID string, threaded bool, jr *clientapi.JoinedRoom) error {
	if c.push == nil {
		return nil
	}
	all, byThread, err := c.push.Counts(ctx, who.UserID, roomID)
	if err != nil {
		return err
	}
	jr.UnreadNotifications = &all
	if threaded {
		main := byThread[pushing.MainThread]
		jr.UnreadNotifications = &main
		delete(byThread, pushing.MainThread)
		if len(byThread) > 0 {
			jr.UnreadThreadNotifications = byThread
		}
	}
	return nil
}

// leftRoom is the part of a sync for a room the user left (or was banned
// from) at stream position leftAt: the timeline up to the leave, and in
// a sync without a token the state at the start of that timeline.
func (c *Client) leftRoom(ctx context.Context, who clientapi.Identity, roomID string, leftAt int64, initial bool, since syncPos, rf syncRoomFilter) (*clientapi.LeftRoom, error) {
	from := since.ev
	if initial {
		from = 0
	}
	tl, more, err := c.timeline(ctx, roomID, from, leftAt, rf.timelineLimit(), true)
	if err != nil {
		return nil, err
	}
	if tl, more, err = c.visibleTimeline(ctx, roomID, who.UserID, tl, more); err != nil {
		return nil, err
	}
	lr := &clientapi.LeftRoom{Timeline: &clientapi.Timeline{Limited: more}}
	if lr.Timeline.Events, err = c.render(ctx, who, tl); err != nil {
		return nil, err
	}
	if len(tl) == 0 {
		return lr, nil
	}
	lr.Timeline.PrevBatch = "s" + strconv.FormatInt(tl[0].Stream-1, 10)
	if initial {
		// The room is new to the client: the state at the start of its
		// timeline, as for a joined room.
		start, err := c.stateBefore(ctx, roomID, tl[0].Stream)
		if err != nil {
			return nil, err
		}
		evs, err := c.stateEvents(ctx, start, nil, who)
		if err != nil {
			return nil, err
		}
		lr.State = &clientapi.EventsBlock{Events: evs}
	}
	return lr, nil
}

// stateBlock is a joined room's state block: the state at the start of
// the timeline, all of it in the first sync of the room (first), else
// what changed since the token when the timeline is limited, else none.
// With the state filter's lazy_load_members ("Lazy-loading room
// members"), member events are limited to the timeline's senders (and
// the user, in a first sync) and those senders' are sent in every sync
// that has their events: without a record of what each device holds,
// they are sent again, which the spec allows whatever
// include_redundant_members says. ok is false when there is no block.
func (c *Client) stateBlock(ctx context.Context, who clientapi.Identity, roomID string, tl []*StoredEvent, first, limited bool, since int64, rf syncRoomFilter) (block []json.RawMessage, ok bool, err error) {
	lazy := rf.state.LazyLoadMembers
	if !first && !limited && !(lazy && len(tl) > 0) {
		return nil, false, nil
	}
	full, err := c.rooms.CurrentState(ctx, roomID)
	if len(tl) > 0 {
		full, err = c.stateBefore(ctx, roomID, tl[0].Stream)
	}
	if err != nil {
		return nil, false, err
	}
	st := full
	switch {
	case first:
	case limited:
		before, err := c.stateBefore(ctx, roomID, since+1)
		if err != nil {
			return nil, false, err
		}
		st = map[stateKey]string{}
		for k, id := range full {
			if before[k] != id {
				st[k] = id
			}
		}
	default:
		st = map[stateKey]string{}
	}
	if lazy {
		wanted := map[string]bool{}
		for _, se := range tl {
			wanted[se.Event.Sender()] = true
		}
		if first {
			wanted[who.UserID] = true
		}
		lazySt := map[stateKey]string{}
		for k, id := range st {
			if k.Type != event.TypeMember || wanted[k.StateKey] {
				lazySt[k] = id
			}
		}
		for u := range wanted {
			k := stateKey{Type: event.TypeMember, StateKey: u}
			if id := full[k]; id != "" {
				lazySt[k] = id
			}
		}
		st = lazySt
		if len(st) == 0 && !first && !limited {
			return nil, false, nil
		}
	}
	evs, err := c.stateEvents(ctx, st, nil, who)
	if err != nil {
		return nil, false, err
	}
	return rf.keepState(roomID, evs), true, nil
}

// syncRoomFilter is the room part of a sync filter ("Filtering"): which
// rooms, and the RoomEventFilters of their timeline and state.
type syncRoomFilter struct {
	room            *clientapi.RoomEventFilter // rooms and not_rooms only
	timeline, state *clientapi.RoomEventFilter
	// includeLeave is room.include_leave ("Include rooms that the user
	// has left in the sync", default false). Like the reference server,
	// it decides whether a sync without a token lists the rooms the user
	// left; an incremental sync lists a room left since its token either
	// way, since that leave is news.
	includeLeave bool
}

// timelineLimit is room.timeline.limit, 20 when unset, at most 100.
func (f syncRoomFilter) timelineLimit() int {
	if f.timeline.Limit > 0 {
		return min(f.timeline.Limit, 100)
	}
	return 20
}

func parseSyncRoomFilter(filter json.RawMessage) (syncRoomFilter, error) {
	var f struct {
		Room struct {
			Rooms        []string        `json:"rooms"`
			NotRooms     []string        `json:"not_rooms"`
			Timeline     json.RawMessage `json:"timeline"`
			State        json.RawMessage `json:"state"`
			IncludeLeave bool            `json:"include_leave"`
		} `json:"room"`
	}
	out := syncRoomFilter{room: &clientapi.RoomEventFilter{}}
	if len(filter) > 0 {
		if err := json.Unmarshal(filter, &f); err != nil {
			return out, clientapi.BadJSON("filter: " + err.Error())
		}
	}
	out.room.Rooms, out.room.NotRooms, out.includeLeave = f.Room.Rooms, f.Room.NotRooms, f.Room.IncludeLeave
	var err error
	if out.timeline, err = clientapi.ParseRoomEventFilter(f.Room.Timeline); err != nil {
		return out, err
	}
	out.state, err = clientapi.ParseRoomEventFilter(f.Room.State)
	return out, err
}

// keepState applies the state filter to a state block's events.
func (f syncRoomFilter) keepState(roomID string, evs []json.RawMessage) []json.RawMessage {
	return slices.DeleteFunc(evs, func(raw json.RawMessage) bool {
		var ev struct {
			Type    string          `json:"type"`
			Sender  string          `json:"sender"`
			Content json.RawMessage `json:"content"`
		}
		json.Unmarshal(raw, &ev)
		return !f.state.Matches(roomID, ev.Sender, ev.Type, ev.Content)
	})
}

// Sync implements clientapi.Syncer (content/client-server-api/_index.md,
// "Syncing"). The state block of a joined room is the room state at the
// end of the timeline without the timeline's own state events; clients
// apply it before the timeline.
func (c *Client) Sync(ctx context.Context, who clientapi.Identity, req clientapi.SyncRequest) (*clientapi.SyncResponse, error) {
	since, err := parseSyncPos(req.Since)
	if err != nil {
		return nil, err
	}
	if c.presence != nil {
		if err := c.presence.fromSync(ctx, who.UserID, req.SetPresence); err != nil {
			return nil, err
		}
	}
	now, err := c.position(ctx)
	if err != nil {
		return nil, err
	}
	if c.push != nil {
		// The unread counts below include the events up to now.
		c.push.WaitEvaluated(ctx, now.ev, 2*time.Second)
	}
	initial := req.Since == "" || req.FullState
	rf, err := parseSyncRoomFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	resp := &clientapi.SyncResponse{NextBatch: now.String()}

	// Rooms: where the user is now, and where the membership changed
	// since the token.
	type roomInfo struct {
		membership string
		changedAt  int64 // stream of the membership change after since, 0 if none
	}
	rooms := map[string]*roomInfo{}
	rows, err := c.db.query(ctx, `SELECT room_id, membership FROM current_state WHERE type = 'm.room.member' AND state_key = ?`, who.UserID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, m string
		if err := rows.Scan(&id, &m); err != nil {
			rows.Close()
			return nil, err
		}
		rooms[id] = &roomInfo{membership: m}
	}
	rows.Close()
	rows, err = c.db.query(ctx, `SELECT room_id, max(stream) FROM membership_log WHERE user_id = ? AND stream > ? AND stream <= ? GROUP BY room_id`, who.UserID, since.ev, now.ev)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var s int64
		if err := rows.Scan(&id, &s); err != nil {
			rows.Close()
			return nil, err
		}
		if ri := rooms[id]; ri != nil {
			ri.changedAt = s
		}
	}
	rows.Close()

	sr := &clientapi.SyncRooms{}
	for roomID, ri := range rooms {
		if !rf.room.Matches(roomID, "", "", nil) {
			continue // room.rooms and room.not_rooms
		}
		switch ri.membership {
		case "join":
			jr, err := c.joinedRoom(ctx, who, roomID, initial || ri.changedAt != 0, since, now, rf)
			if err != nil {
				return nil, err
			}
			if jr == nil {
				continue
			}
			if sr.Join == nil {
				sr.Join = map[string]*clientapi.JoinedRoom{}
			}
			sr.Join[roomID] = jr
		case "invite":
			if !initial && ri.changedAt == 0 {
				continue
			}
			inv, err := c.inviteState(ctx, roomID, who)
			if err != nil {
				return nil, err
			}
			if sr.Invite == nil {
				sr.Invite = map[string]*clientapi.InvitedRoom{}
			}
			sr.Invite[roomID] = &clientapi.InvitedRoom{InviteState: clientapi.EventsBlock{Events: inv}}
		case "knock":
			if !initial && ri.changedAt == 0 {
				continue
			}
			st, err := c.inviteState(ctx, roomID, who)
			if err != nil {
				return nil, err
			}
			if sr.Knock == nil {
				sr.Knock = map[string]*clientapi.KnockedRoom{}
			}
			sr.Knock[roomID] = &clientapi.KnockedRoom{KnockState: clientapi.EventsBlock{Events: st}}
		case "leave", "ban":
			if ri.changedAt == 0 || (initial && !rf.includeLeave) {
				continue
			}
			lr, err := c.leftRoom(ctx, who, roomID, ri.changedAt, initial, since, rf)
			if err != nil {
				return nil, err
			}
			if sr.Leave == nil {
				sr.Leave = map[string]*clientapi.LeftRoom{}
			}
			sr.Leave[roomID] = lr
		}
	}
	// Invites to rooms this server is not in.
	invSince := since.ad
	if initial {
		invSince = 0
	}
	rows, err = c.db.query(ctx, `SELECT room_id, json, room_state FROM remote_invites WHERE user_id = ? AND stream > ? AND stream <= ?`, who.UserID, invSince, now.ad)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var roomID string
		var raw, state []byte
		if err := rows.Scan(&roomID, &raw, &state); err != nil {
			rows.Close()
			return nil, err
		}
		if rooms[roomID] != nil {
			continue // the room is known here: its state says it all
		}
		inv, err := strippedInvite(raw, state)
		if err != nil {
			c.log.Warn("unreadable remote invite", "room", roomID, "err", err)
			continue
		}
		if sr.Invite == nil {
			sr.Invite = map[string]*clientapi.InvitedRoom{}
		}
		sr.Invite[roomID] = &clientapi.InvitedRoom{InviteState: clientapi.EventsBlock{Events: inv}}
	}
	rows.Close()
	// Knocks on rooms this server is not in.
	knocks, err := c.remoteKnocks(ctx, who.UserID, invSince, now.ad)
	if err != nil {
		return nil, err
	}
	for roomID, st := range knocks {
		if rooms[roomID] != nil || sr.Invite[roomID] != nil {
			continue
		}
		if sr.Knock == nil {
			sr.Knock = map[string]*clientapi.KnockedRoom{}
		}
		sr.Knock[roomID] = &clientapi.KnockedRoom{KnockState: clientapi.EventsBlock{Events: st}}
	}
	if !initial || rf.includeLeave {
		ended, err := c.endedInvites(ctx, who.UserID, invSince, now.ad, func(roomID string) bool { return rooms[roomID] != nil })
		if err != nil {
			return nil, err
		}
		for roomID, ev := range ended {
			if sr.Invite[roomID] != nil {
				continue // invited again since
			}
			if sr.Leave == nil {
				sr.Leave = map[string]*clientapi.LeftRoom{}
			}
			sr.Leave[roomID] = &clientapi.LeftRoom{Timeline: &clientapi.Timeline{
				Events: []json.RawMessage{clientEvent(&StoredEvent{Event: ev}, who.UserID, who.DeviceID)}}}
		}
	}
	if sr.Join != nil || sr.Invite != nil || sr.Leave != nil || sr.Knock != nil {
		resp.Rooms = sr
	}
	c.log.Debug("sync", "user", who.UserID, "since", req.Since, "next", resp.NextBatch, "join", len(sr.Join), "invite", len(sr.Invite), "leave", len(sr.Leave))

	if c.presence != nil {
		from := since.ad
		if initial {
			from = 0
		}
		evs, err := c.presence.events(ctx, who.UserID, from, now.ad)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			resp.Presence = &clientapi.EventsBlock{Events: evs}
		}
	}

	if c.e2ee != nil {
		if err := c.syncE2EE(ctx, who, req.Since != "", since, now, resp); err != nil {
			return nil, err
		}
	}

	adSince := since.ad
	if initial {
		adSince = 0
	}
	if err := c.syncAccountData(ctx, who, adSince, now.ad, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// syncAccountData adds the account data changed between the positions
// from and to: global, and per joined room in the response.
func (c *Client) syncAccountData(ctx context.Context, who clientapi.Identity, from, to int64, resp *clientapi.SyncResponse) error {
	rows, err := c.db.query(ctx, `SELECT room_id, type, content FROM account_data WHERE user_id = ? AND stream > ? AND stream <= ? ORDER BY stream`, who.UserID, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var roomID, typ string
		var content []byte
		if err := rows.Scan(&roomID, &typ, &content); err != nil {
			return err
		}
		b, _ := json.Marshal(map[string]any{"type": typ, "content": json.RawMessage(content)})
		if roomID == "" {
			if resp.AccountData == nil {
				resp.AccountData = &clientapi.EventsBlock{}
			}
			resp.AccountData.Events = append(resp.AccountData.Events, b)
		} else if resp.Rooms != nil && resp.Rooms.Join[roomID] != nil {
			jr := resp.Rooms.Join[roomID]
			if jr.AccountData == nil {
				jr.AccountData = &clientapi.EventsBlock{}
			}
			jr.AccountData.Events = append(jr.AccountData.Events, b)
		}
	}
	return rows.Err()
}

// inviteState is the stripped state shown with an invite
// (content/client-server-api/_index.md, "Stripped state").
func (c *Client) inviteState(ctx context.Context, roomID string, who clientapi.Identity) ([]json.RawMessage, error) {
	st, err := c.rooms.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	keys := []stateKey{{Type: event.TypeCreate}, {Type: "m.room.join_rules"}, {Type: "m.room.name"},
		{Type: "m.room.avatar"}, {Type: "m.room.canonical_alias"}, {Type: "m.room.encryption"},
		{Type: event.TypeMember, StateKey: who.UserID}}
	var ids []string
	for _, k := range keys {
		if id, ok := st[k]; ok {
			ids = append(ids, id)
		}
	}
	evs, err := c.rooms.load(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, id := range ids {
		se := evs[id]
		if se == nil {
			continue
		}
		k, _ := se.Event.StateKey()
		b, _ := json.Marshal(map[string]any{"type": se.Event.Type(), "state_key": k, "sender": se.Event.Sender(), "content": json.RawMessage(se.Event.Content())})
		out = append(out, b)
	}
	return out, nil
}

// Wait implements clientapi.Syncer: it returns when the stream has
// moved past since, or ctx ends.
func (c *Client) Wait(ctx context.Context, who clientapi.Identity, since string) error {
	ch := c.rooms.notify.wait()
	pos, err := parseSyncPos(since)
	if err != nil {
		return err
	}
	now, err := c.position(ctx)
	if err != nil {
		return err
	}
	if now.ev > pos.ev || now.ad > pos.ad || now.typ != pos.typ {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// strippedInvite renders a remote invite's room state and the invite
// itself as stripped state events.
func strippedInvite(invite, roomState []byte) ([]json.RawMessage, error) {
	var evs []json.RawMessage
	if err := json.Unmarshal(roomState, &evs); err != nil {
		return nil, err
	}
	evs = append(evs, invite)
	out := make([]json.RawMessage, 0, len(evs))
	for _, raw := range evs {
		var e struct {
			Type     string          `json:"type"`
			StateKey *string         `json:"state_key"`
			Sender   string          `json:"sender"`
			Content  json.RawMessage `json:"content"`
		}
		if json.Unmarshal(raw, &e) != nil || e.StateKey == nil {
			continue
		}
		b, _ := json.Marshal(map[string]any{"type": e.Type, "state_key": *e.StateKey, "sender": e.Sender, "content": e.Content})
		out = append(out, b)
	}
	return out, nil
}

// ephemeral returns a joined room's m.typing and m.receipt events for a
// sync: typing when it changed since the token (or always, for an initial
// sync), the receipts stored since the token.
func (c *Client) ephemeral(ctx context.Context, userID, roomID string, since, now syncPos, all bool) ([]json.RawMessage, error) {
	var out []json.RawMessage
	// A change after the position this answer's token carries (now) is
	// left to the next sync: told now as well, it would be told twice,
	// the second time after any later change had been told.
	if users, ver := c.typing.users(roomID); all || (ver > since.typ && ver <= now.typ) || since.typ > now.typ {
		if users == nil {
			users = []string{}
		}
		if all && len(users) == 0 {
			users = nil
		}
		if users != nil {
			b, _ := json.Marshal(map[string]any{"type": "m.typing", "content": map[string]any{"user_ids": users}})
			out = append(out, b)
		}
	}
	from := since.ad
	if all {
		from = 0
	}
	rows, err := c.db.query(ctx, `SELECT user_id, type, thread, event_id, ts FROM receipts WHERE room_id = ? AND stream > ? AND stream <= ?`, roomID, from, now.ad)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	content := map[string]map[string]map[string]map[string]any{} // event -> type -> user -> receipt
	for rows.Next() {
		var user, typ, thread, eventID string
		var ts int64
		if err := rows.Scan(&user, &typ, &thread, &eventID, &ts); err != nil {
			return nil, err
		}
		if typ == "m.read.private" && user != userID {
			continue // a private receipt is only for its owner
		}
		r := map[string]any{"ts": ts}
		if thread != "" {
			r["thread_id"] = thread
		}
		if content[eventID] == nil {
			content[eventID] = map[string]map[string]map[string]any{}
		}
		if content[eventID][typ] == nil {
			content[eventID][typ] = map[string]map[string]any{}
		}
		content[eventID][typ][user] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(content) > 0 {
		b, _ := json.Marshal(map[string]any{"type": "m.receipt", "content": content})
		out = append(out, b)
	}
	return out, nil
}

// visibleTimeline keeps the timeline events the user may see
// (historyFilter). A timeline that lost events is limited: the state block
// then brings the state they changed, and the client may paginate back.
func (c *Client) visibleTimeline(ctx context.Context, roomID, userID string, tl []*StoredEvent, more bool) ([]*StoredEvent, bool, error) {
	if len(tl) == 0 {
		return tl, more, nil
	}
	f, err := c.historyFilter(ctx, roomID, userID)
	if err != nil {
		return nil, false, err
	}
	seen, err := f.filter(ctx, tl)
	if err != nil {
		return nil, false, err
	}
	return seen, more || len(seen) < len(tl), nil
}

// stateBefore returns the room state before the event at stream: the
// state after the last event before it that has a state (outliers have
// none), empty before the room's first event.
func (c *Client) stateBefore(ctx context.Context, roomID string, stream int64) (map[stateKey]string, error) {
	var g int64
	err := c.db.queryRow(ctx, `SELECT state_after FROM events WHERE room_id = ? AND stream < ? AND state_after != 0 ORDER BY stream DESC LIMIT 1`, roomID, stream).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return map[stateKey]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return c.rooms.Group(ctx, g)
}

// syncE2EE fills the end-to-end encryption parts of a sync: the device's
// to-device messages (those of the previous answer acknowledged by this
// request's token), the users whose keys changed since the token, and the
// device's one-time key counts and unused fallback key types.
func (c *Client) syncE2EE(ctx context.Context, who clientapi.Identity, incremental bool, since, now syncPos, resp *clientapi.SyncResponse) error {
	msgs, err := c.e2ee.ToDeviceFor(ctx, who.UserID, who.DeviceID, since.ad, now.ad)
	if err != nil {
		return err
	}
	if len(msgs) > 0 {
		resp.ToDevice = &clientapi.EventsBlock{Events: msgs}
	}
	if incremental {
		changed, err := c.e2ee.Changed(ctx, who.UserID, since.ad, now.ad)
		if err != nil {
			return err
		}
		left, err := c.e2ee.Left(ctx, who.UserID, since.ev, now.ev)
		if err != nil {
			return err
		}
		if len(changed) > 0 || len(left) > 0 {
			resp.DeviceLists = &clientapi.DeviceLists{Changed: changed, Left: left}
		}
	}
	if resp.DeviceOneTimeKeysCount, err = c.e2ee.OneTimeKeyCounts(ctx, who.UserID, who.DeviceID); err != nil {
		return err
	}
	resp.DeviceUnusedFallbackKeyTypes, err = c.e2ee.UnusedFallbackKeyTypes(ctx, who.UserID, who.DeviceID)
	return err
}
