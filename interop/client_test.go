//go:build unix

package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// user is a logged-in user of one server, driven over the client-server
// API as a client would.
type user struct {
	srv    *server
	id     string
	token  string
	client *http.Client
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

// call makes a client-server API request; out (when not nil) receives the
// JSON answer of a 200. Any other status is an error carrying the body.
func call(base, token, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+"/_matrix/client/v3"+path, rd)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != 200 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return 200, fmt.Errorf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return 200, nil
}

func (u *user) do(method, path string, body, out any) error {
	_, err := call(u.srv.clientURL, u.token, method, path, body, out)
	return err
}

func (u *user) must(t *testing.T, method, path string, body, out any) {
	t.Helper()
	if err := u.do(method, path, body, out); err != nil {
		t.Fatalf("%s on %s: %v", u.id, u.srv.kind, err)
	}
}

// registerUser creates a user with a display name.
func registerUser(t *testing.T, s *server, name, displayName string) *user {
	t.Helper()
	var r struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
	}
	body := map[string]any{"username": name, "password": "interop-password-" + name, "auth": map[string]string{"type": "m.login.dummy"}}
	if _, err := call(s.clientURL, "", "POST", "/register", body, &r); err != nil {
		t.Fatalf("registering %s on %s: %v", name, s.kind, err)
	}
	u := &user{srv: s, id: r.UserID, token: r.AccessToken}
	u.must(t, "PUT", "/profile/"+esc(u.id)+"/displayname", map[string]string{"displayname": displayName}, nil)
	return u
}

func esc(s string) string { return url.PathEscape(s) }

func roomPath(roomID string) string { return "/rooms/" + esc(roomID) }

// send sends an m.room.message and returns its event ID.
func (u *user) send(t *testing.T, roomID, body string) string {
	t.Helper()
	var r struct {
		EventID string `json:"event_id"`
	}
	u.must(t, "PUT", roomPath(roomID)+"/send/m.room.message/"+esc(fmt.Sprintf("txn-%d", time.Now().UnixNano())),
		map[string]string{"msgtype": "m.text", "body": body}, &r)
	return r.EventID
}

// setState sends a state event and returns its event ID.
func (u *user) setState(roomID, typ, key string, content any) (string, error) {
	var r struct {
		EventID string `json:"event_id"`
	}
	err := u.do("PUT", roomPath(roomID)+"/state/"+esc(typ)+"/"+esc(key), content, &r)
	return r.EventID, err
}

// clientEvent is an event in the client format.
type clientEvent struct {
	EventID  string          `json:"event_id"`
	Type     string          `json:"type"`
	Sender   string          `json:"sender"`
	StateKey *string         `json:"state_key"`
	Content  json.RawMessage `json:"content"`
	Redacts  string          `json:"redacts"`
	Unsigned struct {
		RedactedBecause *clientEvent `json:"redacted_because"`
	} `json:"unsigned"`
}

func (e *clientEvent) contentField(key string) string {
	var m map[string]any
	json.Unmarshal(e.Content, &m)
	s, _ := m[key].(string)
	return s
}

// syncRoom is one room of a /sync answer.
type syncRoom struct {
	Timeline struct {
		Events []clientEvent `json:"events"`
	} `json:"timeline"`
	State struct {
		Events []clientEvent `json:"events"`
	} `json:"state"`
	Ephemeral struct {
		Events []struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		} `json:"events"`
	} `json:"ephemeral"`
}

type syncResponse struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join   map[string]syncRoom `json:"join"`
		Invite map[string]any      `json:"invite"`
		Leave  map[string]syncRoom `json:"leave"`
	} `json:"rooms"`
}

// syncFilter keeps enough timeline for the flows' checks.
const syncFilter = `{"room":{"timeline":{"limit":50}}}`

// initialSync is a /sync without since (the whole current view).
func (u *user) initialSync() (*syncResponse, error) {
	var r syncResponse
	err := u.do("GET", "/sync?timeout=0&filter="+url.QueryEscape(syncFilter), nil, &r)
	return &r, err
}

// messages is GET /messages backwards from the end of the room.
func (u *user) messages(roomID string) ([]clientEvent, error) {
	s, err := u.initialSync()
	if err != nil {
		return nil, err
	}
	var r struct {
		Chunk []clientEvent `json:"chunk"`
	}
	err = u.do("GET", roomPath(roomID)+"/messages?dir=b&limit=100&from="+url.QueryEscape(s.NextBatch), nil, &r)
	return r.Chunk, err
}

// event is GET /rooms/{roomId}/event/{eventId}.
func (u *user) event(roomID, eventID string) (*clientEvent, error) {
	var e clientEvent
	err := u.do("GET", roomPath(roomID)+"/event/"+esc(eventID), nil, &e)
	return &e, err
}

// state is GET /rooms/{roomId}/state as (type, state_key) -> event ID.
func (u *user) state(roomID string) (map[string]string, error) {
	var evs []clientEvent
	if err := u.do("GET", roomPath(roomID)+"/state", nil, &evs); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, e := range evs {
		if e.StateKey != nil {
			m[e.Type+"|"+*e.StateKey] = e.EventID
		}
	}
	return m, nil
}

// stateContent is GET /rooms/{roomId}/state/{type}/{key}.
func (u *user) stateContent(roomID, typ, key string) (map[string]any, error) {
	var m map[string]any
	err := u.do("GET", roomPath(roomID)+"/state/"+esc(typ)+"/"+esc(key), nil, &m)
	return m, err
}

// membershipSeen is the membership of target in roomID as u's server
// has it.
func (u *user) membershipSeen(roomID, target string) (string, error) {
	m, err := u.stateContent(roomID, "m.room.member", target)
	if err != nil {
		return "", err
	}
	s, _ := m["membership"].(string)
	return s, nil
}

// within polls cond every 100ms until it returns nil or d has passed, and
// returns its last error.
func within(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
