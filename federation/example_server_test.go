package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// newHomeserver makes a federation Server with an in-memory room store and a
// key ring that fetches keys over the transport.
func newHomeserver(name string, transport http.RoundTripper) *federation.Server {
	key, err := signing.GenerateKey("1")
	if err != nil {
		panic(err)
	}
	return &federation.Server{
		ServerName: name,
		Key:        key,
		Keys:       &federation.FetchingKeyRing{Client: &http.Client{Transport: transport}},
		Rooms:      federation.NewMemoryRoomStore(),
		Client:     &federation.Client{ServerName: name, Key: key, Transport: transport},
		KeyHandler: federation.ServerKeysHandler(name, key, nil, 0),
	}
}

// Two homeservers on loopback: alpha creates a room, beta joins it through
// alpha (make_join, send_join, the checks of the returned state), then alpha
// sends a message that beta receives through /send.
func ExampleServer() {
	ctx := context.Background()
	alphaHTTP, betaHTTP := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	defer alphaHTTP.Close()
	defer betaHTTP.Close()
	// Discovery points the server names at the loopback listeners.
	transport := federation.NewTransport(&federation.Resolver{Static: map[string]string{
		"alpha.example": alphaHTTP.Listener.Addr().String(),
		"beta.example":  betaHTTP.Listener.Addr().String(),
	}}, nil, true)
	alpha, beta := newHomeserver("alpha.example", transport), newHomeserver("beta.example", transport)
	alphaHTTP.Config.Handler, betaHTTP.Config.Handler = alpha, beta
	alphaHTTP.Start()
	betaHTTP.Start()

	v := roomversion.V11
	empty := ""
	create, err := alpha.CreateEvent(ctx, v, event.Builder{Type: "m.room.create", StateKey: &empty, Sender: "@alice:alpha.example", RoomID: "!room:alpha.example", Content: []byte(`{"room_version":"11"}`)})
	if err != nil {
		panic(err)
	}
	room := create.RoomID()
	alice := "@alice:alpha.example"
	for _, b := range []event.Builder{
		{Type: "m.room.member", StateKey: &alice, Content: []byte(`{"membership":"join"}`)},
		{Type: "m.room.power_levels", StateKey: &empty, Content: []byte(`{"users":{"@alice:alpha.example":100}}`)},
		{Type: "m.room.join_rules", StateKey: &empty, Content: []byte(`{"join_rule":"public"}`)},
	} {
		b.Sender, b.RoomID = alice, room
		if _, err := alpha.CreateEvent(ctx, v, b); err != nil {
			panic(err)
		}
	}

	joined, err := beta.Join(ctx, []string{"alpha.example"}, room, "@bob:beta.example", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("joined through", joined.Server, "with", len(joined.State), "state events")

	msg, err := alpha.CreateEvent(ctx, v, event.Builder{Type: "m.room.message", Sender: alice, RoomID: room, Content: []byte(`{"msgtype":"m.text","body":"welcome"}`)})
	if err != nil {
		panic(err)
	}
	fmt.Println("send errors:", alpha.SendEvents(ctx, room, []*event.Event{msg}))
	got, _ := beta.Rooms.Events(ctx, []string{msg.ID()})
	fmt.Println("beta has the message:", got[0].Event != nil && !got[0].Rejected)
	// Output:
	// joined through alpha.example with 4 state events
	// send errors: map[]
	// beta has the message: true
}

// A room's server ACL, as the handlers apply it.
func ExampleParseServerACL() {
	acl := federation.ParseServerACL([]byte(`{"allow":["*"],"deny":["*.evil.example"],"allow_ip_literals":false}`))
	for _, s := range []string{"good.example", "matrix.evil.example:8448", "192.0.2.1"} {
		fmt.Println(s, acl.Allowed(s))
	}
	// Output:
	// good.example true
	// matrix.evil.example:8448 false
	// 192.0.2.1 false
}
