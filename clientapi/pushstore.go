package clientapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// PushRuleStore keeps each user's own push rules and changes to the
// server-default ones (content/client-server-api/modules/push.md "Push
// Rules: API", data/api/client-server/pushrules.yaml). Optional: without
// it the rules are the defaults and cannot be changed (404
// M_UNRECOGNIZED). The library does the rule editing (ordering, before
// and after, validation); the store only loads and saves.
type PushRuleStore interface {
	// UserPushRules returns what the user changed; a zero value (or nil)
	// when nothing was.
	UserPushRules(ctx context.Context, userID string) (*UserPushRules, error)
	SetUserPushRules(ctx context.Context, userID string, rules *UserPushRules) error
}

// UserPushRules is what a user changed: their own rules by kind, most
// important first, and the enabled flag and actions of server-default
// rules they changed.
type UserPushRules struct {
	Rules    PushRuleset                  `json:"rules"`
	Defaults map[string]DefaultRuleChange `json:"defaults,omitempty"`
}

// DefaultRuleChange is a user's change to a server-default rule.
type DefaultRuleChange struct {
	Enabled *bool `json:"enabled,omitempty"`
	// Actions replaces the rule's actions when non-nil (an empty list
	// is a change: the rule does nothing).
	Actions []any `json:"actions"`
}

// EffectivePushRules merges the defaults with a user's changes, in the
// order of content/client-server-api/modules/push.md "Predefined Rules":
// .m.rule.master first, then in each kind the user's rules before the
// server-default ones. Homeservers send the result as the m.push_rules
// account data ({"global": ...}) in /sync.
func EffectivePushRules(userID string, user *UserPushRules) PushRuleset {
	d := DefaultPushRules(userID)
	if user == nil {
		return d
	}
	apply := func(rules []PushRule) []PushRule {
		for i, r := range rules {
			if ch, ok := user.Defaults[r.RuleID]; ok {
				if ch.Enabled != nil {
					rules[i].Enabled = *ch.Enabled
				}
				if ch.Actions != nil {
					rules[i].Actions = ch.Actions
				}
			}
		}
		return rules
	}
	u := user.Rules
	return PushRuleset{
		Override:  apply(append(append([]PushRule{d.Override[0]}, u.Override...), d.Override[1:]...)),
		Content:   apply(append(slices.Clone(u.Content), d.Content...)),
		Room:      apply(append(slices.Clone(u.Room), d.Room...)),
		Sender:    apply(append(slices.Clone(u.Sender), d.Sender...)),
		Underride: apply(append(slices.Clone(u.Underride), d.Underride...)),
	}
}

var pushLocks sync.Map // user ID -> *sync.Mutex

func lockPush(userID string) func() {
	m, _ := pushLocks.LoadOrStore(userID, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (s *Server) pushRuleRoutes(add addFunc) {
	L := legacyPrefixes
	add(L, "GET", "/pushrules", authRequired, (*call).pushRules)
	add(L, "GET", "/pushrules/{rest...}", authRequired, (*call).pushRules)
	add(L, "PUT", "/pushrules/{rest...}", authRequired, (*call).putPushRule)
	add(L, "DELETE", "/pushrules/{rest...}", authRequired, (*call).deletePushRule)
}

func (c *call) userPushRules() (*UserPushRules, error) {
	if c.s.PushRules == nil {
		return nil, nil
	}
	u, err := c.s.PushRules.UserPushRules(c.ctx, c.who.UserID)
	if err != nil {
		return nil, err
	}
	if u == nil {
		u = &UserPushRules{}
	}
	return u, nil
}

// pushSegments splits the path after /pushrules/ into its segments,
// each percent-decoded on its own so an encoded "/" in a rule ID stays in
// its segment.
func (c *call) pushSegments() []string {
	p := c.r.URL.EscapedPath()
	i := strings.Index(p, "/pushrules/")
	if i < 0 {
		return []string{""}
	}
	parts := strings.Split(strings.Trim(p[i+len("/pushrules/"):], "/"), "/")
	for j, seg := range parts {
		if u, err := url.PathUnescape(seg); err == nil {
			parts[j] = u
		}
	}
	return parts
}

// pushPath splits global/{kind}/{ruleId}[/attr].
func (c *call) pushPath() (kind, ruleID, attr string, err error) {
	parts := c.pushSegments()
	if len(parts) < 3 || len(parts) > 4 || parts[0] != "global" {
		return "", "", "", unrecognized(http.StatusNotFound)
	}
	if (&PushRuleset{}).Kind(parts[1]) == nil {
		return "", "", "", InvalidParam("unknown push rule kind " + quote(parts[1]))
	}
	if len(parts) == 4 {
		attr = parts[3]
		if attr != "enabled" && attr != "actions" {
			return "", "", "", unrecognized(http.StatusNotFound)
		}
	}
	return parts[1], parts[2], attr, nil
}

func validActions(actions []any) error {
	for _, a := range actions {
		switch a := a.(type) {
		case string:
			switch a {
			case "notify", "dont_notify", "coalesce":
			default:
				return InvalidParam("unknown push rule action " + quote(a))
			}
		case map[string]any:
			if _, ok := a["set_tweak"].(string); !ok {
				return InvalidParam("push rule action objects must have a set_tweak string")
			}
		default:
			return InvalidParam("push rule actions are strings or objects")
		}
	}
	return nil
}

func (c *call) putPushRule() (any, error) {
	if err := need(c.s.PushRules != nil); err != nil {
		return nil, err
	}
	kind, ruleID, attr, err := c.pushPath()
	if err != nil {
		return nil, err
	}
	unlock := lockPush(c.who.UserID)
	defer unlock()
	u, err := c.userPushRules()
	if err != nil {
		return nil, err
	}
	isDefault := strings.HasPrefix(ruleID, ".")
	if attr != "" {
		var b struct {
			Enabled *bool  `json:"enabled"`
			Actions *[]any `json:"actions"`
		}
		if err := c.decode(&b, false); err != nil {
			return nil, err
		}
		if attr == "enabled" && b.Enabled == nil {
			return nil, MissingParam("enabled is required")
		}
		if attr == "actions" {
			if b.Actions == nil {
				return nil, MissingParam("actions is required")
			}
			if err := validActions(*b.Actions); err != nil {
				return nil, err
			}
		}
		if isDefault {
			defaults := DefaultPushRules(c.who.UserID)
			if !slices.ContainsFunc(*defaults.Kind(kind), func(r PushRule) bool { return r.RuleID == ruleID }) {
				return nil, NotFound("unknown push rule")
			}
			if u.Defaults == nil {
				u.Defaults = map[string]DefaultRuleChange{}
			}
			ch := u.Defaults[ruleID]
			if attr == "enabled" {
				ch.Enabled = b.Enabled
			} else {
				ch.Actions = *b.Actions
			}
			u.Defaults[ruleID] = ch
		} else {
			rules := u.Rules.Kind(kind)
			i := slices.IndexFunc(*rules, func(r PushRule) bool { return r.RuleID == ruleID })
			if i < 0 {
				return nil, NotFound("unknown push rule")
			}
			if attr == "enabled" {
				(*rules)[i].Enabled = *b.Enabled
			} else {
				(*rules)[i].Actions = *b.Actions
			}
		}
		return struct{}{}, c.s.PushRules.SetUserPushRules(c.ctx, c.who.UserID, u)
	}

	if isDefault {
		return nil, InvalidParam("rule IDs starting with '.' are reserved for server-default rules")
	}
	if ruleID == "" || strings.ContainsAny(ruleID, `/\`) {
		return nil, InvalidParam("rule IDs must be non-empty and contain no '/' or '\\'")
	}
	var b struct {
		Actions    *[]any          `json:"actions"`
		Conditions []PushCondition `json:"conditions"`
		Pattern    *string         `json:"pattern"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.Actions == nil {
		return nil, MissingParam("actions is required")
	}
	if err := validActions(*b.Actions); err != nil {
		return nil, err
	}
	rule := PushRule{RuleID: ruleID, Enabled: true, Actions: *b.Actions}
	switch kind {
	case "content":
		if b.Pattern == nil {
			return nil, MissingParam("pattern is required for content rules")
		}
		rule.Pattern = *b.Pattern
	case "override", "underride":
		rule.Conditions = b.Conditions
		if rule.Conditions == nil {
			rule.Conditions = []PushCondition{}
		}
		for _, cond := range rule.Conditions {
			if cond.Kind == "" {
				return nil, InvalidParam("every condition needs a kind")
			}
		}
	case "room":
		if err := ValidRoomID(ruleID); err != nil {
			return nil, paramError(err)
		}
	case "sender":
		if err := ValidUserID(ruleID, true); err != nil {
			return nil, paramError(err)
		}
	}
	rules := u.Rules.Kind(kind)
	q := c.r.URL.Query()
	before, after := q.Get("before"), q.Get("after")
	i := slices.IndexFunc(*rules, func(r PushRule) bool { return r.RuleID == ruleID })
	if i >= 0 {
		rule.Enabled = (*rules)[i].Enabled
		if before == "" && after == "" {
			(*rules)[i] = rule // an update keeps its place
			return struct{}{}, c.s.PushRules.SetUserPushRules(c.ctx, c.who.UserID, u)
		}
		*rules = slices.Delete(*rules, i, i+1)
	}
	at := 0 // a new rule is the most important of its kind
	if before != "" || after != "" {
		// before wins when both are given.
		anchor, offset := after, 1
		if before != "" {
			anchor, offset = before, 0
		}
		j := slices.IndexFunc(*rules, func(r PushRule) bool { return r.RuleID == anchor })
		if j < 0 {
			return nil, NewError(http.StatusBadRequest, CodeUnknown, "before/after rule not found: "+anchor)
		}
		at = j + offset
	}
	*rules = slices.Insert(*rules, at, rule)
	return struct{}{}, c.s.PushRules.SetUserPushRules(c.ctx, c.who.UserID, u)
}

func (c *call) deletePushRule() (any, error) {
	if err := need(c.s.PushRules != nil); err != nil {
		return nil, err
	}
	kind, ruleID, attr, err := c.pushPath()
	if err != nil {
		return nil, err
	}
	if attr != "" {
		return nil, unrecognized(http.StatusMethodNotAllowed)
	}
	if strings.HasPrefix(ruleID, ".") {
		return nil, InvalidParam("server-default rules cannot be deleted")
	}
	unlock := lockPush(c.who.UserID)
	defer unlock()
	u, err := c.userPushRules()
	if err != nil {
		return nil, err
	}
	rules := u.Rules.Kind(kind)
	i := slices.IndexFunc(*rules, func(r PushRule) bool { return r.RuleID == ruleID })
	if i < 0 {
		return nil, NotFound("unknown push rule")
	}
	*rules = slices.Delete(*rules, i, i+1)
	return struct{}{}, c.s.PushRules.SetUserPushRules(c.ctx, c.who.UserID, u)
}
