package main

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
)

var _ clientapi.Upgrader = (*Client)(nil)

// UpgradeRoom implements clientapi.Upgrader in the steps of
// content/client-server-api/modules/room_upgrades.md "Server behaviour":
// check the user may send m.room.tombstone in the old room, create the
// replacement from clientapi.PlanUpgrade, move the local aliases (and the
// canonical alias), tombstone the old room, and restrict its power levels
// when the user may.
func (c *Client) UpgradeRoom(ctx context.Context, who clientapi.Identity, roomID string, req clientapi.UpgradeRequest) (string, error) {
	oldV, err := c.rooms.Version(roomID)
	if err != nil {
		return "", mapErr(err)
	}
	if m, err := c.membership(ctx, roomID, who.UserID); err != nil {
		return "", err
	} else if m != "join" {
		return "", clientapi.Forbidden("you are not in the room")
	}
	pl, err := c.rooms.powerLevels(ctx, roomID)
	if err != nil {
		return "", err
	}
	if pl.UserLevelExact(who.UserID).Less(pl.EventLevelExact("m.room.tombstone", true)) {
		return "", clientapi.Forbidden("you may not upgrade this room: it takes the power to send m.room.tombstone")
	}
	src := clientapi.UpgradeSource{RoomID: roomID, Version: oldV, State: map[string]json.RawMessage{}}
	if ext, err := c.rooms.ForwardExtremities(ctx, roomID); err == nil && len(ext) > 0 {
		src.LastEventID = ext[0]
	}
	if src.Create, err = c.currentContent(ctx, roomID, event.TypeCreate, ""); err != nil {
		return "", err
	}
	for _, t := range clientapi.UpgradeStateTypes {
		content, err := c.currentContent(ctx, roomID, t, "")
		if err != nil {
			return "", err
		}
		if content != nil {
			src.State[t] = content
		}
	}
	plan, err := clientapi.PlanUpgrade(src, who.UserID, req)
	if err != nil {
		return "", err
	}
	var rest []Local
	for _, p := range plan.Events[1:] {
		sk := p.StateKey
		rest = append(rest, Local{Sender: who.UserID, Type: p.Type, StateKey: &sk, Content: p.Content})
	}
	newID, err := c.rooms.CreateRoom(ctx, plan.Version, who.UserID, plan.Events[0].Content, rest)
	if err != nil {
		return newID, mapErr(err)
	}
	send := func(room, typ string, content []byte) error {
		empty := ""
		_, err := c.rooms.Send(ctx, Local{RoomID: room, Sender: who.UserID, Type: typ, StateKey: &empty, Content: content})
		return mapErr(err)
	}
	if plan.RestorePowerLevels != nil {
		if err := send(newID, "m.room.power_levels", plan.RestorePowerLevels); err != nil {
			return newID, err
		}
	}
	if err := c.moveAliases(ctx, roomID, newID, send); err != nil {
		return newID, err
	}
	if err := send(roomID, "m.room.tombstone", clientapi.Tombstone(newID)); err != nil {
		return newID, err
	}
	if plan.OldPowerLevels != nil {
		// "If possible": a user who may tombstone but not change the
		// levels leaves them as they are.
		if err := send(roomID, "m.room.power_levels", plan.OldPowerLevels); err != nil {
			c.log.Info("upgrade: the old room's power levels stay", "room", roomID, "err", err)
		}
	}
	return newID, nil
}

// moveAliases points the old room's local aliases at the new room and
// carries the canonical alias over (step 4), removing it from the old
// room, whose aliases no longer lead there.
func (c *Client) moveAliases(ctx context.Context, oldID, newID string, send func(room, typ string, content []byte) error) error {
	if err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE aliases SET room_id = ? WHERE room_id = ?`, newID, oldID)
		return err
	}); err != nil {
		return err
	}
	canonical, err := c.currentContent(ctx, oldID, "m.room.canonical_alias", "")
	if err != nil || canonical == nil || string(canonical) == "{}" {
		return err
	}
	if err := send(newID, "m.room.canonical_alias", canonical); err != nil {
		return err
	}
	if err := send(oldID, "m.room.canonical_alias", []byte(`{}`)); err != nil {
		c.log.Info("upgrade: the old room keeps its canonical alias", "room", oldID, "err", err)
	}
	return nil
}
