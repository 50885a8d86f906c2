package appservice_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"

	"github.com/mxkit/mxkit/appservice"
)

// ircService is a bridge's Service whose third-party lookups are answered
// by the embedded ThirdParty.
type ircService struct{ *appservice.ThirdParty }

func (ircService) HandleTransaction(context.Context, *appservice.IncomingTransaction) error {
	return nil
}

// A bridge answers the third-party lookups with typed functions; the
// homeserver asks with Client and gets typed answers.
func ExampleThirdParty() {
	tp := &appservice.ThirdParty{
		Protocols: map[string]*appservice.Protocol{"irc": {
			UserFields: []string{"network", "nickname"}, LocationFields: []string{"network", "channel"},
			Instances: []appservice.ProtocolInstance{{Desc: "Libera.Chat", Fields: map[string]string{"network": "libera.chat"}, NetworkID: "libera"}},
		}},
		Users: func(_ context.Context, protocol string, fields map[string]string) ([]appservice.ThirdPartyUser, error) {
			return []appservice.ThirdPartyUser{{UserID: "@irc_" + fields["nickname"] + ":example.org", Protocol: protocol, Fields: fields}}, nil
		},
	}
	srv := httptest.NewServer(appservice.NewHandler("hs_token", ircService{tp}))
	defer srv.Close()

	reg := &appservice.Registration{ID: "irc", URL: srv.URL, HSToken: "hs_token", Protocols: []string{"irc"}}
	c := &appservice.Client{}
	p, err := c.ProtocolInfo(context.Background(), reg, "irc")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Instances[0].NetworkID, p.UserFields)
	users, err := c.LookupUsers(context.Background(), reg, "irc", url.Values{"network": {"libera.chat"}, "nickname": {"bob"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(users[0].UserID)
	// Output:
	// libera [network nickname]
	// @irc_bob:example.org
}
