package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// TestMessagesFilterAndLazyMembers: /messages applies its RoomEventFilter
// (types with wildcards, not_senders, contains_url) and, with
// lazy_load_members, answers the member events of the chunk's senders in
// state (client-server API, "Filtering" and "Lazy-loading room members").
func TestMessagesFilterAndLazyMembers(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "lazy.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	carol := register(t, hs.hs.ClientURL(), "carol")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	carol.must("POST", rp+"/join", map[string]any{}, nil)
	bob.must("PUT", rp+"/send/m.room.message/1", map[string]any{"msgtype": "m.text", "body": "from bob"}, nil)
	carol.must("PUT", rp+"/send/m.room.message/2", map[string]any{"msgtype": "m.image", "body": "a.png", "url": "mxc://lazy.test/a"}, nil)
	alice.must("PUT", rp+"/send/m.room.message/3", map[string]any{"msgtype": "m.text", "body": "from alice"}, nil)

	type ev struct {
		Type     string          `json:"type"`
		Sender   string          `json:"sender"`
		StateKey *string         `json:"state_key"`
		Content  json.RawMessage `json:"content"`
	}
	messages := func(limit string, filter any) (chunk, state []ev) {
		f, _ := json.Marshal(filter)
		var r struct{ Chunk, State []ev }
		alice.must("GET", rp+"/messages?dir=b&limit="+limit+"&filter="+url.QueryEscape(string(f)), nil, &r)
		return r.Chunk, r.State
	}
	senders := func(evs []ev) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Sender)
		}
		return out
	}
	keys := func(evs []ev) []string {
		var out []string
		for _, e := range evs {
			if e.Type != "m.room.member" || e.StateKey == nil {
				t.Fatalf("state holds %s", e.Type)
			}
			out = append(out, *e.StateKey)
		}
		slices.Sort(out)
		return out
	}
	a, b, c := "@alice:lazy.test", "@bob:lazy.test", "@carol:lazy.test"

	chunk, state := messages("3", map[string]any{"lazy_load_members": true})
	if !slices.Equal(senders(chunk), []string{a, c, b}) || !slices.Equal(keys(state), []string{a, b, c}) {
		t.Fatalf("three messages: chunk from %v, state %v", senders(chunk), keys(state))
	}
	chunk, state = messages("1", map[string]any{"lazy_load_members": true})
	if !slices.Equal(senders(chunk), []string{a}) || !slices.Equal(keys(state), []string{a}) {
		t.Fatalf("one message: chunk from %v, state %v", senders(chunk), keys(state))
	}
	if _, state = messages("3", map[string]any{}); len(state) != 0 {
		t.Fatalf("state without lazy loading: %v", state)
	}

	chunk, _ = messages("20", map[string]any{"types": []string{"m.room.mess*"}, "not_senders": []string{a}})
	if !slices.Equal(senders(chunk), []string{c, b}) {
		t.Fatalf("types m.room.mess*, not alice: %v", senders(chunk))
	}
	chunk, _ = messages("20", map[string]any{"contains_url": true})
	if !slices.Equal(senders(chunk), []string{c}) {
		t.Fatalf("contains_url: %v", senders(chunk))
	}
	chunk, _ = messages("20", map[string]any{"types": []string{}})
	if len(chunk) != 0 {
		t.Fatalf("types []: %v", senders(chunk))
	}
}
