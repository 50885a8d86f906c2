package clientapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/mxkit/mxkit/roomversion"
)

// Upgrader upgrades rooms: POST /rooms/{roomId}/upgrade
// (content/client-server-api/modules/room_upgrades.md, "Room Upgrades";
// data/api/client-server/room_upgrades.yaml). Optional: without it the
// endpoint answers 404 M_UNRECOGNIZED. A backend builds the new room from
// PlanUpgrade.
type Upgrader interface {
	UpgradeRoom(ctx context.Context, who Identity, roomID string, req UpgradeRequest) (replacementRoom string, err error)
}

// UpgradeRequest is the body of the upgrade, checked.
type UpgradeRequest struct {
	Version roomversion.Version
	// AdditionalCreators are the creators besides the upgrading user, for
	// versions with privileged creators (ignored by the others).
	AdditionalCreators []string
}

// UpgradeStateTypes are the state events carried to the new room: the
// ones "Server behaviour" recommends, all with state key "".
var UpgradeStateTypes = []string{
	"m.room.server_acl", "m.room.encryption", "m.room.name", "m.room.avatar", "m.room.topic",
	"m.room.guest_access", "m.room.history_visibility", "m.room.join_rules", "m.room.power_levels",
}

// UpgradeSource is what PlanUpgrade needs of the old room.
type UpgradeSource struct {
	RoomID  string
	Version roomversion.Version
	// LastEventID is the newest event of the old room, the predecessor's
	// event_id (left out when upgrading to a version whose room ID is the
	// create event's hash, as the spec allows from v1.16).
	LastEventID string
	// Create is the old m.room.create content; State the contents of its
	// UpgradeStateTypes events (absent types left out).
	Create json.RawMessage
	State  map[string]json.RawMessage
}

// UpgradePlan is the upgrade, in the order of "Server behaviour".
type UpgradePlan struct {
	Version roomversion.Version
	// Events are the new room's first events: create (with predecessor,
	// room_version, the old room's type, and creator or
	// additional_creators as the version wants), the user's join, the
	// power levels (with the user raised when needed to send the rest),
	// then the other transferred state.
	Events []PlannedEvent
	// RestorePowerLevels, when not nil, is sent last in the new room: the
	// old room's levels, after the user was raised for the copy.
	RestorePowerLevels json.RawMessage
	// OldPowerLevels, when not nil, is sent to the old room after the
	// tombstone so that nobody without power sends or invites there
	// (events_default and invite at least max(50, users_default+1)).
	OldPowerLevels json.RawMessage
}

// Tombstone is the m.room.tombstone content that ends the old room.
func Tombstone(replacementRoom string) json.RawMessage {
	return mustJSON(map[string]string{"body": "This room has been replaced", "replacement_room": replacementRoom})
}

// PlanUpgrade plans the upgrade of old by user. It checks nothing about
// permissions (the backend checks the user may send m.room.tombstone in
// the old room) and assumes the old contents are valid events' contents.
func PlanUpgrade(old UpgradeSource, user string, req UpgradeRequest) (*UpgradePlan, error) {
	v := req.Version
	plan := &UpgradePlan{Version: v}
	add := func(typ, key string, content json.RawMessage) {
		plan.Events = append(plan.Events, PlannedEvent{Type: typ, StateKey: key, Content: content})
	}

	// 1-2. The create event.
	create := map[string]any{"room_version": v.ID}
	pred := map[string]string{"room_id": old.RoomID}
	if v.Event.RoomID != roomversion.RoomIDCreateHash && old.LastEventID != "" {
		pred["event_id"] = old.LastEventID
	}
	create["predecessor"] = pred
	var oldCreate map[string]json.RawMessage
	json.Unmarshal(old.Create, &oldCreate)
	if t, ok := oldCreate["type"]; ok {
		create["type"] = t
	}
	if f, ok := oldCreate["m.federate"]; ok {
		// Not in the spec's list; a room that does not federate would
		// start federating, so it is kept (as the reference server does).
		create["m.federate"] = f
	}
	creators := []string{user}
	if v.Auth.CreatorInContent {
		create["creator"] = user
	}
	if v.Auth.PrivilegedCreators {
		var extra []string
		for _, u := range req.AdditionalCreators {
			if u != user && !slices.Contains(extra, u) {
				extra = append(extra, u)
			}
		}
		if len(extra) > 0 {
			create["additional_creators"] = extra
			creators = append(creators, extra...)
		}
	}
	add("m.room.create", "", mustJSON(create))
	add("m.room.member", user, json.RawMessage(`{"membership":"join"}`))

	// 3. Power levels, then the rest of the transferred state.
	final, err := upgradedPowerLevels(old.State["m.room.power_levels"], v, user, creators)
	if err != nil {
		return nil, err
	}
	initial := final
	if !v.Auth.PrivilegedCreators {
		if need := neededLevel(final, old.State); userLevel(final, user) < need {
			initial = withUserLevel(final, user, need)
			plan.RestorePowerLevels = mustJSON(final)
		}
	}
	add("m.room.power_levels", "", mustJSON(initial))
	for _, t := range UpgradeStateTypes {
		if c, ok := old.State[t]; ok && t != "m.room.power_levels" {
			add(t, "", c)
		}
	}

	// 6. Restrict the old room.
	if raw, ok := old.State["m.room.power_levels"]; ok {
		plan.OldPowerLevels = restrictedPowerLevels(raw)
	}
	return plan, nil
}

// upgradedPowerLevels is the old room's power levels content for the new
// room: creators of a version with privileged creators are not listed in
// users (they cannot be, content/rooms/v12.md); coming from such a
// version to one without, the upgrading user is given 100 (the level a
// room's creator has), or more if anyone has more.
func upgradedPowerLevels(raw json.RawMessage, v roomversion.Version, user string, creators []string) (map[string]any, error) {
	pl := map[string]any{}
	if len(raw) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&pl); err != nil {
			return nil, fmt.Errorf("old power levels: %w", err)
		}
	}
	users, _ := pl["users"].(map[string]any)
	if users == nil {
		users = map[string]any{}
	}
	if v.Auth.PrivilegedCreators {
		for _, c := range creators {
			delete(users, c)
		}
	} else if _, listed := users[user]; !listed {
		top := int64(100)
		for _, l := range users {
			top = max(top, levelOf(l, 0))
		}
		users[user] = top
	}
	pl["users"] = users
	if v.Auth.PrivilegedCreators {
		// Version 12 wants the tombstone above state_default (createRoom
		// uses 150): otherwise a non-creator admin could end the room.
		events, _ := pl["events"].(map[string]any)
		if events == nil {
			events = map[string]any{}
		}
		if _, ok := events["m.room.tombstone"]; !ok {
			events["m.room.tombstone"] = max(int64(150), levelOf(pl["state_default"], 50)+1)
		}
		pl["events"] = events
	}
	return pl, nil
}

// neededLevel is the level sending the transferred state takes: each
// type's state level.
func neededLevel(pl map[string]any, state map[string]json.RawMessage) int64 {
	need := int64(math.MinInt64)
	events, _ := pl["events"].(map[string]any)
	for t := range state {
		l, ok := events[t]
		if !ok {
			l = pl["state_default"]
		}
		need = max(need, levelOf(l, 50))
	}
	if l, ok := events["m.room.power_levels"]; ok {
		need = max(need, levelOf(l, 50))
	}
	return need
}

func userLevel(pl map[string]any, user string) int64 {
	users, _ := pl["users"].(map[string]any)
	if l, ok := users[user]; ok {
		return levelOf(l, 0)
	}
	return levelOf(pl["users_default"], 0)
}

func withUserLevel(pl map[string]any, user string, level int64) map[string]any {
	out := map[string]any{}
	for k, val := range pl {
		out[k] = val
	}
	users := map[string]any{}
	for k, val := range pl["users"].(map[string]any) {
		users[k] = val
	}
	users[user] = level
	out["users"] = users
	return out
}

// restrictedPowerLevels raises events_default and invite of the old room
// to max(50, users_default+1) (step 6 of "Server behaviour"); nil when
// they are there already.
func restrictedPowerLevels(raw json.RawMessage) json.RawMessage {
	pl := map[string]any{}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&pl) != nil {
		return nil
	}
	want := max(int64(50), levelOf(pl["users_default"], 0)+1)
	changed := false
	for _, k := range []string{"events_default", "invite"} {
		if levelOf(pl[k], 0) < want {
			pl[k] = want
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return mustJSON(pl)
}

// levelOf reads a power level value (a JSON number, or in old room
// versions a string); def when absent or unreadable.
func levelOf(v any, def int64) int64 {
	switch l := v.(type) {
	case json.Number:
		if n, err := l.Int64(); err == nil {
			return n
		}
		if f, err := l.Float64(); err == nil {
			return int64(f)
		}
	case int64:
		return l
	case int:
		return int64(l)
	case string:
		var n int64
		if _, err := fmt.Sscan(l, &n); err == nil {
			return n
		}
	}
	return def
}

type upgradeBody struct {
	NewVersion         *string  `json:"new_version"`
	AdditionalCreators []string `json:"additional_creators"`
}

func (c *call) upgradeRoom() (any, error) {
	roomID, err := c.room(c.s.Upgrader != nil)
	if err != nil {
		return nil, err
	}
	var b upgradeBody
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.NewVersion == nil {
		return nil, MissingParam("new_version is required")
	}
	versions := c.s.RoomVersions
	if versions == nil {
		versions = standardVersions()
	}
	v, ok := versions.Lookup(*b.NewVersion)
	if !ok {
		return nil, unsupportedRoomVersion(*b.NewVersion)
	}
	for i, u := range b.AdditionalCreators {
		if err := ValidUserID(u, true); err != nil {
			return nil, InvalidParam(fmt.Sprintf("additional_creators[%d]: %s", i, paramError(err).Message))
		}
	}
	id, err := c.s.Upgrader.UpgradeRoom(c.ctx, c.who, roomID, UpgradeRequest{Version: v, AdditionalCreators: b.AdditionalCreators})
	if err != nil {
		return nil, err
	}
	return map[string]string{"replacement_room": id}, nil
}
