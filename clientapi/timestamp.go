package clientapi

import (
	"context"
	"strconv"
)

// Timestamps finds the event of a room closest to a time: GET
// /_matrix/client/v1/rooms/{roomId}/timestamp_to_event
// (data/api/client-server/rooms.yaml... "timestamp_to_event"). Optional:
// without it the endpoint answers 404 M_UNRECOGNIZED.
type Timestamps interface {
	// TimestampToEvent returns the event the user may see that is closest
	// to ts in direction dir ("f": at or after ts, "b": at or before);
	// a 404 *Error when there is none.
	TimestampToEvent(ctx context.Context, who Identity, roomID string, ts int64, dir string) (eventID string, originServerTS int64, err error)
}

func (c *call) timestampToEvent() (any, error) {
	roomID, err := c.room(c.s.Timestamps != nil)
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	if q.Get("ts") == "" {
		return nil, MissingParam("ts is required")
	}
	ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
	if err != nil || ts < 0 {
		return nil, InvalidParam("ts must be a timestamp in milliseconds")
	}
	dir := q.Get("dir")
	switch dir {
	case "":
		return nil, MissingParam("dir is required")
	case "f", "b":
	default:
		return nil, InvalidParam("dir must be f or b")
	}
	id, at, err := c.s.Timestamps.TimestampToEvent(c.ctx, c.who, roomID, ts, dir)
	if err != nil {
		return nil, err
	}
	return map[string]any{"event_id": id, "origin_server_ts": at}, nil
}
