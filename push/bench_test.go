package push

import (
	"encoding/json"
	"testing"
)

var benchEvent = []byte(`{"content":{"body":"Are we still on for lunch at noon? I can bring the slides for the review.","msgtype":"m.text","m.mentions":{"user_ids":["@someone:example.org"]}},"event_id":"$143273582443PhrSn:example.org","origin_server_ts":1432735824653,"room_id":"!jEsUZKDJdhlrceRyVU:example.org","sender":"@example:example.org","type":"m.room.message","unsigned":{"age":1234}}`)

// BenchmarkEvaluateDefault evaluates a group message (it falls through
// every override rule to .m.rule.message) against the default rules, for
// one recipient. The baseline decodes the same event into a map, the
// first step of an evaluator that works on decoded events.
func BenchmarkEvaluateDefault(b *testing.B) {
	rs := DefaultRules("@me:example.org")
	c := Context{MemberCount: 12}
	b.ReportAllocs()
	for b.Loop() {
		res, ok := Evaluate(&rs, benchEvent, c)
		if !ok || res.RuleID != ".m.rule.message" {
			b.Fatal(res.RuleID)
		}
	}
}

func BenchmarkBaselineDecodeEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(benchEvent, &m); err != nil {
			b.Fatal(err)
		}
	}
}
