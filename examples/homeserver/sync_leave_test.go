package main

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"
)

// leaveSync is the part of a sync answer these tests read.
type leaveSync struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join   map[string]json.RawMessage `json:"join"`
		Invite map[string]json.RawMessage `json:"invite"`
		Leave  map[string]struct {
			Timeline struct {
				Events []struct {
					Type     string `json:"type"`
					StateKey string `json:"state_key"`
					Sender   string `json:"sender"`
					Content  struct {
						Membership string `json:"membership"`
					} `json:"content"`
				} `json:"events"`
			} `json:"timeline"`
			State struct {
				Events []json.RawMessage `json:"events"`
			} `json:"state"`
		} `json:"leave"`
	} `json:"rooms"`
}

func syncWith(t *testing.T, a *api, since, filter string) leaveSync {
	t.Helper()
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	if filter != "" {
		q.Set("filter", filter)
	}
	var r leaveSync
	a.must("GET", "/sync?"+q.Encode(), nil, &r)
	return r
}

// hasLeaveOf reports whether the left room's timeline ends with user's
// leave (membership leave or ban, as membership says).
func (r leaveSync) hasLeaveOf(roomID, user, membership string) bool {
	lr, ok := r.Rooms.Leave[roomID]
	if !ok || len(lr.Timeline.Events) == 0 {
		return false
	}
	last := lr.Timeline.Events[len(lr.Timeline.Events)-1]
	return last.Type == "m.room.member" && last.StateKey == user && last.Content.Membership == membership
}

// TestSyncIncludeLeave: the filter's room.include_leave ("Include rooms
// that the user has left in the sync", default false) decides whether an
// initial sync lists the rooms the user left; an incremental sync lists a
// room left since the token either way, and never one left before it (as
// Synapse does).
func TestSyncIncludeLeave(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "leave.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	since := syncWith(t, bob, "", "").NextBatch
	bob.must("POST", rp+"/leave", map[string]any{}, nil)

	if r := syncWith(t, bob, "", ""); len(r.Rooms.Leave) != 0 {
		t.Fatalf("initial sync without include_leave lists left rooms: %v", r.Rooms.Leave)
	}
	r := syncWith(t, bob, "", `{"room":{"include_leave":true}}`)
	if !r.hasLeaveOf(room.RoomID, "@bob:leave.test", "leave") {
		t.Fatalf("initial sync with include_leave: %+v", r.Rooms.Leave)
	}
	// The room is new to this client: state and timeline together give
	// it the whole room, starting at the create event.
	lr := r.Rooms.Leave[room.RoomID]
	whole := map[string]bool{}
	for _, ev := range lr.Timeline.Events {
		whole[ev.Type] = true
	}
	for _, raw := range lr.State.Events {
		var ev struct {
			Type string `json:"type"`
		}
		json.Unmarshal(raw, &ev)
		whole[ev.Type] = true
	}
	if !whole["m.room.create"] || !whole["m.room.join_rules"] {
		t.Fatalf("initial sync with include_leave: the left room lacks its state: %v", whole)
	}
	if r := syncWith(t, bob, since, ""); !r.hasLeaveOf(room.RoomID, "@bob:leave.test", "leave") {
		t.Fatalf("incremental sync over the leave: %+v", r.Rooms.Leave)
	}
	next := syncWith(t, bob, since, "").NextBatch
	if r := syncWith(t, bob, next, `{"room":{"include_leave":true}}`); len(r.Rooms.Leave) != 0 {
		t.Fatalf("incremental sync after the leave lists the room again: %v", r.Rooms.Leave)
	}
}

// TestSyncWithdrawnInvite: an invite the inviter withdraws (a kick of the
// invited user) shows in the invitee's next sync as a left room whose
// timeline ends with the leave, so clients drop the invite.
func TestSyncWithdrawnInvite(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "withdraw.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "invite": []string{"@bob:withdraw.test"}}, &room)
	r := syncWith(t, bob, "", "")
	if r.Rooms.Invite[room.RoomID] == nil {
		t.Fatalf("the invite is not in bob's sync")
	}
	alice.must("POST", "/rooms/"+url.PathEscape(room.RoomID)+"/kick", map[string]string{"user_id": "@bob:withdraw.test"}, nil)
	r = syncWith(t, bob, r.NextBatch, "")
	if !r.hasLeaveOf(room.RoomID, "@bob:withdraw.test", "leave") {
		t.Fatalf("the withdrawn invite does not show as a leave: %+v", r.Rooms.Leave)
	}
}

// TestFederationInviteRejectedShowsLeave: a user who rejects an invite to
// a room of another server sees the room in the leave section of the next
// sync, and a room whose invite was withdrawn by the remote inviter too,
// although this server is in neither room.
func TestFederationInviteRejectedShowsLeave(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	bob := register(t, p.b.hs.ClientURL(), "bob")
	var rejected, withdrawn, empty struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "invite": []string{"@bob:b.test"}}, &rejected)
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "invite": []string{"@bob:b.test"}}, &withdrawn)
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "invite": []string{"@bob:b.test"}}, &empty)
	rooms := []string{rejected.RoomID, withdrawn.RoomID, empty.RoomID}
	var since string
	waitFor(t, "the invites in bob's sync", func() bool {
		r := syncWith(t, bob, "", "")
		since = r.NextBatch
		return r.Rooms.Invite[rejected.RoomID] != nil && r.Rooms.Invite[withdrawn.RoomID] != nil && r.Rooms.Invite[empty.RoomID] != nil
	})
	bob.must("POST", "/rooms/"+url.PathEscape(rejected.RoomID)+"/leave", map[string]any{}, nil)
	alice.must("POST", "/rooms/"+url.PathEscape(withdrawn.RoomID)+"/kick", map[string]string{"user_id": "@bob:b.test"}, nil)
	waitFor(t, "the first two rooms in the leave section", func() bool {
		r := syncWith(t, bob, since, "")
		return r.hasLeaveOf(rejected.RoomID, "@bob:b.test", "leave") && r.hasLeaveOf(withdrawn.RoomID, "@bob:b.test", "leave")
	})
	// The room empties and its server goes away before bob answers: no
	// server of the room will make bob's leave, so his server makes one of
	// its own.
	alice.must("POST", "/rooms/"+url.PathEscape(empty.RoomID)+"/leave", map[string]any{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	p.a.hs.fedSrv.Shutdown(ctx)
	cancel()
	bob.must("POST", "/rooms/"+url.PathEscape(empty.RoomID)+"/leave", map[string]any{}, nil)
	waitFor(t, "the rooms in the leave section", func() bool {
		r := syncWith(t, bob, since, "")
		for _, id := range rooms {
			if !r.hasLeaveOf(id, "@bob:b.test", "leave") || r.Rooms.Invite[id] != nil {
				return false
			}
		}
		return true
	})
	// A later initial sync lists none of them, unless asked for left rooms.
	r := syncWith(t, bob, "", "")
	for _, id := range rooms {
		if r.Rooms.Invite[id] != nil || len(r.Rooms.Leave) != 0 {
			t.Fatalf("an ended invite is still listed: %v %v", r.Rooms.Invite, r.Rooms.Leave)
		}
	}
	r = syncWith(t, bob, "", `{"room":{"include_leave":true}}`)
	for _, id := range rooms {
		if !r.hasLeaveOf(id, "@bob:b.test", "leave") {
			t.Fatalf("include_leave: %s is not in the leave section: %+v", id, r.Rooms.Leave)
		}
	}
}
