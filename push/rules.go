package push

import (
	"bytes"
	"encoding/json"
)

// Rule is one push rule ("Push Rules"; data/api/client-server/
// definitions/push_rule.yaml). Conditions are for override and underride
// rules, Pattern for content rules; room and sender rules are named by
// their RuleID (the room or user ID).
type Rule struct {
	RuleID     string      `json:"rule_id"`
	Default    bool        `json:"default"`
	Enabled    bool        `json:"enabled"`
	Conditions []Condition `json:"conditions,omitempty"`
	Pattern    string      `json:"pattern,omitempty"`
	Actions    []any       `json:"actions"`
}

// Condition is one condition of an override or underride rule.
type Condition struct {
	Kind    string `json:"kind"`
	Key     string `json:"key,omitempty"`
	Pattern string `json:"pattern,omitempty"`
	// Value is the value of event_property_is and event_property_contains:
	// a string, a bool, an integer (int, int64, json.Number, or a float64
	// without fraction) or nil. A nil Value means JSON null only when
	// ValueSet is true; otherwise the condition has no value.
	Value    any    `json:"value,omitempty"`
	ValueSet bool   `json:"-"`
	Is       string `json:"is,omitempty"`
}

// UnmarshalJSON reads a condition, keeping integers exact (json.Number)
// and telling "value": null from no value.
func (c *Condition) UnmarshalJSON(b []byte) error {
	type plain Condition
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var raw struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	p.Value, p.ValueSet = nil, raw.Value != nil
	if raw.Value != nil {
		d := json.NewDecoder(bytes.NewReader(raw.Value))
		d.UseNumber()
		if err := d.Decode(&p.Value); err != nil {
			return err
		}
	}
	*c = Condition(p)
	return nil
}

// MarshalJSON writes pattern for every event_match condition, even an
// empty one (the tombstone and server ACL rules match state_key "").
func (c Condition) MarshalJSON() ([]byte, error) {
	m := map[string]any{"kind": c.Kind}
	if c.Key != "" {
		m["key"] = c.Key
	}
	if c.Kind == "event_match" || c.Pattern != "" {
		m["pattern"] = c.Pattern
	}
	if c.Value != nil || c.ValueSet {
		m["value"] = c.Value
	}
	if c.Is != "" {
		m["is"] = c.Is
	}
	return json.Marshal(m)
}

// Ruleset is the rules of one scope by kind, each kind in priority order.
type Ruleset struct {
	Override  []Rule `json:"override"`
	Content   []Rule `json:"content"`
	Room      []Rule `json:"room"`
	Sender    []Rule `json:"sender"`
	Underride []Rule `json:"underride"`
}

// Kinds are the kinds of rule in the order they are checked.
var Kinds = []string{"override", "content", "room", "sender", "underride"}

// Kind returns the list of the named kind, nil for an unknown kind.
func (rs *Ruleset) Kind(kind string) *[]Rule {
	switch kind {
	case "override":
		return &rs.Override
	case "content":
		return &rs.Content
	case "room":
		return &rs.Room
	case "sender":
		return &rs.Sender
	case "underride":
		return &rs.Underride
	}
	return nil
}

func tweak(name string, value any) map[string]any {
	m := map[string]any{"set_tweak": name}
	if value != nil {
		m["value"] = value
	}
	return m
}

func eventMatch(key, pattern string) Condition {
	return Condition{Kind: "event_match", Key: key, Pattern: pattern}
}

// DefaultRules returns the server-default rules of "Predefined Rules"
// (v1.17: without the legacy body-mention rules) for userID, in the order
// the specification lists them.
func DefaultRules(userID string) Ruleset {
	conds := func(c ...Condition) []Condition { return c }
	rule := func(id string, enabled bool, c []Condition, actions ...any) Rule {
		if c == nil {
			c = []Condition{}
		}
		if actions == nil {
			actions = []any{}
		}
		return Rule{RuleID: id, Default: true, Enabled: enabled, Conditions: c, Actions: actions}
	}
	soundDefault := tweak("sound", "default")
	highlight := tweak("highlight", nil)
	return Ruleset{
		Override: []Rule{
			rule(".m.rule.master", false, nil),
			rule(".m.rule.suppress_notices", true, conds(eventMatch("content.msgtype", "m.notice"))),
			rule(".m.rule.invite_for_me", true, conds(
				eventMatch("type", "m.room.member"),
				eventMatch("content.membership", "invite"),
				eventMatch("state_key", userID)),
				"notify", soundDefault),
			rule(".m.rule.member_event", true, conds(eventMatch("type", "m.room.member"))),
			rule(".m.rule.is_user_mention", true, conds(
				Condition{Kind: "event_property_contains", Key: `content.m\.mentions.user_ids`, Value: userID}),
				"notify", soundDefault, highlight),
			rule(".m.rule.is_room_mention", true, conds(
				Condition{Kind: "event_property_is", Key: `content.m\.mentions.room`, Value: true},
				Condition{Kind: "sender_notification_permission", Key: "room"}),
				"notify", highlight),
			rule(".m.rule.tombstone", true, conds(eventMatch("type", "m.room.tombstone"), eventMatch("state_key", "")),
				"notify", highlight),
			rule(".m.rule.reaction", true, conds(eventMatch("type", "m.reaction"))),
			rule(".m.rule.room.server_acl", true, conds(eventMatch("type", "m.room.server_acl"), eventMatch("state_key", ""))),
			rule(".m.rule.suppress_edits", true, conds(
				Condition{Kind: "event_property_is", Key: `content.m\.relates_to.rel_type`, Value: "m.replace"})),
		},
		Content: []Rule{},
		Room:    []Rule{},
		Sender:  []Rule{},
		Underride: []Rule{
			rule(".m.rule.call", true, conds(eventMatch("type", "m.call.invite")), "notify", tweak("sound", "ring")),
			rule(".m.rule.encrypted_room_one_to_one", true, conds(
				Condition{Kind: "room_member_count", Is: "2"}, eventMatch("type", "m.room.encrypted")),
				"notify", soundDefault),
			rule(".m.rule.room_one_to_one", true, conds(
				Condition{Kind: "room_member_count", Is: "2"}, eventMatch("type", "m.room.message")),
				"notify", soundDefault),
			rule(".m.rule.message", true, conds(eventMatch("type", "m.room.message")), "notify"),
			rule(".m.rule.encrypted", true, conds(eventMatch("type", "m.room.encrypted")), "notify"),
		},
	}
}
