package clientapi

import (
	"encoding/json"
	"sync"
)

// PushRule is one push rule (content/client-server-api/modules/push.md
// "Push Rules").
type PushRule struct {
	RuleID     string          `json:"rule_id"`
	Default    bool            `json:"default"`
	Enabled    bool            `json:"enabled"`
	Conditions []PushCondition `json:"conditions,omitempty"`
	Pattern    string          `json:"pattern,omitempty"`
	Actions    []any           `json:"actions"`
}

// PushCondition is one condition of a push rule.
type PushCondition struct {
	Kind    string `json:"kind"`
	Key     string `json:"key,omitempty"`
	Pattern string `json:"pattern,omitempty"`
	Value   any    `json:"value,omitempty"`
	Is      string `json:"is,omitempty"`
}

// PushRuleset is the rules of one scope by kind, in priority order.
type PushRuleset struct {
	Override  []PushRule `json:"override"`
	Content   []PushRule `json:"content"`
	Room      []PushRule `json:"room"`
	Sender    []PushRule `json:"sender"`
	Underride []PushRule `json:"underride"`
}

// MarshalJSON writes pattern for every event_match condition, even an
// empty one (the tombstone and server ACL rules match state_key "").
func (pc PushCondition) MarshalJSON() ([]byte, error) {
	m := map[string]any{"kind": pc.Kind}
	if pc.Key != "" {
		m["key"] = pc.Key
	}
	if pc.Kind == "event_match" || pc.Pattern != "" {
		m["pattern"] = pc.Pattern
	}
	if pc.Value != nil {
		m["value"] = pc.Value
	}
	if pc.Is != "" {
		m["is"] = pc.Is
	}
	return json.Marshal(m)
}

func tweak(name string, value any) map[string]any {
	m := map[string]any{"set_tweak": name}
	if value != nil {
		m["value"] = value
	}
	return m
}

func eventMatch(key, pattern string) PushCondition {
	return PushCondition{Kind: "event_match", Key: key, Pattern: pattern}
}

// DefaultPushRules returns the server-default rules of
// content/client-server-api/modules/push.md "Predefined Rules" (v1.17: no
// legacy body-mention rules) for userID, in the order the spec lists them.
func DefaultPushRules(userID string) PushRuleset {
	conds := func(c ...PushCondition) []PushCondition { return c }
	rule := func(id string, enabled bool, c []PushCondition, actions ...any) PushRule {
		if c == nil {
			c = []PushCondition{}
		}
		if actions == nil {
			actions = []any{}
		}
		return PushRule{RuleID: id, Default: true, Enabled: enabled, Conditions: c, Actions: actions}
	}
	soundDefault := tweak("sound", "default")
	highlight := tweak("highlight", nil)
	return PushRuleset{
		Override: []PushRule{
			rule(".m.rule.master", false, nil),
			rule(".m.rule.suppress_notices", true, conds(eventMatch("content.msgtype", "m.notice"))),
			rule(".m.rule.invite_for_me", true, conds(
				eventMatch("type", "m.room.member"),
				eventMatch("content.membership", "invite"),
				eventMatch("state_key", userID)),
				"notify", soundDefault),
			rule(".m.rule.member_event", true, conds(eventMatch("type", "m.room.member"))),
			rule(".m.rule.is_user_mention", true, conds(
				PushCondition{Kind: "event_property_contains", Key: `content.m\.mentions.user_ids`, Value: userID}),
				"notify", soundDefault, highlight),
			rule(".m.rule.is_room_mention", true, conds(
				PushCondition{Kind: "event_property_is", Key: `content.m\.mentions.room`, Value: true},
				PushCondition{Kind: "sender_notification_permission", Key: "room"}),
				"notify", highlight),
			rule(".m.rule.tombstone", true, conds(eventMatch("type", "m.room.tombstone"), eventMatch("state_key", "")),
				"notify", highlight),
			rule(".m.rule.reaction", true, conds(eventMatch("type", "m.reaction"))),
			rule(".m.rule.room.server_acl", true, conds(eventMatch("type", "m.room.server_acl"), eventMatch("state_key", ""))),
			rule(".m.rule.suppress_edits", true, conds(
				PushCondition{Kind: "event_property_is", Key: `content.m\.relates_to.rel_type`, Value: "m.replace"})),
		},
		Content: []PushRule{},
		Room:    []PushRule{},
		Sender:  []PushRule{},
		Underride: []PushRule{
			rule(".m.rule.call", true, conds(eventMatch("type", "m.call.invite")), "notify", tweak("sound", "ring")),
			rule(".m.rule.encrypted_room_one_to_one", true, conds(
				PushCondition{Kind: "room_member_count", Is: "2"}, eventMatch("type", "m.room.encrypted")),
				"notify", soundDefault),
			rule(".m.rule.room_one_to_one", true, conds(
				PushCondition{Kind: "room_member_count", Is: "2"}, eventMatch("type", "m.room.message")),
				"notify", soundDefault),
			rule(".m.rule.message", true, conds(eventMatch("type", "m.room.message")), "notify"),
			rule(".m.rule.encrypted", true, conds(eventMatch("type", "m.room.encrypted")), "notify"),
		},
	}
}

// pushRules serves GET /pushrules/, /pushrules/global/ and
// /pushrules/global/{kind}/{ruleId}[/enabled|/actions] from the
// effective rules (defaults merged with the user's changes).
func (c *call) pushRules() (any, error) {
	u, err := c.userPushRules()
	if err != nil {
		return nil, err
	}
	rules := EffectivePushRules(c.who.UserID, u)
	parts := c.pushSegments()
	if len(parts) == 1 && parts[0] == "" {
		return map[string]PushRuleset{"global": rules}, nil
	}
	if parts[0] != "global" {
		return nil, InvalidParam("push rule scope must be global")
	}
	if len(parts) == 1 {
		return rules, nil
	}
	list := rules.kind(parts[1])
	if list == nil {
		return nil, InvalidParam("unknown push rule kind " + quote(parts[1]))
	}
	if len(parts) == 2 {
		return *list, nil
	}
	for _, r := range *list {
		if r.RuleID != parts[2] {
			continue
		}
		switch {
		case len(parts) == 3:
			return r, nil
		case len(parts) == 4 && parts[3] == "enabled":
			return map[string]bool{"enabled": r.Enabled}, nil
		case len(parts) == 4 && parts[3] == "actions":
			return map[string]any{"actions": r.Actions}, nil
		}
		break
	}
	return nil, NotFound("unknown push rule")
}

// keyLocks serialises requests with the same transaction key, so a
// retransmission that races the original waits for its answer instead
// of sending a second event.
type keyLocks struct {
	mu sync.Mutex
	m  map[TxnKey]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

var txnLocks = &keyLocks{m: map[TxnKey]*keyLock{}}

func (k *keyLocks) lock(key TxnKey) (unlock func()) {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
