package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// moduleGateway is a push gateway on loopback for the module flows. It
// also serves what it received at GET /received, so that a flow can wait
// for its push before removing its pusher.
func moduleGateway(t *testing.T) (*gateway, string) {
	gw := &gateway{}
	mux := http.NewServeMux()
	mux.Handle("/_matrix/push/v1/notify", gw)
	mux.HandleFunc("GET /received", func(w http.ResponseWriter, r *http.Request) {
		got := gw.received()
		if got == nil {
			got = []map[string]any{} // [], not null
		}
		json.NewEncoder(w).Encode(got)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return gw, srv.URL
}

// requirePushed fails unless the gateway received the flow's "push me".
func requirePushed(t *testing.T, gw *gateway) {
	for _, n := range gw.received() {
		c, _ := n["content"].(map[string]any)
		if n["type"] == "m.room.message" && c["body"] == "push me" {
			return
		}
	}
	t.Fatalf("the push gateway never received the pushed message: %v", gw.received())
}

// TestClientNioModules runs clients/nio/modules.py: matrix-nio drives
// threads, search, room upgrades, spaces, knocking and pushers, with two
// users; the pusher points at a push gateway on loopback.
func TestClientNioModules(t *testing.T) {
	t.Parallel()
	requireNio(t)
	gw, gwURL := moduleGateway(t)
	hs := startInProcess(t, "niomod.localhost", false, nil)
	runClient(t, 120*time.Second, ".", systemPython, filepath.Join("clients", "nio", "modules.py"), hs.hs.ClientURL(), gwURL)
	requirePushed(t, gw)
}

// TestClientJSModules runs clients/js/modules.mjs: matrix-js-sdk (with
// its thread model fed by its sync loop) drives the same modules.
func TestClientJSModules(t *testing.T) {
	t.Parallel()
	requireJS(t)
	gw, gwURL := moduleGateway(t)
	hs := startInProcess(t, "jsmod.localhost", false, nil)
	runClient(t, 120*time.Second, filepath.Join("clients", "js"), "node", "modules.mjs", hs.hs.ClientURL(), gwURL)
	requirePushed(t, gw)
}
