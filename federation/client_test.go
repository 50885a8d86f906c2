package federation

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// stubRemote is a remote server on 127.0.0.1 that checks the request
// against what a case expects and answers with canned JSON.
type stubRemote struct {
	t      *testing.T
	client *Client
	want   struct {
		method, path string
		query        url.Values
		body         string
	}
	status int
	answer string
	header http.Header
}

func newStubRemote(t *testing.T) *stubRemote {
	s := &stubRemote{t: t}
	ts := httptest.NewUnstartedServer(nil)
	key, _ := signing.GenerateKey("c1")
	ring := signing.NewMemoryKeyRing()
	ring.Add("client.test", key.ID, signing.PublicKey{Key: key.Public(), ValidUntilTS: 1 << 50})
	auth := &Authenticator{ServerName: "remote.test", Keys: ring}
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every request the client makes is signed for remote.test.
		origin, body, err := auth.Authenticate(r)
		if err != nil || origin != "client.test" {
			t.Errorf("request not authenticated: %v", err)
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		s.serve(w, r)
	})
	ts.Start()
	t.Cleanup(ts.Close)
	tr := NewTransport(&Resolver{Static: map[string]string{"remote.test": ts.Listener.Addr().String()}}, nil, true)
	s.client = &Client{ServerName: "client.test", Key: key, Transport: tr}
	return s
}

func (s *stubRemote) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != s.want.method || r.URL.EscapedPath() != s.want.path {
		s.t.Errorf("request %s %s, want %s %s", r.Method, r.URL.EscapedPath(), s.want.method, s.want.path)
	}
	if s.want.query != nil && !reflect.DeepEqual(r.URL.Query(), s.want.query) {
		s.t.Errorf("query %v, want %v", r.URL.Query(), s.want.query)
	}
	if s.want.body != "" {
		b, _ := io.ReadAll(r.Body)
		var got, want any
		json.Unmarshal(b, &got)
		json.Unmarshal([]byte(s.want.body), &want)
		if !reflect.DeepEqual(got, want) {
			s.t.Errorf("body %s, want %s", b, s.want.body)
		}
	}
	for k, v := range s.header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	st := s.status
	if st == 0 {
		st = 200
	}
	w.WriteHeader(st)
	io.WriteString(w, s.answer)
}

func (s *stubRemote) expect(method, path string, query url.Values, body, answer string) {
	s.want.method, s.want.path, s.want.query, s.want.body = method, path, query, body
	s.status, s.answer, s.header = 200, answer, nil
}

func TestClientEndpoints(t *testing.T) {
	ctx := context.Background()
	s := newStubRemote(t)
	c := s.client
	f := newFixture(t, roomversion.V10)
	msg := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"hi"}`)})
	raw := string(msg.JSON())
	room := f.roomID
	v1 := "/_matrix/federation/v1"
	type tc struct {
		name                     string
		method, path, body, resp string
		query                    url.Values
		call                     func() (any, error)
		want                     any
	}
	cases := []tc{
		{"send", "PUT", v1 + "/send/t1", `{"origin":"client.test","origin_server_ts":5,"pdus":[` + raw + `]}`, `{"pdus":{"` + msg.ID() + `":{}}}`, nil,
			func() (any, error) {
				return c.SendTransaction(ctx, "remote.test", "t1", Transaction{OriginServerTS: 5, PDUs: []json.RawMessage{msg.JSON()}})
			}, map[string]PDUResult{msg.ID(): {}}},
		{"event", "GET", v1 + "/event/" + url.PathEscape(msg.ID()), "", `{"origin":"remote.test","origin_server_ts":1,"pdus":[` + raw + `]}`, nil,
			func() (any, error) {
				e, err := c.Event(ctx, "remote.test", roomversion.V10, msg.ID())
				if err != nil {
					return nil, err
				}
				return e.ID(), nil
			}, msg.ID()},
		{"state_ids", "GET", v1 + "/state_ids/" + url.PathEscape(room), "", `{"pdu_ids":["$a"],"auth_chain_ids":["$b"]}`, url.Values{"event_id": {"$e"}},
			func() (any, error) { return c.StateIDs(ctx, "remote.test", room, "$e") }, &StateIDs{PDUIDs: []string{"$a"}, AuthChainIDs: []string{"$b"}}},
		{"state", "GET", v1 + "/state/" + url.PathEscape(room), "", `{"pdus":[` + raw + `],"auth_chain":[]}`, url.Values{"event_id": {"$e"}},
			func() (any, error) {
				r, err := c.State(ctx, "remote.test", roomversion.V10, room, "$e")
				if err != nil {
					return nil, err
				}
				return len(r.State)*10 + len(r.AuthChain), nil
			}, 10},
		{"event_auth", "GET", v1 + "/event_auth/" + url.PathEscape(room) + "/" + url.PathEscape("$e"), "", `{"auth_chain":[` + raw + `]}`, nil,
			func() (any, error) {
				r, err := c.EventAuth(ctx, "remote.test", roomversion.V10, room, "$e")
				return len(r), err
			}, 1},
		{"backfill", "GET", v1 + "/backfill/" + url.PathEscape(room), "", `{"origin":"remote.test","origin_server_ts":1,"pdus":[` + raw + `]}`, url.Values{"v": {"$a", "$b"}, "limit": {"7"}},
			func() (any, error) {
				r, err := c.Backfill(ctx, "remote.test", roomversion.V10, room, []string{"$a", "$b"}, 7)
				return len(r), err
			}, 1},
		{"get_missing_events", "POST", v1 + "/get_missing_events/" + url.PathEscape(room), `{"earliest_events":["$a"],"latest_events":["$b"],"limit":3,"min_depth":2}`, `{"events":[]}`, nil,
			func() (any, error) {
				r, err := c.GetMissingEvents(ctx, "remote.test", roomversion.V10, room, MissingEventsRequest{EarliestEvents: []string{"$a"}, LatestEvents: []string{"$b"}, Limit: 3, MinDepth: 2})
				return len(r), err
			}, 0},
		{"timestamp_to_event", "GET", v1 + "/timestamp_to_event/" + url.PathEscape(room), "", `{"event_id":"$x","origin_server_ts":9}`, url.Values{"ts": {"5"}, "dir": {"b"}},
			func() (any, error) { return c.TimestampToEvent(ctx, "remote.test", room, 5, "b") }, &TimestampEvent{EventID: "$x", OriginServerTS: 9}},
		{"make_join", "GET", v1 + "/make_join/" + url.PathEscape(room) + "/" + url.PathEscape("@u:client.test"), "", `{"room_version":"10","event":{"type":"m.room.member"}}`, url.Values{"ver": {"9", "10"}},
			func() (any, error) {
				r, err := c.MakeJoin(ctx, "remote.test", room, "@u:client.test", []string{"9", "10"})
				if err != nil {
					return nil, err
				}
				return r.RoomVersion.ID, nil
			}, "10"},
		{"make_leave", "GET", v1 + "/make_leave/" + url.PathEscape(room) + "/" + url.PathEscape("@u:client.test"), "", `{"room_version":"10","event":{}}`, nil,
			func() (any, error) {
				r, err := c.MakeLeave(ctx, "remote.test", room, "@u:client.test")
				if err != nil {
					return nil, err
				}
				return string(r.Event), nil
			}, "{}"},
		{"send_leave", "PUT", "/_matrix/federation/v2/send_leave/" + url.PathEscape(room) + "/" + url.PathEscape(msg.ID()), raw, `{}`, nil,
			func() (any, error) { return nil, c.SendLeave(ctx, "remote.test", msg) }, nil},
		{"send_knock", "PUT", v1 + "/send_knock/" + url.PathEscape(room) + "/" + url.PathEscape(msg.ID()), raw, `{"knock_room_state":[{}]}`, nil,
			func() (any, error) {
				r, err := c.SendKnock(ctx, "remote.test", msg)
				return len(r), err
			}, 1},
		{"exchange_third_party_invite", "PUT", v1 + "/exchange_third_party_invite/" + url.PathEscape(room), `{"type":"m.room.member"}`, `{}`, nil,
			func() (any, error) {
				return nil, c.ExchangeThirdPartyInvite(ctx, "remote.test", room, json.RawMessage(`{"type":"m.room.member"}`))
			}, nil},
		{"publicRooms", "GET", v1 + "/publicRooms", "", `{"chunk":[{}],"next_batch":"n"}`, url.Values{"limit": {"2"}, "since": {"s"}},
			func() (any, error) {
				r, err := c.PublicRooms(ctx, "remote.test", PublicRoomsRequest{Limit: 2, Since: "s"})
				if err != nil {
					return nil, err
				}
				return r.NextBatch, nil
			}, "n"},
		{"publicRooms POST", "POST", v1 + "/publicRooms", `{"limit":2,"filter":{"generic_search_term":"x"}}`, `{"chunk":[]}`, nil,
			func() (any, error) {
				r, err := c.PublicRoomsFilter(ctx, "remote.test", PublicRoomsRequest{Limit: 2, Filter: json.RawMessage(`{"generic_search_term":"x"}`)})
				if err != nil {
					return nil, err
				}
				return len(r.Chunk), nil
			}, 0},
		{"hierarchy", "GET", v1 + "/hierarchy/" + url.PathEscape(room), "", `{"room":{"room_id":"!r"},"children":[]}`, url.Values{"suggested_only": {"true"}},
			func() (any, error) {
				r, err := c.Hierarchy(ctx, "remote.test", room, true)
				if err != nil {
					return nil, err
				}
				return string(r.Room), nil
			}, `{"room_id":"!r"}`},
		{"query directory", "GET", v1 + "/query/directory", "", `{"room_id":"!r:x","servers":["x"]}`, url.Values{"room_alias": {"#a:x"}},
			func() (any, error) { return c.QueryDirectory(ctx, "remote.test", "#a:x") }, &DirectoryResponse{RoomID: "!r:x", Servers: []string{"x"}}},
		{"query profile", "GET", v1 + "/query/profile", "", `{"displayname":"U"}`, url.Values{"user_id": {"@u:x"}, "field": {"displayname"}},
			func() (any, error) { return c.QueryProfile(ctx, "remote.test", "@u:x", "displayname") }, &Profile{DisplayName: "U"}},
		{"user devices", "GET", v1 + "/user/devices/" + url.PathEscape("@u:x"), "", `{"user_id":"@u:x","stream_id":4,"devices":[]}`, nil,
			func() (any, error) {
				r, err := c.UserDevices(ctx, "remote.test", "@u:x")
				if err != nil {
					return nil, err
				}
				return r.StreamID, nil
			}, int64(4)},
		{"keys query", "POST", v1 + "/user/keys/query", `{"device_keys":{"@u:x":[]}}`, `{"device_keys":{"@u:x":{"D":{}}}}`, nil,
			func() (any, error) {
				r, err := c.QueryKeys(ctx, "remote.test", map[string][]string{"@u:x": {}})
				if err != nil {
					return nil, err
				}
				return len(r.DeviceKeys["@u:x"]), nil
			}, 1},
		{"keys claim", "POST", v1 + "/user/keys/claim", `{"one_time_keys":{"@u:x":{"D":"signed_curve25519"}}}`, `{"one_time_keys":{"@u:x":{"D":{"signed_curve25519:A":{}}}}}`, nil,
			func() (any, error) {
				r, err := c.ClaimKeys(ctx, "remote.test", map[string]map[string]string{"@u:x": {"D": "signed_curve25519"}})
				return len(r["@u:x"]["D"]), err
			}, 1},
		{"version", "GET", v1 + "/version", "", `{"server":{"name":"x","version":"1"}}`, nil,
			func() (any, error) { return c.Version(ctx, "remote.test") }, &ServerVersion{Name: "x", Version: "1"}},
	}
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			s.t = t
			s.expect(k.method, k.path, k.query, k.body, k.resp)
			got, err := k.call()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, k.want) {
				t.Errorf("got %#v, want %#v", got, k.want)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	s := newStubRemote(t)
	c := s.client
	f := newFixture(t, roomversion.V10)
	msg := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"hi"}`)})
	other := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"other"}`)})

	// The remote errcode comes back as *Error.
	s.expect("GET", "/_matrix/federation/v1/make_join/%21r:x/@u:client.test", nil, "", `{"errcode":"M_INCOMPATIBLE_ROOM_VERSION","error":"no","room_version":"11"}`)
	s.status = 400
	_, err := c.MakeJoin(ctx, "remote.test", "!r:x", "@u:client.test", []string{"10"})
	var me *Error
	if !errors.As(err, &me) || me.Status != 400 || me.Code != "M_INCOMPATIBLE_ROOM_VERSION" || me.Fields["room_version"] != "11" {
		t.Errorf("make_join error %#v", err)
	}

	for _, c2 := range []struct {
		name, answer string
		call         func() error
	}{
		{"event of another ID", `{"origin":"x","origin_server_ts":1,"pdus":[` + string(other.JSON()) + `]}`, func() error {
			_, err := c.Event(ctx, "remote.test", roomversion.V10, msg.ID())
			return err
		}},
		{"event not a PDU", `{"origin":"x","origin_server_ts":1,"pdus":[{"type":1}]}`, func() error {
			_, err := c.Event(ctx, "remote.test", roomversion.V10, msg.ID())
			return err
		}},
		{"not JSON", `<html>`, func() error {
			_, err := c.Event(ctx, "remote.test", roomversion.V10, msg.ID())
			return err
		}},
	} {
		s.expect("GET", "/_matrix/federation/v1/event/"+url.PathEscape(msg.ID()), nil, "", c2.answer)
		if err := c2.call(); !errors.Is(err, ErrResponse) {
			t.Errorf("%s: %v, want ErrResponse", c2.name, err)
		}
	}
	// make_join: a version not offered is refused.
	s.expect("GET", "/_matrix/federation/v1/make_join/%21r:x/@u:client.test", nil, "", `{"room_version":"9","event":{}}`)
	if _, err := c.MakeJoin(ctx, "remote.test", "!r:x", "@u:client.test", []string{"10"}); !errors.Is(err, ErrResponse) {
		t.Errorf("make_join of a version not offered: %v", err)
	}
	// Responses over the size limit fail.
	c.MaxResponseSize = 100
	s.expect("GET", "/_matrix/federation/v1/version", nil, "", `{"server":{"name":"`+strings.Repeat("x", 200)+`"}}`)
	if _, err := c.Version(ctx, "remote.test"); err == nil || !strings.Contains(err.Error(), "over 100 bytes") {
		t.Errorf("oversized response: %v", err)
	}
	c.MaxResponseSize = 0
	// Too many PDUs are refused before sending.
	if _, err := c.SendTransaction(ctx, "remote.test", "x", Transaction{PDUs: make([]json.RawMessage, 51)}); err == nil {
		t.Errorf("51 PDUs sent")
	}
	// Media: multipart with the content, or a redirect.
	s.expect("GET", "/_matrix/federation/v1/media/download/m1", nil, "", "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b--\r\n")
	s.header = http.Header{"Content-Type": {"multipart/mixed; boundary=b"}}
	m, err := c.DownloadMedia(ctx, "remote.test", "m1")
	if err != nil || string(m.Body) != "PNG" || m.ContentType != "image/png" {
		t.Errorf("media %+v %v", m, err)
	}
	s.expect("GET", "/_matrix/federation/v1/media/thumbnail/m1", url.Values{"width": {"3"}, "height": {"4"}, "method": {"crop"}}, "", "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b\r\nLocation: https://cdn.example/m1\r\n\r\n\r\n--b--\r\n")
	s.header = http.Header{"Content-Type": {"multipart/mixed; boundary=b"}}
	m, err = c.Thumbnail(ctx, "remote.test", "m1", 3, 4, "crop")
	if err != nil || m.Location != "https://cdn.example/m1" {
		t.Errorf("thumbnail redirect %+v %v", m, err)
	}
	s.expect("GET", "/_matrix/federation/v1/media/download/m2", nil, "", `{}`)
	if _, err := c.DownloadMedia(ctx, "remote.test", "m2"); !errors.Is(err, ErrResponse) {
		t.Errorf("media not multipart: %v", err)
	}
}

// TestClientTimeout: a remote that does not answer within Client.Timeout
// gives the context's error.
func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer ts.Close()
	defer close(release)
	key, _ := signing.GenerateKey("c1")
	c := &Client{ServerName: "client.test", Key: key, Timeout: 1,
		Transport: NewTransport(&Resolver{Static: map[string]string{"slow.test": ts.Listener.Addr().String()}}, nil, true)}
	_, err := c.Version(context.Background(), "slow.test")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the deadline", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Timeout = 0
	if _, err := c.Version(ctx, "slow.test"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
