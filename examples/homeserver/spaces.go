package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/federation"
)

// Spaces (content/client-server-api/modules/spaces.md): the hierarchy of a
// space walked depth-first through its m.space.child events, rooms this
// server is not in asked of the servers the child events name
// (GET /_matrix/federation/v1/hierarchy/{roomId}), and the same answered
// to other servers for our rooms.

var _ clientapi.Spaces = (*Client)(nil)

// maxHierarchyRooms bounds one walk.
const maxHierarchyRooms = 1000

// hierarchyNode is a room of the walk.
type hierarchyNode struct {
	room     clientapi.HierarchyRoom
	children []clientapi.SpaceChild
}

// Hierarchy implements clientapi.Spaces. The next_batch token is the
// offset into the walk with the options it was made with, which must not
// change between pages (400 M_INVALID_PARAM).
func (c *Client) Hierarchy(ctx context.Context, who clientapi.Identity, rootID string, req clientapi.HierarchyRequest) (*clientapi.HierarchyResponse, error) {
	opts := fmt.Sprintf("%t_%d", req.SuggestedOnly, req.MaxDepth)
	offset := 0
	if req.From != "" {
		o, rest, ok := strings.Cut(req.From, "_")
		n, err := strconv.Atoi(o)
		if !ok || err != nil || n < 0 {
			return nil, clientapi.InvalidParam("unknown from token")
		}
		if rest != opts {
			return nil, clientapi.InvalidParam("suggested_only and max_depth cannot change on paginated requests")
		}
		offset = n
	}
	root, ok, err := c.localHierarchyNode(ctx, who.UserID, "", rootID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, clientapi.Forbidden("you are not allowed to view this room")
	}
	remote := map[string]*hierarchyNode{} // children chunks other servers gave
	type item struct {
		node  *hierarchyNode
		depth int
	}
	var walk []clientapi.HierarchyRoom
	seen := map[string]bool{rootID: true}
	stack := []item{{root, 0}}
	for len(stack) > 0 && len(walk) < maxHierarchyRooms {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		walk = append(walk, it.node.room)
		if it.depth >= req.MaxDepth {
			continue
		}
		var next []item
		for _, ch := range it.node.children {
			if seen[ch.RoomID] || (req.SuggestedOnly && !ch.Suggested) {
				continue
			}
			n, err := c.hierarchyChild(ctx, who.UserID, ch, req.SuggestedOnly, remote)
			if err != nil {
				return nil, err
			}
			if n == nil {
				continue
			}
			seen[ch.RoomID] = true
			next = append(next, item{n, it.depth + 1})
		}
		for i := len(next) - 1; i >= 0; i-- { // depth-first, in child order
			stack = append(stack, next[i])
		}
	}
	out := &clientapi.HierarchyResponse{}
	if offset < len(walk) {
		end := min(offset+req.Limit, len(walk))
		out.Rooms = walk[offset:end]
		if end < len(walk) {
			out.NextBatch = strconv.Itoa(end) + "_" + opts
		}
	}
	return out, nil
}

// hierarchyChild gives a child room of the walk: ours, if this server is in
// it; else what another server told, from an earlier answer or by asking
// the servers of the child event. nil when it cannot be seen or had.
func (c *Client) hierarchyChild(ctx context.Context, userID string, ch clientapi.SpaceChild, suggestedOnly bool, remote map[string]*hierarchyNode) (*hierarchyNode, error) {
	if _, err := c.rooms.Version(ch.RoomID); err == nil {
		n, ok, err := c.localHierarchyNode(ctx, userID, "", ch.RoomID)
		if err != nil || !ok {
			return nil, err
		}
		return n, nil
	}
	if n := remote[ch.RoomID]; n != nil {
		return n, nil
	}
	if c.fed == nil {
		return nil, nil
	}
	for _, dest := range ch.Via {
		if dest == c.name || clientapi.ValidServerName(dest) != nil {
			continue
		}
		resp, err := c.fed.client.Hierarchy(ctx, dest, ch.RoomID, suggestedOnly)
		if err != nil {
			c.log.Debug("space hierarchy over federation", "room", ch.RoomID, "via", dest, "err", err)
			continue
		}
		for _, raw := range resp.Children {
			if n, ok := parseHierarchyRoom(raw); ok && remote[n.room.RoomID] == nil {
				remote[n.room.RoomID] = n
			}
		}
		if n, ok := parseHierarchyRoom(resp.Room); ok && n.room.RoomID == ch.RoomID {
			return n, nil
		}
	}
	return nil, nil
}

// parseHierarchyRoom reads a room chunk another server sent.
func parseHierarchyRoom(raw json.RawMessage) (*hierarchyNode, bool) {
	var r clientapi.HierarchyRoom
	if json.Unmarshal(raw, &r) != nil || clientapi.ValidRoomID(r.RoomID) != nil {
		return nil, false
	}
	n := &hierarchyNode{room: r}
	for _, cs := range r.ChildrenState {
		var e struct {
			Type     string          `json:"type"`
			StateKey string          `json:"state_key"`
			Content  json.RawMessage `json:"content"`
			TS       int64           `json:"origin_server_ts"`
		}
		if json.Unmarshal(cs, &e) != nil || e.Type != "m.space.child" {
			continue
		}
		if ch, ok := clientapi.ParseSpaceChild(e.StateKey, e.Content, e.TS); ok {
			n.children = append(n.children, ch)
		}
	}
	clientapi.OrderSpaceChildren(n.children)
	return n, true
}

// localHierarchyNode describes a room this server is in, when the user (or,
// with server set, a user of that server) may see it.
func (c *Client) localHierarchyNode(ctx context.Context, userID, server, roomID string) (*hierarchyNode, bool, error) {
	v, err := c.rooms.Version(roomID)
	if err != nil {
		return nil, false, nil
	}
	st, err := c.rooms.CurrentState(ctx, roomID)
	if err != nil {
		return nil, false, err
	}
	chunk, extra, err := c.roomChunk(ctx, roomID)
	if err != nil {
		return nil, false, err
	}
	jrRaw, _ := c.currentContent(ctx, roomID, "m.room.join_rules", "")
	var jr struct {
		Allow []struct {
			Type   string `json:"type"`
			RoomID string `json:"room_id"`
		} `json:"allow"`
	}
	json.Unmarshal(jrRaw, &jr)
	var allowed []string
	for _, a := range jr.Allow {
		if a.Type == "m.room_membership" && a.RoomID != "" {
			allowed = append(allowed, a.RoomID)
		}
	}
	hv := "shared"
	if chunk.WorldReadable {
		hv = "world_readable"
	}
	visible := false
	if server == "" {
		m, err := c.membership(ctx, roomID, userID)
		if err != nil {
			return nil, false, err
		}
		inAllowed := false
		for _, a := range allowed {
			if am, err := c.membership(ctx, a, userID); err == nil && am == "join" {
				inAllowed = true
				break
			}
		}
		visible = clientapi.SummaryVisible(v, chunk.JoinRule, hv, m, true, inAllowed)
	} else {
		// A server sees what any unauthenticated user may, the rooms it is
		// in, and restricted rooms it could be let into (the asking server
		// checks its users against allowed_room_ids).
		visible = clientapi.SummaryVisible(v, chunk.JoinRule, hv, "", false, false) ||
			c.rooms.hasLocalJoined(ctx, roomID, server) || (len(allowed) > 0 && (chunk.JoinRule == "restricted" || chunk.JoinRule == "knock_restricted"))
	}
	if !visible {
		return nil, false, nil
	}
	n := &hierarchyNode{room: clientapi.HierarchyRoom{PublicRoom: chunk, AllowedRoomIDs: allowed, Encryption: extra.Encryption, RoomVersion: v.ID}}
	var ids []string
	for k, id := range st {
		if k.Type == "m.space.child" {
			ids = append(ids, id)
		}
	}
	evs, err := c.rooms.load(ctx, ids)
	if err != nil {
		return nil, false, err
	}
	for _, id := range ids {
		se := evs[id]
		if se == nil {
			continue
		}
		sk, _ := se.Event.StateKey()
		ch, ok := clientapi.ParseSpaceChild(sk, se.Event.Content(), se.Event.OriginServerTS())
		if !ok {
			continue
		}
		n.children = append(n.children, ch)
		b, _ := json.Marshal(map[string]any{"type": "m.space.child", "state_key": sk, "content": json.RawMessage(se.Event.Content()),
			"sender": se.Event.Sender(), "origin_server_ts": se.Event.OriginServerTS()})
		n.room.ChildrenState = append(n.room.ChildrenState, b)
	}
	clientapi.OrderSpaceChildren(n.children)
	return n, true, nil
}

// Hierarchy implements federation.RoomDirectory for other servers: the
// room and its children that server may see, one level down; children it
// may not see are listed in inaccessible_children (ones unknown here are
// left out, for the asker to find elsewhere).
func (d directory) Hierarchy(ctx context.Context, origin, roomID string, suggestedOnly bool) (*federation.HierarchyResponse, error) {
	root, ok, err := d.c.localHierarchyNode(ctx, "", origin, roomID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, clientapi.NotFound("room not found or not accessible")
	}
	out := &federation.HierarchyResponse{Children: []json.RawMessage{}, InaccessibleChildren: []string{}}
	out.Room, _ = json.Marshal(root.room)
	for _, ch := range root.children {
		if suggestedOnly && !ch.Suggested {
			continue
		}
		if _, err := d.c.rooms.Version(ch.RoomID); err != nil {
			continue
		}
		n, ok, err := d.c.localHierarchyNode(ctx, "", origin, ch.RoomID)
		if err != nil {
			return nil, err
		}
		if !ok {
			out.InaccessibleChildren = append(out.InaccessibleChildren, ch.RoomID)
			continue
		}
		b, _ := json.Marshal(n.room)
		out.Children = append(out.Children, b)
	}
	return out, nil
}
