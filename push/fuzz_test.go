package push

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzEvaluate: any event and any rule give an answer, never a panic; the
// answer does not change when asked twice (compiled patterns are cached);
// an event_match of "*" matches exactly when the path holds a string.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte(`{"type":"m.room.message","content":{"body":"hello world"}}`), "content.body", "hel*", "2")
	f.Add([]byte(`{"type":"m.room.member","state_key":"@me:x","content":{"membership":"invite"}}`), "state_key", "@me:x", ">=1")
	f.Add([]byte(`{"content":{"m.relates_to":{"rel_type":"m.replace"}}}`), `content.m\.relates_to.rel_type`, "m.*", "<5")
	f.Add([]byte(`{"a":"\u00e9\n","b":[1,null]}`), "a", "?\n", "==0")
	f.Add([]byte(`[1,2]`), "", "*", "")
	f.Fuzz(func(t *testing.T, ev []byte, key, pattern, is string) {
		if !json.Valid(ev) || len(pattern) > 256 {
			return
		}
		rs := DefaultRules("@me:x")
		rs.Override = append([]Rule{{RuleID: "fuzz", Enabled: true, Conditions: []Condition{
			{Kind: "event_match", Key: key, Pattern: pattern},
			{Kind: "room_member_count", Is: is},
			{Kind: "event_property_is", Key: key, Value: pattern},
			{Kind: "event_property_contains", Key: key, Value: pattern},
		}, Actions: []any{"notify"}}}, rs.Override...)
		rs.Content = []Rule{{RuleID: "c", Enabled: true, Pattern: pattern, Actions: []any{"notify"}}}
		c := Context{MemberCount: 3, DisplayName: pattern}
		r1, ok1 := Evaluate(&rs, ev, c)
		r2, ok2 := Evaluate(&rs, ev, c)
		if ok1 != ok2 || r1.RuleID != r2.RuleID || r1.Notify != r2.Notify {
			t.Fatalf("two answers: %+v %v / %+v %v", r1, ok1, r2, ok2)
		}
		if key == "" {
			return
		}
		_, isString := stringAt(ev, SplitPath(key))
		if got := ConditionMatches(Condition{Kind: "event_match", Key: key, Pattern: "*"}, ev, c); got != isString {
			t.Fatalf("pattern * on %q: %v, but the path holds a string: %v", key, got, isString)
		}
	})
}

// FuzzSplitPath: escaping each name (\ and . behind a backslash) and
// joining with dots gives a path that splits back into the names.
func FuzzSplitPath(f *testing.F) {
	f.Add("content", "m.relates_to", `m\foo`)
	f.Add("", ".", `\`)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		esc := strings.NewReplacer(`\`, `\\`, `.`, `\.`)
		names := []string{a, b, c}
		path := esc.Replace(a) + "." + esc.Replace(b) + "." + esc.Replace(c)
		got := SplitPath(path)
		if len(got) != 3 || got[0] != a || got[1] != b || got[2] != c {
			t.Fatalf("SplitPath(%q) = %q, want %q", path, got, names)
		}
	})
}
