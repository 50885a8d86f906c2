package clientapi

import "context"

// Relations serves the relationships between events
// (content/client-server-api/_index.md "Forming relationships between
// events", modules/threading.md; data/api/client-server/relations.yaml and
// threads_list.yaml): GET /_matrix/client/v1/rooms/{roomId}/relations/
// {eventId}[/{relType}[/{eventType}]] and GET .../rooms/{roomId}/threads.
// Optional: without it the endpoints answer 404 M_UNRECOGNIZED. The
// aggregations of child events (unsigned["m.relations"]) are the
// backend's, in every event it serves.
type Relations interface {
	Relations(ctx context.Context, who Identity, req RelationsRequest) (*RelationsResponse, error)
	Threads(ctx context.Context, who Identity, req ThreadsRequest) (*ThreadsResponse, error)
}

// RelationsRequest is a relations query, checked.
type RelationsRequest struct {
	RoomID, EventID string
	// RelType and EventType narrow the children ("" for any).
	RelType, EventType string
	From, To           string
	Limit              int
	// Forward is dir=f (oldest first); the default is newest first.
	Forward bool
	// Recurse also returns children of children, up to the server's depth.
	Recurse bool
}

// RelationsResponse is a page of child events.
type RelationsResponse struct {
	Chunk          EventList `json:"chunk"`
	NextBatch      string    `json:"next_batch,omitempty"`
	PrevBatch      string    `json:"prev_batch,omitempty"`
	RecursionDepth *int      `json:"recursion_depth,omitempty"`
}

// ThreadsRequest is a threads query, checked.
type ThreadsRequest struct {
	RoomID string
	// Participated is include=participated (the default is all).
	Participated bool
	From         string
	Limit        int
}

// ThreadsResponse is a page of thread roots, the most recently active
// first.
type ThreadsResponse struct {
	Chunk     EventList `json:"chunk"`
	NextBatch string    `json:"next_batch,omitempty"`
}

// Relation limits: defaults and caps the spec asks servers to apply, and
// the recursion depth of recurse=true (the reference server's 3).
const (
	DefaultRelationsLimit = 5
	MaxRelationsLimit     = 100
	MaxRelationsDepth     = 3
	DefaultThreadsLimit   = 5
)

func (c *call) relations() (any, error) {
	roomID, err := c.room(c.s.Relations != nil)
	if err != nil {
		return nil, err
	}
	eventID, err := c.eventIDParam("eventId")
	if err != nil {
		return nil, err
	}
	req := RelationsRequest{RoomID: roomID, EventID: eventID, RelType: c.r.PathValue("relType"), EventType: c.r.PathValue("eventType")}
	if req.EventType != "" {
		if err := ValidEventType(req.EventType); err != nil {
			return nil, paramError(err)
		}
	}
	q := c.r.URL.Query()
	req.From, req.To = q.Get("from"), q.Get("to")
	if req.Limit, err = c.limit(DefaultRelationsLimit, MaxRelationsLimit); err != nil {
		return nil, err
	}
	switch q.Get("dir") {
	case "", "b":
	case "f":
		req.Forward = true
	default:
		return nil, InvalidParam("dir must be b or f")
	}
	switch q.Get("recurse") {
	case "", "false":
	case "true":
		req.Recurse = true
	default:
		return nil, InvalidParam("recurse must be true or false")
	}
	resp, err := c.s.Relations.Relations(c.ctx, c.who, req)
	if err != nil {
		return nil, err
	}
	resp.Chunk = nonNil(resp.Chunk)
	return resp, nil
}

func (c *call) threads() (any, error) {
	roomID, err := c.room(c.s.Relations != nil)
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	req := ThreadsRequest{RoomID: roomID, From: q.Get("from")}
	switch q.Get("include") {
	case "", "all":
	case "participated":
		req.Participated = true
	default:
		return nil, InvalidParam("include must be all or participated")
	}
	if req.Limit, err = c.limit(DefaultThreadsLimit, MaxRelationsLimit); err != nil {
		return nil, err
	}
	if req.Limit == 0 {
		req.Limit = DefaultThreadsLimit
	}
	resp, err := c.s.Relations.Threads(c.ctx, c.who, req)
	if err != nil {
		return nil, err
	}
	resp.Chunk = nonNil(resp.Chunk)
	return resp, nil
}
