package push

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/internal/jsonraw"
)

// Context is what the conditions need besides the event: facts of the
// room and of the user whose rules are evaluated, as they are when the
// event arrives.
type Context struct {
	// DisplayName is the user's display name in the room, for
	// contains_display_name; "" never matches.
	DisplayName string
	// MemberCount is the number of joined members of the room, for
	// room_member_count.
	MemberCount int
	// PowerLevels are the room's power levels, for
	// sender_notification_permission; nil: that condition never matches.
	PowerLevels *eventauth.PowerLevels
}

// Result is what the matching rule asks for.
type Result struct {
	// Kind and RuleID name the rule.
	Kind, RuleID string
	// Actions are the rule's actions, without the historical ones.
	Actions []any
	// Notify is set by the action "notify".
	Notify bool
	// Tweaks are the set_tweak actions by name (a highlight without value
	// is true).
	Tweaks map[string]any
}

// Highlight reports the highlight tweak: true when set without a value or
// with true ("Actions"), false when absent.
func (r Result) Highlight() bool {
	v, ok := r.Tweaks["highlight"]
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	return isBool && b
}

// Evaluate returns the result of the first enabled rule of rs, in the order
// of the kinds, that matches the event ev (raw JSON, read in place);
// matched is false when no rule does (then nothing is notified).
func Evaluate(rs *Ruleset, ev []byte, c Context) (res Result, matched bool) {
	var body *string // content.body, read once if needed
	getBody := func() (string, bool) {
		if body == nil {
			s, ok := stringAt(ev, []string{"content", "body"})
			if !ok {
				return "", false
			}
			body = &s
		}
		return *body, true
	}
	for _, kind := range Kinds {
		for i := range *rs.Kind(kind) {
			r := &(*rs.Kind(kind))[i]
			if !r.Enabled || !ruleMatches(kind, r, ev, c, getBody) {
				continue
			}
			return result(kind, r), true
		}
	}
	return Result{}, false
}

func ruleMatches(kind string, r *Rule, ev []byte, c Context, body func() (string, bool)) bool {
	switch kind {
	case "content":
		b, ok := body()
		return ok && r.Pattern != "" && globMatch(r.Pattern, b, true)
	case "room":
		v, ok := lookup(ev, []string{"room_id"})
		return ok && jsonraw.StringIs(v, r.RuleID)
	case "sender":
		v, ok := lookup(ev, []string{"sender"})
		return ok && jsonraw.StringIs(v, r.RuleID)
	}
	for i := range r.Conditions {
		if !conditionMatches(&r.Conditions[i], ev, c, body) {
			return false
		}
	}
	return true
}

// ConditionMatches reports whether one condition holds for the event.
func ConditionMatches(cond Condition, ev []byte, c Context) bool {
	return conditionMatches(&cond, ev, c, func() (string, bool) { return stringAt(ev, []string{"content", "body"}) })
}

func conditionMatches(cond *Condition, ev []byte, c Context, body func() (string, bool)) bool {
	switch cond.Kind {
	case "event_match":
		if cond.Key == "" {
			return false
		}
		v, ok := lookupKey(ev, cond.Key)
		if !ok {
			return false
		}
		words := cond.Key == "content.body"
		if !words && !strings.ContainsAny(cond.Pattern, "*?") {
			// A pattern without wildcards is a case-insensitive equality:
			// no regular expression needed (most default rules).
			inner, esc, isString := jsonraw.String(v)
			if !isString {
				return false
			}
			if !esc {
				return bytes.EqualFold(inner, []byte(cond.Pattern))
			}
		}
		s, isString := jsonraw.Unquote(v)
		return isString && globMatch(cond.Pattern, s, words)
	case "event_property_is":
		want, ok := scalarOf(cond)
		if !ok || cond.Key == "" {
			return false
		}
		v, found := lookupKey(ev, cond.Key)
		return found && scalarEqual(v, want)
	case "event_property_contains":
		want, ok := scalarOf(cond)
		if !ok || cond.Key == "" {
			return false
		}
		arr, found := lookupKey(ev, cond.Key)
		if !found || len(arr) == 0 || arr[0] != '[' {
			return false
		}
		it := jsonraw.Elements(arr)
		for it.Next() {
			if scalarEqual(it.Elem, want) {
				return true
			}
		}
		return false
	case "contains_display_name":
		b, ok := body()
		return ok && c.DisplayName != "" && containsWord(c.DisplayName, b)
	case "room_member_count":
		return memberCountMatches(cond.Is, c.MemberCount)
	case "sender_notification_permission":
		if c.PowerLevels == nil || cond.Key == "" {
			return false
		}
		sender, ok := stringAt(ev, []string{"sender"})
		if !ok {
			return false
		}
		lvl := c.PowerLevels.UserLevelExact(sender)
		return lvl.IsInfinite() || lvl.Int64() >= c.PowerLevels.Notification(cond.Key)
	}
	return false // unrecognised: the rule is in effect disabled
}

// stringAt returns the string at path, false when absent or not a string.
func stringAt(ev []byte, path []string) (string, bool) {
	v, ok := lookup(ev, path)
	if !ok {
		return "", false
	}
	return jsonraw.Unquote(v)
}

// memberCountMatches reads is: a decimal integer with an optional ==, <,
// >, <= or >= prefix (== when none). A malformed is never matches.
func memberCountMatches(is string, count int) bool {
	op := "=="
	for _, p := range []string{"==", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(is, p) {
			op, is = p, is[len(p):]
			break
		}
	}
	n, err := strconv.ParseInt(is, 10, 64)
	if err != nil || is == "" || is[0] == '+' || is[0] == '-' {
		return false
	}
	c := int64(count)
	switch op {
	case "==":
		return c == n
	case "<":
		return c < n
	case ">":
		return c > n
	case "<=":
		return c <= n
	default:
		return c >= n
	}
}

// scalar is a condition's value as a canonical JSON scalar.
type scalar struct {
	kind byte // 's' string, 'i' integer, 'b' boolean, 'n' null
	s    string
	i    int64
	b    bool
}

// maxSafe is the largest integer of canonical JSON, 2^53-1.
const maxSafe = 1<<53 - 1

// scalarOf reads cond.Value; ok is false for a value of another type (an
// object, an array, a number that is not an integer of the canonical
// range), or none.
func scalarOf(cond *Condition) (scalar, bool) {
	switch v := cond.Value.(type) {
	case nil:
		return scalar{kind: 'n'}, cond.ValueSet
	case string:
		return scalar{kind: 's', s: v}, true
	case bool:
		return scalar{kind: 'b', b: v}, true
	case int:
		return intScalar(int64(v))
	case int64:
		return intScalar(v)
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > maxSafe {
			return scalar{}, false
		}
		return intScalar(int64(v))
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return scalar{}, false
		}
		return intScalar(n)
	}
	return scalar{}, false
}

func intScalar(n int64) (scalar, bool) {
	if n > maxSafe || n < -maxSafe {
		return scalar{}, false
	}
	return scalar{kind: 'i', i: n}, true
}

// scalarEqual compares a raw JSON value of the event with want, exactly:
// no conversion between types; an integer is written as canonical JSON
// writes it (no fraction, no exponent).
func scalarEqual(v []byte, want scalar) bool {
	if len(v) == 0 {
		return false
	}
	switch want.kind {
	case 's':
		return jsonraw.StringIs(v, want.s)
	case 'b':
		if want.b {
			return bytes.Equal(v, []byte("true"))
		}
		return bytes.Equal(v, []byte("false"))
	case 'n':
		return bytes.Equal(v, []byte("null"))
	case 'i':
		if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
			return false
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		return err == nil && n == want.i && n <= maxSafe && n >= -maxSafe
	}
	return false
}

// result reads a rule's actions.
func result(kind string, r *Rule) Result {
	res := Result{Kind: kind, RuleID: r.RuleID, Actions: make([]any, 0, len(r.Actions))}
	for _, a := range r.Actions {
		switch a := a.(type) {
		case string:
			switch a {
			case "notify":
				res.Notify = true
			case "dont_notify", "coalesce":
				continue // historical: ignored ("Historical Actions")
			}
		case map[string]any:
			if name, ok := a["set_tweak"].(string); ok {
				if res.Tweaks == nil {
					res.Tweaks = map[string]any{}
				}
				v, has := a["value"]
				if !has && name == "highlight" {
					v = true
				}
				res.Tweaks[name] = v
			}
		}
		res.Actions = append(res.Actions, a)
	}
	return res
}
