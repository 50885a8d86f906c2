package audit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/mxkit/mxkit/client"
	"github.com/mxkit/mxkit/content"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/federation/audit"
	"github.com/mxkit/mxkit/internal/hstest"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	hstest.Cleanup()
	os.Exit(code)
}

// TestAuditExampleHomeserver audits a room of the example homeserver (a
// separate program, over loopback federation): a user of it creates a
// public room and talks, a library server joins, and its auditor finds
// every event, its auth and the homeserver's state correct.
func TestAuditExampleHomeserver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts := httptest.NewUnstartedServer(nil)
	clientURL, fedAddr := hstest.StartFederating(t, "hs.test", "--peer", "lib.test="+ts.Listener.Addr().String())
	transport := federation.NewTransport(&federation.Resolver{Static: map[string]string{
		"hs.test": fedAddr, "lib.test": ts.Listener.Addr().String()}}, nil, true)
	key, err := signing.GenerateKey("1")
	if err != nil {
		t.Fatal(err)
	}
	lib := &federation.Server{ServerName: "lib.test", Key: key, Rooms: federation.NewMemoryRoomStore(),
		Keys:       &federation.FetchingKeyRing{Client: &http.Client{Transport: transport}},
		Client:     &federation.Client{ServerName: "lib.test", Key: key, Transport: transport},
		KeyHandler: federation.ServerKeysHandler("lib.test", key, nil, 0)}
	ts.Config.Handler = lib
	ts.Start()
	defer ts.Close()

	alice, _ := client.New(clientURL, "")
	if _, err := alice.RegisterWithDummyAuth(ctx, &client.RegisterRequest{Username: "alice", Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	roomID, err := alice.CreateRoom(ctx, &client.CreateRoomRequest{Preset: "public_chat", Name: "audited", Topic: "a room to audit"})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"one", "two"} {
		if _, err := alice.SendText(ctx, roomID, text); err != nil {
			t.Fatal(err)
		}
	}
	var create content.Create
	if err := alice.StateEvent(ctx, roomID, "m.room.create", "", &create); err != nil {
		t.Fatal(err)
	}
	v, err := roomversion.Get(create.RoomVersion)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Join(ctx, []string{"hs.test"}, roomID, "@bob:lib.test", nil); err != nil {
		t.Fatalf("join: %v", err)
	}
	last, err := alice.SendText(ctx, roomID, "three")
	if err != nil {
		t.Fatal(err)
	}

	rep, err := (&audit.Auditor{Client: lib.Client, Keys: lib.Keys}).Room(ctx, "hs.test", v, roomID, last)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("room version %s: %d events checked", v.ID, rep.Events)
	// create, alice's join, power levels, join rules, history visibility,
	// name, topic, two messages, bob's join, the last message: at least 11
	// (the homeserver may add more initial state, such as guest access).
	if rep.Events < 11 || rep.Partial != 0 || len(rep.Findings) != 0 {
		t.Errorf("room version %s: %d events, %d partial, findings %v", v.ID, rep.Events, rep.Partial, rep.Findings)
	}
}
