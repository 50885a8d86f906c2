package main

import (
	"context"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/examples/homeserver/internal/dbutil"
)

var _ clientapi.MutualRooms = (*Client)(nil)

// MutualRooms implements clientapi.MutualRooms from the current state.
func (c *Client) MutualRooms(ctx context.Context, who clientapi.Identity, userID string) ([]string, error) {
	return dbutil.Strings(c.db.query(ctx, `SELECT a.room_id FROM current_state a JOIN current_state b ON a.room_id = b.room_id
		WHERE a.type = 'm.room.member' AND a.state_key = ? AND a.membership = 'join'
		AND b.type = 'm.room.member' AND b.state_key = ? AND b.membership = 'join' ORDER BY a.room_id`, who.UserID, userID))
}
