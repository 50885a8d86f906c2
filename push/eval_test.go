package push

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

func cond(t *testing.T, js string) Condition {
	t.Helper()
	var c Condition
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConditionsSpecExamples: the examples of
// content/client-server-api/modules/push.md "Conditions", each way.
func TestConditionsSpecExamples(t *testing.T) {
	topic := func(v string) string {
		return `{"content":{"topic":` + v + `},"event_id":"$1:example.org","room_id":"!r:example.com","sender":"@example:example.org","state_key":"","type":"m.room.topic"}`
	}
	body := func(v string) string {
		return `{"content":{"body":` + v + `},"event_id":"$1:example.org","room_id":"!r:example.com","sender":"@example:example.org","type":"m.room.message"}`
	}
	create := func(v string) string {
		return `{"content":{"creator":"@example:example.org","m.federate":` + v + `,"room_version":"1"},"state_key":"","type":"m.room.create"}`
	}
	aliases := func(v string) string {
		return `{"content":{"alias":"#somewhere:localhost","alt_aliases":` + v + `},"state_key":"","type":"m.room.canonical_alias"}`
	}
	cases := []struct {
		cond, ev string
		want     bool
	}{
		{`{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, topic(`"Lunch plans"`), true},
		{`{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, topic(`"LUNCH"`), true},
		{`{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, topic(`" lunch"`), false},
		{`{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, topic(`"lunc"`), false},
		{`{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, topic(`null`), false},
		// "even if pattern is *": absent or not a string never matches.
		{`{"kind":"event_match","key":"content.topic","pattern":"*"}`, topic(`null`), false},
		{`{"kind":"event_match","key":"content.topic","pattern":"*"}`, topic(`7`), false},
		{`{"kind":"event_match","key":"content.nothing","pattern":"*"}`, topic(`"x"`), false},
		{`{"kind":"event_match","key":"content.topic","pattern":"*"}`, topic(`""`), true},
		{`{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, body(`"An example event."`), true},
		{`{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, body(`"exple"`), true},
		{`{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, body(`"An exciting triple-whammy"`), true},
		{`{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, body(`"examples"`), false},
		{`{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, body(`"complex ample"`), false},
		{`{"kind":"event_property_is","key":"content.m\\.federate","value":true}`, create(`true`), true},
		{`{"kind":"event_property_is","key":"content.m\\.federate","value":true}`, create(`"true"`), false},
		{`{"kind":"event_property_is","key":"content.m\\.federate","value":true}`, create(`1`), false},
		{`{"kind":"event_property_contains","key":"content.alt_aliases","value":"#myroom:example.com"}`, aliases(`["#somewhere:example.org","#myroom:example.com"]`), true},
		{`{"kind":"event_property_contains","key":"content.alt_aliases","value":":example.com"}`, aliases(`["#somewhere:example.org","#myroom:example.com"]`), false},
		{`{"kind":"event_property_contains","key":"content.alt_aliases","value":"#myroom:example.com"}`, aliases(`"#myroom:example.com"`), false},
	}
	for _, tc := range cases {
		if got := ConditionMatches(cond(t, tc.cond), []byte(tc.ev), Context{}); got != tc.want {
			t.Errorf("%s on %s: %v, want %v", tc.cond, tc.ev, got, tc.want)
		}
	}
}

// TestConditionsEdges: the choices the package doc names, and values of
// every type for the exact matches.
func TestConditionsEdges(t *testing.T) {
	ev := `{"type":"m.room.message","sender":"@a:x","content":{"body":"Hello\nWorld, hi@room! ÉCOLE","n":42,"big":9007199254740993,"f":42.0,"nul":null,"b":false,
		"m.relates_to":{"rel_type":"m.replace"},"m\\foo":"bs","x\\x":"lit","arr":[1,"two",null,true,{"o":1},[2]],"esc\u0061ped":"yes"}}`
	cases := []struct {
		cond string
		want bool
	}{
		// * and ? match a line break too.
		{`{"kind":"event_match","key":"content.body","pattern":"hello*world"}`, true},
		{`{"kind":"event_match","key":"content.body","pattern":"hello?world"}`, true},
		// Word boundaries: a change from word to non-word characters is one
		// (the reference server's reading), so "@room" matches after "hi".
		{`{"kind":"event_match","key":"content.body","pattern":"@room"}`, true},
		{`{"kind":"event_match","key":"content.body","pattern":"room"}`, true},
		{`{"kind":"event_match","key":"content.body","pattern":"oom"}`, false},
		{`{"kind":"event_match","key":"content.body","pattern":"ell"}`, false},
		// Unicode case folding.
		{`{"kind":"event_match","key":"content.body","pattern":"école"}`, true},
		// Dotted paths: \. is a dot, \\ a backslash, other escapes literal.
		{`{"kind":"event_property_is","key":"content.m\\.relates_to.rel_type","value":"m.replace"}`, true},
		{`{"kind":"event_property_is","key":"content.m.relates_to.rel_type","value":"m.replace"}`, false},
		{`{"kind":"event_match","key":"content.m\\\\foo","pattern":"bs"}`, true},
		{`{"kind":"event_match","key":"content.x\\x","pattern":"lit"}`, true},
		{`{"kind":"event_match","key":"content.escaped","pattern":"yes"}`, true},
		// Exact values: integers exactly, no conversion between types.
		{`{"kind":"event_property_is","key":"content.n","value":42}`, true},
		{`{"kind":"event_property_is","key":"content.n","value":"42"}`, false},
		{`{"kind":"event_property_is","key":"content.f","value":42}`, false},
		{`{"kind":"event_property_is","key":"content.big","value":9007199254740993}`, false},
		{`{"kind":"event_property_is","key":"content.nul","value":null}`, true},
		{`{"kind":"event_property_is","key":"content.b","value":false}`, true},
		{`{"kind":"event_property_is","key":"content.b","value":null}`, false},
		{`{"kind":"event_property_is","key":"content.b"}`, false},
		{`{"kind":"event_property_is","key":"content.arr","value":[1]}`, false},
		{`{"kind":"event_property_contains","key":"content.arr","value":1}`, true},
		{`{"kind":"event_property_contains","key":"content.arr","value":null}`, true},
		{`{"kind":"event_property_contains","key":"content.arr","value":true}`, true},
		{`{"kind":"event_property_contains","key":"content.arr","value":2}`, false},
		{`{"kind":"event_property_contains","key":"content.arr","value":"one"}`, false},
		// Unrecognised kinds never match; so do conditions without key.
		{`{"kind":"org.example.always"}`, false},
		{`{"kind":"event_match","pattern":"*"}`, false},
	}
	for _, tc := range cases {
		if got := ConditionMatches(cond(t, tc.cond), []byte(ev), Context{}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.cond, got, tc.want)
		}
	}
}

func TestRoomMemberCount(t *testing.T) {
	cases := []struct {
		is    string
		count int
		want  bool
	}{
		{"2", 2, true}, {"2", 3, false}, {"==2", 2, true}, {"<3", 2, true}, {"<2", 2, false},
		{">1", 2, true}, {">2", 2, false}, {">=2", 2, true}, {"<=2", 2, true}, {"<=1", 2, false},
		{"", 0, false}, {"abc", 2, false}, {"+2", 2, false}, {"-2", 2, false}, {"=2", 2, false}, {"2 ", 2, false},
	}
	for _, tc := range cases {
		c := Condition{Kind: "room_member_count", Is: tc.is}
		if got := ConditionMatches(c, []byte(`{}`), Context{MemberCount: tc.count}); got != tc.want {
			t.Errorf("is %q with %d members: %v, want %v", tc.is, tc.count, got, tc.want)
		}
	}
}

// room builds the create and power levels events of a v10 room.
func powerLevels(t testing.TB, plContent string) *eventauth.PowerLevels {
	t.Helper()
	key, _ := signing.GenerateKey("k")
	v := roomversion.V10
	cb := event.Builder{Type: event.TypeCreate, StateKey: new(string), Sender: "@creator:x", RoomID: "!r:x", Content: []byte(`{"creator":"@creator:x","room_version":"10"}`)}
	create, err := cb.Build(v, "x", key)
	if err != nil {
		t.Fatal(err)
	}
	pb := event.Builder{Type: "m.room.power_levels", StateKey: new(string), Sender: "@creator:x", RoomID: "!r:x", Content: []byte(plContent), AuthEvents: []*event.Event{create}, PrevEvents: []*event.Event{create}}
	pl, err := pb.Build(v, "x", key)
	if err != nil {
		t.Fatal(err)
	}
	levels, err := eventauth.NewPowerLevels(v, pl, create)
	if err != nil {
		t.Fatal(err)
	}
	return levels
}

func TestSenderNotificationPermission(t *testing.T) {
	pl := powerLevels(t, `{"users":{"@mod:x":50,"@low:x":10,"@admin:x":100},"notifications":{"room":20,"custom":100}}`)
	c := Context{PowerLevels: pl}
	cases := []struct {
		sender, key string
		want        bool
	}{
		{"@mod:x", "room", true}, {"@low:x", "room", false}, {"@mod:x", "custom", false}, {"@admin:x", "custom", true},
		{"@mod:x", "other", true}, {"@low:x", "other", false}, // absent keys: 50
	}
	for _, tc := range cases {
		ev := `{"type":"m.room.message","sender":"` + tc.sender + `","content":{}}`
		if got := ConditionMatches(Condition{Kind: "sender_notification_permission", Key: tc.key}, []byte(ev), c); got != tc.want {
			t.Errorf("%s for %s: %v, want %v", tc.sender, tc.key, got, tc.want)
		}
	}
	if ConditionMatches(Condition{Kind: "sender_notification_permission", Key: "room"}, []byte(`{"sender":"@admin:x"}`), Context{}) {
		t.Errorf("matched without power levels")
	}
}

// TestDefaultRules evaluates events against the server-default rules, as a
// homeserver does for each member of a room.
func TestDefaultRules(t *testing.T) {
	const me = "@me:x"
	rs := DefaultRules(me)
	pl := powerLevels(t, `{"users":{"@mod:x":50,"@low:x":0}}`)
	msg := func(sender, content string) string {
		return `{"type":"m.room.message","sender":"` + sender + `","room_id":"!r:x","content":` + content + `}`
	}
	cases := []struct {
		name, ev  string
		members   int
		rule      string
		notify    bool
		highlight bool
		sound     any
	}{
		{"1:1 message", msg("@low:x", `{"msgtype":"m.text","body":"hi"}`), 2, ".m.rule.room_one_to_one", true, false, "default"},
		{"group message", msg("@low:x", `{"msgtype":"m.text","body":"hi"}`), 5, ".m.rule.message", true, false, nil},
		{"notice", msg("@low:x", `{"msgtype":"m.notice","body":"bot"}`), 2, ".m.rule.suppress_notices", false, false, nil},
		{"user mention", msg("@low:x", `{"body":"hey","m.mentions":{"user_ids":["@me:x"]}}`), 5, ".m.rule.is_user_mention", true, true, "default"},
		{"other user mention", msg("@low:x", `{"body":"hey","m.mentions":{"user_ids":["@you:x"]}}`), 5, ".m.rule.message", true, false, nil},
		{"room mention, allowed", msg("@mod:x", `{"body":"all","m.mentions":{"room":true}}`), 5, ".m.rule.is_room_mention", true, true, nil},
		{"room mention, not allowed", msg("@low:x", `{"body":"all","m.mentions":{"room":true}}`), 5, ".m.rule.message", true, false, nil},
		{"edit", msg("@low:x", `{"body":"* fix","m.new_content":{"body":"fix"},"m.relates_to":{"rel_type":"m.replace","event_id":"$e"}}`), 2, ".m.rule.suppress_edits", false, false, nil},
		{"invite for me", `{"type":"m.room.member","state_key":"@me:x","sender":"@low:x","content":{"membership":"invite"}}`, 3, ".m.rule.invite_for_me", true, false, "default"},
		{"invite for another", `{"type":"m.room.member","state_key":"@you:x","sender":"@low:x","content":{"membership":"invite"}}`, 3, ".m.rule.member_event", false, false, nil},
		{"tombstone", `{"type":"m.room.tombstone","state_key":"","sender":"@mod:x","content":{"body":"moved"}}`, 3, ".m.rule.tombstone", true, true, nil},
		{"tombstone not state", `{"type":"m.room.tombstone","sender":"@mod:x","content":{}}`, 3, "", false, false, nil},
		{"reaction", `{"type":"m.reaction","sender":"@low:x","content":{}}`, 2, ".m.rule.reaction", false, false, nil},
		{"acl", `{"type":"m.room.server_acl","state_key":"","sender":"@mod:x","content":{}}`, 2, ".m.rule.room.server_acl", false, false, nil},
		{"call", `{"type":"m.call.invite","sender":"@low:x","content":{}}`, 2, ".m.rule.call", true, false, "ring"},
		{"encrypted 1:1", `{"type":"m.room.encrypted","sender":"@low:x","content":{}}`, 2, ".m.rule.encrypted_room_one_to_one", true, false, "default"},
		{"encrypted group", `{"type":"m.room.encrypted","sender":"@low:x","content":{}}`, 3, ".m.rule.encrypted", true, false, nil},
		{"topic", `{"type":"m.room.topic","state_key":"","sender":"@low:x","content":{"topic":"x"}}`, 3, "", false, false, nil},
	}
	for _, tc := range cases {
		res, ok := Evaluate(&rs, []byte(tc.ev), Context{MemberCount: tc.members, PowerLevels: pl})
		if tc.rule == "" {
			if ok {
				t.Errorf("%s: matched %s, want no rule", tc.name, res.RuleID)
			}
			continue
		}
		if !ok || res.RuleID != tc.rule || res.Notify != tc.notify || res.Highlight() != tc.highlight || res.Tweaks["sound"] != tc.sound {
			t.Errorf("%s: %+v (matched %v), want %s notify=%v highlight=%v sound=%v", tc.name, res, ok, tc.rule, tc.notify, tc.highlight, tc.sound)
		}
	}
	// The master rule, once enabled, silences everything.
	rs.Override[0].Enabled = true
	if res, ok := Evaluate(&rs, []byte(msg("@low:x", `{"body":"hi","m.mentions":{"user_ids":["@me:x"]}}`)), Context{MemberCount: 2}); !ok || res.RuleID != ".m.rule.master" || res.Notify {
		t.Errorf("master: %+v", res)
	}
}

// TestKindsOrder: override, content, room, sender, underride; in a kind,
// the list order; disabled rules never match; historical actions are
// dropped.
func TestKindsOrder(t *testing.T) {
	ev := []byte(`{"type":"m.room.message","sender":"@bob:x","room_id":"!r:x","content":{"body":"time for tea"}}`)
	rs := Ruleset{
		Content: []Rule{
			{RuleID: "tea", Enabled: true, Pattern: "tea", Actions: []any{"notify", map[string]any{"set_tweak": "sound", "value": "tea"}}},
			{RuleID: "time", Enabled: true, Pattern: "time", Actions: []any{"notify"}},
		},
		Room:      []Rule{{RuleID: "!r:x", Enabled: true, Actions: []any{"dont_notify"}}},
		Sender:    []Rule{{RuleID: "@bob:x", Enabled: true, Actions: []any{"notify", "coalesce"}}},
		Underride: []Rule{{RuleID: "all", Enabled: true, Conditions: []Condition{}, Actions: []any{"notify"}}},
	}
	want := []string{"tea", "time", "!r:x", "@bob:x", "all"}
	for i, id := range want {
		res, ok := Evaluate(&rs, ev, Context{})
		if !ok || res.RuleID != id {
			t.Fatalf("step %d: matched %q, want %q", i, res.RuleID, id)
		}
		switch id {
		case "!r:x":
			if res.Notify || len(res.Actions) != 0 {
				t.Errorf("dont_notify is historical: %+v", res)
			}
		case "@bob:x":
			if !res.Notify || len(res.Actions) != 1 {
				t.Errorf("coalesce is historical: %+v", res)
			}
		}
		for _, k := range Kinds {
			for j := range *rs.Kind(k) {
				if r := &(*rs.Kind(k))[j]; r.RuleID == id {
					r.Enabled = false
				}
			}
		}
	}
	if _, ok := Evaluate(&rs, ev, Context{}); ok {
		t.Errorf("every rule is disabled, yet one matched")
	}
}

// TestContainsDisplayName: the display name is matched as written (its
// * and ? are no wildcards), case-insensitively, at word boundaries.
func TestContainsDisplayName(t *testing.T) {
	c := Condition{Kind: "contains_display_name"}
	cases := []struct {
		name, body string
		want       bool
	}{
		{"Alice", "hi alice!", true}, {"Alice", "hi malice", false}, {"A*", "Alice", false}, {"A*", "hi a*!", true},
		{"", "anything", false}, {"Dr. Who", "ask dr. who", true},
	}
	for _, tc := range cases {
		ev := `{"type":"m.room.message","content":{"body":` + strings.ReplaceAll(`"`+tc.body+`"`, "\n", `\n`) + `}}`
		if got := ConditionMatches(c, []byte(ev), Context{DisplayName: tc.name}); got != tc.want {
			t.Errorf("name %q in %q: %v, want %v", tc.name, tc.body, got, tc.want)
		}
	}
}

// TestConditionJSON: a condition read and written keeps "value": null
// apart from no value, and integers exactly.
func TestConditionJSON(t *testing.T) {
	for _, in := range []string{
		`{"key":"content.x","kind":"event_property_is","value":null}`,
		`{"key":"content.x","kind":"event_property_is"}`,
		`{"key":"content.x","kind":"event_property_is","value":9007199254740991}`,
		`{"key":"content.x","kind":"event_match","pattern":""}`,
	} {
		var c Condition
		if err := json.Unmarshal([]byte(in), &c); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(c)
		if string(out) != in {
			t.Errorf("%s came back as %s", in, out)
		}
	}
}

func TestSplitPath(t *testing.T) {
	cases := map[string][]string{
		"content.body":                 {"content", "body"},
		`content.m\.relates_to`:        {"content", "m.relates_to"},
		`content.m\\foo`:               {"content", `m\foo`},
		`content.m\x`:                  {"content", `m\x`},
		`a\\.b`:                        {`a\`, "b"},
		"":                             {""},
		"a..b":                         {"a", "", "b"},
		`content.m\.mentions.user_ids`: {"content", "m.mentions", "user_ids"},
	}
	for in, want := range cases {
		got := SplitPath(in)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Errorf("SplitPath(%q) = %q, want %q", in, got, want)
		}
	}
}
