package main

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

// TestRoomAudit runs the command against a library server on loopback
// whose room a second server (the identity the command signs as) joined:
// an honest room audits clean, with the latest event found by
// timestamp_to_event; after a forged event it exits 1 and names it.
func TestRoomAudit(t *testing.T) {
	ctx := context.Background()
	names := []string{"alpha.test", "beta.test"}
	static := map[string]string{}
	var https []*httptest.Server
	for _, n := range names {
		ts := httptest.NewUnstartedServer(nil)
		static[n] = ts.Listener.Addr().String()
		https = append(https, ts)
	}
	transport := federation.NewTransport(&federation.Resolver{Static: static}, nil, true)
	var hss []*federation.Server
	var keys []*signing.SigningKey
	for i, n := range names {
		key, err := signing.GenerateKey("1")
		if err != nil {
			t.Fatal(err)
		}
		hs := &federation.Server{ServerName: n, Key: key, Rooms: federation.NewMemoryRoomStore(),
			Keys:       &federation.FetchingKeyRing{Client: &http.Client{Transport: transport}},
			Client:     &federation.Client{ServerName: n, Key: key, Transport: transport},
			KeyHandler: federation.ServerKeysHandler(n, key, nil, 0)}
		https[i].Config.Handler = hs
		https[i].Start()
		t.Cleanup(https[i].Close)
		hss, keys = append(hss, hs), append(keys, key)
	}
	alpha, beta := hss[0], hss[1]
	keyFile := filepath.Join(t.TempDir(), "beta.key")
	if err := os.WriteFile(keyFile, keys[1].MarshalKeyFile(), 0o600); err != nil {
		t.Fatal(err)
	}

	v, empty, alice := roomversion.V12, "", "@alice:alpha.test"
	create, err := alpha.CreateEvent(ctx, v, event.Builder{Type: event.TypeCreate, StateKey: &empty, Sender: alice, Content: []byte(`{"room_version":"12"}`)})
	if err != nil {
		t.Fatal(err)
	}
	room := create.RoomID()
	for _, b := range []event.Builder{
		{Type: event.TypeMember, StateKey: &alice, Content: []byte(`{"membership":"join"}`)},
		{Type: "m.room.power_levels", StateKey: &empty, Content: []byte(`{}`)},
		{Type: "m.room.join_rules", StateKey: &empty, Content: []byte(`{"join_rule":"public"}`)},
	} {
		b.Sender, b.RoomID = alice, room
		if _, err := alpha.CreateEvent(ctx, v, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := beta.Join(ctx, []string{"alpha.test"}, room, "@bob:beta.test", nil); err != nil {
		t.Fatal(err)
	}

	audit := func(extra ...string) (int, string, string) {
		var out, errw bytes.Buffer
		args := append([]string{"--server-name", "beta.test", "--key", keyFile, "--dest", "alpha.test", "--room", room,
			"--room-version", "12", "--plain-http", "--resolve", "alpha.test=" + static["alpha.test"], "--resolve", "beta.test=" + static["beta.test"]}, extra...)
		code := run(args, &out, &errw)
		return code, out.String(), errw.String()
	}
	code, out, errs := audit()
	if code != 0 || !strings.Contains(out, "5 events checked, 0 partial, 0 findings") {
		t.Fatalf("honest room: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	// A topic change by a user who never joined, signed and stored by
	// alpha as if accepted.
	store := alpha.Rooms.(*federation.MemoryRoomStore)
	ext, _ := store.ForwardExtremities(ctx, room)
	prev, _ := store.Events(ctx, ext)
	states, _ := store.StateAfter(ctx, ext)
	pl, _ := store.Events(ctx, []string{states[0][stateres.StateKey{Type: "m.room.power_levels"}]})
	bad, err := (&event.Builder{Type: "m.room.topic", StateKey: &empty, Sender: "@mallory:alpha.test", RoomID: room,
		Content: []byte(`{"topic":"forged"}`), PrevEvents: []*event.Event{prev[0].Event}, AuthEvents: []*event.Event{pl[0].Event}}).Build(v, "alpha.test", keys[0])
	if err != nil {
		t.Fatal(err)
	}
	after := maps.Clone(states[0])
	after[stateres.StateKey{Type: "m.room.topic"}] = bad.ID()
	if err := store.StoreEvents(ctx, room, []federation.NewEvent{{Event: bad, Status: federation.Accepted, StateAfter: after}}); err != nil {
		t.Fatal(err)
	}
	code, out, errs = audit("--event", bad.ID())
	if code != 1 || !strings.Contains(out, "1 findings") || !strings.Contains(out, bad.ID()+": auth events:") {
		t.Fatalf("forged room: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	for _, args := range [][]string{{"--room-version", "99"}, {"--key", "/nonexistent"}, {"--resolve", "nonsense"}} {
		if code, out, _ := audit(args...); code != 2 || out != "" {
			t.Errorf("%v: exit %d, stdout %q, want 2 and nothing", args, code, out)
		}
	}
	var out2, err2 bytes.Buffer
	if code := run(nil, &out2, &err2); code != 2 || out2.Len() != 0 {
		t.Errorf("no flags: exit %d", code)
	}
}
