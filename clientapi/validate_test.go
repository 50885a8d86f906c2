package clientapi

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestIdentifiers runs testdata/identifiers.json against the grammars of
// content/appendices.md "Identifier Grammar".
func TestIdentifiers(t *testing.T) {
	raw, err := os.ReadFile("testdata/identifiers.json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]map[string][]string
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	check := func(kind string, f func(string) error) {
		for _, s := range append(v[kind]["valid"], v[kind]["valid_historical_only"]...) {
			if err := f(s); err != nil {
				t.Errorf("%s %q rejected: %v", kind, s, err)
			}
		}
		for _, s := range v[kind]["invalid"] {
			if err := f(s); err == nil {
				t.Errorf("%s %q accepted", kind, s)
			} else if !errors.Is(err, ErrInvalidID) {
				t.Errorf("%s %q: error does not wrap ErrInvalidID: %v", kind, s, err)
			}
		}
	}
	check("server_names", ValidServerName)
	check("user_ids", func(s string) error { return ValidUserID(s, true) })
	check("room_ids", ValidRoomID)
	check("aliases", ValidRoomAlias)
	for _, s := range v["user_ids"]["valid_historical_only"] {
		if ValidUserID(s, false) == nil {
			t.Errorf("%q accepted as a new user ID", s)
		}
	}
	for _, s := range v["user_ids"]["valid"] {
		if err := ValidUserID(s, false); err != nil {
			t.Errorf("%q rejected as a new user ID: %v", s, err)
		}
	}
}

func TestLengthLimits(t *testing.T) {
	long := strings.Repeat("a", 250)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"user", ValidUserID("@"+long+":example.org", true)},
		{"room", ValidRoomID("!" + long + ":example.org")},
		{"alias", ValidRoomAlias("#" + long + ":example.org")},
		{"event", ValidEventID("$" + long + long)},
		{"type", ValidEventType(long + long)},
		{"state key", ValidStateKey(long + long)},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), "255") {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
	if ValidStateKey("") != nil || ValidEventType("") == nil {
		t.Error("empty state key must pass and empty type fail")
	}
}

func TestPathDecoding(t *testing.T) {
	// Sigils arrive percent-encoded; an encoded "/" stays inside one
	// segment.
	f, s, room := setup(t)
	alias := "#a/b:example.org"
	if r := do(t, s, "PUT", "/_matrix/client/v3/directory/room/%23a%2Fb%3Aexample.org", "tok_alice", `{"room_id":"`+room+`"}`); r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.raw)
	}
	if f.aliases[alias] != room {
		t.Fatalf("aliases: %v", f.aliases)
	}
	if r := do(t, s, "GET", "/_matrix/client/r0/directory/room/%23a%2Fb%3Aexample.org", "", ""); r.body["room_id"] != room {
		t.Fatalf("get: %s", r.raw)
	}
}
