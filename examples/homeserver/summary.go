package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
)

var _ clientapi.RoomSummaries = (*Client)(nil)

// RoomSummary implements clientapi.RoomSummaries for the rooms this server
// is in (an alias of this server's is resolved; the summary of a room
// only other servers are in, which the reference server asks of them
// through the space hierarchy, is not found here).
func (c *Client) RoomSummary(ctx context.Context, who clientapi.Identity, idOrAlias string, via []string) (*clientapi.RoomSummaryResponse, error) {
	notFound := clientapi.NotFound("room not found")
	roomID := idOrAlias
	if strings.HasPrefix(idOrAlias, "#") {
		err := c.db.queryRow(ctx, `SELECT room_id FROM aliases WHERE alias = ?`, idOrAlias).Scan(&roomID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound
		} else if err != nil {
			return nil, err
		}
	}
	v, err := c.rooms.Version(roomID)
	if err != nil {
		return nil, notFound
	}
	content := func(typ string) map[string]any {
		raw, _ := c.currentContent(ctx, roomID, typ, "")
		m := map[string]any{}
		json.Unmarshal(raw, &m)
		return m
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	jr := content("m.room.join_rules")
	joinRule := str(jr, "join_rule")
	hv := str(content("m.room.history_visibility"), "history_visibility")
	membership := ""
	if who.UserID != "" {
		if membership, err = c.membership(ctx, roomID, who.UserID); err != nil {
			return nil, err
		}
	}
	var allowed []string
	if rules, ok := jr["allow"].([]any); ok {
		for _, r := range rules {
			if m, ok := r.(map[string]any); ok && m["type"] == "m.room_membership" {
				if id, ok := m["room_id"].(string); ok {
					allowed = append(allowed, id)
				}
			}
		}
	}
	inAllowed := false
	for _, a := range allowed {
		if who.UserID == "" {
			break
		}
		if m, err := c.membership(ctx, a, who.UserID); err == nil && m == "join" {
			inAllowed = true
			break
		}
	}
	if !clientapi.SummaryVisible(v, joinRule, hv, membership, who.UserID != "", inAllowed) {
		return nil, notFound
	}
	chunk, extra, err := c.roomChunk(ctx, roomID)
	if err != nil {
		return nil, err
	}
	extra.AllowedRoomIDs, extra.RoomVersion, extra.Membership = allowed, v.ID, membership
	extra.PublicRoom = chunk
	return extra, nil
}

// roomChunk describes a room from its current state: its published rooms
// chunk (data/api/client-server/definitions/public_rooms_chunk.yaml), and
// the encryption algorithm of its summary.
func (c *Client) roomChunk(ctx context.Context, roomID string) (clientapi.PublicRoom, *clientapi.RoomSummaryResponse, error) {
	content := func(typ string) map[string]any {
		raw, _ := c.currentContent(ctx, roomID, typ, "")
		m := map[string]any{}
		json.Unmarshal(raw, &m)
		return m
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	var joined int
	if err := c.db.queryRow(ctx, `SELECT count(*) FROM current_state WHERE room_id = ? AND type = ? AND membership = 'join'`, roomID, event.TypeMember).Scan(&joined); err != nil {
		return clientapi.PublicRoom{}, nil, err
	}
	hv := str(content("m.room.history_visibility"), "history_visibility")
	chunk := clientapi.PublicRoom{
		RoomID: roomID, NumJoinedMembers: joined, WorldReadable: hv == "world_readable",
		GuestCanJoin: str(content("m.room.guest_access"), "guest_access") == "can_join",
		Name:         str(content("m.room.name"), "name"), Topic: str(content("m.room.topic"), "topic"),
		AvatarURL: str(content("m.room.avatar"), "url"), CanonicalAlias: str(content("m.room.canonical_alias"), "alias"),
		JoinRule: str(content("m.room.join_rules"), "join_rule"), RoomType: str(content(event.TypeCreate), "type"),
	}
	return chunk, &clientapi.RoomSummaryResponse{Encryption: str(content("m.room.encryption"), "algorithm")}, nil
}
