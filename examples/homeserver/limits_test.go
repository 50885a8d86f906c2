package main

import (
	"net/url"
	"strings"
	"testing"
)

// TestEventSizeLimit: an event whose content is under the 65536-byte limit
// but which, with the fields the server adds (IDs, hashes, signatures,
// prev and auth events), is over it gets 413 M_TOO_LARGE, as content over
// the limit does ("Size limits"), not 400 M_BAD_JSON.
func TestEventSizeLimit(t *testing.T) {
	p := startInProcess(t, "limits.test", false, nil)
	alice := register(t, p.hs.ClientURL(), "alice")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	// {"body":"xxx…"} of 65,400 bytes: the content fits, the event does not.
	content := map[string]any{"body": strings.Repeat("x", 65400-len(`{"body":""}`))}
	for _, c := range []struct{ method, path string }{
		{"PUT", rp + "/send/m.room.message/big1"},
		{"PUT", rp + "/state/m.room.topic/"},
	} {
		status, err := alice.do(c.method, c.path, content, nil)
		if status != 413 || err == nil || !strings.Contains(err.Error(), "M_TOO_LARGE") {
			t.Errorf("%s %s: %d %v, want 413 M_TOO_LARGE", c.method, c.path, status, err)
		}
	}
	// A smaller event of the same kind is accepted.
	alice.must("PUT", rp+"/send/m.room.message/small", map[string]any{"body": strings.Repeat("x", 60000)}, nil)
}

// TestRefusedAddressNotEchoed: joining through a server whose name resolves
// to a loopback address is refused by the address policy, and the client is
// told so without the address (which stays in the log).
func TestRefusedAddressNotEchoed(t *testing.T) {
	p := startInProcess(t, "ssrf.test", true, nil)
	alice := register(t, p.hs.ClientURL(), "alice")
	for _, via := range []string{"localhost", "localhost:8448"} {
		status, err := alice.do("POST", "/join/"+url.PathEscape("!room:"+via)+"?server_name="+url.QueryEscape(via), map[string]any{}, nil)
		if status == 200 || err == nil {
			t.Fatalf("join through %s: %d", via, status)
		}
		msg := err.Error()
		for _, addr := range []string{"127.0.0.1", "::1", "[::1]"} {
			if strings.Contains(msg, addr) {
				t.Errorf("join through %s: the answer names the internal address %s: %s", via, addr, msg)
			}
		}
		if !strings.Contains(msg, "refused") {
			t.Errorf("join through %s: %s, want a refusal", via, msg)
		}
	}
}
