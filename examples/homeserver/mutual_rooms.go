package main

import (
	"context"

	"github.com/mxkit/mxkit/clientapi"
)

var _ clientapi.MutualRooms = (*Client)(nil)

// MutualRooms implements clientapi.MutualRooms from the current state.
func (c *Client) MutualRooms(ctx context.Context, who clientapi.Identity, userID string) ([]string, error) {
	rows, err := c.db.query(ctx, `SELECT a.room_id FROM current_state a JOIN current_state b ON a.room_id = b.room_id
		WHERE a.type = 'm.room.member' AND a.state_key = ? AND a.membership = 'join'
		AND b.type = 'm.room.member' AND b.state_key = ? AND b.membership = 'join' ORDER BY a.room_id`, who.UserID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
