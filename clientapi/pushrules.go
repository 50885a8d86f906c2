package clientapi

import (
	"sync"

	"github.com/mxkit/mxkit/push"
)

// PushRule, PushCondition and PushRuleset are the push rule types of
// package push (content/client-server-api/modules/push.md "Push Rules"),
// named here as the adapters name them.
type (
	PushRule      = push.Rule
	PushCondition = push.Condition
	PushRuleset   = push.Ruleset
)

// DefaultPushRules returns the server-default rules for userID
// (push.DefaultRules).
func DefaultPushRules(userID string) PushRuleset { return push.DefaultRules(userID) }

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
	list := rules.Kind(parts[1])
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
