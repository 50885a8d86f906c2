package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

// Invites to rooms this server is not in end without the room's events
// reaching this server: the invitee rejects (a leave sent through
// make_leave/send_leave, or made here when no server of the room answers)
// or the inviter withdraws (the kick the inviting server sends to the
// invitee's server). The invitee's sync must still see the room go to its
// "leave" section (content/client-server-api/_index.md, "Syncing": rooms
// the user left), so the leave is kept in ended_invites, in the stream of
// per-user data, like the invite was.

// endedInvitesSchema is added to the database on start (idempotent).
const endedInvitesSchema = `
CREATE TABLE IF NOT EXISTS ended_invites (
	room_id      TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	room_version TEXT NOT NULL,
	pdu          BLOB NOT NULL,
	stream       INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id)
);
CREATE INDEX IF NOT EXISTS ended_invites_user ON ended_invites (user_id, stream);
`

// endRemoteInvite replaces the user's invite to a remote room with the
// leave that ended it, in one transaction.
func (c *Client) endRemoteInvite(ctx context.Context, roomID, userID string, leave *event.Event) error {
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM remote_invites WHERE room_id = ? AND user_id = ?`, roomID, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM remote_knocks WHERE room_id = ? AND user_id = ?`, roomID, userID); err != nil {
			return err
		}
		if leave == nil {
			return nil
		}
		pos, err := nextPosition(ctx, tx, "account_data")
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO ended_invites (room_id, user_id, room_version, pdu, stream) VALUES (?, ?, ?, ?, ?)`,
			roomID, userID, leave.Version().ID, leave.JSON(), pos)
		return err
	})
	if err == nil {
		c.rooms.notify.bump(0)
	}
	return err
}

// remoteInvite is a stored invite to a room this server is not in.
type remoteInvite struct {
	Event  *event.Event
	Origin string
}

// loadRemoteInvite returns the user's pending invite to a remote room,
// nil when there is none. Its room version is the one of the stripped
// create event sent with it ("1" when that says none, as for
// m.room.create).
func (c *Client) loadRemoteInvite(ctx context.Context, roomID, userID string) (*remoteInvite, error) {
	return c.loadRemoteMembership(ctx, "remote_invites", "invite", roomID, userID)
}

// loadRemoteMembership reads a pending invite or knock (table is
// remote_invites or remote_knocks; both keep the event, the stripped
// state sent with it and the origin) and parses the event in the room
// version the stripped state names.
func (c *Client) loadRemoteMembership(ctx context.Context, table, what, roomID, userID string) (*remoteInvite, error) {
	var raw, state []byte
	var origin string
	err := c.db.queryRow(ctx, `SELECT json, room_state, origin FROM `+table+` WHERE room_id = ? AND user_id = ?`, roomID, userID).Scan(&raw, &state, &origin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	v, err := strippedRoomVersion(state)
	if err != nil {
		return nil, err
	}
	ev, err := event.Parse(v, raw)
	if err != nil {
		return nil, fmt.Errorf("stored %s for %s: %w", what, roomID, err)
	}
	return &remoteInvite{Event: ev, Origin: origin}, nil
}

func strippedRoomVersion(state []byte) (roomversion.Version, error) {
	var evs []struct {
		Type    string `json:"type"`
		Content struct {
			RoomVersion *string `json:"room_version"`
		} `json:"content"`
	}
	if err := json.Unmarshal(state, &evs); err != nil {
		return roomversion.Version{}, err
	}
	for _, e := range evs {
		if e.Type != event.TypeCreate {
			continue
		}
		id := "1"
		if e.Content.RoomVersion != nil {
			id = *e.Content.RoomVersion
		}
		return roomversion.Get(id)
	}
	return roomversion.Version{}, errors.New("the invite's room state has no m.room.create event")
}

// outOfBandLeave makes the leave of a rejected invite when no server of
// the room answers make_leave (the room is empty, or its servers are
// down): an event of ours that follows the invite, known only to this
// server, as the reference server makes it. It tells the user's clients
// the invite is gone.
func (f *fedParts) outOfBandLeave(ctx context.Context, roomID, userID string) (*event.Event, error) {
	inv, err := f.hs.cli.loadRemoteInvite(ctx, roomID, userID)
	if err == nil && inv == nil {
		inv, err = f.hs.cli.loadRemoteKnock(ctx, roomID, userID) // a knock withdrawn
	}
	if err != nil || inv == nil {
		return nil, err
	}
	b := event.Builder{Type: event.TypeMember, StateKey: &userID, Sender: userID, RoomID: roomID,
		Content: []byte(`{"membership":"leave"}`), PrevEvents: []*event.Event{inv.Event}, AuthEvents: []*event.Event{inv.Event}}
	return b.Build(inv.Event.Version(), f.hs.cfg.ServerName, f.hs.key)
}

// endedInvites adds to a sync the rooms whose remote invite ended after
// the token: each in "leave", with the leave as its timeline.
func (c *Client) endedInvites(ctx context.Context, userID string, from, to int64, skip func(roomID string) bool) (map[string]*event.Event, error) {
	rows, err := c.db.query(ctx, `SELECT room_id, room_version, pdu FROM ended_invites WHERE user_id = ? AND stream > ? AND stream <= ?`, userID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*event.Event{}
	for rows.Next() {
		var roomID, vid string
		var raw []byte
		if err := rows.Scan(&roomID, &vid, &raw); err != nil {
			return nil, err
		}
		if skip(roomID) {
			continue
		}
		v, err := roomversion.Get(vid)
		if err != nil {
			continue
		}
		ev, err := event.Parse(v, raw)
		if err != nil {
			c.log.Warn("unreadable ended invite", "room", roomID, "err", err)
			continue
		}
		out[roomID] = ev
	}
	return out, rows.Err()
}

// outsideRooms implements federation.OutsideRooms: the withdrawal of an
// invite to a room this server is not in (the inviting server sends the
// kick of the invitee to the invitee's server).
type outsideRooms struct{ hs *Homeserver }

// Version implements federation.OutsideRooms: rooms to which a local user
// holds an invite.
func (o outsideRooms) Version(ctx context.Context, roomID string) (roomversion.Version, bool) {
	var state []byte
	if err := o.hs.db.queryRow(ctx, `SELECT room_state FROM remote_invites WHERE room_id = ? UNION ALL SELECT room_state FROM remote_knocks WHERE room_id = ? LIMIT 1`, roomID, roomID).Scan(&state); err != nil {
		return roomversion.Version{}, false
	}
	v, err := strippedRoomVersion(state)
	return v, err == nil
}

// Take implements federation.OutsideRooms. Only the server that sent the
// invite may end it: it is the one server of the room this server has
// heard from.
func (o outsideRooms) Take(ctx context.Context, origin string, ev *event.Event) error {
	target, _ := ev.StateKey()
	var m struct {
		Membership string `json:"membership"`
	}
	if json.Unmarshal(ev.Content(), &m) != nil || (m.Membership != "leave" && m.Membership != "ban") {
		return errors.New("this server is not in the room")
	}
	inv, err := o.hs.cli.loadRemoteInvite(ctx, ev.RoomID(), target)
	if err == nil && inv == nil {
		// A knock refused by the room.
		inv, err = o.hs.cli.loadRemoteKnock(ctx, ev.RoomID(), target)
	}
	if err != nil {
		return err
	}
	if inv == nil || inv.Origin != origin {
		return errors.New("no invite or knock through " + origin + " for " + target + " in this room")
	}
	return o.hs.cli.endRemoteInvite(ctx, ev.RoomID(), target, ev)
}
