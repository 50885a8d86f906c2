package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
)

// syncPos is a sync token: the last event stream position and the last
// account data position the client has seen, written "s<events>_<account data>".
type syncPos struct{ ev, ad int64 }

func (p syncPos) String() string { return fmt.Sprintf("s%d_%d", p.ev, p.ad) }

func parseSyncPos(tok string) (syncPos, error) {
	if tok == "" {
		return syncPos{}, nil
	}
	a, b, ok := strings.Cut(strings.TrimPrefix(tok, "s"), "_")
	ev, err1 := strconv.ParseInt(a, 10, 64)
	ad, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || ev < 0 || ad < 0 {
		return syncPos{}, clientapi.InvalidParam("malformed since token")
	}
	return syncPos{ev, ad}, nil
}

func (c *Client) position(ctx context.Context) (syncPos, error) {
	var p syncPos
	var ev, ad sql.NullInt64
	if err := c.db.queryRow(ctx, `SELECT max(stream) FROM events`).Scan(&ev); err != nil {
		return p, err
	}
	if err := c.db.queryRow(ctx, `SELECT value FROM positions WHERE name = 'account_data'`).Scan(&ad); err != nil && err != sql.ErrNoRows {
		return p, err
	}
	return syncPos{ev.Int64, ad.Int64}, nil
}

// timelineLimit reads room.timeline.limit from a sync filter.
func timelineLimit(filter json.RawMessage) int {
	var f struct {
		Room struct {
			Timeline struct {
				Limit *int `json:"limit"`
			} `json:"timeline"`
		} `json:"room"`
	}
	if len(filter) > 0 && json.Unmarshal(filter, &f) == nil && f.Room.Timeline.Limit != nil && *f.Room.Timeline.Limit > 0 {
		return min(*f.Room.Timeline.Limit, 100)
	}
	return 20
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
	now, err := c.position(ctx)
	if err != nil {
		return nil, err
	}
	initial := req.Since == "" || req.FullState
	limit := timelineLimit(req.Filter)
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
		switch ri.membership {
		case "join":
			from := since.ev
			newlyJoined := ri.changedAt != 0
			if initial || newlyJoined {
				from = 0
			}
			tl, more, err := c.timeline(ctx, roomID, from, now.ev, limit, true)
			if err != nil {
				return nil, err
			}
			if len(tl) == 0 && !initial && !newlyJoined {
				continue
			}
			jr := &clientapi.JoinedRoom{Timeline: &clientapi.Timeline{Limited: more}}
			inTimeline := map[string]bool{}
			for _, se := range tl {
				jr.Timeline.Events = append(jr.Timeline.Events, clientEvent(se, who.UserID, who.DeviceID))
				inTimeline[se.Event.ID()] = true
			}
			if len(tl) > 0 {
				jr.Timeline.PrevBatch = "s" + strconv.FormatInt(tl[0].Stream-1, 10)
			} else {
				jr.Timeline.PrevBatch = "s" + strconv.FormatInt(now.ev, 10)
			}
			if initial || newlyJoined || more {
				st, err := c.rooms.CurrentState(ctx, roomID)
				if err != nil {
					return nil, err
				}
				evs, err := c.stateEvents(ctx, st, inTimeline, who)
				if err != nil {
					return nil, err
				}
				jr.State = &clientapi.EventsBlock{Events: evs}
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
		case "leave", "ban":
			if initial || ri.changedAt == 0 {
				continue
			}
			tl, more, err := c.timeline(ctx, roomID, since.ev, ri.changedAt, limit, true)
			if err != nil {
				return nil, err
			}
			lr := &clientapi.LeftRoom{Timeline: &clientapi.Timeline{Limited: more}}
			for _, se := range tl {
				lr.Timeline.Events = append(lr.Timeline.Events, clientEvent(se, who.UserID, who.DeviceID))
			}
			if len(tl) > 0 {
				lr.Timeline.PrevBatch = "s" + strconv.FormatInt(tl[0].Stream-1, 10)
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
	if sr.Join != nil || sr.Invite != nil || sr.Leave != nil {
		resp.Rooms = sr
	}
	c.log.Debug("sync", "user", who.UserID, "since", req.Since, "next", resp.NextBatch, "join", len(sr.Join), "invite", len(sr.Invite), "leave", len(sr.Leave))

	// Account data, global and per joined room.
	adSince := since.ad
	if initial {
		adSince = 0
	}
	rows, err = c.db.query(ctx, `SELECT room_id, type, content FROM account_data WHERE user_id = ? AND stream > ? AND stream <= ? ORDER BY stream`, who.UserID, adSince, now.ad)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var roomID, typ string
		var content []byte
		if err := rows.Scan(&roomID, &typ, &content); err != nil {
			return nil, err
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
	return resp, rows.Err()
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
	if now.ev > pos.ev || now.ad > pos.ad {
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
