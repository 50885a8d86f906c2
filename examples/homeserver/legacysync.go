package main

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mxkit/mxkit/clientapi"
)

var _ clientapi.EventLocator = (*Client)(nil)

// EventRoom implements clientapi.EventLocator for the legacy GET
// /events/{eventId}; whether the user may see the event is decided by
// Event, as for /rooms/{roomId}/event/{eventId}.
func (c *Client) EventRoom(ctx context.Context, eventID string) (string, error) {
	var roomID string
	err := c.db.queryRow(ctx, `SELECT room_id FROM events WHERE event_id = ?`, eventID).Scan(&roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", clientapi.NotFound("event not found")
	}
	return roomID, err
}
