package clientapi

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
)

// Spaces answers GET /_matrix/client/v1/rooms/{roomId}/hierarchy
// (content/client-server-api/modules/spaces.md, "Spaces";
// data/api/client-server/space_hierarchy.yaml). Optional: without it the
// endpoint answers 404 M_UNRECOGNIZED.
type Spaces interface {
	Hierarchy(ctx context.Context, who Identity, roomID string, req HierarchyRequest) (*HierarchyResponse, error)
}

// HierarchyRequest is the query of the hierarchy endpoint, checked, with
// the defaults and caps applied.
type HierarchyRequest struct {
	SuggestedOnly bool
	Limit         int
	MaxDepth      int
	From          string
}

// Hierarchy limits: the spec asks servers for defaults and caps.
const (
	DefaultHierarchyLimit = 50
	MaxHierarchyLimit     = 100
	DefaultHierarchyDepth = 10
	MaxHierarchyDepth     = 20
)

// HierarchyResponse is a page of the space tree.
type HierarchyResponse struct {
	Rooms     []HierarchyRoom `json:"rooms"`
	NextBatch string          `json:"next_batch,omitempty"`
}

// HierarchyRoom is one room of the tree: its published rooms chunk, the
// space's m.space.child events (stripped, with origin_server_ts), and
// more.
type HierarchyRoom struct {
	PublicRoom
	ChildrenState  []json.RawMessage `json:"children_state"`
	AllowedRoomIDs []string          `json:"allowed_room_ids,omitempty"`
	Encryption     string            `json:"encryption,omitempty"`
	RoomVersion    string            `json:"room_version,omitempty"`
}

// SpaceChild is one m.space.child state event of a space.
type SpaceChild struct {
	RoomID         string   // the state key
	Via            []string // content.via
	Order          string   // content.order, "" when absent or invalid
	Suggested      bool     // content.suggested
	OriginServerTS int64
}

// ParseSpaceChild reads an m.space.child event's state key, content and
// timestamp. ok is false when the child is not part of the space: via
// absent, not an array of strings, or empty ("When not present or
// invalid, the child room is not considered to be part of the space"), or
// a state key that is not a room ID. An invalid order is dropped, as the
// event schema says.
func ParseSpaceChild(stateKey string, content json.RawMessage, ts int64) (SpaceChild, bool) {
	if ValidRoomID(stateKey) != nil {
		return SpaceChild{}, false
	}
	var c struct {
		Via       json.RawMessage `json:"via"`
		Order     json.RawMessage `json:"order"`
		Suggested json.RawMessage `json:"suggested"`
	}
	if json.Unmarshal(content, &c) != nil {
		return SpaceChild{}, false
	}
	var via []string
	if json.Unmarshal(c.Via, &via) != nil || len(via) == 0 {
		return SpaceChild{}, false
	}
	ch := SpaceChild{RoomID: stateKey, Via: via, OriginServerTS: ts}
	var order string
	if json.Unmarshal(c.Order, &order) == nil && validOrder(order) {
		ch.Order = order
	}
	json.Unmarshal(c.Suggested, &ch.Suggested)
	return ch, true
}

// validOrder: 1 to 50 characters, each from \x20 to \x7E.
func validOrder(s string) bool {
	if len(s) == 0 || len(s) > 50 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// OrderSpaceChildren sorts children as "Ordering of children within a
// space" says: those with an order first, by order (byte-wise, which for
// these ASCII strings is by code point), then the others; ties by
// origin_server_ts, then by room ID.
func OrderSpaceChildren(children []SpaceChild) {
	slices.SortStableFunc(children, func(a, b SpaceChild) int {
		switch {
		case a.Order != "" && b.Order == "":
			return -1
		case a.Order == "" && b.Order != "":
			return 1
		}
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.OriginServerTS, b.OriginServerTS), cmp.Compare(a.RoomID, b.RoomID))
	})
}

func (c *call) spaceHierarchy() (any, error) {
	roomID, err := c.room(c.s.Spaces != nil)
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	req := HierarchyRequest{Limit: DefaultHierarchyLimit, MaxDepth: DefaultHierarchyDepth, From: q.Get("from")}
	switch q.Get("suggested_only") {
	case "", "false":
	case "true":
		req.SuggestedOnly = true
	default:
		return nil, InvalidParam("suggested_only must be true or false")
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return nil, InvalidParam("limit must be an integer greater than zero")
		}
		req.Limit = min(n, MaxHierarchyLimit)
	}
	if d := q.Get("max_depth"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return nil, InvalidParam("max_depth must be a non-negative integer")
		}
		req.MaxDepth = min(n, MaxHierarchyDepth)
	}
	resp, err := c.s.Spaces.Hierarchy(c.ctx, c.who, roomID, req)
	if err != nil {
		return nil, err
	}
	if resp.Rooms == nil {
		resp.Rooms = []HierarchyRoom{}
	}
	for i := range resp.Rooms {
		if resp.Rooms[i].ChildrenState == nil {
			resp.Rooms[i].ChildrenState = []json.RawMessage{}
		}
	}
	return resp, nil
}
