package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSmallModules: reporting, timestamp_to_event, the user directory,
// and OpenID tokens checked over federation, on the homeserver.
func TestSmallModules(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	bob := register(t, p.a.hs.ClientURL(), "bob")
	carol := register(t, p.a.hs.ClientURL(), "carol")
	alice.must("PUT", "/profile/@alice:a.test/displayname", map[string]string{"displayname": "Alice Liddell"}, nil)
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "private_chat", "invite": []string{"@bob:a.test"}}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	alice.must("PUT", rp+"/state/m.room.member/@alice:a.test", map[string]string{"membership": "join", "displayname": "Alice Liddell"}, nil)
	var ev struct {
		EventID string `json:"event_id"`
	}
	before := time.Now().UnixMilli()
	alice.must("PUT", rp+"/send/m.room.message/1", map[string]string{"msgtype": "m.text", "body": "hi"}, &ev)

	// Reporting.
	bob.must("POST", rp+"/report/"+url.PathEscape(ev.EventID), map[string]string{"reason": "spam"}, nil)
	if code, _ := carol.do("POST", rp+"/report/"+url.PathEscape(ev.EventID), map[string]string{"reason": "spam"}, nil); code != 404 {
		t.Errorf("report by a non-member: %d", code)
	}
	carol.must("POST", rp+"/report", map[string]string{"reason": "bad room"}, nil)
	carol.must("POST", "/users/@alice:a.test/report", map[string]string{"reason": "rude"}, nil)
	if code, _ := carol.do("POST", "/users/@nobody:a.test/report", map[string]string{"reason": "rude"}, nil); code != 404 {
		t.Errorf("report of an unknown user: %d", code)
	}
	var n int
	p.a.hs.db.queryRow(t.Context(), `SELECT count(*) FROM reports`).Scan(&n)
	if n != 3 {
		t.Errorf("%d reports stored, want 3", n)
	}

	// timestamp_to_event (a v1 endpoint).
	tsPath := func(who *api, ts int64, dir string) (string, int) {
		req, _ := http.NewRequest("GET", who.base+"/_matrix/client/v1"+rp+"/timestamp_to_event?ts="+strconv.FormatInt(ts, 10)+"&dir="+dir, nil)
		req.Header.Set("Authorization", "Bearer "+who.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			EventID string `json:"event_id"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		return out.EventID, resp.StatusCode
	}
	if id, code := tsPath(bob, before, "f"); code != 200 || id != ev.EventID {
		t.Errorf("timestamp f: %d %s, want %s", code, id, ev.EventID)
	}
	if _, code := tsPath(bob, time.Now().Add(time.Hour).UnixMilli(), "f"); code != 404 {
		t.Errorf("timestamp in the future: %d", code)
	}
	if id, code := tsPath(bob, time.Now().Add(time.Hour).UnixMilli(), "b"); code != 200 || id != ev.EventID {
		t.Errorf("timestamp b: %d %s", code, id)
	}
	if _, code := tsPath(carol, before, "f"); code != 403 {
		t.Errorf("timestamp for a non-member: %d", code)
	}

	// The user directory: bob shares a room with alice; carol does not
	// (the room is private).
	var dir struct {
		Results []struct {
			UserID      string `json:"user_id"`
			DisplayName string `json:"display_name"`
		} `json:"results"`
		Limited bool `json:"limited"`
	}
	bob.must("POST", "/user_directory/search", map[string]any{"search_term": "lidd", "limit": 5}, &dir)
	if len(dir.Results) != 1 || dir.Results[0].UserID != "@alice:a.test" || dir.Results[0].DisplayName != "Alice Liddell" {
		t.Errorf("bob searching lidd: %+v", dir)
	}
	carol.must("POST", "/user_directory/search", map[string]any{"search_term": "alice"}, &dir)
	if len(dir.Results) != 0 {
		t.Errorf("carol sees users of a private room: %+v", dir)
	}

	// OpenID: a token of a.test, checked at a.test's federation API.
	var tok struct {
		AccessToken      string `json:"access_token"`
		MatrixServerName string `json:"matrix_server_name"`
	}
	alice.must("POST", "/user/@alice:a.test/openid/request_token", map[string]any{}, &tok)
	if tok.MatrixServerName != "a.test" {
		t.Fatalf("token %+v", tok)
	}
	userinfo := func(token string) (int, string) {
		resp, err := http.Get("http://" + p.a.hs.FederationAddr() + "/_matrix/federation/v1/openid/userinfo?access_token=" + url.QueryEscape(token))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := userinfo(tok.AccessToken); code != 200 || !strings.Contains(body, `"sub":"@alice:a.test"`) {
		t.Errorf("userinfo: %d %s", code, body)
	}
	if code, _ := userinfo("nope"); code != 401 {
		t.Errorf("userinfo of an unknown token: %d", code)
	}
}

func TestSupportFlags(t *testing.T) {
	c, err := parseFlags([]string{"--support-page", "https://example.org/help", "--admin-contact", "@admin:example.org", "--admin-contact", "ops@example.org"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Support == nil || c.Support.SupportPage != "https://example.org/help" || len(c.Support.Contacts) != 2 ||
		c.Support.Contacts[0].MatrixID != "@admin:example.org" || c.Support.Contacts[1].EmailAddress != "ops@example.org" {
		t.Fatalf("support %+v", c.Support)
	}
	if _, err := parseFlags([]string{"--admin-contact", "@bad"}, io.Discard); err == nil {
		t.Fatalf("a malformed admin contact was accepted")
	}
}
