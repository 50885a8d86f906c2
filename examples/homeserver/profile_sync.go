package main

import (
	"context"
	"encoding/json"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
)

// propagateProfile carries a user's new display name and avatar into their
// member event in every room they are joined to, as the reference server
// does: clients show members from the room state, not from profiles. The
// rest of the member content is kept.
func (c *Client) propagateProfile(ctx context.Context, who clientapi.Identity, profile func(context.Context, string) (map[string]any, error)) {
	p, err := profile(ctx, who.UserID)
	if err != nil {
		return
	}
	rooms, err := c.JoinedRooms(ctx, who)
	if err != nil {
		return
	}
	for _, roomID := range rooms {
		cur, err := c.currentContent(ctx, roomID, event.TypeMember, who.UserID)
		if err != nil || cur == nil {
			continue
		}
		content := map[string]any{}
		json.Unmarshal(cur, &content)
		changed := false
		for _, f := range []string{"displayname", "avatar_url"} {
			if v, ok := p[f]; ok && content[f] != v {
				content[f], changed = v, true
			} else if !ok && content[f] != nil {
				delete(content, f)
				changed = true
			}
		}
		if !changed {
			continue
		}
		content["membership"] = "join"
		b, _ := json.Marshal(content)
		sk := who.UserID
		if _, err := c.rooms.Send(ctx, Local{RoomID: roomID, Sender: who.UserID, Type: event.TypeMember, StateKey: &sk, Content: b}); err != nil {
			c.log.Info("profile change not carried into a room", "room", roomID, "user", who.UserID, "err", err)
		}
	}
}
