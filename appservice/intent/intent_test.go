package intent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mxkit/mxkit/appservice"
	"github.com/mxkit/mxkit/appservice/intent"
	"github.com/mxkit/mxkit/client"
)

func loadReg(t *testing.T) *appservice.Registration {
	t.Helper()
	data, err := os.ReadFile(registrationFile)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := appservice.ParseRegistration(data)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestIntentAgainstHomeserver: a namespaced user is registered on first
// use (and again without error), joins a room it is invited to, sends,
// and sets its profile.
func TestIntentAgainstHomeserver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	as := intent.New(loadReg(t), homeserverURL, "hs.test")
	if _, err := as.Intent("@someone_else:hs.test"); err == nil {
		t.Error("Intent outside the namespace accepted")
	}
	ghost, err := as.Intent("@echo_ghost:hs.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := ghost.SetDisplayName(ctx, "Ghost"); err != nil {
		t.Fatal(err)
	}
	// A second AppService (a restarted bridge) finds the user exists.
	again, _ := intent.New(loadReg(t), homeserverURL, "hs.test").Intent("@echo_ghost:hs.test")
	if err := again.EnsureRegistered(ctx); err != nil {
		t.Fatalf("EnsureRegistered of an existing user: %v", err)
	}
	if w, err := ghost.WhoAmI(ctx); err != nil || w.UserID != "@echo_ghost:hs.test" {
		t.Fatalf("whoami %+v %v", w, err)
	}

	carol, _ := client.New(homeserverURL, "")
	if _, err := carol.RegisterWithDummyAuth(ctx, &client.RegisterRequest{Username: "carol", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if n, err := carol.DisplayName(ctx, ghost.UserID); err != nil || n != "Ghost" {
		t.Errorf("ghost display name %q %v", n, err)
	}
	roomID, err := carol.CreateRoom(ctx, &client.CreateRoomRequest{Invite: []string{ghost.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	eventID, err := ghost.SendText(ctx, roomID, "from the bridge")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := carol.Event(ctx, roomID, eventID)
	if err != nil || ev.Sender != ghost.UserID {
		t.Fatalf("event %+v %v", ev, err)
	}
	// A private room the ghost was not invited to: the join is refused
	// (the bot is not in it either, so it cannot invite).
	private, err := carol.CreateRoom(ctx, &client.CreateRoomRequest{Preset: "private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ghost.EnsureJoined(ctx, private); !client.IsCode(err, client.CodeForbidden) {
		t.Errorf("joining an invite-only room: %v, want M_FORBIDDEN", err)
	}
}

// TestDispatch: events go to the handlers of their type and AnyType, the
// service's own users' events are dropped, a handler error fails the
// transaction (the homeserver retries it), hs_token is checked.
func TestDispatch(t *testing.T) {
	as := intent.New(loadReg(t), "http://127.0.0.1:1", "hs.test")
	var got []string
	as.On("m.room.message", func(_ context.Context, ev *appservice.ClientEvent) error {
		got = append(got, "msg "+ev.EventID)
		if ev.EventID == "$fail" {
			return errors.New("boom")
		}
		return nil
	})
	as.On(intent.AnyType, func(_ context.Context, ev *appservice.ClientEvent) error {
		got = append(got, "any "+ev.EventID)
		return nil
	})
	as.OnEphemeral("m.typing", func(_ context.Context, ev *appservice.EphemeralEvent) error {
		got = append(got, "typing "+ev.RoomID)
		return nil
	})
	send := func(txn, token string, events ...string) int {
		body := `{"events":[` + strings.Join(events, ",") + `],"ephemeral":[{"type":"m.typing","room_id":"!r:hs.test","content":{"user_ids":[]}}]}`
		req := httptest.NewRequest("PUT", "/_matrix/app/v1/transactions/"+txn, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		as.ServeHTTP(w, req)
		return w.Code
	}
	ev := func(id, typ, sender string) string {
		b, _ := json.Marshal(map[string]any{"event_id": id, "type": typ, "sender": sender, "room_id": "!r:hs.test", "origin_server_ts": 1, "content": map[string]string{"body": "x"}})
		return string(b)
	}
	if code := send("1", "wrong"); code != http.StatusForbidden {
		t.Errorf("wrong hs_token: %d", code)
	}
	code := send("2", "hs-token-echo", ev("$1", "m.room.message", "@alice:hs.test"), ev("$2", "m.room.topic", "@alice:hs.test"),
		ev("$own", "m.room.message", "@echobot:hs.test"), ev("$ghost", "m.room.message", "@echo_x:hs.test"))
	if code != http.StatusOK {
		t.Fatalf("transaction: %d", code)
	}
	want := "msg $1,any $1,any $2,typing !r:hs.test"
	if strings.Join(got, ",") != want {
		t.Errorf("dispatch %q, want %q", strings.Join(got, ","), want)
	}
	got = nil
	if code := send("3", "hs-token-echo", ev("$fail", "m.room.message", "@alice:hs.test")); code < 500 {
		t.Errorf("failing handler answered %d, want a 5xx so the homeserver retries", code)
	}
}

// TestEchoBotSize counts the lines of Example_echoBot's bot (between its
// markers, without blank lines and comments): with the 13 lines a
// complete program adds (package clause, imports, func main and its
// brace), a bridge developer's echo application service must stay under
// 60 lines, as the package documentation states.
func TestEchoBotSize(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), "// --- the echo bot ---\n")
	block, _, ok2 := strings.Cut(rest, "// --- end of the echo bot ---")
	if !ok || !ok2 {
		t.Fatal("the example's markers are missing")
	}
	n := 0
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "//") {
			n++
		}
	}
	const programLines = 13
	if n != 27 || n+programLines >= 60 {
		t.Errorf("the echo bot is %d lines (documented: 27), %d as a program", n, n+programLines)
	}
}
