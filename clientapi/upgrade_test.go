package clientapi

import (
	"encoding/json"
	"testing"

	"github.com/mxkit/mxkit/roomversion"
)

func plannedContent(t *testing.T, p *UpgradePlan, typ string) map[string]any {
	t.Helper()
	for _, e := range p.Events {
		if e.Type == typ {
			var m map[string]any
			json.Unmarshal(e.Content, &m)
			return m
		}
	}
	return nil
}

// TestPlanUpgrade follows "Server behaviour" of room upgrades: the create
// event names the predecessor and keeps the room type, the recommended
// state is carried, the user can send it, and the old room is closed to
// those without power.
func TestPlanUpgrade(t *testing.T) {
	old := UpgradeSource{
		RoomID: "!old:x", Version: roomversion.V10, LastEventID: "$last",
		Create: json.RawMessage(`{"creator":"@alice:x","room_version":"10","type":"m.space","m.federate":false}`),
		State: map[string]json.RawMessage{
			"m.room.name":         json.RawMessage(`{"name":"Old"}`),
			"m.room.join_rules":   json.RawMessage(`{"join_rule":"invite"}`),
			"m.room.power_levels": json.RawMessage(`{"users":{"@alice:x":100,"@mod:x":50},"users_default":0,"events_default":0,"invite":0,"state_default":50,"events":{"m.room.power_levels":100,"m.room.tombstone":100}}`),
		},
	}
	t.Run("to v11", func(t *testing.T) {
		p, err := PlanUpgrade(old, "@alice:x", UpgradeRequest{Version: roomversion.V11, AdditionalCreators: []string{"@bob:x"}})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range p.Events {
			types = append(types, e.Type)
		}
		if len(types) != 5 || types[0] != "m.room.create" || types[1] != "m.room.member" || types[2] != "m.room.power_levels" {
			t.Fatalf("events %v", types)
		}
		c := plannedContent(t, p, "m.room.create")
		pred := c["predecessor"].(map[string]any)
		if c["room_version"] != "11" || c["type"] != "m.space" || c["m.federate"] != false || pred["room_id"] != "!old:x" || pred["event_id"] != "$last" ||
			c["creator"] != nil || c["additional_creators"] != nil {
			t.Errorf("create %v", c)
		}
		if p.RestorePowerLevels != nil {
			t.Errorf("alice has 100 already; nothing to restore: %s", p.RestorePowerLevels)
		}
		var oldPL map[string]any
		json.Unmarshal(p.OldPowerLevels, &oldPL)
		if oldPL["events_default"] != float64(50) || oldPL["invite"] != float64(50) {
			t.Errorf("old room's levels %v", oldPL)
		}
	})
	t.Run("by a moderator", func(t *testing.T) {
		p, err := PlanUpgrade(old, "@mod:x", UpgradeRequest{Version: roomversion.V10})
		if err != nil {
			t.Fatal(err)
		}
		pl := plannedContent(t, p, "m.room.power_levels")
		if pl["users"].(map[string]any)["@mod:x"] != float64(100) {
			t.Errorf("the moderator is not raised to send the state: %v", pl)
		}
		var final map[string]any
		json.Unmarshal(p.RestorePowerLevels, &final)
		if final["users"].(map[string]any)["@mod:x"] != float64(50) {
			t.Errorf("the levels to restore %v", final)
		}
		if c := plannedContent(t, p, "m.room.create"); c["creator"] != "@mod:x" {
			t.Errorf("v10 create without creator: %v", c)
		}
	})
	t.Run("to v12", func(t *testing.T) {
		p, err := PlanUpgrade(old, "@alice:x", UpgradeRequest{Version: roomversion.V12, AdditionalCreators: []string{"@mod:x", "@alice:x"}})
		if err != nil {
			t.Fatal(err)
		}
		c := plannedContent(t, p, "m.room.create")
		if _, ok := c["predecessor"].(map[string]any)["event_id"]; ok {
			t.Errorf("v12 predecessor with event_id: %v", c)
		}
		if ac := c["additional_creators"].([]any); len(ac) != 1 || ac[0] != "@mod:x" {
			t.Errorf("additional_creators %v", c["additional_creators"])
		}
		pl := plannedContent(t, p, "m.room.power_levels")
		users := pl["users"].(map[string]any)
		if _, ok := users["@alice:x"]; ok {
			t.Errorf("a v12 creator listed in users: %v", users)
		}
		if _, ok := users["@mod:x"]; ok {
			t.Errorf("an additional creator listed in users: %v", users)
		}
		if pl["events"].(map[string]any)["m.room.tombstone"] != float64(100) {
			t.Errorf("an explicit tombstone level is kept: %v", pl["events"])
		}
	})
	t.Run("from v12", func(t *testing.T) {
		src := old
		src.Version = roomversion.V12
		src.State = map[string]json.RawMessage{"m.room.power_levels": json.RawMessage(`{"users":{"@mod:x":50}}`)}
		p, err := PlanUpgrade(src, "@alice:x", UpgradeRequest{Version: roomversion.V11})
		if err != nil {
			t.Fatal(err)
		}
		if pl := plannedContent(t, p, "m.room.power_levels"); pl["users"].(map[string]any)["@alice:x"] != float64(100) {
			t.Errorf("a v12 creator upgrading to v11 must be listed: %v", pl)
		}
	})
}

func TestUpgradeRoute(t *testing.T) {
	_, s, room := setup(t)
	path := "/_matrix/client/v3/rooms/" + room + "/upgrade"
	cases := []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"no version", "tok_alice", `{}`, 400, "M_MISSING_PARAM"},
		{"unknown version", "tok_alice", `{"new_version":"99"}`, 400, "M_UNSUPPORTED_ROOM_VERSION"},
		{"bad creator", "tok_alice", `{"new_version":"12","additional_creators":["bob"]}`, 400, "M_INVALID_PARAM"},
		{"not a member", "tok_bob", `{"new_version":"11"}`, 403, "M_FORBIDDEN"},
		{"ok", "tok_alice", `{"new_version":"11"}`, 200, ""},
	}
	for _, tc := range cases {
		r := do(t, s, "POST", path, tc.token, tc.body)
		if r.status != tc.status || (tc.code != "" && r.body["errcode"] != tc.code) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		}
		if tc.status == 200 && r.body["replacement_room"] != "!upgraded-to-11:example.org" {
			t.Errorf("%s: %s", tc.name, r.raw)
		}
	}
}
