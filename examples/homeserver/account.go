package main

import (
	"context"
	"database/sql"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
)

var _ clientapi.AccountManager = (*Client)(nil)

// deactivatedHash replaces the password hash of a deactivated account: it
// is no hash any password matches (checkPassword refuses its format).
const deactivatedHash = "!deactivated"

// ChangePassword implements clientapi.AccountManager: the new password
// hashed as any other; with logoutDevices every other access token and
// device of the user goes (the reference server also drops the pushers
// of those devices; this server's pushers are per user, and stay).
func (c *Client) ChangePassword(ctx context.Context, who clientapi.Identity, newPassword string, logoutDevices bool) error {
	h, err := hashPassword(newPassword)
	if err != nil {
		return err
	}
	return c.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE user_id = ?`, h, who.UserID); err != nil {
			return err
		}
		if !logoutDevices {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND token != ?`, who.UserID, who.AccessToken); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = ? AND device_id != ?`, who.UserID, who.DeviceID)
		return err
	})
}

// Deactivate implements clientapi.AccountManager: the user leaves every
// room (with a leave event, as the reference server parts them), the
// account keeps its row (so its ID is never registered again) without a
// usable password or any token, and with erase loses its profile.
func (c *Client) Deactivate(ctx context.Context, who clientapi.Identity, erase bool) error {
	rooms, err := c.JoinedRooms(ctx, who)
	if err != nil {
		return err
	}
	invited, err := c.db.query(ctx, `SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = ? AND membership IN ('invite', 'knock')`, who.UserID)
	if err != nil {
		return err
	}
	for invited.Next() {
		var id string
		if invited.Scan(&id) == nil {
			rooms = append(rooms, id)
		}
	}
	invited.Close()
	for _, roomID := range rooms {
		sk := who.UserID
		if _, err := c.rooms.Send(ctx, Local{RoomID: roomID, Sender: who.UserID, Type: event.TypeMember, StateKey: &sk,
			Content: memberContent("leave", "", "")}); err != nil {
			c.log.Warn("deactivation: leaving a room failed", "room", roomID, "user", who.UserID, "err", err)
		}
	}
	return c.db.Tx(ctx, func(tx *sql.Tx) error {
		stmts := []string{
			`UPDATE users SET password_hash = '` + deactivatedHash + `' WHERE user_id = ?`,
			`DELETE FROM tokens WHERE user_id = ?`,
			`DELETE FROM devices WHERE user_id = ?`,
			`DELETE FROM pushers WHERE user_id = ?`,
			`DELETE FROM remote_invites WHERE user_id = ?`,
		}
		if erase {
			stmts = append(stmts, `DELETE FROM profiles WHERE user_id = ?`)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q, who.UserID); err != nil {
				return err
			}
		}
		return nil
	})
}
