package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// call makes a request to the fixture's server signed by origin (""
// for none) and returns the status and body.
func (f *fixture) call(method, target, origin string, body []byte, key *signing.SigningKey) (int, []byte, http.Header) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if origin != "" {
		if key == nil {
			key = f.keys[origin]
		}
		if key == nil {
			key = f.remoteKey
		}
		auth, err := SignRequest(method, target, origin, "hs.test", body, key)
		if err != nil {
			f.t.Fatal(err)
		}
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes(), w.Header()
}

func errcode(body []byte) string {
	var e struct {
		Errcode string `json:"errcode"`
	}
	json.Unmarshal(body, &e)
	return e.Errcode
}

type handlerCase struct {
	name   string
	method string
	target string
	body   any
	origin string // default remote.test; "-" for none
	status int
	code   string                       // errcode for errors
	check  func(t *testing.T, b []byte) // optional, for 2xx
}

func (f *fixture) run(t *testing.T, cases []handlerCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			var body []byte
			switch b := c.body.(type) {
			case nil:
			case string:
				body = []byte(b)
			case []byte:
				body = b
			default:
				body, _ = json.Marshal(b)
			}
			origin := c.origin
			if origin == "" {
				origin = "remote.test"
			} else if origin == "-" {
				origin = ""
			}
			status, got, _ := f.call(c.method, c.target, origin, body, nil)
			if status != c.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.target, status, c.status, got)
			}
			if c.code != "" && errcode(got) != c.code {
				t.Fatalf("%s %s: errcode %q, want %q; body %s", c.method, c.target, errcode(got), c.code, got)
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

func esc2(s string) string { return url.PathEscape(s) }

func hasKey(key string) func(t *testing.T, b []byte) {
	return func(t *testing.T, b []byte) {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil || m[key] == nil {
			t.Errorf("answer %s has no %q", b, key)
		}
	}
}

func TestServerRoutingAndAuth(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	f.run(t, []handlerCase{
		{name: "unknown endpoint", method: "GET", target: "/_matrix/federation/v1/nothing", status: 404, code: "M_UNRECOGNIZED"},
		{name: "unknown prefix", method: "GET", target: "/foo", origin: "-", status: 404, code: "M_UNRECOGNIZED"},
		{name: "extra segment", method: "GET", target: "/_matrix/federation/v1/event/a/b", status: 404, code: "M_UNRECOGNIZED"},
		{name: "wrong method", method: "POST", target: "/_matrix/federation/v1/event/$x", body: "{}", status: 405, code: "M_UNRECOGNIZED"},
		{name: "wrong method send", method: "GET", target: "/_matrix/federation/v1/send/1", status: 405, code: "M_UNRECOGNIZED"},
		{name: "wrong method query", method: "POST", target: "/_matrix/federation/v1/query/directory", body: "{}", status: 405, code: "M_UNRECOGNIZED"},
		{name: "version, no auth needed", method: "GET", target: "/_matrix/federation/v1/version", origin: "-", status: 200, check: hasKey("server")},
		{name: "no authorization", method: "GET", target: "/_matrix/federation/v1/event/$x", origin: "-", status: 401, code: "M_UNAUTHORIZED"},
		{name: "unknown origin key", method: "GET", target: "/_matrix/federation/v1/event/$x", origin: "stranger.test", status: 401, code: "M_UNAUTHORIZED"},
	})
}

func TestServerRoomHandlers(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	ctx := context.Background()
	msg := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"hi"}`)})
	f.expect(f.receive("m", msg), msg, "")
	_, _, extrem, _ := currentState(ctx, f.store, f.roomID)
	room := esc2(f.roomID)
	other, _ := signing.GenerateKey("o1")
	f.ring.Add("other.test", other.ID, signing.PublicKey{Key: other.Public(), ValidUntilTS: 1 << 50})
	f.keys = map[string]*signing.SigningKey{"other.test": other}
	v1 := "/_matrix/federation/v1"
	f.run(t, []handlerCase{
		{name: "event", method: "GET", target: v1 + "/event/" + esc2(msg.ID()), status: 200, check: func(t *testing.T, b []byte) {
			var tx transactionBody
			json.Unmarshal(b, &tx)
			if tx.Origin != "hs.test" || len(tx.PDUs) != 1 || !bytes.Equal(tx.PDUs[0], msg.JSON()) {
				t.Errorf("event answer %s", b)
			}
		}},
		{name: "event unknown", method: "GET", target: v1 + "/event/$nope", status: 404, code: "M_NOT_FOUND"},
		{name: "state_ids", method: "GET", target: v1 + "/state_ids/" + room + "?event_id=" + url.QueryEscape(msg.ID()), status: 200, check: func(t *testing.T, b []byte) {
			var s StateIDs
			json.Unmarshal(b, &s)
			if len(s.PDUIDs) != 6 || len(s.AuthChainIDs) == 0 {
				t.Errorf("state_ids %s: want the 6 state events (create, 2 members, power levels, join rules, topic)", b)
			}
		}},
		{name: "state", method: "GET", target: v1 + "/state/" + room + "?event_id=" + url.QueryEscape(msg.ID()), status: 200, check: hasKey("auth_chain")},
		{name: "state without event_id", method: "GET", target: v1 + "/state_ids/" + room, status: 400, code: "M_MISSING_PARAM"},
		{name: "state unknown event", method: "GET", target: v1 + "/state_ids/" + room + "?event_id=$nope", status: 404, code: "M_NOT_FOUND"},
		{name: "state unknown room", method: "GET", target: v1 + "/state_ids/" + esc2("!nope:hs.test") + "?event_id=$x", status: 404, code: "M_NOT_FOUND"},
		{name: "state of a server not in the room", method: "GET", target: v1 + "/state_ids/" + room + "?event_id=" + url.QueryEscape(msg.ID()), origin: "other.test", status: 403, code: "M_FORBIDDEN"},
		{name: "event_auth", method: "GET", target: v1 + "/event_auth/" + room + "/" + esc2(msg.ID()), status: 200, check: hasKey("auth_chain")},
		{name: "backfill", method: "GET", target: v1 + "/backfill/" + room + "?v=" + url.QueryEscape(msg.ID()) + "&limit=3", status: 200, check: func(t *testing.T, b []byte) {
			var tx transactionBody
			json.Unmarshal(b, &tx)
			if len(tx.PDUs) != 3 {
				t.Errorf("backfill gave %d events, want 3", len(tx.PDUs))
			}
		}},
		{name: "backfill without v", method: "GET", target: v1 + "/backfill/" + room + "?limit=3", status: 400, code: "M_MISSING_PARAM"},
		{name: "backfill bad limit", method: "GET", target: v1 + "/backfill/" + room + "?v=$x&limit=many", status: 400, code: "M_INVALID_PARAM"},
		{name: "get_missing_events", method: "POST", target: v1 + "/get_missing_events/" + room, body: map[string]any{"earliest_events": []string{}, "latest_events": extrem, "limit": 2}, status: 200, check: func(t *testing.T, b []byte) {
			var r struct{ Events []json.RawMessage }
			json.Unmarshal(b, &r)
			if len(r.Events) != 2 {
				t.Errorf("get_missing_events gave %d, want 2", len(r.Events))
			}
		}},
		{name: "get_missing_events missing fields", method: "POST", target: v1 + "/get_missing_events/" + room, body: "{}", status: 400, code: "M_BAD_JSON"},
		{name: "get_missing_events wrong shape", method: "POST", target: v1 + "/get_missing_events/" + room, body: `{"earliest_events":1,"latest_events":[]}`, status: 400, code: "M_BAD_JSON"},
		{name: "timestamp_to_event", method: "GET", target: v1 + "/timestamp_to_event/" + room + "?ts=0&dir=f", status: 200, check: hasKey("event_id")},
		{name: "timestamp_to_event none", method: "GET", target: v1 + "/timestamp_to_event/" + room + "?ts=0&dir=b", status: 404, code: "M_NOT_FOUND"},
		{name: "timestamp_to_event bad dir", method: "GET", target: v1 + "/timestamp_to_event/" + room + "?ts=0&dir=x", status: 400, code: "M_INVALID_PARAM"},
		{name: "timestamp_to_event bad ts", method: "GET", target: v1 + "/timestamp_to_event/" + room + "?ts=now&dir=f", status: 400, code: "M_INVALID_PARAM"},
		{name: "send", method: "PUT", target: v1 + "/send/abc", body: Transaction{Origin: "remote.test", OriginServerTS: 1, PDUs: []json.RawMessage{}}, status: 200, check: hasKey("pdus")},
		{name: "send bad body", method: "PUT", target: v1 + "/send/abd", body: `{"pdus":{}}`, status: 400, code: "M_BAD_JSON"},
	})
}

func TestServerMembershipHandlers(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	room := esc2(f.roomID)
	v1, v2 := "/_matrix/federation/v1", "/_matrix/federation/v2"
	carol := "@carol:remote.test"
	carolJoin := f.remote(event.Builder{Type: event.TypeMember, StateKey: &carol, Sender: carol, Content: []byte(`{"membership":"join"}`)})
	bobLeave := f.remote(event.Builder{Type: event.TypeMember, StateKey: strp(bob), Sender: bob, Content: []byte(`{"membership":"leave"}`)})
	dave := "@dave:hs.test"
	invite := f.remote(event.Builder{Type: event.TypeMember, StateKey: &dave, Sender: bob, Content: []byte(`{"membership":"invite"}`)})
	notInvite := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"x"}`)})
	f.run(t, []handlerCase{
		{name: "make_join", method: "GET", target: v1 + "/make_join/" + room + "/" + esc2(carol) + "?ver=9&ver=10", status: 200, check: func(t *testing.T, b []byte) {
			var r struct {
				RoomVersion string `json:"room_version"`
				Event       map[string]any
			}
			json.Unmarshal(b, &r)
			if r.RoomVersion != "10" || r.Event["type"] != "m.room.member" || r.Event["state_key"] != carol || r.Event["origin"] != "hs.test" || r.Event["signatures"] != nil {
				t.Errorf("make_join template %s", b)
			}
		}},
		{name: "make_join default ver", method: "GET", target: v1 + "/make_join/" + room + "/" + esc2(carol), status: 400, code: "M_INCOMPATIBLE_ROOM_VERSION", check: func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), `"room_version":"10"`) {
				t.Errorf("no room_version in %s", b)
			}
		}},
		{name: "make_join user of another server", method: "GET", target: v1 + "/make_join/" + room + "/" + esc2("@x:hs.test") + "?ver=10", status: 403, code: "M_FORBIDDEN"},
		{name: "make_join bad user", method: "GET", target: v1 + "/make_join/" + room + "/carol?ver=10", status: 400, code: "M_INVALID_PARAM"},
		{name: "make_join unknown room", method: "GET", target: v1 + "/make_join/" + esc2("!no:hs.test") + "/" + esc2(carol) + "?ver=10", status: 404, code: "M_NOT_FOUND"},
		{name: "make_knock without ver", method: "GET", target: v1 + "/make_knock/" + room + "/" + esc2(carol), status: 400, code: "M_MISSING_PARAM"},
		{name: "make_knock on a public room", method: "GET", target: v1 + "/make_knock/" + room + "/" + esc2(carol) + "?ver=10", status: 403, code: "M_FORBIDDEN"},
		{name: "make_leave", method: "GET", target: v1 + "/make_leave/" + room + "/" + esc2(bob), status: 200, check: hasKey("event")},
		{name: "send_join not an event", method: "PUT", target: v2 + "/send_join/" + room + "/" + esc2(carolJoin.ID()), body: `{"type":1}`, status: 400, code: "M_BAD_JSON"},
		{name: "send_join wrong event ID", method: "PUT", target: v2 + "/send_join/" + room + "/" + esc2("$other"), body: carolJoin.JSON(), status: 400, code: "M_INVALID_PARAM"},
		{name: "send_join not a join", method: "PUT", target: v2 + "/send_join/" + room + "/" + esc2(bobLeave.ID()), body: bobLeave.JSON(), status: 400, code: "M_INVALID_PARAM"},
		{name: "send_join", method: "PUT", target: v2 + "/send_join/" + room + "/" + esc2(carolJoin.ID()), body: carolJoin.JSON(), status: 200, check: func(t *testing.T, b []byte) {
			var r struct {
				State, AuthChain []json.RawMessage
				Event            json.RawMessage
				ServersInRoom    []string `json:"servers_in_room"`
				MembersOmitted   *bool    `json:"members_omitted"`
			}
			json.Unmarshal(b, &r)
			if len(r.State) != 6 || r.MembersOmitted == nil || !contains(r.ServersInRoom, "hs.test") || !strings.Contains(string(r.Event), `"hs.test"`) {
				t.Errorf("send_join answer %s", b)
			}
			if st, _ := f.status(carolJoin.ID()); st != Accepted {
				t.Errorf("carol's join stored as %v", st)
			}
		}},
		{name: "send_leave", method: "PUT", target: v2 + "/send_leave/" + room + "/" + esc2(bobLeave.ID()), body: bobLeave.JSON(), status: 200},
		{name: "invite", method: "PUT", target: v2 + "/invite/" + room + "/" + esc2(invite.ID()), body: map[string]any{"room_version": "10", "event": json.RawMessage(invite.JSON()), "invite_room_state": []any{}}, status: 200, check: func(t *testing.T, b []byte) {
			var r struct{ Event json.RawMessage }
			json.Unmarshal(b, &r)
			ev, err := event.Parse(roomversion.V10, r.Event)
			if err != nil || ev.ID() != invite.ID() {
				t.Fatalf("invite answer %s: %v", b, err)
			}
			if err := f.srv.verifySignatureOf(context.Background(), ev, "hs.test"); err != nil {
				t.Errorf("invite not signed by the invitee's server: %v", err)
			}
		}},
		{name: "invite unsupported version", method: "PUT", target: v2 + "/invite/" + room + "/" + esc2(invite.ID()), body: map[string]any{"room_version": "99", "event": json.RawMessage(invite.JSON())}, status: 400, code: "M_INCOMPATIBLE_ROOM_VERSION"},
		{name: "invite not an invite", method: "PUT", target: v2 + "/invite/" + room + "/" + esc2(notInvite.ID()), body: map[string]any{"room_version": "10", "event": json.RawMessage(notInvite.JSON())}, status: 400, code: "M_INVALID_PARAM"},
		{name: "invite missing event", method: "PUT", target: v2 + "/invite/" + room + "/" + esc2(invite.ID()), body: map[string]any{"room_version": "10"}, status: 400, code: "M_BAD_JSON"},
		{name: "invite from another server", method: "PUT", target: v2 + "/invite/" + room + "/" + esc2(invite.ID()), origin: "hs.test", body: map[string]any{"room_version": "10", "event": json.RawMessage(invite.JSON())}, status: 401},
	})
	if n := len(f.srv.Invites.(*MemoryInvites).Invites()); n != 1 {
		t.Errorf("%d invites handed over, want 1", n)
	}
}

func TestServerACLRefusal(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	msg := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"hi"}`)})
	f.expect(f.receive("m", msg), msg, "")
	f.local(event.Builder{Type: "m.room.server_acl", StateKey: strp(""), Sender: alice, Content: []byte(`{"allow":["*"],"deny":["REMOTE.test"]}`)})
	room := esc2(f.roomID)
	v1, v2 := "/_matrix/federation/v1", "/_matrix/federation/v2"
	eid := url.QueryEscape(msg.ID())
	var cases []handlerCase
	for _, c := range []struct{ method, target string }{
		{"GET", v1 + "/state/" + room + "?event_id=" + eid},
		{"GET", v1 + "/state_ids/" + room + "?event_id=" + eid},
		{"GET", v1 + "/event_auth/" + room + "/" + esc2(msg.ID())},
		{"GET", v1 + "/backfill/" + room + "?v=" + eid + "&limit=1"},
		{"POST", v1 + "/get_missing_events/" + room},
		{"GET", v1 + "/make_join/" + room + "/" + esc2("@carol:remote.test") + "?ver=10"},
		{"GET", v1 + "/make_leave/" + room + "/" + esc2(bob)},
		{"GET", v1 + "/make_knock/" + room + "/" + esc2(bob) + "?ver=10"},
		{"PUT", v2 + "/send_join/" + room + "/$x"},
		{"PUT", v2 + "/send_leave/" + room + "/$x"},
		{"PUT", v1 + "/send_knock/" + room + "/$x"},
		{"GET", v1 + "/event/" + esc2(msg.ID())},
	} {
		body := any(nil)
		if c.method != "GET" {
			body = map[string]any{"earliest_events": []string{}, "latest_events": []string{msg.ID()}}
		}
		cases = append(cases, handlerCase{name: c.target, method: c.method, target: c.target, body: body, status: 403, code: "M_FORBIDDEN"})
	}
	f.run(t, cases)
}

func TestServerQueryDeviceMediaHandlers(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	f.srv.Queries.(*MemoryQueries).Aliases = map[string]DirectoryResponse{"#room:hs.test": {RoomID: f.roomID, Servers: []string{"hs.test"}}}
	f.srv.Queries.(*MemoryQueries).Profiles = map[string]Profile{alice: {DisplayName: "Alice", AvatarURL: "mxc://hs.test/a"}}
	f.srv.Directory.(*MemoryDirectory).Rooms = []json.RawMessage{json.RawMessage(`{"room_id":"!a:hs.test","num_joined_members":1,"world_readable":true,"guest_can_join":false}`), json.RawMessage(`{"room_id":"!b:hs.test","num_joined_members":2,"world_readable":true,"guest_can_join":false}`)}
	f.srv.Devices.(*MemoryDevices).Lists = map[string]UserDevices{alice: {UserID: alice, StreamID: 3, Devices: []json.RawMessage{json.RawMessage(`{"device_id":"D1","keys":{}}`)}}}
	f.srv.Devices.(*MemoryDevices).Keys = map[string]map[string]json.RawMessage{alice: {"D1": json.RawMessage(`{"user_id":"@alice:hs.test","device_id":"D1"}`)}}
	f.srv.Devices.(*MemoryDevices).OneTime = map[string]map[string]map[string]json.RawMessage{alice: {"D1": {"signed_curve25519:AAA": json.RawMessage(`{"key":"k"}`)}}}
	f.srv.Media.(*MemoryMedia).Files = map[string]Media{"abc": {ContentType: "text/plain", Body: []byte("hello media")}}
	v1 := "/_matrix/federation/v1"
	f.run(t, []handlerCase{
		{name: "directory", method: "GET", target: v1 + "/query/directory?room_alias=" + url.QueryEscape("#room:hs.test"), status: 200, check: hasKey("room_id")},
		{name: "directory unknown", method: "GET", target: v1 + "/query/directory?room_alias=" + url.QueryEscape("#none:hs.test"), status: 404, code: "M_NOT_FOUND"},
		{name: "directory missing", method: "GET", target: v1 + "/query/directory", status: 400, code: "M_MISSING_PARAM"},
		{name: "directory not an alias", method: "GET", target: v1 + "/query/directory?room_alias=room", status: 400, code: "M_INVALID_PARAM"},
		{name: "profile", method: "GET", target: v1 + "/query/profile?user_id=" + url.QueryEscape(alice), status: 200, check: hasKey("displayname")},
		{name: "profile field", method: "GET", target: v1 + "/query/profile?field=avatar_url&user_id=" + url.QueryEscape(alice), status: 200, check: func(t *testing.T, b []byte) {
			if strings.Contains(string(b), "displayname") {
				t.Errorf("field=avatar_url answered %s", b)
			}
		}},
		{name: "profile bad field", method: "GET", target: v1 + "/query/profile?field=x&user_id=" + url.QueryEscape(alice), status: 400, code: "M_INVALID_PARAM"},
		{name: "profile unknown", method: "GET", target: v1 + "/query/profile?user_id=" + url.QueryEscape("@nobody:hs.test"), status: 404, code: "M_NOT_FOUND"},
		{name: "other query", method: "GET", target: v1 + "/query/custom", status: 404, code: "M_NOT_FOUND"},
		{name: "publicRooms", method: "GET", target: v1 + "/publicRooms?limit=1", status: 200, check: func(t *testing.T, b []byte) {
			var r PublicRoomsResponse
			json.Unmarshal(b, &r)
			if len(r.Chunk) != 1 || r.NextBatch != "1" {
				t.Errorf("publicRooms %s", b)
			}
		}},
		{name: "publicRooms bad limit", method: "GET", target: v1 + "/publicRooms?limit=x", status: 400, code: "M_INVALID_PARAM"},
		{name: "publicRooms POST", method: "POST", target: v1 + "/publicRooms", body: map[string]any{"limit": 5, "filter": map[string]any{}}, status: 200, check: hasKey("chunk")},
		{name: "publicRooms POST bad filter", method: "POST", target: v1 + "/publicRooms", body: `{"filter":[]}`, status: 400, code: "M_BAD_JSON"},
		{name: "hierarchy unknown", method: "GET", target: v1 + "/hierarchy/" + esc2("!no:hs.test"), status: 404, code: "M_NOT_FOUND"},
		{name: "user devices", method: "GET", target: v1 + "/user/devices/" + esc2(alice), status: 200, check: hasKey("stream_id")},
		{name: "user devices of another server", method: "GET", target: v1 + "/user/devices/" + esc2(bob), status: 403, code: "M_FORBIDDEN"},
		{name: "keys query", method: "POST", target: v1 + "/user/keys/query", body: map[string]any{"device_keys": map[string][]string{alice: {}}}, status: 200, check: func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), `"D1"`) {
				t.Errorf("keys query %s", b)
			}
		}},
		{name: "keys query missing", method: "POST", target: v1 + "/user/keys/query", body: "{}", status: 400, code: "M_BAD_JSON"},
		{name: "keys claim", method: "POST", target: v1 + "/user/keys/claim", body: map[string]any{"one_time_keys": map[string]map[string]string{alice: {"D1": "signed_curve25519"}}}, status: 200, check: func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), "signed_curve25519:AAA") {
				t.Errorf("keys claim %s", b)
			}
		}},
		{name: "keys claim again", method: "POST", target: v1 + "/user/keys/claim", body: map[string]any{"one_time_keys": map[string]map[string]string{alice: {"D1": "signed_curve25519"}}}, status: 200, check: func(t *testing.T, b []byte) {
			if strings.Contains(string(b), "AAA") {
				t.Errorf("one-time key handed out twice: %s", b)
			}
		}},
		{name: "media", method: "GET", target: v1 + "/media/download/abc", status: 200},
		{name: "media unknown", method: "GET", target: v1 + "/media/download/zzz", status: 404, code: "M_NOT_FOUND"},
		{name: "thumbnail missing size", method: "GET", target: v1 + "/media/thumbnail/abc", status: 400, code: "M_MISSING_PARAM"},
		{name: "thumbnail bad method", method: "GET", target: v1 + "/media/thumbnail/abc?width=1&height=1&method=x", status: 400, code: "M_INVALID_PARAM"},
		{name: "openid unknown token", method: "GET", target: v1 + "/openid/userinfo?access_token=x", origin: "-", status: 401, code: "M_UNKNOWN_TOKEN"},
		{name: "onbind missing fields", method: "PUT", target: v1 + "/3pid/onbind", origin: "-", body: "{}", status: 400, code: "M_BAD_JSON"},
		{name: "onbind not JSON", method: "PUT", target: v1 + "/3pid/onbind", origin: "-", body: "{", status: 400, code: "M_NOT_JSON"},
		{name: "onbind", method: "PUT", target: v1 + "/3pid/onbind", origin: "-", body: `{"address":"a@b.c","medium":"email","mxid":"@alice:hs.test","invites":[]}`, status: 200},
	})
	// The media answer is multipart/mixed: metadata, then the content.
	f.t = t
	status, body, hdr := f.call("GET", v1+"/media/download/abc", "remote.test", nil, nil)
	mt, params, err := mime.ParseMediaType(hdr.Get("Content-Type"))
	if status != 200 || err != nil || mt != "multipart/mixed" {
		t.Fatalf("media: %d %q %v", status, hdr.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	p1, _ := mr.NextPart()
	meta, _ := io.ReadAll(p1)
	p2, _ := mr.NextPart()
	content, _ := io.ReadAll(p2)
	if string(meta) != "{}" || string(content) != "hello media" || p2.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("media parts %q %q %q", meta, content, p2.Header.Get("Content-Type"))
	}
}

func TestServerNilInterfaces(t *testing.T) {
	key, _ := signing.GenerateKey("k")
	ring := signing.NewMemoryKeyRing()
	ring.Add("remote.test", key.ID, signing.PublicKey{Key: key.Public(), ValidUntilTS: 1 << 50})
	srv := &Server{ServerName: "hs.test", Key: key, Keys: ring}
	f := &fixture{t: t, srv: srv, remoteKey: key}
	v1 := "/_matrix/federation/v1"
	var cases []handlerCase
	for _, c := range []struct{ method, target string }{
		{"GET", v1 + "/event/$x"}, {"GET", v1 + "/query/directory?room_alias=%23a:hs.test"}, {"GET", v1 + "/user/devices/@a:hs.test"},
		{"GET", v1 + "/media/download/x"}, {"GET", v1 + "/publicRooms"}, {"PUT", v1 + "/send/1"},
	} {
		body := any(nil)
		if c.method == "PUT" {
			body = "{}"
		}
		cases = append(cases, handlerCase{name: c.target, method: c.method, target: c.target, body: body, status: 404, code: "M_UNRECOGNIZED"})
	}
	f.run(t, cases)
}

// TestServerPathDecoding: event IDs of room version 3 may hold "/", sent
// percent-encoded; the handlers see the decoded ID.
func TestServerPathDecoding(t *testing.T) {
	f := newFixture(t, roomversion.V3)
	for i := 0; i < 40; i++ {
		msg := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"` + strings.Repeat("x", i) + `"}`)})
		f.expect(f.receive("p"+msg.ID(), msg), msg, "")
		if !strings.ContainsAny(msg.ID(), "/+") {
			continue
		}
		status, body, _ := f.call("GET", "/_matrix/federation/v1/event/"+url.PathEscape(msg.ID()), "remote.test", nil, nil)
		if status != 200 || !strings.Contains(string(body), `"`+strings.Repeat("x", i)+`"`) {
			t.Fatalf("event %s: %d %s", msg.ID(), status, body)
		}
		return
	}
	t.Fatal("no event ID with / or + in 40 tries")
}

// TestServerRestrictedJoin: make_join for a restricted room names a local
// user who can invite when the joining user is in an allowed room, refuses
// with 403 when not, and with 400 M_UNABLE_TO_AUTHORISE_JOIN when no allowed
// room is known here ("Restricted rooms"); send_join of the vouched join gets
// our signature.
func TestServerRestrictedJoin(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	// A second room where carol is joined.
	hs := &homeserver{name: "hs.test", key: f.localKey, srv: f.srv, store: f.store}
	space := createRoom(t, hs, f.v, alice, "!space:hs.test")
	carol, dave := "@carol:remote.test", "@dave:remote.test"
	main := f.roomID
	f.roomID = space
	cj := f.remote(event.Builder{Type: event.TypeMember, StateKey: &carol, Sender: carol, Content: []byte(`{"membership":"join"}`)})
	f.expect(f.receive("space", cj), cj, "")
	f.roomID = main
	f.local(event.Builder{Type: "m.room.join_rules", StateKey: strp(""), Sender: alice, Content: []byte(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"` + space + `"}]}`)})
	room := esc2(main)
	v1, v2 := "/_matrix/federation/v1", "/_matrix/federation/v2"
	join := f.remote(event.Builder{Type: event.TypeMember, StateKey: &carol, Sender: carol, Content: []byte(`{"membership":"join","join_authorised_via_users_server":"` + alice + `"}`)})
	f.run(t, []handlerCase{
		{name: "allowed", method: "GET", target: v1 + "/make_join/" + room + "/" + esc2(carol) + "?ver=10", status: 200, check: func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), `"join_authorised_via_users_server":"`+alice+`"`) {
				t.Errorf("template %s does not name alice", b)
			}
		}},
		{name: "not in the allowed room", method: "GET", target: v1 + "/make_join/" + room + "/" + esc2(dave) + "?ver=10", status: 403, code: "M_FORBIDDEN"},
		{name: "send_join", method: "PUT", target: v2 + "/send_join/" + room + "/" + esc2(join.ID()), body: join.JSON(), status: 200, check: func(t *testing.T, b []byte) {
			var r struct{ Event json.RawMessage }
			json.Unmarshal(b, &r)
			ev, err := event.Parse(f.v, r.Event)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.srv.verifySignatureOf(context.Background(), ev, "hs.test"); err != nil {
				t.Errorf("the vouched join lacks our signature: %v", err)
			}
		}},
	})
	f.local(event.Builder{Type: "m.room.join_rules", StateKey: strp(""), Sender: alice, Content: []byte(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!elsewhere:other.test"}]}`)})
	f.run(t, []handlerCase{
		{name: "allowed room unknown here", method: "GET", target: v1 + "/make_join/" + room + "/" + esc2(dave) + "?ver=10", status: 400, code: "M_UNABLE_TO_AUTHORISE_JOIN"},
	})
	// The last user of this server leaves the allowed room: this server
	// hears no more of it, so its copy of the room's state may be stale
	// (carol may have left since) and the condition cannot be checked.
	f.local(event.Builder{Type: "m.room.join_rules", StateKey: strp(""), Sender: alice, Content: []byte(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"` + space + `"}]}`)})
	erin := "@erin:remote.test"
	f.roomID = space
	ej := f.remote(event.Builder{Type: event.TypeMember, StateKey: &erin, Sender: erin, Content: []byte(`{"membership":"join"}`)})
	f.expect(f.receive("space-erin", ej), ej, "")
	f.roomID = main
	f.run(t, []handlerCase{
		{name: "allowed while this server is in the allowed room", method: "GET", target: v1 + "/make_join/" + room + "/" + esc2(erin) + "?ver=10", status: 200},
	})
	f.roomID = space
	f.local(event.Builder{Type: event.TypeMember, StateKey: strp(alice), Sender: alice, Content: []byte(`{"membership":"leave"}`)})
	f.roomID = main
	f.run(t, []handlerCase{
		{name: "allowed room left by this server", method: "GET", target: v1 + "/make_join/" + room + "/" + esc2(erin) + "?ver=10", status: 400, code: "M_UNABLE_TO_AUTHORISE_JOIN"},
	})
}
