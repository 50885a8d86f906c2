package clientapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mxkit/mxkit/roomversion"
)

// Presets of POST /createRoom.
const (
	PresetPrivateChat        = "private_chat"
	PresetTrustedPrivateChat = "trusted_private_chat"
	PresetPublicChat         = "public_chat"
)

// CreateRoomRequest is the body of POST /createRoom.
type CreateRoomRequest struct {
	Visibility                string                     `json:"visibility,omitempty"`
	RoomAliasName             string                     `json:"room_alias_name,omitempty"`
	Name                      *string                    `json:"name,omitempty"`
	Topic                     *string                    `json:"topic,omitempty"`
	Invite                    []string                   `json:"invite,omitempty"`
	Invite3PID                []json.RawMessage          `json:"invite_3pid,omitempty"`
	RoomVersion               string                     `json:"room_version,omitempty"`
	CreationContent           map[string]json.RawMessage `json:"creation_content,omitempty"`
	InitialState              []InitialStateEvent        `json:"initial_state,omitempty"`
	Preset                    string                     `json:"preset,omitempty"`
	IsDirect                  bool                       `json:"is_direct,omitempty"`
	PowerLevelContentOverride map[string]json.RawMessage `json:"power_level_content_override,omitempty"`
}

// InitialStateEvent is one entry of initial_state.
type InitialStateEvent struct {
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

// PlannedEvent is one state event of a CreateRoomPlan.
type PlannedEvent struct {
	Type     string
	StateKey string
	Content  json.RawMessage
}

// CreateRoomPlan is what a room creation sends, in order.
type CreateRoomPlan struct {
	// Version is the room's version.
	Version roomversion.Version
	// Creator is the user creating the room (the create event's sender).
	Creator string
	// Public is the visibility in the published room directory.
	Public bool
	// Alias is the full canonical alias to create ("" if none); the
	// backend must map it to the room (and refuse a taken alias with 400
	// M_ROOM_IN_USE before sending anything).
	Alias string
	// Events are every event of the room's creation in the order the
	// spec requires: create, the creator's join, power levels, canonical
	// alias, preset events, initial_state, name, topic, then one
	// m.room.member invite per invitee.
	Events []PlannedEvent
	// Invites are the invited users (also present as invite events).
	Invites []string
	// Invite3PID are the invite_3pid entries, passed through for the
	// backend (which may refuse them).
	Invite3PID []json.RawMessage
}

// PlanCreateRoom validates a createRoom request and returns the events
// the room's creation sends, in the order of
// content/client-server-api/_index.md "Creation" and POST /createRoom in
// data/api/client-server/create_room.yaml:
//
//  1. m.room.create: creation_content with room_version set (and creator
//     for versions whose create event carries one); for version 12 with
//     trusted_private_chat the invitees are merged into
//     additional_creators.
//  2. the creator's m.room.member join.
//  3. m.room.power_levels: the defaults below, then an m.room.power_levels
//     from initial_state in their place, then power_level_content_override
//     key by key.
//  4. m.room.canonical_alias when room_alias_name is given.
//  5. the preset's join_rules, history_visibility and guest_access,
//     except those initial_state sets.
//  6. initial_state in order (a later entry for the same type and state
//     key replaces an earlier one, in its first place; name and topic
//     entries give way to the name and topic fields).
//  7. m.room.name and m.room.topic (topic with its m.topic text/plain form).
//  8. an invite per invitee, with is_direct when asked.
//
// The default power levels are the reference server's: users
// {creator: 100} (versions 1-11; in version 12 the creator has infinite
// power and is not listed), events {m.room.name: 50, m.room.power_levels:
// 100, m.room.history_visibility: 100, m.room.canonical_alias: 50,
// m.room.avatar: 50, m.room.tombstone: 100 (150 in version 12, where it
// must be above state_default), m.room.server_acl: 100,
// m.room.encryption: 100}, events_default 0, state_default 50, ban 50,
// kick 50, redact 50, invite 50 (0 for the private presets). For
// trusted_private_chat in versions 1-11 the invitees get the creator's
// level.
//
// versions is the set the server supports (nil: roomversion.Standard());
// an unknown room_version is 400 M_UNSUPPORTED_ROOM_VERSION.
// Bounds of createRoom's lists. The spec sets none; each entry is an
// event sent, signed and stored before the answer, so a request is kept to
// what a server can do in one go (invite more afterwards, one by one).
const (
	MaxCreateRoomInvites      = 2000
	MaxCreateRoomInitialState = 1000
)

func PlanCreateRoom(req *CreateRoomRequest, creator, serverName string, versions *roomversion.Set, defaultVersion string) (*CreateRoomPlan, error) {
	if versions == nil {
		versions = standardVersions()
	}
	if defaultVersion == "" {
		defaultVersion = roomversion.Default().ID
	}
	vid := req.RoomVersion
	if vid == "" {
		vid = defaultVersion
	}
	v, ok := versions.Lookup(vid)
	if !ok {
		return nil, unsupportedRoomVersion(vid)
	}
	if err := ValidUserID(creator, true); err != nil {
		return nil, paramError(err)
	}
	plan := &CreateRoomPlan{Version: v, Creator: creator, Invite3PID: req.Invite3PID}

	switch req.Visibility {
	case "", "private":
	case "public":
		plan.Public = true
	default:
		return nil, InvalidParam("visibility must be \"public\" or \"private\"")
	}
	preset := req.Preset
	switch preset {
	case "":
		preset = PresetPrivateChat
		if plan.Public {
			preset = PresetPublicChat
		}
	case PresetPrivateChat, PresetTrustedPrivateChat, PresetPublicChat:
	default:
		return nil, InvalidParam("unknown preset " + quote(preset))
	}

	if len(req.Invite) > MaxCreateRoomInvites {
		return nil, InvalidParam(fmt.Sprintf("invite: at most %d users can be invited when creating a room", MaxCreateRoomInvites))
	}
	if len(req.InitialState) > MaxCreateRoomInitialState {
		return nil, InvalidParam(fmt.Sprintf("initial_state: at most %d events", MaxCreateRoomInitialState))
	}
	seen := map[string]bool{}
	for i, u := range req.Invite {
		if err := ValidUserID(u, true); err != nil {
			return nil, InvalidParam(fmt.Sprintf("invite[%d]: %s", i, paramError(err).Message))
		}
		if u == creator || seen[u] {
			continue
		}
		seen[u] = true
		plan.Invites = append(plan.Invites, u)
	}

	if req.RoomAliasName != "" {
		alias := "#" + req.RoomAliasName + ":" + serverName
		if strings.ContainsAny(req.RoomAliasName, ": \t\n\r") {
			return nil, InvalidParam("room_alias_name must not contain ':' or whitespace")
		}
		if err := ValidRoomAlias(alias); err != nil {
			return nil, InvalidParam("room_alias_name: " + paramError(err).Message)
		}
		plan.Alias = alias
	}

	// initial_state: validate and index, last entry for a key wins.
	type key struct{ t, sk string }
	initial := map[key]int{}
	var initialOrder []InitialStateEvent
	for i, ev := range req.InitialState {
		if err := ValidEventType(ev.Type); err != nil {
			return nil, InvalidParam(fmt.Sprintf("initial_state[%d].type: %s", i, paramError(err).Message))
		}
		if err := ValidStateKey(ev.StateKey); err != nil {
			return nil, InvalidParam(fmt.Sprintf("initial_state[%d].state_key: %s", i, paramError(err).Message))
		}
		if !isObject(ev.Content) {
			return nil, BadJSON(fmt.Sprintf("initial_state[%d].content must be a JSON object", i))
		}
		if ev.Type == "m.room.create" {
			return nil, InvalidParam(fmt.Sprintf("initial_state[%d]: m.room.create is set through creation_content", i))
		}
		k := key{ev.Type, ev.StateKey}
		if j, ok := initial[k]; ok {
			initialOrder[j] = ev
			continue
		}
		initial[k] = len(initialOrder)
		initialOrder = append(initialOrder, ev)
	}
	inInitial := func(t string) bool { _, ok := initial[key{t, ""}]; return ok }

	// 1. create.
	create := map[string]json.RawMessage{}
	for k, val := range req.CreationContent {
		create[k] = val
	}
	create["room_version"] = mustJSON(v.ID)
	if v.Auth.CreatorInContent {
		create["creator"] = mustJSON(creator)
	} else {
		delete(create, "creator")
	}
	if v.Auth.PrivilegedCreators {
		var extra []string
		if raw, ok := create["additional_creators"]; ok {
			if err := json.Unmarshal(raw, &extra); err != nil {
				return nil, BadJSON("creation_content.additional_creators must be an array of user IDs")
			}
			for i, u := range extra {
				if err := ValidUserID(u, true); err != nil {
					return nil, InvalidParam(fmt.Sprintf("creation_content.additional_creators[%d]: %s", i, paramError(err).Message))
				}
			}
		}
		if preset == PresetTrustedPrivateChat {
			for _, u := range plan.Invites {
				if !slices.Contains(extra, u) {
					extra = append(extra, u)
				}
			}
		}
		if extra != nil {
			create["additional_creators"] = mustJSON(extra)
		}
	}
	plan.add("m.room.create", "", create)

	// 2. the creator's join.
	plan.addRaw("m.room.member", creator, `{"membership":"join"}`)

	// 3. power levels.
	tombstone := 100
	if v.Auth.PrivilegedCreators {
		tombstone = 150
	}
	pl := map[string]json.RawMessage{
		"users_default":  mustJSON(0),
		"events_default": mustJSON(0),
		"state_default":  mustJSON(50),
		"ban":            mustJSON(50),
		"kick":           mustJSON(50),
		"redact":         mustJSON(50),
		"invite":         mustJSON(50),
		"events": json.RawMessage(`{"m.room.avatar":50,"m.room.canonical_alias":50,"m.room.encryption":100,` +
			`"m.room.history_visibility":100,"m.room.name":50,"m.room.power_levels":100,"m.room.server_acl":100,` +
			`"m.room.tombstone":` + strconv.Itoa(tombstone) + `}`),
	}
	users := map[string]int{}
	if !v.Auth.PrivilegedCreators {
		users[creator] = 100
		if preset == PresetTrustedPrivateChat {
			for _, u := range plan.Invites {
				users[u] = 100
			}
		}
	}
	pl["users"] = mustJSON(users)
	if preset != PresetPublicChat {
		pl["invite"] = mustJSON(0)
	}
	if j, ok := initial[key{"m.room.power_levels", ""}]; ok {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(initialOrder[j].Content, &m); err != nil {
			return nil, BadJSON("initial_state m.room.power_levels content must be an object")
		}
		pl = m
	}
	for k, val := range req.PowerLevelContentOverride {
		pl[k] = val
	}
	if v.Auth.PrivilegedCreators {
		// Version 12 refuses a power levels event that lists a creator
		// (content/rooms/v12.md, auth rules of m.room.power_levels); say
		// so now rather than fail half-way through the creation.
		var listed map[string]json.RawMessage
		if raw, ok := pl["users"]; ok {
			if json.Unmarshal(raw, &listed) != nil {
				return nil, NewError(http.StatusBadRequest, CodeInvalidRoomState, "power levels users must be an object")
			}
		}
		var extra []string
		json.Unmarshal(create["additional_creators"], &extra)
		for _, u := range append([]string{creator}, extra...) {
			if _, ok := listed[u]; ok {
				return nil, NewError(http.StatusBadRequest, CodeInvalidRoomState,
					"room creators ("+u+") have infinite power in this room version and cannot be listed in power levels users")
			}
		}
	}
	plan.add("m.room.power_levels", "", pl)

	// 4. canonical alias.
	if plan.Alias != "" {
		plan.add("m.room.canonical_alias", "", map[string]any{"alias": plan.Alias})
	}

	// 5. preset events, unless initial_state sets them. The spec's
	// table gives public_chat guest_access "forbidden", so it is sent
	// (the reference server sends guest_access only for can_join).
	joinRule, guest := "invite", "can_join"
	if preset == PresetPublicChat {
		joinRule, guest = "public", "forbidden"
	}
	if !inInitial("m.room.join_rules") {
		plan.addRaw("m.room.join_rules", "", `{"join_rule":"`+joinRule+`"}`)
	}
	if !inInitial("m.room.history_visibility") {
		plan.addRaw("m.room.history_visibility", "", `{"history_visibility":"shared"}`)
	}
	if !inInitial("m.room.guest_access") {
		plan.addRaw("m.room.guest_access", "", `{"guest_access":"`+guest+`"}`)
	}

	// 6. initial_state.
	for _, ev := range initialOrder {
		switch {
		case ev.Type == "m.room.power_levels" && ev.StateKey == "":
			continue // used as the base of step 3
		case ev.Type == "m.room.name" && ev.StateKey == "" && req.Name != nil:
			continue
		case ev.Type == "m.room.topic" && ev.StateKey == "" && req.Topic != nil:
			continue
		}
		plan.Events = append(plan.Events, PlannedEvent{Type: ev.Type, StateKey: ev.StateKey, Content: ev.Content})
	}

	// 7. name and topic.
	if req.Name != nil {
		plan.add("m.room.name", "", map[string]any{"name": *req.Name})
	}
	if req.Topic != nil {
		plan.add("m.room.topic", "", map[string]any{
			"topic":   *req.Topic,
			"m.topic": map[string]any{"m.text": []map[string]string{{"body": *req.Topic, "mimetype": "text/plain"}}},
		})
	}

	// 8. invites.
	invite := `{"membership":"invite"}`
	if req.IsDirect {
		invite = `{"is_direct":true,"membership":"invite"}`
	}
	for _, u := range plan.Invites {
		plan.addRaw("m.room.member", u, invite)
	}
	for i, ev := range plan.Events {
		if len(ev.Content) > MaxEventSize {
			return nil, NewError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("event %d (%s) is larger than %d bytes", i, ev.Type, MaxEventSize))
		}
	}
	return plan, nil
}

func (p *CreateRoomPlan) add(typ, stateKey string, content any) {
	p.Events = append(p.Events, PlannedEvent{Type: typ, StateKey: stateKey, Content: mustJSON(content)})
}

// standardVersions is roomversion.Standard(), built once.
var standardVersions = sync.OnceValue(roomversion.Standard)

func (p *CreateRoomPlan) addRaw(typ, stateKey, content string) {
	p.Events = append(p.Events, PlannedEvent{Type: typ, StateKey: stateKey, Content: json.RawMessage(content)})
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("clientapi: encoding a built-in value: " + err.Error())
	}
	return b
}

func isObject(raw json.RawMessage) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return json.Valid(raw)
		}
		return false
	}
	return false
}
