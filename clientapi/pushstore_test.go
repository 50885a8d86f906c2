package clientapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func ruleIDs(t *testing.T, s *Server, kind string) string {
	t.Helper()
	r := do(t, s, "GET", "/_matrix/client/v3/pushrules/global/"+kind, "tok_alice", "")
	var rules []PushRule
	if err := json.Unmarshal([]byte(r.raw), &rules); err != nil {
		t.Fatalf("%s: %s", kind, r.raw)
	}
	var ids []string
	for _, x := range rules {
		ids = append(ids, x.RuleID)
	}
	return strings.Join(ids, " ")
}

func TestPushRuleEditing(t *testing.T) {
	_, s, _ := setup(t)
	put := func(path, body string) result {
		return do(t, s, "PUT", "/_matrix/client/v3/pushrules/global/"+path, "tok_alice", body)
	}
	const defaults = ".m.rule.suppress_notices .m.rule.invite_for_me .m.rule.member_event .m.rule.is_user_mention .m.rule.is_room_mention .m.rule.tombstone .m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits"
	for _, tc := range []struct {
		name, path, body string
		status           int
		errcode          string
		override         string
	}{
		{"add a", "override/a", `{"actions":["notify"],"conditions":[{"kind":"event_match","key":"type","pattern":"x"}]}`, 200, "", ".m.rule.master a " + defaults},
		{"add b first", "override/b", `{"actions":[]}`, 200, "", ".m.rule.master b a " + defaults},
		{"add c after b", "override/c?after=b", `{"actions":[]}`, 200, "", ".m.rule.master b c a " + defaults},
		{"move b before a", "override/b?before=a", `{"actions":["notify"]}`, 200, "", ".m.rule.master c b a " + defaults},
		{"update keeps place", "override/c", `{"actions":["notify",{"set_tweak":"highlight"}]}`, 200, "", ".m.rule.master c b a " + defaults},
		{"unknown anchor", "override/d?before=zzz", `{"actions":[]}`, 400, "M_UNKNOWN", ""},
		{"reserved id", "override/.m.rule.mine", `{"actions":[]}`, 400, "M_INVALID_PARAM", ""},
		{"slash id", "override/a%2Fb", `{"actions":[]}`, 400, "M_INVALID_PARAM", ""},
		{"no actions", "override/e", `{}`, 400, "M_MISSING_PARAM", ""},
		{"bad action", "override/e", `{"actions":["shout"]}`, 400, "M_INVALID_PARAM", ""},
		{"content needs pattern", "content/f", `{"actions":[]}`, 400, "M_MISSING_PARAM", ""},
		{"room id checked", "room/notaroom", `{"actions":[]}`, 400, "M_INVALID_PARAM", ""},
		{"bad kind", "everything/x", `{"actions":[]}`, 400, "M_INVALID_PARAM", ""},
		{"enable master", "override/.m.rule.master/enabled", `{"enabled":true}`, 200, "", ""},
		{"enable user rule", "override/a/enabled", `{"enabled":false}`, 200, "", ""},
		{"enabled missing", "override/a/enabled", `{}`, 400, "M_MISSING_PARAM", ""},
		{"actions of default", "underride/.m.rule.message/actions", `{"actions":[]}`, 200, "", ""},
		{"unknown default", "override/.m.rule.nope/enabled", `{"enabled":true}`, 404, "M_NOT_FOUND", ""},
		{"unknown user rule", "override/zzz/actions", `{"actions":[]}`, 404, "M_NOT_FOUND", ""},
	} {
		r := put(tc.path, tc.body)
		if r.status != tc.status || tc.errcode != "" && r.body["errcode"] != tc.errcode {
			t.Fatalf("%s: %d %s", tc.name, r.status, r.raw)
		}
		if tc.override != "" {
			if got := ruleIDs(t, s, "override"); got != tc.override {
				t.Fatalf("%s: override order\n got  %s\n want %s", tc.name, got, tc.override)
			}
		}
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/pushrules/global/override/.m.rule.master/enabled", "tok_alice", ""); r.raw != `{"enabled":true}` {
		t.Fatalf("master: %s", r.raw)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/pushrules/global/override/a", "tok_alice", ""); r.raw != `{"rule_id":"a","default":false,"enabled":false,"conditions":[{"key":"type","kind":"event_match","pattern":"x"}],"actions":["notify"]}` {
		t.Fatalf("rule a: %s", r.raw)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/pushrules/global/underride/.m.rule.message/actions", "tok_alice", ""); r.raw != `{"actions":[]}` {
		t.Fatalf("message actions: %s", r.raw)
	}
	// Deleting: user rules only.
	if r := do(t, s, "DELETE", "/_matrix/client/v3/pushrules/global/override/b", "tok_alice", ""); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if got := ruleIDs(t, s, "override"); got != ".m.rule.master c a "+defaults {
		t.Fatalf("after delete: %s", got)
	}
	if r := do(t, s, "DELETE", "/_matrix/client/v3/pushrules/global/override/.m.rule.master", "tok_alice", ""); r.status != 400 {
		t.Fatalf("delete default: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "DELETE", "/_matrix/client/v3/pushrules/global/override/b", "tok_alice", ""); r.status != 404 {
		t.Fatalf("delete twice: %d %s", r.status, r.raw)
	}
	// Other users keep the defaults.
	if r := do(t, s, "GET", "/_matrix/client/v3/pushrules/global/override/.m.rule.master/enabled", "tok_bob", ""); r.raw != `{"enabled":false}` {
		t.Fatalf("bob's master: %s", r.raw)
	}
}

func TestPushRulesWithoutStore(t *testing.T) {
	f := newFake()
	tok := f.addUser("alice", "pw")
	s := &Server{ServerName: "example.org", Tokens: f}
	if r := do(t, s, "PUT", "/_matrix/client/v3/pushrules/global/override/a", tok, `{"actions":[]}`); r.status != 404 || r.body["errcode"] != "M_UNRECOGNIZED" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}
