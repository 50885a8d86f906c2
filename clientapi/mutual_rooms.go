package clientapi

import (
	"context"
	"strconv"
)

// MutualRooms lists the rooms two users are both joined to: GET
// /_matrix/client/v1/mutual_rooms (v1.19; data/api/client-server/
// mutual_rooms.yaml). Optional: without it the endpoint answers 404
// M_UNRECOGNIZED.
type MutualRooms interface {
	// MutualRooms returns the rooms who and userID are both joined to,
	// sorted; none for a user that does not exist.
	MutualRooms(ctx context.Context, who Identity, userID string) ([]string, error)
}

// MutualRoomsPage is how many rooms one answer lists.
const MutualRoomsPage = 100

func (c *call) mutualRooms() (any, error) {
	if err := need(c.s.MutualRooms != nil); err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	userID := q.Get("user_id")
	if userID == "" {
		return nil, MissingParam("user_id is required")
	}
	if err := ValidUserID(userID, false); err != nil || userID == c.who.UserID {
		return nil, InvalidParam("user_id must be another user's ID")
	}
	offset := 0
	if f := q.Get("from"); f != "" {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, InvalidParam("invalid from token")
		}
		offset = n
	}
	rooms, err := c.s.MutualRooms.MutualRooms(c.ctx, c.who, userID)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"count": len(rooms), "joined": []string{}}
	if offset < len(rooms) {
		end := min(offset+MutualRoomsPage, len(rooms))
		out["joined"] = rooms[offset:end]
		if end < len(rooms) {
			out["next_batch"] = strconv.Itoa(end)
		}
	}
	return out, nil
}
