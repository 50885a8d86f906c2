package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/federation/audit"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// servers starts library homeservers with in-memory rooms on loopback
// listeners, named by names; call the returned stop when done.
func servers(names ...string) (hss []*federation.Server, transport http.RoundTripper, stop func()) {
	static := map[string]string{}
	var https []*httptest.Server
	for _, n := range names {
		ts := httptest.NewUnstartedServer(nil)
		static[n] = ts.Listener.Addr().String()
		https = append(https, ts)
	}
	transport = federation.NewTransport(&federation.Resolver{Static: static}, nil, true)
	for i, n := range names {
		key, err := signing.GenerateKey("1")
		if err != nil {
			panic(err)
		}
		hs := &federation.Server{
			ServerName: n, Key: key,
			Keys:       &federation.FetchingKeyRing{Client: &http.Client{Transport: transport}},
			Rooms:      federation.NewMemoryRoomStore(),
			Client:     &federation.Client{ServerName: n, Key: key, Transport: transport},
			KeyHandler: federation.ServerKeysHandler(n, key, nil, 0),
		}
		https[i].Config.Handler = hs
		https[i].Start()
		hss = append(hss, hs)
	}
	return hss, transport, func() {
		for _, ts := range https {
			ts.Close()
		}
	}
}

// newRoom has alice of hs create a public room of version 12, with a
// topic, and returns its ID.
func newRoom(ctx context.Context, hs *federation.Server, alice string) string {
	v, empty := roomversion.V12, ""
	create, err := hs.CreateEvent(ctx, v, event.Builder{Type: event.TypeCreate, StateKey: &empty, Sender: alice, Content: []byte(`{"room_version":"12"}`)})
	if err != nil {
		panic(err)
	}
	for _, b := range []event.Builder{
		{Type: event.TypeMember, StateKey: &alice, Content: []byte(`{"membership":"join"}`)},
		{Type: "m.room.power_levels", StateKey: &empty, Content: []byte(`{"users_default":0,"state_default":50}`)},
		{Type: "m.room.join_rules", StateKey: &empty, Content: []byte(`{"join_rule":"public"}`)},
		{Type: "m.room.topic", StateKey: &empty, Content: []byte(`{"topic":"audited"}`)},
	} {
		b.Sender, b.RoomID = alice, create.RoomID()
		if _, err := hs.CreateEvent(ctx, v, b); err != nil {
			panic(err)
		}
	}
	return create.RoomID()
}

// A room auditor: alpha.example holds a room, beta.example (a server in
// the room, since servers answer only those) fetches its history over
// federation and re-verifies every event, its auth and its state.
func ExampleAuditor_Room() {
	ctx := context.Background()
	hss, _, stop := servers("alpha.example", "beta.example")
	defer stop()
	alpha, beta := hss[0], hss[1]
	room := newRoom(ctx, alpha, "@alice:alpha.example")
	if _, err := beta.Join(ctx, []string{"alpha.example"}, room, "@bob:beta.example", nil); err != nil {
		panic(err)
	}
	msg, err := alpha.CreateEvent(ctx, roomversion.V12, event.Builder{Type: "m.room.message", Sender: "@alice:alpha.example", RoomID: room, Content: []byte(`{"msgtype":"m.text","body":"hello"}`)})
	if err != nil {
		panic(err)
	}

	auditor := &audit.Auditor{Client: beta.Client, Keys: beta.Keys}
	report, err := auditor.Room(ctx, "alpha.example", roomversion.V12, room, msg.ID())
	if err != nil {
		panic(err)
	}
	fmt.Println("events checked:", report.Events)
	fmt.Println("partial:", report.Partial)
	fmt.Println("findings:", len(report.Findings))
	// Output:
	// events checked: 7
	// partial: 0
	// findings: 0
}
