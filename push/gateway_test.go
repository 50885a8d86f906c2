package push

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGatewayNotify(t *testing.T) {
	var got map[string]json.RawMessage
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != NotifyPath || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request line", 400)
			return
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &got)
		w.Write([]byte(`{"rejected":["dead"]}`))
	}))
	defer srv.Close()
	g := &Gateway{HTTP: srv.Client()}
	n := &Notification{EventID: "$e", RoomID: "!r:x", Type: "m.room.message", Sender: "@a:x", Content: json.RawMessage(`{"body":"hi"}`),
		Counts: &Counts{Unread: 2}, Devices: []Device{{AppID: "app", PushKey: "dead", Tweaks: map[string]any{"sound": "default"}}}}
	rejected, err := g.Notify(context.Background(), srv.URL+NotifyPath, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected) != 1 || rejected[0] != "dead" {
		t.Errorf("rejected %v", rejected)
	}
	var sent Notification
	if err := json.Unmarshal(got["notification"], &sent); err != nil || sent.EventID != "$e" || sent.Counts.Unread != 2 || sent.Devices[0].Tweaks["sound"] != "default" {
		t.Errorf("sent %s (%v)", got["notification"], err)
	}
	if strings.Contains(string(got["notification"]), "missed_calls") {
		t.Errorf("zero counts must be left out: %s", got["notification"])
	}
}

func TestGatewayErrors(t *testing.T) {
	status := 500
	body := `{"errcode":"M_UNKNOWN"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	g := &Gateway{HTTP: srv.Client(), MaxResponse: 64}
	ctx := context.Background()
	if _, err := g.Notify(ctx, srv.URL+NotifyPath, &Notification{}); !errors.Is(err, ErrGateway) {
		t.Errorf("500: %v", err)
	}
	status, body = 200, `not json`
	if _, err := g.Notify(ctx, srv.URL+NotifyPath, &Notification{}); !errors.Is(err, ErrGateway) {
		t.Errorf("not JSON: %v", err)
	}
	body = `{"rejected":[` + strings.Repeat(`"k",`, 40) + `"k"]}`
	if _, err := g.Notify(ctx, srv.URL+NotifyPath, &Notification{}); !errors.Is(err, ErrGateway) {
		t.Errorf("answer over MaxResponse: %v", err)
	}
	for _, u := range []string{"", "ftp://x/_matrix/push/v1/notify", "https://", "::"} {
		if _, err := g.Notify(ctx, u, &Notification{}); err == nil {
			t.Errorf("url %q accepted", u)
		}
	}
}
