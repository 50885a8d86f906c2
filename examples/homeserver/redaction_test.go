package main

import (
	"encoding/json"
	"net/url"
	"testing"
)

// TestRedaction checks the redaction rules the server applies and the
// client format of a redacted event, on the sender's server and on the
// other server of the room.
func TestRedaction(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	carol := register(t, p.a.hs.ClientURL(), "carol")
	bob := register(t, p.b.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	carol.must("POST", rp+"/join", map[string]any{}, nil)
	bob.must("POST", "/join/"+url.PathEscape(room.RoomID)+"?server_name=a.test", map[string]any{}, nil)

	var msg, red struct {
		EventID string `json:"event_id"`
	}
	alice.must("PUT", rp+"/send/m.room.message/1", map[string]string{"msgtype": "m.text", "body": "secret"}, &msg)

	// Carol (power 0, below redact 50) may not redact alice's message.
	if code, err := carol.do("PUT", rp+"/redact/"+url.PathEscape(msg.EventID)+"/1", map[string]string{"reason": "no"}, nil); code != 403 {
		t.Fatalf("carol redacting alice's event: %d %v, want 403", code, err)
	}
	alice.must("PUT", rp+"/redact/"+url.PathEscape(msg.EventID)+"/2", map[string]string{"reason": "oops"}, &red)

	type clientEv struct {
		Content  map[string]any `json:"content"`
		Unsigned struct {
			// redacted_because is the redaction event itself, in the
			// client format, with its reason (not a summary of it).
			RedactedBecause *struct {
				EventID string `json:"event_id"`
				Type    string `json:"type"`
				Sender  string `json:"sender"`
				Content struct {
					Reason string `json:"reason"`
				} `json:"content"`
			} `json:"redacted_because"`
		} `json:"unsigned"`
	}
	check := func(who *api, server string) bool {
		var ev clientEv
		if _, err := who.do("GET", rp+"/event/"+url.PathEscape(msg.EventID), nil, &ev); err != nil {
			return false
		}
		if ev.Unsigned.RedactedBecause == nil {
			return false
		}
		rb := ev.Unsigned.RedactedBecause
		if len(ev.Content) != 0 || rb.EventID != red.EventID || rb.Type != "m.room.redaction" || rb.Sender != "@alice:a.test" || rb.Content.Reason != "oops" {
			b, _ := json.Marshal(ev)
			t.Fatalf("%s: redacted event %s", server, b)
		}
		return true
	}
	if !check(alice, "a.test") {
		t.Fatalf("the redaction is not applied on the sender's server")
	}
	waitFor(t, "the redaction on b.test", func() bool { return check(bob, "b.test") })
}
