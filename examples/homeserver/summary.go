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
	var joined int
	if err := c.db.queryRow(ctx, `SELECT count(*) FROM current_state WHERE room_id = ? AND type = ? AND membership = 'join'`, roomID, event.TypeMember).Scan(&joined); err != nil {
		return nil, err
	}
	s := &clientapi.RoomSummaryResponse{PublicRoom: clientapi.PublicRoom{
		RoomID: roomID, NumJoinedMembers: joined, WorldReadable: hv == "world_readable",
		GuestCanJoin: str(content("m.room.guest_access"), "guest_access") == "can_join",
		Name:         str(content("m.room.name"), "name"), Topic: str(content("m.room.topic"), "topic"),
		AvatarURL: str(content("m.room.avatar"), "url"), CanonicalAlias: str(content("m.room.canonical_alias"), "alias"),
		JoinRule: joinRule, RoomType: str(content(event.TypeCreate), "type"),
	}, AllowedRoomIDs: allowed, Encryption: str(content("m.room.encryption"), "algorithm"), RoomVersion: v.ID, Membership: membership}
	return s, nil
}
