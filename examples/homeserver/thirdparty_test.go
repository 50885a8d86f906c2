package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxkit/mxkit/appservice"
	"github.com/mxkit/mxkit/appservice/intent"
)

// rawRequest makes a client API request and returns the status and body.
func rawRequest(t *testing.T, base, token, method, path string, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// failingPinger is an application service whose ping fails.
type failingPinger struct{}

func (failingPinger) HandleTransaction(context.Context, *appservice.IncomingTransaction) error {
	return nil
}
func (failingPinger) Ping(context.Context, string) error {
	return errors.New("bridge not ready")
}

// TestAppServiceThirdParty runs the homeserver with four application
// services: two IRC bridges built with appservice/intent (the protocol's
// metadata and instances merged across them), one whose ping fails, and
// one whose url is null. It checks the third-party lookups, the ping's
// answers and errors, and the network room directories in /publicRooms.
func TestAppServiceThirdParty(t *testing.T) {
	t.Parallel()
	const name = "tp.localhost"
	dir := t.TempDir()

	libera := &appservice.Protocol{UserFields: []string{"network", "nickname"}, LocationFields: []string{"network", "channel"},
		Icon: "mxc://tp.localhost/irc", FieldTypes: map[string]appservice.FieldType{
			"network":  {Regexp: "[a-z.]+", Placeholder: "libera.chat"},
			"nickname": {Regexp: "[^\\s]+", Placeholder: "nick"},
			"channel":  {Regexp: "#[^\\s]+", Placeholder: "#channel"}},
		Instances: []appservice.ProtocolInstance{
			{Desc: "Libera.Chat", Fields: map[string]string{"network": "libera.chat"}, NetworkID: "libera"},
			{Desc: "OFTC", Icon: "mxc://tp.localhost/oftc", Fields: map[string]string{"network": "oftc.net"}, NetworkID: "oftc"}}}
	// The second bridge's metadata differs: the first service's is kept.
	other := &appservice.Protocol{UserFields: []string{"server"}, LocationFields: []string{"server"}, Icon: "mxc://other/irc",
		FieldTypes: map[string]appservice.FieldType{}, Instances: []appservice.ProtocolInstance{
			{Desc: "EFnet", Fields: map[string]string{"network": "efnet.org"}, NetworkID: "efnet"}}}

	var regs []string
	writeReg := func(id, url, localpart, userRegex, aliasRegex string, protocols ...string) string {
		yaml := fmt.Sprintf("id: %s\nurl: %s\nas_token: as-%s\nhs_token: hs-%s\nsender_localpart: %s\nprotocols: [%s]\nnamespaces:\n  users:\n    - exclusive: true\n      regex: '%s'\n  aliases:\n    - exclusive: true\n      regex: '%s'\n",
			id, url, id, id, localpart, strings.Join(protocols, ", "), userRegex, aliasRegex)
		p := filepath.Join(dir, id+".yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		regs = append(regs, p)
		return yaml
	}
	bridge := func(id, userPrefix, aliasPrefix string, p *appservice.Protocol, users []appservice.ThirdPartyUser, locs []appservice.ThirdPartyLocation) {
		srv := httptest.NewUnstartedServer(nil)
		url := "http://" + srv.Listener.Addr().String()
		yaml := writeReg(id, url, id+"bot", "@"+userPrefix+".*:tp\\.localhost", "#"+aliasPrefix+".*:tp\\.localhost", "irc")
		reg, err := appservice.ParseRegistration([]byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		as := intent.New(reg, "http://unused.invalid", name)
		as.ThirdParty = &appservice.ThirdParty{
			Protocols: map[string]*appservice.Protocol{"irc": p},
			Users: func(_ context.Context, _ string, f map[string]string) ([]appservice.ThirdPartyUser, error) {
				var out []appservice.ThirdPartyUser
				for _, u := range users {
					if f["nickname"] == "" || u.Fields["nickname"] == f["nickname"] {
						out = append(out, u)
					}
				}
				return out, nil
			},
			Locations: func(_ context.Context, _ string, f map[string]string) ([]appservice.ThirdPartyLocation, error) {
				var out []appservice.ThirdPartyLocation
				for _, l := range locs {
					if l.Fields["channel"] == f["channel"] {
						out = append(out, l)
					}
				}
				return out, nil
			},
			UsersByID: func(_ context.Context, userID string) ([]appservice.ThirdPartyUser, error) {
				var out []appservice.ThirdPartyUser
				for _, u := range users {
					if u.UserID == userID {
						out = append(out, u)
					}
				}
				return out, nil
			},
			LocationsByAlias: func(_ context.Context, alias string) ([]appservice.ThirdPartyLocation, error) {
				var out []appservice.ThirdPartyLocation
				for _, l := range locs {
					if l.Alias == alias {
						out = append(out, l)
					}
				}
				return out, nil
			},
		}
		srv.Config.Handler = as
		srv.Start()
		t.Cleanup(srv.Close)
	}
	bridge("ircA", "irca_", "irca_", libera,
		[]appservice.ThirdPartyUser{{UserID: "@irca_bob:" + name, Protocol: "irc", Fields: map[string]string{"network": "libera.chat", "nickname": "bob"}}},
		[]appservice.ThirdPartyLocation{{Alias: "#irca_libera_matrix:" + name, Protocol: "irc", Fields: map[string]string{"network": "libera.chat", "channel": "#matrix"}}})
	bridge("ircB", "ircb_", "ircb_", other,
		[]appservice.ThirdPartyUser{{UserID: "@ircb_bob:" + name, Protocol: "irc", Fields: map[string]string{"network": "efnet.org", "nickname": "bob"}}},
		[]appservice.ThirdPartyLocation{{Alias: "#ircb_efnet_matrix:" + name, Protocol: "irc", Fields: map[string]string{"network": "efnet.org", "channel": "#matrix"}}})
	failing := httptest.NewServer(appservice.NewHandler("hs-failing", failingPinger{}))
	t.Cleanup(failing.Close)
	writeReg("failing", failing.URL, "failingbot", "@failing_.*:tp\\.localhost", "#failing_.*:tp\\.localhost")
	writeReg("nourl", "null", "nourlbot", "@nourl_.*:tp\\.localhost", "#nourl_.*:tp\\.localhost")
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // nothing listens there any more
	writeReg("gone", gone.URL, "gonebot", "@gone_.*:tp\\.localhost", "#gone_.*:tp\\.localhost")

	cfg := &Config{ServerName: name, Listen: "127.0.0.1:0", DB: filepath.Join(dir, "hs.db"), KeyPath: filepath.Join(dir, "signing.key"),
		OpenRegistration: "auto", AppServices: regs}
	hs, err := New(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.Listen(); err != nil {
		hs.Close()
		t.Fatal(err)
	}
	hs.Serve(make(chan error, 2))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		hs.Close()
	})
	base := hs.ClientURL()
	alice := register(t, base, "alice")
	const v3 = "/_matrix/client/v3"

	// Protocols: one "irc", the first bridge's metadata, the instances of
	// both with instance_ids naming service and network.
	st, body := rawRequest(t, base, alice.token, "GET", v3+"/thirdparty/protocols", "")
	var protocols map[string]struct {
		UserFields []string `json:"user_fields"`
		Icon       string   `json:"icon"`
		FieldTypes map[string]struct {
			Regexp string `json:"regexp"`
		} `json:"field_types"`
		Instances []struct {
			Desc       string            `json:"desc"`
			Icon       string            `json:"icon"`
			NetworkID  string            `json:"network_id"`
			InstanceID string            `json:"instance_id"`
			Fields     map[string]string `json:"fields"`
		} `json:"instances"`
	}
	if err := json.Unmarshal(body, &protocols); st != 200 || err != nil || len(protocols) != 1 {
		t.Fatalf("protocols: %d %s", st, body)
	}
	irc := protocols["irc"]
	var ids []string
	for _, in := range irc.Instances {
		ids = append(ids, in.InstanceID)
	}
	slices.Sort(ids)
	if irc.Icon != "mxc://tp.localhost/irc" || !slices.Equal(irc.UserFields, []string{"network", "nickname"}) || irc.FieldTypes["channel"].Regexp != "#[^\\s]+" ||
		!slices.Equal(ids, []string{"ircA|libera", "ircA|oftc", "ircB|efnet"}) {
		t.Fatalf("merged protocol: %s", body)
	}
	if st, one := rawRequest(t, base, alice.token, "GET", v3+"/thirdparty/protocol/irc", ""); st != 200 || !bytes.Contains(one, []byte(`"instance_id":"ircB|efnet"`)) || !bytes.Contains(one, []byte(`"icon":"mxc://tp.localhost/oftc"`)) {
		t.Fatalf("protocol irc: %d %s", st, one)
	}
	if st, b := rawRequest(t, base, alice.token, "GET", v3+"/thirdparty/protocol/xmpp", ""); st != 404 || !bytes.Contains(b, []byte("M_NOT_FOUND")) {
		t.Fatalf("protocol xmpp: %d %s", st, b)
	}

	// Lookups: by fields from both bridges, by ID from the owner only.
	lookups := []struct {
		path   string
		status int
		want   []string
	}{
		{"/thirdparty/user/irc?nickname=bob", 200, []string{"@irca_bob:" + name, "@ircb_bob:" + name}},
		{"/thirdparty/user/irc?nickname=carol", 404, nil},
		{"/thirdparty/user?userid=" + url.QueryEscape("@ircb_bob:"+name), 200, []string{"@ircb_bob:" + name}},
		{"/thirdparty/user?userid=" + url.QueryEscape("@alice:"+name), 404, nil},
		{"/thirdparty/location/irc?channel=" + url.QueryEscape("#matrix"), 200, []string{"#irca_libera_matrix:" + name, "#ircb_efnet_matrix:" + name}},
		{"/thirdparty/location?alias=" + url.QueryEscape("#irca_libera_matrix:"+name), 200, []string{"#irca_libera_matrix:" + name}},
		{"/thirdparty/location/xmpp?channel=x", 404, nil},
	}
	for _, tc := range lookups {
		st, b := rawRequest(t, base, alice.token, "GET", v3+tc.path, "")
		var got []struct {
			UserID string `json:"userid"`
			Alias  string `json:"alias"`
		}
		json.Unmarshal(b, &got)
		var names []string
		for _, g := range got {
			names = append(names, g.UserID+g.Alias)
		}
		slices.Sort(names)
		if st != tc.status || !slices.Equal(names, tc.want) {
			t.Errorf("%s: %d %s, want %d %v", tc.path, st, b, tc.status, tc.want)
		}
	}

	// Ping: success, a failing service (M_BAD_STATUS with its status and
	// body), no url, nothing listening, and tokens that may not.
	ping := func(token, id string) (int, map[string]any) {
		return asRequest(t, base, token, "POST", "/_matrix/client/v1/appservice/"+id+"/ping", nil, map[string]string{"transaction_id": "t1"})
	}
	if st, out := ping("as-ircA", "ircA"); st != 200 || out["duration_ms"] == nil {
		t.Fatalf("ping ircA: %d %v", st, out)
	}
	if st, out := ping("as-failing", "failing"); st != 502 || out["errcode"] != "M_BAD_STATUS" || out["status"] != float64(500) || !strings.Contains(fmt.Sprint(out["body"]), "M_UNKNOWN") {
		t.Fatalf("ping failing: %d %v", st, out)
	}
	if st, out := ping("as-nourl", "nourl"); st != 400 || out["errcode"] != "M_URL_NOT_SET" {
		t.Fatalf("ping nourl: %d %v", st, out)
	}
	if st, out := ping("as-gone", "gone"); st != 502 || out["errcode"] != "M_CONNECTION_FAILED" {
		t.Fatalf("ping gone: %d %v", st, out)
	}
	if st, out := ping("as-ircA", "ircB"); st != 403 || out["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("ping of another service: %d %v", st, out)
	}
	if st, out := ping(alice.token, "ircA"); st != 403 || out["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("ping by a user: %d %v", st, out)
	}

	// Network room directories.
	var pub, liberaRoom, efnetRoom struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"visibility": "public", "name": "main"}, &pub)
	alice.must("POST", "/createRoom", map[string]any{"name": "libera"}, &liberaRoom)
	alice.must("POST", "/createRoom", map[string]any{"name": "efnet"}, &efnetRoom)
	list := func(token, network, roomID, visibility string) (int, map[string]any) {
		return asRequest(t, base, token, "PUT", v3+"/directory/list/appservice/"+network+"/"+url.PathEscape(roomID), nil, map[string]string{"visibility": visibility})
	}
	if st, out := list(alice.token, "libera", liberaRoom.RoomID, "public"); st != 403 || out["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("a user editing a network list: %d %v", st, out)
	}
	if st, out := list("as-ircA", "libera", "!nowhere:"+name, "public"); st != 404 {
		t.Fatalf("unknown room: %d %v", st, out)
	}
	for _, c := range []struct{ token, network, room, vis string }{
		{"as-ircA", "libera", liberaRoom.RoomID, "public"},
		{"as-ircB", "efnet", efnetRoom.RoomID, "public"},
		{"as-ircA", "oftc", efnetRoom.RoomID, "public"},
		{"as-ircA", "oftc", efnetRoom.RoomID, "private"},
	} {
		if st, out := list(c.token, c.network, c.room, c.vis); st != 200 {
			t.Fatalf("%+v: %d %v", c, st, out)
		}
	}
	rooms := func(body map[string]any) []string {
		t.Helper()
		var out struct {
			Chunk []struct {
				RoomID string `json:"room_id"`
			} `json:"chunk"`
		}
		alice.must("POST", "/publicRooms", body, &out)
		var ids []string
		for _, c := range out.Chunk {
			ids = append(ids, c.RoomID)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, tc := range []struct {
		body map[string]any
		want []string
	}{
		{map[string]any{}, []string{pub.RoomID}},
		{map[string]any{"third_party_instance_id": "ircA|libera"}, []string{liberaRoom.RoomID}},
		{map[string]any{"third_party_instance_id": "ircB|efnet"}, []string{efnetRoom.RoomID}},
		{map[string]any{"third_party_instance_id": "ircA|oftc"}, nil},
		{map[string]any{"include_all_networks": true}, sorted(pub.RoomID, liberaRoom.RoomID, efnetRoom.RoomID)},
	} {
		if got := rooms(tc.body); !slices.Equal(got, tc.want) {
			t.Errorf("publicRooms %v: %v, want %v", tc.body, got, tc.want)
		}
	}
	if st, _ := alice.do("POST", "/publicRooms", map[string]any{"third_party_instance_id": "nonsense"}, nil); st != 400 {
		t.Errorf("malformed instance id: %d", st)
	}
}
