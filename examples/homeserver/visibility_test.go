package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestHistoryVisibility: what bob may read of a room, by the room's history
// visibility (client-server API, "Room History Visibility"): m1 is sent
// before bob is invited, m2 while he is invited, m3 once he has joined.
// /messages, /context, /event and the initial /sync timeline agree; carol,
// never in the room, may read it only when it is world_readable. Before the
// rules were applied, joined rooms showed bob m1 and m2, and world_readable
// rooms refused carol.
func TestHistoryVisibility(t *testing.T) {
	p := startInProcess(t, "vis.test", false, nil)
	base := p.hs.ClientURL()
	alice, bob, carol := register(t, base, "alice"), register(t, base, "bob"), register(t, base, "carol")
	for _, c := range []struct {
		visibility string
		bobSees    []string
	}{
		{"world_readable", []string{"m1", "m2", "m3"}},
		{"shared", []string{"m1", "m2", "m3"}},
		{"invited", []string{"m2", "m3"}},
		{"joined", []string{"m3"}},
	} {
		t.Run(c.visibility, func(t *testing.T) {
			alice, bob, carol := alice.in(t), bob.in(t), carol.in(t)
			var room struct {
				RoomID string `json:"room_id"`
			}
			alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
			rp := "/rooms/" + url.PathEscape(room.RoomID)
			alice.must("PUT", rp+"/state/m.room.history_visibility/", map[string]any{"history_visibility": c.visibility}, nil)
			ids := map[string]string{}
			send := func(body string) {
				var r struct {
					EventID string `json:"event_id"`
				}
				alice.must("PUT", rp+"/send/m.room.message/"+c.visibility+body, map[string]any{"msgtype": "m.text", "body": body}, &r)
				ids[body] = r.EventID
			}
			send("m1")
			alice.must("POST", rp+"/invite", map[string]any{"user_id": "@bob:vis.test"}, nil)
			send("m2")
			bob.must("POST", rp+"/join", map[string]any{}, nil)
			send("m3")

			if got := messageBodies(t, bob, rp); !slices.Equal(got, c.bobSees) {
				t.Errorf("/messages: bob sees %v, want %v", got, c.bobSees)
			}
			for _, m := range []string{"m1", "m2", "m3"} {
				want := slices.Contains(c.bobSees, m)
				status, _ := bob.do("GET", rp+"/event/"+url.PathEscape(ids[m]), nil, nil)
				if (status == 200) != want {
					t.Errorf("/event %s: %d, visible %v", m, status, want)
				}
				status, _ = bob.do("GET", rp+"/context/"+url.PathEscape(ids[m])+"?limit=10", nil, nil)
				if (status == 200) != want {
					t.Errorf("/context %s: %d, visible %v", m, status, want)
				}
			}
			var ctxResp struct {
				EventsBefore []struct{ Content struct{ Body string } } `json:"events_before"`
			}
			bob.must("GET", rp+"/context/"+url.PathEscape(ids["m3"])+"?limit=20", nil, &ctxResp)
			var before []string
			for _, e := range ctxResp.EventsBefore {
				if e.Content.Body != "" {
					before = append([]string{e.Content.Body}, before...)
				}
			}
			if want := c.bobSees[:len(c.bobSees)-1]; !slices.Equal(before, want) {
				t.Errorf("/context m3: events before %v, want %v", before, want)
			}
			if got := syncBodies(t, bob, room.RoomID); !slices.Equal(got, c.bobSees) {
				t.Errorf("/sync timeline: bob sees %v, want %v", got, c.bobSees)
			}

			status, err := carol.do("GET", rp+"/messages?dir=b&limit=50", nil, nil)
			if c.visibility == "world_readable" {
				if got := messageBodies(t, carol, rp); !slices.Equal(got, []string{"m1", "m2", "m3"}) {
					t.Errorf("world_readable: carol (never a member) sees %v", got)
				}
			} else if status != 403 {
				t.Errorf("%s: carol (never a member) reads /messages: %d %v", c.visibility, status, err)
			}
		})
	}
}

// in returns a copy of a that reports to t.
func (a *api) in(t *testing.T) *api { c := *a; c.t = t; return &c }

// messageBodies returns the bodies of the m.room.message events a user
// reads through /messages, oldest first.
func messageBodies(t *testing.T, a *api, rp string) []string {
	t.Helper()
	var r struct {
		Chunk []struct {
			Type    string
			Content struct{ Body string }
		}
	}
	a.must("GET", rp+"/messages?dir=b&limit=50", nil, &r)
	var out []string
	for _, e := range r.Chunk {
		if e.Type == "m.room.message" {
			out = append([]string{e.Content.Body}, out...)
		}
	}
	return out
}

// syncBodies returns the message bodies of a room's timeline in an initial
// sync.
func syncBodies(t *testing.T, a *api, roomID string) []string {
	t.Helper()
	var r struct {
		Rooms struct {
			Join map[string]struct {
				Timeline struct {
					Events []json.RawMessage
				}
			}
		}
	}
	a.must("GET", "/sync?filter="+url.QueryEscape(`{"room":{"timeline":{"limit":50}}}`), nil, &r)
	var out []string
	for _, raw := range r.Rooms.Join[roomID].Timeline.Events {
		var e struct {
			Type    string
			Content struct{ Body string }
		}
		json.Unmarshal(raw, &e)
		if e.Type == "m.room.message" && strings.HasPrefix(e.Content.Body, "m") {
			out = append(out, e.Content.Body)
		}
	}
	return out
}
