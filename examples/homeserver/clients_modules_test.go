package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// TestClientNioModules runs clients/nio/modules.py: matrix-nio drives
// threads, search, a room upgrade, spaces, knocking and pushers, with two
// users; the pusher points at a push gateway on loopback, which must
// receive the notification of the pushed message.
func TestClientNioModules(t *testing.T) {
	t.Parallel()
	requireNio(t)
	gw := &gateway{}
	mux := http.NewServeMux()
	mux.Handle("/_matrix/push/v1/notify", gw)
	// The script reads what the gateway received, to wait for the push
	// before it removes its pusher.
	mux.HandleFunc("GET /received", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(gw.received())
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	hs := startInProcess(t, "niomod.localhost", false, nil)
	runClient(t, 120*time.Second, ".", systemPython, filepath.Join("clients", "nio", "modules.py"), hs.hs.ClientURL(), srv.URL)
	pushed := false
	for _, n := range gw.received() {
		c, _ := n["content"].(map[string]any)
		if n["type"] == "m.room.message" && c["body"] == "push me" {
			pushed = true
		}
	}
	if !pushed {
		t.Fatalf("the push gateway never received the pushed message: %v", gw.received())
	}
}
