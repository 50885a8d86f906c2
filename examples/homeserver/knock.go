package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
)

// Knocking (content/client-server-api/_index.md "Knocking on rooms"; room
// versions 7 and later): a user asks to be invited. In a room this server
// is in, the knock is a local event; in another, it goes through
// make_knock/send_knock (federation.Server.Knock) and is kept in
// remote_knocks, with the stripped state the resident server gave, for the
// "knock" section of /sync until the room answers (an invite, or a leave
// that refuses it) or the user withdraws it.

// knockSchema is added to the database on start (idempotent).
const knockSchema = `
CREATE TABLE IF NOT EXISTS remote_knocks (
	room_id    TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	json       BLOB NOT NULL,
	room_state BLOB NOT NULL,
	origin     TEXT NOT NULL,
	stream     INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id)
);
`

// knock knocks on a room (by ID or alias) for the user.
func (c *Client) knock(ctx context.Context, who clientapi.Identity, roomIDOrAlias, reason string, via []string) (string, error) {
	roomID := roomIDOrAlias
	if strings.HasPrefix(roomID, "#") {
		id, servers, err := c.ResolveAlias(ctx, roomID)
		if err != nil {
			return "", err
		}
		roomID, via = id, append(via, servers...)
	}
	if _, err := c.rooms.Version(roomID); err == nil && c.rooms.hasLocalJoined(ctx, roomID, c.name) {
		sk := who.UserID
		_, err := c.rooms.Send(ctx, Local{RoomID: roomID, Sender: who.UserID, Type: event.TypeMember, StateKey: &sk,
			Content: memberContent("knock", reason, c.displayName(ctx, who.UserID))})
		return roomID, mapErr(err)
	}
	if c.fed == nil {
		return "", clientapi.NotFound("unknown room " + roomID)
	}
	if len(via) == 0 {
		if s := serverOf(roomID); s != "" && s != c.name {
			via = []string{s}
		}
	}
	if len(via) == 0 {
		return "", clientapi.NotFound("no server to knock through for " + roomID)
	}
	ev, state, err := c.fed.server.Knock(ctx, via, roomID, who.UserID, reason)
	if err != nil {
		c.log.Warn("remote knock failed", "room", roomID, "via", via, "err", err)
		var me *federation.Error
		if errors.As(err, &me) {
			return "", me
		}
		return "", clientapi.NewError(http.StatusBadGateway, "M_UNKNOWN", "knocking through "+strings.Join(via, ", ")+" failed")
	}
	stripped := make([]json.RawMessage, 0, len(state))
	for _, s := range state {
		stripped = append(stripped, s.JSON())
	}
	raw, _ := json.Marshal(stripped)
	err = c.db.Tx(ctx, func(tx *sql.Tx) error {
		pos, err := nextPosition(ctx, tx, "account_data")
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO remote_knocks (room_id, user_id, json, room_state, origin, stream) VALUES (?, ?, ?, ?, ?, ?)`,
			roomID, who.UserID, ev.JSON(), raw, serverOf(ev.Sender()), pos)
		return err
	})
	if err == nil {
		c.rooms.notify.bump(0)
	}
	return roomID, err
}

// remoteKnockOrigin returns the server through which the user knocked on
// a room this server is not in, "" if none.
func (c *Client) remoteKnockOrigin(ctx context.Context, roomID, userID string) string {
	var origin string
	c.db.queryRow(ctx, `SELECT origin FROM remote_knocks WHERE room_id = ? AND user_id = ?`, roomID, userID).Scan(&origin)
	return origin
}

// dropRemoteKnock forgets a knock once the room answered it (an invite or
// a join).
func (c *Client) dropRemoteKnock(ctx context.Context, roomID, userID string) {
	c.db.w.ExecContext(ctx, `DELETE FROM remote_knocks WHERE room_id = ? AND user_id = ?`, roomID, userID)
}

// remoteKnocks lists, for /sync, the knocks on remote rooms made after the
// position from (and up to to).
func (c *Client) remoteKnocks(ctx context.Context, userID string, from, to int64) (map[string][]json.RawMessage, error) {
	rows, err := c.db.query(ctx, `SELECT room_id, json, room_state FROM remote_knocks WHERE user_id = ? AND stream > ? AND stream <= ?`, userID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]json.RawMessage{}
	for rows.Next() {
		var roomID string
		var raw, state []byte
		if err := rows.Scan(&roomID, &raw, &state); err != nil {
			return nil, err
		}
		st, err := strippedInvite(raw, state)
		if err != nil {
			c.log.Warn("unreadable remote knock", "room", roomID, "err", err)
			continue
		}
		out[roomID] = st
	}
	return out, rows.Err()
}

// loadRemoteKnock returns the user's pending knock on a remote room as a
// remote invite would be (the version is read from the stripped create
// event), nil when there is none.
func (c *Client) loadRemoteKnock(ctx context.Context, roomID, userID string) (*remoteInvite, error) {
	return c.loadRemoteMembership(ctx, "remote_knocks", "knock", roomID, userID)
}
