package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// gateway is a push gateway on loopback that records what it is sent.
type gateway struct {
	mu       sync.Mutex
	got      []map[string]any
	rejected []string
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/_matrix/push/v1/notify" || r.Method != "POST" {
		http.NotFound(w, r)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var body struct {
		Notification map[string]any `json:"notification"`
	}
	json.Unmarshal(b, &body)
	g.mu.Lock()
	g.got = append(g.got, body.Notification)
	rej := g.rejected
	g.mu.Unlock()
	if rej == nil {
		rej = []string{}
	}
	json.NewEncoder(w).Encode(map[string]any{"rejected": rej})
}

func (g *gateway) received() []map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]map[string]any(nil), g.got...)
}

// TestPushNotifications: a pusher set through the client API gets the
// notifications the push rules decide (content/client-server-api/modules/
// push.md), GET /notifications lists them, /sync counts them until the
// read receipt, push rule changes apply, and a rejected pushkey removes
// its pusher.
func TestPushNotifications(t *testing.T) {
	t.Parallel()
	gw := &gateway{}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	hs := startInProcess(t, "push.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat", "name": "Lunch"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	pusher := func(key, format string) map[string]any {
		data := map[string]any{"url": srv.URL + "/_matrix/push/v1/notify", "custom": "kept"}
		if format != "" {
			data["format"] = format
		}
		return map[string]any{"kind": "http", "app_id": "org.example.test", "pushkey": key, "app_display_name": "Test",
			"device_display_name": "Phone", "lang": "en", "data": data}
	}
	bob.must("POST", "/pushers/set", pusher("full", ""), nil)

	var sent struct {
		EventID string `json:"event_id"`
	}
	alice.must("PUT", rp+"/send/m.room.message/1", map[string]any{"msgtype": "m.text", "body": "hello"}, &sent)
	waitFor(t, "the notification at the gateway", func() bool { return len(gw.received()) == 1 })
	n := gw.received()[0]
	dev := n["devices"].([]any)[0].(map[string]any)
	data := dev["data"].(map[string]any)
	if n["event_id"] != sent.EventID || n["room_id"] != room.RoomID || n["type"] != "m.room.message" || n["sender"] != "@alice:push.test" ||
		n["room_name"] != "Lunch" || n["content"].(map[string]any)["body"] != "hello" || n["prio"] != "high" ||
		n["counts"].(map[string]any)["unread"] != float64(1) || dev["pushkey"] != "full" || data["custom"] != "kept" || data["url"] != nil ||
		dev["tweaks"].(map[string]any)["sound"] != "default" {
		b, _ := json.Marshal(n)
		t.Fatalf("notification %s", b)
	}

	// The sender is not notified of their own event; a mention highlights.
	alice.must("PUT", rp+"/send/m.room.message/2", map[string]any{"msgtype": "m.text", "body": "bob!", "m.mentions": map[string]any{"user_ids": []string{"@bob:push.test"}}}, &sent)
	waitFor(t, "the mention at the gateway", func() bool { return len(gw.received()) == 2 })
	var list struct {
		Notifications []struct {
			Read    bool `json:"read"`
			Actions []any
			Event   struct {
				EventID string `json:"event_id"`
			} `json:"event"`
		} `json:"notifications"`
		NextToken string `json:"next_token"`
	}
	bob.must("GET", "/notifications", nil, &list)
	if len(list.Notifications) != 2 || list.Notifications[0].Event.EventID != sent.EventID || list.Notifications[0].Read {
		t.Fatalf("notifications %+v", list)
	}
	bob.must("GET", "/notifications?only=highlight", nil, &list)
	if len(list.Notifications) != 1 || list.Notifications[0].Event.EventID != sent.EventID {
		t.Fatalf("highlights %+v", list)
	}
	bob.must("GET", "/notifications?limit=1", nil, &list)
	if len(list.Notifications) != 1 || list.NextToken == "" {
		t.Fatalf("first page %+v", list)
	}
	bob.must("GET", "/notifications?limit=1&from="+list.NextToken, nil, &list)
	if len(list.Notifications) != 1 || list.Notifications[0].Event.EventID == sent.EventID {
		t.Fatalf("second page %+v", list)
	}
	var alices struct {
		Notifications []any `json:"notifications"`
	}
	alice.must("GET", "/notifications", nil, &alices)
	if len(alices.Notifications) != 0 {
		t.Fatalf("alice was notified of her own events: %v", alices.Notifications)
	}

	// Sync counts the unread ones until the read receipt.
	counts := func() (int, int) {
		var r struct {
			Rooms struct {
				Join map[string]struct {
					Unread struct {
						N int `json:"notification_count"`
						H int `json:"highlight_count"`
					} `json:"unread_notifications"`
				} `json:"join"`
			} `json:"rooms"`
		}
		bob.must("GET", "/sync", nil, &r)
		u := r.Rooms.Join[room.RoomID].Unread
		return u.N, u.H
	}
	if n, h := counts(); n != 2 || h != 1 {
		t.Fatalf("unread %d/%d, want 2/1", n, h)
	}
	bob.must("POST", rp+"/receipt/m.read/"+url.PathEscape(sent.EventID), map[string]any{}, nil)
	if n, h := counts(); n != 0 || h != 0 {
		t.Fatalf("unread after the receipt %d/%d, want 0/0", n, h)
	}
	bob.must("GET", "/notifications", nil, &list)
	if !list.Notifications[0].Read {
		t.Fatalf("notification not read after the receipt: %+v", list)
	}

	// Push rule writes apply: with the 1:1 and message rules off, plain
	// messages no longer notify; the next mention shows the worker went by.
	for _, id := range []string{".m.rule.room_one_to_one", ".m.rule.message"} {
		bob.must("PUT", "/pushrules/global/underride/"+id+"/enabled", map[string]any{"enabled": false}, nil)
	}
	alice.must("PUT", rp+"/send/m.room.message/3", map[string]any{"msgtype": "m.text", "body": "quiet"}, nil)
	alice.must("PUT", rp+"/send/m.room.message/4", map[string]any{"msgtype": "m.text", "body": "loud", "m.mentions": map[string]any{"user_ids": []string{"@bob:push.test"}}}, &sent)
	waitFor(t, "the second mention", func() bool { return len(gw.received()) == 3 })
	if got := gw.received()[2]; got["event_id"] != sent.EventID {
		t.Fatalf("after disabling the message rules, the gateway got %v", got)
	}

	// An event_id_only pusher gets the IDs and counts only; a pushkey
	// the gateway rejects loses its pusher.
	bob.must("POST", "/pushers/set", map[string]any{"kind": nil, "app_id": "org.example.test", "pushkey": "full"}, nil)
	bob.must("POST", "/pushers/set", pusher("short", "event_id_only"), nil)
	gw.mu.Lock()
	gw.rejected = []string{"short"}
	gw.mu.Unlock()
	alice.must("PUT", rp+"/send/m.room.message/5", map[string]any{"msgtype": "m.text", "body": "again", "m.mentions": map[string]any{"user_ids": []string{"@bob:push.test"}}}, &sent)
	waitFor(t, "the event_id_only notification", func() bool { return len(gw.received()) == 4 })
	short := gw.received()[3]
	if short["event_id"] != sent.EventID || short["type"] != nil || short["content"] != nil || short["sender"] != nil {
		t.Fatalf("event_id_only notification %v", short)
	}
	waitFor(t, "the rejected pusher removed", func() bool {
		var p struct {
			Pushers []any `json:"pushers"`
		}
		bob.must("GET", "/pushers", nil, &p)
		return len(p.Pushers) == 0
	})
}
