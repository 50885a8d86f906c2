package appservice

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestNamespaceVectors checks the matching rule against Python's re.match,
// which Synapse uses: the match is anchored at the start of the string and
// not at its end. The specification says only "a POSIX regular
// expression"; following Synapse keeps registration files written for it
// meaning the same here (a prefix such as "@_irc_" claims every ID that
// starts with it).
func TestNamespaceVectors(t *testing.T) {
	var v struct {
		Cases []struct {
			Regex string `json:"regex"`
			Input string `json:"input"`
			Match bool   `json:"match"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(mustRead(t, "namespaces.json"), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) < 10 {
		t.Fatal("too few vectors")
	}
	for _, c := range v.Cases {
		n, err := NewNamespace(c.Regex, false)
		if err != nil {
			t.Fatalf("%q: %v", c.Regex, err)
		}
		if got := n.Matches(c.Input); got != c.Match {
			t.Errorf("regex %q input %q: match %v, want %v", c.Regex, c.Input, got, c.Match)
		}
	}
}

func reg(t testing.TB, id, as, hs, sender string, users, aliases, rooms []Namespace) *Registration {
	t.Helper()
	return &Registration{ID: id, URL: "http://127.0.0.1:1", ASToken: as, HSToken: hs, SenderLocalpart: sender,
		Namespaces: Namespaces{Users: users, Aliases: aliases, Rooms: rooms}}
}

func ns(regex string, exclusive bool) Namespace { return Namespace{Regex: regex, Exclusive: exclusive} }

func TestRegistryDuplicates(t *testing.T) {
	base := func() *Registration { return reg(t, "a", "as-a", "hs-a", "abot", nil, nil, nil) }
	tests := []struct {
		name  string
		other *Registration
		field string
	}{
		{"id", reg(t, "a", "as-b", "hs-b", "bbot", nil, nil, nil), "id"},
		{"as_token", reg(t, "b", "as-a", "hs-b", "bbot", nil, nil, nil), "as_token"},
		{"hs_token", reg(t, "b", "as-b", "hs-a", "bbot", nil, nil, nil), "hs_token"},
		{"as is other's hs", reg(t, "b", "hs-a", "hs-b", "bbot", nil, nil, nil), "as_token/hs_token"},
		{"hs is other's as", reg(t, "b", "as-b", "as-a", "bbot", nil, nil, nil), "as_token/hs_token"},
		{"sender", reg(t, "b", "as-b", "hs-b", "abot", nil, nil, nil), "sender_localpart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRegistry("example.org", base(), tc.other)
			var de *DuplicateError
			if !errors.As(err, &de) || de.Field != tc.field || de.First != "a" || de.Second != tc.other.ID {
				t.Fatalf("err = %v (%+v)", err, de)
			}
			if !errors.Is(err, ErrDuplicate) || !errors.Is(err, ErrInvalidRegistration) {
				t.Fatal("sentinels")
			}
			if strings.Contains(err.Error(), "as-a") || strings.Contains(err.Error(), "hs-a") {
				t.Fatalf("token in error: %v", err)
			}
		})
	}
	if _, err := NewRegistry("example.org", base(), reg(t, "b", "as-b", "hs-b", "bbot", nil, nil, nil)); err != nil {
		t.Fatal(err)
	}
	bad := base()
	bad.Namespaces.Users = []Namespace{ns("(", true)}
	if _, err := NewRegistry("example.org", bad); !errors.Is(err, ErrInvalidRegistration) || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("invalid member: %v", err)
	}
	if _, err := NewRegistry("example.org", nil); !errors.Is(err, ErrInvalidRegistration) {
		t.Fatalf("nil member: %v", err)
	}
}

func testRegistry(t testing.TB) (*Registry, *Registration, *Registration) {
	irc := reg(t, "irc", "as-irc", "hs-irc", "_irc_bot",
		[]Namespace{ns(`@_irc_.*:example\.org`, true), ns(`@irc_guest_.*`, false)},
		[]Namespace{ns(`#_irc_.*`, true), ns(`#shared_.*`, false)},
		[]Namespace{ns(`!ircroom`, false)})
	log := reg(t, "logger", "as-log", "hs-log", "logbot",
		[]Namespace{ns(`@_irc_special.*`, false), ns(`@logged_.*`, false)},
		[]Namespace{ns(`#shared_.*`, false)}, nil)
	r, err := NewRegistry("example.org", irc, log)
	if err != nil {
		t.Fatal(err)
	}
	return r, irc, log
}

func TestExclusiveAndInterest(t *testing.T) {
	r, irc, log := testRegistry(t)
	tests := []struct {
		user             string
		ircIn, logIn     bool
		exclusiveOwnerID string
	}{
		{"@_irc_bob:example.org", true, false, "irc"},
		// Matched by a non-exclusive namespace of logger and an exclusive one
		// of irc: exclusive to irc.
		{"@_irc_special1:example.org", true, true, "irc"},
		{"@irc_guest_1:example.org", true, false, ""},
		{"@_irc_bot:example.org", true, false, "irc"}, // the sender user
		{"@logbot:example.org", false, true, "logger"},
		{"@bob:example.org", false, false, ""},
		// Remote users are never of interest, even matching a regex.
		{"@irc_guest_1:other.org", false, false, ""},
		{"@_irc_bot:other.org", false, false, ""},
	}
	for _, tc := range tests {
		if got := r.InterestedInUser(irc, tc.user); got != tc.ircIn {
			t.Errorf("irc interested in %s = %v", tc.user, got)
		}
		if got := r.InterestedInUser(log, tc.user); got != tc.logIn {
			t.Errorf("logger interested in %s = %v", tc.user, got)
		}
		owner := r.ExclusiveUserOwner(tc.user)
		if (owner == nil && tc.exclusiveOwnerID != "") || (owner != nil && owner.ID != tc.exclusiveOwnerID) {
			t.Errorf("owner of %s = %v, want %q", tc.user, owner, tc.exclusiveOwnerID)
		}
	}
	if o := r.ExclusiveAliasOwner("#_irc_x:example.org"); o != irc {
		t.Error("alias owner")
	}
	if o := r.ExclusiveAliasOwner("#shared_x:example.org"); o != nil {
		t.Error("shared alias has an owner")
	}
	if o := r.ExclusiveRoomOwner("!ircroom:example.org"); o != nil {
		t.Error("non-exclusive room has an owner")
	}
	// Exclusive wins whatever the order of the entries (Synapse would use
	// the first matching entry: here non-exclusive).
	x := reg(t, "x", "as-x", "hs-x", "xbot", []Namespace{ns("@a.*", false), ns("@ab.*", true)}, nil, nil)
	if err := x.Validate(); err != nil {
		t.Fatal(err)
	}
	if !x.ExclusiveUser("@abc:example.org") || x.ExclusiveUser("@ac:example.org") {
		t.Error("exclusive with overlapping entries")
	}
	if r.ByID("irc") != irc || r.ByASToken("as-log") != log || r.ByASToken("") != nil || r.ByASToken("hs-irc") != nil {
		t.Error("lookups")
	}
	if len(r.Services()) != 2 || r.ServerName() != "example.org" {
		t.Error("Services/ServerName")
	}
}

type testEvent struct {
	sender, typ, roomID string
	stateKey            *string
}

func (e testEvent) Sender() string { return e.sender }
func (e testEvent) Type() string   { return e.typ }
func (e testEvent) RoomID() string { return e.roomID }
func (e testEvent) StateKey() (string, bool) {
	if e.stateKey == nil {
		return "", false
	}
	return *e.stateKey, true
}

func sp(s string) *string { return &s }

type failingRooms struct{}

func (failingRooms) RoomAliases(context.Context, string) ([]string, error) {
	return nil, errors.New("db down")
}
func (failingRooms) JoinedLocalMembers(context.Context, string) ([]string, error) {
	return nil, errors.New("db down")
}

func TestInterested(t *testing.T) {
	r, irc, log := testRegistry(t)
	rooms := &MemoryRooms{
		Aliases: map[string][]string{"!aliased:example.org": {"#_irc_chan:example.org"}, "!shared:example.org": {"#shared_1:example.org"}},
		Members: map[string][]string{"!members:example.org": {"@alice:example.org", "@_irc_carol:example.org"}},
	}
	msg := func(sender, room string) testEvent {
		return testEvent{sender: sender, typ: "m.room.message", roomID: room}
	}
	tests := []struct {
		name   string
		ev     testEvent
		irc    bool
		logger bool
	}{
		{"sender in namespace", msg("@_irc_bob:example.org", "!x:example.org"), true, false},
		{"sender is the sender user", msg("@_irc_bot:example.org", "!x:example.org"), true, false},
		{"remote sender matching a regex", msg("@irc_guest_1:remote.org", "!x:example.org"), false, false},
		{"member event target", testEvent{"@alice:example.org", "m.room.member", "!x:example.org", sp("@_irc_dave:example.org")}, true, false},
		{"state_key of another type does not count", testEvent{"@alice:example.org", "m.room.topic", "!x:example.org", sp("@_irc_dave:example.org")}, false, false},
		{"room ID namespace", msg("@alice:example.org", "!ircroom:example.org"), true, false},
		{"room alias namespace", msg("@alice:example.org", "!aliased:example.org"), true, false},
		{"shared alias", msg("@alice:example.org", "!shared:example.org"), true, true},
		{"member in namespace", msg("@alice:example.org", "!members:example.org"), true, false},
		{"nothing", msg("@alice:example.org", "!x:example.org"), false, false},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Interested(ctx, irc, tc.ev, rooms)
			if err != nil || got != tc.irc {
				t.Errorf("irc: %v %v", got, err)
			}
			got, err = r.Interested(ctx, log, tc.ev, rooms)
			if err != nil || got != tc.logger {
				t.Errorf("logger: %v %v", got, err)
			}
			svcs, err := r.InterestedServices(ctx, tc.ev, rooms)
			if err != nil || len(svcs) != btoi(tc.irc)+btoi(tc.logger) {
				t.Errorf("InterestedServices: %d %v", len(svcs), err)
			}
		})
	}
	// Without room data only the event itself is looked at.
	if ok, _ := r.Interested(ctx, irc, msg("@alice:example.org", "!aliased:example.org"), nil); ok {
		t.Error("nil Rooms: alias used")
	}
	// Storage errors come back, not a guess.
	if _, err := r.Interested(ctx, irc, msg("@alice:example.org", "!x:example.org"), failingRooms{}); err == nil {
		t.Error("error swallowed")
	}
	if _, err := r.InterestedServices(ctx, msg("@alice:example.org", "!x:example.org"), failingRooms{}); err == nil {
		t.Error("error swallowed")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func BenchmarkInterested(b *testing.B) {
	r, irc, _ := testRegistry(b)
	rooms := &MemoryRooms{Members: map[string][]string{"!members:example.org": {"@alice:example.org", "@bob:example.org", "@_irc_carol:example.org"}}}
	var ev Event = testEvent{sender: "@alice:example.org", typ: "m.room.message", roomID: "!members:example.org"}
	ctx := context.Background()
	b.Run("interested", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, _ := r.Interested(ctx, irc, ev, rooms); !ok {
				b.Fatal("not interested")
			}
		}
	})
	// The floor: the same regex matches, done directly.
	b.Run("baseline=regexp.MatchString", func(b *testing.B) {
		b.ReportAllocs()
		re := irc.Namespaces.Users[0].re
		for b.Loop() {
			for _, s := range []string{"@alice:example.org", "@alice:example.org", "@bob:example.org", "@_irc_carol:example.org"} {
				re.MatchString(s)
			}
		}
	})
}

func TestLoadRegistry(t *testing.T) {
	r, err := LoadRegistry("example.org", "testdata/irc.yaml", "testdata/telegram.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r.ByID("IRC Bridge") == nil || r.ByASToken("as-telegram") == nil {
		t.Fatal("registrations missing")
	}
	if _, err := LoadRegistry("example.org", "testdata/irc.yaml", "testdata/irc.yaml"); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("same file twice: %v", err)
	}
	if _, err := LoadRegistry("example.org", "testdata/namespaces.json"); !errors.Is(err, ErrInvalidRegistration) || !strings.Contains(err.Error(), "testdata/namespaces.json") {
		t.Fatalf("not a registration: %v", err)
	}
	if _, err := LoadRegistry("example.org", "testdata/missing.yaml"); err == nil {
		t.Fatal("missing file")
	}
}

func TestFilterReceipt(t *testing.T) {
	r, irc, _ := testRegistry(t)
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"public receipts pass untouched",
			`{"type":"m.receipt","room_id":"!r:example.org","content":{"$e":{"m.read":{"@alice:example.org":{"ts":1}}}}}`,
			`{"type":"m.receipt","room_id":"!r:example.org","content":{"$e":{"m.read":{"@alice:example.org":{"ts":1}}}}}`, true},
		{"private receipt of a namespace user kept",
			`{"type":"m.receipt","room_id":"!r:example.org","content":{"$e":{"m.read.private":{"@_irc_a:example.org":{"ts":1}}}}}`,
			`{"type":"m.receipt","room_id":"!r:example.org","content":{"$e":{"m.read.private":{"@_irc_a:example.org":{"ts":1}}}}}`, true},
		{"private receipt of another user dropped",
			`{"type":"m.receipt","room_id":"!r:example.org","content":{"$e":{"m.read":{"@bob:example.org":{"ts":2}},"m.read.private":{"@alice:example.org":{"ts":1},"@_irc_a:example.org":{"ts":3}}}}}`,
			`{"content":{"$e":{"m.read":{"@bob:example.org":{"ts":2}},"m.read.private":{"@_irc_a:example.org":{"ts":3}}}},"room_id":"!r:example.org","type":"m.receipt"}`, true},
		{"nothing left",
			`{"type":"m.receipt","room_id":"!r:example.org","content":{"$e":{"m.read.private":{"@alice:example.org":{"ts":1}}}}}`,
			``, false},
	}
	for _, tc := range tests {
		out, ok, err := r.FilterReceipt(irc, json.RawMessage(tc.in))
		if err != nil || ok != tc.ok || string(out) != tc.want {
			t.Errorf("%s: %s %v %v", tc.name, out, ok, err)
		}
	}
	if _, _, err := r.FilterReceipt(irc, json.RawMessage(`{"content":"m.read.private"}`)); err == nil {
		t.Error("bad content accepted")
	}
}
