package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// TestDeviceListsLeft: device_lists.left of /sync and keys/changes name
// a user once no room is shared with them any more, whether they left or
// the syncing user did, and not while another room is still shared.
func TestDeviceListsLeft(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "left.localhost", false, nil)
	base := hs.hs.ClientURL()
	alice, bob, carol := register(t, base, "alice"), register(t, base, "bob"), register(t, base, "carol")
	const B, C = "@bob:left.localhost", "@carol:left.localhost"
	room := func(members ...*api) string {
		var r struct {
			RoomID string `json:"room_id"`
		}
		alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &r)
		for _, m := range members {
			m.must("POST", "/join/"+url.PathEscape(r.RoomID), map[string]any{}, nil)
		}
		return r.RoomID
	}
	r1, r2, r3 := room(bob), room(bob), room(carol)
	token := func() string {
		var s struct {
			NextBatch string `json:"next_batch"`
		}
		alice.must("GET", "/sync?timeout=0", nil, &s)
		return s.NextBatch
	}
	type lists struct {
		DeviceLists struct {
			Changed []string `json:"changed"`
			Left    []string `json:"left"`
		} `json:"device_lists"`
	}
	left := func(since string) (fromSync, fromChanges []string) {
		var s lists
		alice.must("GET", "/sync?timeout=0&since="+url.QueryEscape(since), nil, &s)
		var ch struct {
			Left []string `json:"left"`
		}
		alice.must("GET", "/keys/changes?from="+url.QueryEscape(since)+"&to="+url.QueryEscape(token()), nil, &ch)
		return s.DeviceLists.Left, ch.Left
	}
	leave := func(a *api, roomID string) {
		a.must("POST", "/rooms/"+url.PathEscape(roomID)+"/leave", map[string]any{}, nil)
	}

	since := token()
	leave(bob, r1) // r2 is still shared
	if s, c := left(since); len(s) != 0 || len(c) != 0 {
		t.Fatalf("left while a room is still shared: sync %v, changes %v", s, c)
	}
	since = token()
	leave(bob, r2)
	if s, c := left(since); !slices.Equal(s, []string{B}) || !slices.Equal(c, []string{B}) {
		t.Fatalf("after bob left the last shared room: sync %v, changes %v", s, c)
	}
	since = token()
	leave(alice, r3)
	if s, c := left(since); !slices.Equal(s, []string{C}) || !slices.Equal(c, []string{C}) {
		t.Fatalf("after alice left carol's only room: sync %v, changes %v", s, c)
	}
	// Nothing new: nothing left.
	since = token()
	var s lists
	raw := json.RawMessage{}
	alice.must("GET", "/sync?timeout=0&since="+url.QueryEscape(since), nil, &raw)
	json.Unmarshal(raw, &s)
	if len(s.DeviceLists.Left) != 0 {
		t.Fatalf("left without a change: %s", raw)
	}
}
