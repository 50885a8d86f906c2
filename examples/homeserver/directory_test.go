package main

import (
	"net/url"
	"testing"
)

// TestPublicRoomDirectory: rooms created with visibility public are in the
// published room directory, read locally and, with ?server=, by users of
// another server over federation (GET and POST, with a search term);
// unpublishing takes a room out, and only those with the power to set the
// canonical alias may publish.
func TestPublicRoomDirectory(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	carol := register(t, p.a.hs.ClientURL(), "carol")
	bob := register(t, p.b.hs.ClientURL(), "bob")
	var pub, other struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"visibility": "public", "preset": "public_chat", "name": "Lobby", "topic": "say hi"}, &pub)
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "name": "Unlisted"}, &other)
	type dir struct {
		Chunk []struct {
			RoomID           string `json:"room_id"`
			Name             string `json:"name"`
			NumJoinedMembers int    `json:"num_joined_members"`
		} `json:"chunk"`
		Total int `json:"total_room_count_estimate"`
	}
	var d dir
	alice.must("GET", "/publicRooms", nil, &d)
	if len(d.Chunk) != 1 || d.Chunk[0].RoomID != pub.RoomID || d.Chunk[0].Name != "Lobby" || d.Chunk[0].NumJoinedMembers != 1 {
		t.Fatalf("local directory %+v", d)
	}
	d = dir{}
	bob.must("GET", "/publicRooms?server=a.test", nil, &d)
	if len(d.Chunk) != 1 || d.Chunk[0].RoomID != pub.RoomID {
		t.Fatalf("a.test's directory read from b.test: %+v", d)
	}
	d = dir{}
	bob.must("POST", "/publicRooms?server=a.test", map[string]any{"filter": map[string]any{"generic_search_term": "nothing like it"}}, &d)
	if len(d.Chunk) != 0 {
		t.Fatalf("search over federation: %+v", d)
	}
	bob.must("POST", "/publicRooms?server=a.test", map[string]any{"filter": map[string]any{"generic_search_term": "HI"}, "limit": 5}, &d)
	if len(d.Chunk) != 1 {
		t.Fatalf("search over federation: %+v", d)
	}
	d = dir{}
	alice.must("GET", "/publicRooms?server=b.test", nil, &d)
	if len(d.Chunk) != 0 {
		t.Fatalf("b.test's directory: %+v", d)
	}
	// Publishing takes power; unpublishing takes the room out.
	rp := "/rooms/" + url.PathEscape(other.RoomID)
	carol.must("POST", rp+"/join", map[string]any{}, nil)
	if code, _ := carol.do("PUT", "/directory/list/room/"+url.PathEscape(other.RoomID), map[string]string{"visibility": "public"}, nil); code != 403 {
		t.Fatalf("carol (power 0) publishing: %d", code)
	}
	alice.must("PUT", "/directory/list/room/"+url.PathEscape(pub.RoomID), map[string]string{"visibility": "private"}, nil)
	var vis struct {
		Visibility string `json:"visibility"`
	}
	alice.must("GET", "/directory/list/room/"+url.PathEscape(pub.RoomID), nil, &vis)
	d = dir{}
	bob.must("GET", "/publicRooms?server=a.test", nil, &d)
	if vis.Visibility != "private" || len(d.Chunk) != 0 {
		t.Fatalf("after unpublishing: %s, %+v", vis.Visibility, d)
	}
}
