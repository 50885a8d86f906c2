package appservice

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
)

// ircBridge is a typed ThirdParty served by a Handler over loopback.
func ircBridge() *ThirdParty {
	return &ThirdParty{
		Protocols: map[string]*Protocol{"irc": {
			UserFields: []string{"network", "nickname"}, LocationFields: []string{"network", "channel"},
			Icon:       "mxc://example.org/irc",
			FieldTypes: map[string]FieldType{"network": {Regexp: "[a-z.]+", Placeholder: "libera.chat"}},
			Instances:  []ProtocolInstance{{Desc: "Libera", Fields: map[string]string{"network": "libera.chat"}, NetworkID: "libera"}},
		}},
		Users: func(_ context.Context, protocol string, f map[string]string) ([]ThirdPartyUser, error) {
			if f["nickname"] == "" {
				return nil, nil
			}
			return []ThirdPartyUser{{UserID: "@irc_" + f["nickname"] + ":hs", Protocol: protocol, Fields: f}}, nil
		},
		UsersByID: func(_ context.Context, userID string) ([]ThirdPartyUser, error) {
			if userID != "@irc_bob:hs" {
				return nil, nil
			}
			return []ThirdPartyUser{{UserID: userID, Protocol: "irc", Fields: map[string]string{"nickname": "bob"}}}, nil
		},
		LocationsByAlias: func(_ context.Context, alias string) ([]ThirdPartyLocation, error) {
			return nil, errors.New("backend down")
		},
	}
}

type typedBridge struct {
	*ThirdParty
}

func (typedBridge) HandleTransaction(context.Context, *IncomingTransaction) error { return nil }

func TestThirdPartyTyped(t *testing.T) {
	srv := httptest.NewServer(NewHandler("hs", typedBridge{ircBridge()}))
	defer srv.Close()
	g := reg(t, "s", "as", "hs", "bot", nil, nil, nil)
	g.URL = srv.URL
	c := &Client{NoLegacyFallback: true}
	ctx := context.Background()

	p, err := c.ProtocolInfo(ctx, g, "irc")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, ircBridge().Protocols["irc"]) {
		t.Fatalf("protocol round trip: %+v", p)
	}
	var se *StatusError
	if _, err := c.ProtocolInfo(ctx, g, "xmpp"); !errors.As(err, &se) || se.Status != 404 || se.Matrix().Code != "M_NOT_FOUND" {
		t.Fatalf("unknown protocol: %v", err)
	}
	users, err := c.LookupUsers(ctx, g, "irc", url.Values{"network": {"libera.chat"}, "nickname": {"bob"}})
	if err != nil || len(users) != 1 || users[0].UserID != "@irc_bob:hs" || users[0].Fields["network"] != "libera.chat" {
		t.Fatalf("users: %+v %v", users, err)
	}
	// No result is 404 M_NOT_FOUND (protocols.yaml: "No users were found").
	if _, err := c.LookupUsers(ctx, g, "irc", url.Values{"network": {"libera.chat"}}); !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("no users: %v", err)
	}
	if users, err := c.LookupUsers(ctx, g, "", url.Values{"userid": {"@irc_bob:hs"}}); err != nil || len(users) != 1 || users[0].Protocol != "irc" {
		t.Fatalf("users by id: %+v %v", users, err)
	}
	// A nil function answers 404, a failing one 500.
	if _, err := c.LookupLocations(ctx, g, "irc", url.Values{"channel": {"#m"}}); !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("locations without a function: %v", err)
	}
	if _, err := c.LookupLocations(ctx, g, "", url.Values{"alias": {"#a:hs"}}); !errors.As(err, &se) || se.Status != http.StatusInternalServerError {
		t.Fatalf("failing function: %v", err)
	}
}

func TestParseProtocol(t *testing.T) {
	full := `{"user_fields":[],"location_fields":[],"icon":"","field_types":{},"instances":[{"desc":"d","fields":{},"network_id":"n"}]}`
	p, err := ParseProtocol([]byte(full))
	if err != nil || len(p.Instances) != 1 || p.Instances[0].NetworkID != "n" {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range []string{
		`[]`, `{}`, `{"instances":[]}`,
		`{"user_fields":[],"location_fields":[],"icon":"","field_types":{}}`,
		`{"user_fields":[],"location_fields":[],"icon":"","field_types":{},"instances":[{"desc":"d","fields":{}}]}`,
		`{"user_fields":[],"location_fields":[],"icon":"","field_types":{},"instances":[{"desc":1,"fields":{},"network_id":"n"}]}`,
		`{"user_fields":"x","location_fields":[],"icon":"","field_types":{},"instances":[]}`,
	} {
		if _, err := ParseProtocol([]byte(bad)); !errors.Is(err, ErrBadThirdParty) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := ParseThirdPartyUsers([]byte(`[{"userid":"@a:b","protocol":"irc"}]`)); !errors.Is(err, ErrBadThirdParty) {
		t.Errorf("user without fields: %v", err)
	}
	if _, err := ParseThirdPartyLocations([]byte(`{}`)); !errors.Is(err, ErrBadThirdParty) {
		t.Errorf("locations object: %v", err)
	}
	if l, err := ParseThirdPartyLocations([]byte(`[{"alias":"#a:b","protocol":"irc","fields":{"channel":"#a"}}]`)); err != nil || l[0].Fields["channel"] != "#a" {
		t.Errorf("%+v %v", l, err)
	}
}

// FuzzParseThirdParty: the parsers never panic, and what they accept
// survives a round trip through the typed service unchanged.
func FuzzParseThirdParty(f *testing.F) {
	f.Add([]byte(`{"user_fields":["a"],"location_fields":[],"icon":"mxc://a/b","field_types":{"a":{"regexp":".","placeholder":"x"}},"instances":[{"desc":"d","icon":"i","fields":{"a":"b"},"network_id":"n"}]}`))
	f.Add([]byte(`[{"userid":"@a:b","protocol":"irc","fields":{}}]`))
	f.Add([]byte(`[{"alias":"#a:b","protocol":"irc","fields":{"x":"y"}}]`))
	f.Add([]byte(`{"instances":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ParseProtocol(data); err == nil {
			raw, err := (&ThirdParty{Protocols: map[string]*Protocol{"p": p}}).ThirdPartyProtocol(context.Background(), "p")
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseProtocol(raw)
			if err != nil || !reflect.DeepEqual(p, q) {
				t.Fatalf("round trip: %+v %+v %v", p, q, err)
			}
		}
		ParseThirdPartyUsers(data)
		ParseThirdPartyLocations(data)
	})
}
