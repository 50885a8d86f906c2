package appservice_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/mxkit/mxkit/appservice"
)

// printer is an application service that prints what it receives.
type printer struct{ done chan struct{} }

func (p printer) HandleTransaction(_ context.Context, txn *appservice.IncomingTransaction) error {
	for _, ev := range txn.Events {
		fmt.Printf("%s from %s: %s\n", ev.Type, ev.Sender, ev.Content)
	}
	close(p.done)
	return nil
}

// Both sides: an application service serving Handler, and a homeserver
// that reads its registration and pushes an event to it with a Sender.
func Example() {
	// The application service side.
	svc := printer{done: make(chan struct{})}
	as := httptest.NewServer(appservice.NewHandler("hs-secret", svc))
	defer as.Close()

	// The homeserver side: the registration file, the registry of all
	// services, and a sender per service.
	reg, err := appservice.ParseRegistration([]byte(`
id: echo
url: ` + as.URL + `
as_token: as-secret
hs_token: hs-secret
sender_localpart: echobot
namespaces:
  users: [{exclusive: true, regex: '@echo_.*:example\.org'}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	registry, err := appservice.NewRegistry("example.org", reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sender user:", reg.SenderUserID(registry.ServerName()))
	fmt.Println("@echo_alice:example.org is exclusive:", registry.ExclusiveUserOwner("@echo_alice:example.org") != nil)

	sender := appservice.NewSender(reg, &appservice.Client{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sender.Run(ctx)
	sender.Enqueue([]json.RawMessage{json.RawMessage(
		`{"type":"m.room.message","event_id":"$1","sender":"@echo_alice:example.org","room_id":"!r:example.org","origin_server_ts":1,"content":{"body":"hello"}}`,
	)}, nil)
	<-svc.done
	// Output:
	// sender user: @echobot:example.org
	// @echo_alice:example.org is exclusive: true
	// m.room.message from @echo_alice:example.org: {"body":"hello"}
}

// A client API server resolves an as_token with ActAs in its token lookup;
// a token that is not an as_token is left to the ordinary lookup.
func ExampleRegistry_ActAs() {
	reg, _ := appservice.ParseRegistration([]byte(`{id: irc, url: null, as_token: as-secret, hs_token: hs-secret,
  sender_localpart: _irc_bot, namespaces: {users: [{exclusive: true, regex: '@_irc_.*'}]}}`))
	registry, _ := appservice.NewRegistry("example.org", reg)
	ctx := context.Background()

	a, ok, err := registry.ActAs(ctx, "as-secret", "", "", nil)
	fmt.Println(ok, a.Service.ID, a.UserID, err)

	_, ok, err = registry.ActAs(ctx, "as-secret", "@alice:example.org", "", nil)
	var e *appservice.Error
	errors.As(err, &e)
	fmt.Println(ok, e.Status, e.Code)

	_, ok, err = registry.ActAs(ctx, "some-user-token", "", "", nil)
	fmt.Println(ok, err)
	// Output:
	// true irc @_irc_bot:example.org <nil>
	// true 403 M_FORBIDDEN
	// false <nil>
}

func ExampleParseRegistration() {
	_, err := appservice.ParseRegistration([]byte(`id: irc
url: http://127.0.0.1:9999
as_token: a
hs_token: b
sender_localpart: bot
namespaces:
  users:
    - exclusive: true
      regex: "@_irc_(.*"
`))
	fmt.Println(err)
	fmt.Println(errors.Is(err, appservice.ErrInvalidRegistration))
	// Output:
	// appservice registration: line 9 column 14: namespaces.users[0].regex: invalid regular expression "@_irc_(.*": error parsing regexp: missing closing ): `@_irc_(.*`
	// true
}
