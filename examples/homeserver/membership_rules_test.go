package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// errcodeOf reads the errcode of an error answer returned by api.do.
func errcodeOf(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return ""
	}
	var e struct {
		Errcode string `json:"errcode"`
	}
	json.Unmarshal([]byte(s[i:]), &e)
	return e.Errcode
}

// TestKickNeedsTargetInRoom: the client-server API's POST
// /rooms/{roomId}/kick answers 403 when "the kickee is not currently in
// the room" (content/client-server-api, the endpoint's 403 response). The
// authorization rules alone would allow a leave of a user who never joined,
// so the check is the server's, before it makes an event. Kicking an
// invited user is how an invite is withdrawn, and stays allowed.
func TestKickNeedsTargetInRoom(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "k.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	register(t, hs.hs.ClientURL(), "carol")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)

	kick := func(user string) (int, error) {
		return alice.do("POST", rp+"/kick", map[string]string{"user_id": user, "reason": "test"}, nil)
	}
	// Never in the room.
	if code, err := kick("@carol:k.test"); code != 403 || errcodeOf(err) != "M_FORBIDDEN" {
		t.Fatalf("kick of a user never in the room: %d %v, want 403 M_FORBIDDEN", code, err)
	}
	// Joined, then kicked: allowed; kicked again: no longer in the room.
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	if code, err := kick("@bob:k.test"); code != 200 {
		t.Fatalf("kick of a joined user: %d %v", code, err)
	}
	if code, err := kick("@bob:k.test"); code != 403 || errcodeOf(err) != "M_FORBIDDEN" {
		t.Fatalf("second kick: %d %v, want 403 M_FORBIDDEN", code, err)
	}
	// An invite is withdrawn with a kick.
	alice.must("POST", rp+"/invite", map[string]string{"user_id": "@carol:k.test"}, nil)
	if code, err := kick("@carol:k.test"); code != 200 {
		t.Fatalf("kick of an invited user (withdrawing the invite): %d %v", code, err)
	}
}

// TestJoinedMembersNeedsCurrentMembership: GET /rooms/{roomId}/joined_members
// answers 403 to a user who is not a member of the room (the endpoint's 403
// response); a user who left is no longer a member (Synapse refuses departed
// users here too, unlike /members, which gives them the state at their
// leave).
func TestJoinedMembersNeedsCurrentMembership(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "jm.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	carol := register(t, hs.hs.ClientURL(), "carol")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)

	var jm struct {
		Joined map[string]any `json:"joined"`
	}
	bob.must("GET", rp+"/joined_members", nil, &jm)
	if len(jm.Joined) != 2 || jm.Joined["@alice:jm.test"] == nil || jm.Joined["@bob:jm.test"] == nil {
		t.Fatalf("joined_members while joined: %v", jm.Joined)
	}
	bob.must("POST", rp+"/leave", map[string]any{}, nil)
	if code, err := bob.do("GET", rp+"/joined_members", nil, nil); code != 403 || errcodeOf(err) != "M_FORBIDDEN" {
		t.Fatalf("joined_members after leaving: %d %v, want 403 M_FORBIDDEN", code, err)
	}
	if code, err := carol.do("GET", rp+"/joined_members", nil, nil); code != 403 || errcodeOf(err) != "M_FORBIDDEN" {
		t.Fatalf("joined_members of a room never joined: %d %v, want 403 M_FORBIDDEN", code, err)
	}
}

// TestRoomAliasesNeedsMembership: GET /rooms/{roomId}/aliases "can be
// called by users who are in the room (external users receive an
// M_FORBIDDEN error response). If the room's m.room.history_visibility maps
// to world_readable, any user can call this endpoint." (the endpoint's
// description). We read "in the room" as joined now; Synapse also lets
// users who have left read them, which the spec does not say.
func TestRoomAliasesNeedsMembership(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "al.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "room_alias_name": "lobby"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)

	var got struct {
		Aliases []string `json:"aliases"`
	}
	alice.must("GET", rp+"/aliases", nil, &got)
	if len(got.Aliases) != 1 || got.Aliases[0] != "#lobby:al.test" {
		t.Fatalf("aliases for a member: %v", got.Aliases)
	}
	if code, err := bob.do("GET", rp+"/aliases", nil, nil); code != 403 || errcodeOf(err) != "M_FORBIDDEN" {
		t.Fatalf("aliases for a non-member: %d %v, want 403 M_FORBIDDEN", code, err)
	}
	alice.must("PUT", rp+"/state/m.room.history_visibility", map[string]string{"history_visibility": "world_readable"}, nil)
	got.Aliases = nil
	bob.must("GET", rp+"/aliases", nil, &got)
	if len(got.Aliases) != 1 {
		t.Fatalf("aliases of a world_readable room for a non-member: %v", got.Aliases)
	}
}

// TestEphemeralNeedsMembership: typing notifications and read receipts of
// a user who is not joined to the room, or for a room that does not exist,
// are refused with 403 M_FORBIDDEN (as the reference server refuses them)
// and reach nobody: not stored, not in the members' sync.
func TestEphemeralNeedsMembership(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "eph.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	mallory := register(t, hs.hs.ClientURL(), "mallory")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	var ev struct {
		EventID string `json:"event_id"`
	}
	alice.must("PUT", rp+"/send/m.room.message/1", map[string]string{"msgtype": "m.text", "body": "hi"}, &ev)
	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"typing", "PUT", rp + "/typing/@mallory:eph.test", map[string]any{"typing": true, "timeout": 30000}},
		{"receipt", "POST", rp + "/receipt/m.read/" + url.PathEscape(ev.EventID), map[string]any{}},
		{"private receipt", "POST", rp + "/receipt/m.read.private/" + url.PathEscape(ev.EventID), map[string]any{}},
		{"typing, no such room", "PUT", "/rooms/" + url.PathEscape("!nope:eph.test") + "/typing/@mallory:eph.test", map[string]any{"typing": true}},
		{"receipt, no such room", "POST", "/rooms/" + url.PathEscape("!nope:eph.test") + "/receipt/m.read/" + url.PathEscape(ev.EventID), map[string]any{}},
	} {
		if code, err := mallory.do(tc.method, tc.path, tc.body, nil); code != 403 || errcodeOf(err) != "M_FORBIDDEN" {
			t.Errorf("%s by a non-member: %d %v, want 403 M_FORBIDDEN", tc.name, code, err)
		}
	}
	var n int
	hs.hs.db.queryRow(t.Context(), `SELECT count(*) FROM receipts WHERE user_id = '@mallory:eph.test'`).Scan(&n)
	if n != 0 {
		t.Errorf("%d receipts of a non-member stored", n)
	}
	var s struct {
		Rooms struct {
			Join map[string]struct {
				Ephemeral struct {
					Events []json.RawMessage `json:"events"`
				} `json:"ephemeral"`
			} `json:"join"`
		} `json:"rooms"`
	}
	alice.must("GET", "/sync", nil, &s)
	for _, e := range s.Rooms.Join[room.RoomID].Ephemeral.Events {
		if strings.Contains(string(e), "mallory") {
			t.Errorf("the members see a non-member's ephemeral event: %s", e)
		}
	}
	// Members still can.
	alice.must("PUT", rp+"/typing/@alice:eph.test", map[string]any{"typing": true, "timeout": 1000}, nil)
	alice.must("POST", rp+"/receipt/m.read/"+url.PathEscape(ev.EventID), map[string]any{}, nil)
}
