package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mxkit/mxkit/client"
	"github.com/mxkit/mxkit/internal/hstest"
)

// homeserverURL is a homeserver for the examples, started by TestMain.
var homeserverURL string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	defer hstest.Cleanup()
	dir, err := os.MkdirTemp("", "mxkit-client-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	url, stop, err := hstest.StartProcess(dir, "example.test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	homeserverURL = url
	code := m.Run()
	if log := stop(); code != 0 {
		fmt.Fprintf(os.Stderr, "homeserver log:\n%s", log)
	}
	return code
}

func newUser(t *testing.T, ctx context.Context, url, name string) *client.Client {
	t.Helper()
	c, err := client.New(url, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterWithDummyAuth(ctx, &client.RegisterRequest{Username: name, Password: "pw-" + name}); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return c
}

// TestAgainstHomeserver drives the example homeserver over loopback:
// register, login, rooms, messages, state, profile, account data,
// errors and the sync loop.
func TestAgainstHomeserver(t *testing.T) {
	url := hstest.Start(t, "hs.test")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice := newUser(t, ctx, url, "alice")
	if alice.UserID != "@alice:hs.test" || alice.AccessToken == "" {
		t.Fatalf("registration credentials %q %q", alice.UserID, alice.AccessToken)
	}
	// Login with the password gives a second device.
	bobReg := newUser(t, ctx, url, "bob")
	bob, _ := client.New(url, "")
	if _, err := bob.LoginWithPassword(ctx, "bob", "pw-bob"); err != nil {
		t.Fatal(err)
	}
	if bob.DeviceID == bobReg.DeviceID {
		t.Error("login reused the registration's device")
	}
	if w, err := bob.WhoAmI(ctx); err != nil || w.UserID != "@bob:hs.test" {
		t.Fatalf("whoami %+v %v", w, err)
	}
	if _, err := bob.LoginWithPassword(ctx, "bob", "wrong"); !client.IsCode(err, client.CodeForbidden) {
		t.Errorf("wrong password: %v, want M_FORBIDDEN", err)
	}
	if _, err := alice.RegisterAvailable(ctx, "alice"); !client.IsCode(err, client.CodeUserInUse) {
		t.Errorf("available(alice): %v, want M_USER_IN_USE", err)
	}

	roomID, err := alice.CreateRoom(ctx, &client.CreateRoomRequest{Name: "Test", Preset: "public_chat", RoomAliasName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := bob.ResolveAlias(ctx, "#test:hs.test"); err != nil || got != roomID {
		t.Fatalf("resolve alias: %q %v", got, err)
	}
	if got, err := bob.JoinRoom(ctx, "#test:hs.test", nil, ""); err != nil || got != roomID {
		t.Fatalf("join: %q %v", got, err)
	}
	members, err := alice.JoinedMembers(ctx, roomID)
	if err != nil || len(members) != 2 {
		t.Fatalf("joined members %v %v", members, err)
	}
	var name struct {
		Name string `json:"name"`
	}
	if err := bob.StateEvent(ctx, roomID, "m.room.name", "", &name); err != nil || name.Name != "Test" {
		t.Fatalf("name %+v %v", name, err)
	}
	if _, err := alice.SendState(ctx, roomID, "m.room.topic", "", map[string]string{"topic": "t"}); err != nil {
		t.Fatal(err)
	}
	if err := bob.StateEvent(ctx, roomID, "m.room.nosuch", "", &name); !client.IsCode(err, client.CodeNotFound) {
		t.Errorf("missing state: %v, want M_NOT_FOUND", err)
	}

	// The sync loop sees alice's message, with the room ID filled in;
	// a since token is saved.
	store := &client.MemorySyncStore{}
	s := &client.Syncer{Client: bob, Store: store, SkipInitial: true, Timeout: 2 * time.Second,
		Filter: &client.Filter{Room: &client.RoomFilter{Timeline: &client.RoomEventFilter{EventFilter: client.EventFilter{Limit: 10}}}}}
	got := make(chan *client.SyncEvent, 10)
	s.On("m.room.message", func(_ context.Context, ev *client.SyncEvent) error {
		got <- ev
		return nil
	})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	// Wait until the loop is past its first (skipped) sync.
	for i := 0; i < 100; i++ {
		if tok, _ := store.LoadNextBatch(ctx, bob.UserID); tok != "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	eventID, err := alice.SendText(ctx, roomID, "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		var c struct {
			Body string `json:"body"`
		}
		if err := ev.DecodeContent(&c); err != nil || c.Body != "hello bob" || ev.EventID != eventID || ev.RoomID != roomID || ev.Sender != alice.UserID {
			t.Errorf("synced event %+v %q %v", ev.Event, c.Body, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("message not seen by the sync loop")
	}
	stop()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run after cancel = %v", err)
	}

	// Reading back: the event, messages, context, state.
	ev, err := bob.Event(ctx, roomID, eventID)
	if err != nil || ev.Type != "m.room.message" {
		t.Fatalf("event %+v %v", ev, err)
	}
	msgs, err := bob.Messages(ctx, roomID, &client.MessagesRequest{Limit: 5})
	if err != nil || len(msgs.Chunk) == 0 || msgs.Chunk[0].EventID != eventID {
		t.Fatalf("messages %+v %v", msgs, err)
	}
	if cx, err := bob.Context(ctx, roomID, eventID, 2, nil); err != nil || cx.Event == nil || cx.Event.EventID != eventID {
		t.Fatalf("context %+v %v", cx, err)
	}
	state, err := bob.State(ctx, roomID)
	if err != nil || len(state) < 5 {
		t.Fatalf("state %d %v", len(state), err)
	}
	if _, err := alice.Redact(ctx, roomID, eventID, "oops", ""); err != nil {
		t.Fatal(err)
	}

	// Profile and account data.
	if err := alice.SetDisplayName(ctx, "Alice A."); err != nil {
		t.Fatal(err)
	}
	if n, err := bob.DisplayName(ctx, alice.UserID); err != nil || n != "Alice A." {
		t.Errorf("display name %q %v", n, err)
	}
	if err := alice.SetAccountData(ctx, "", "org.example.test", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	var ad json.RawMessage
	if err := alice.AccountData(ctx, "", "org.example.test", &ad); err != nil || string(ad) != `{"n":1}` {
		t.Errorf("account data %s %v", ad, err)
	}
	if rooms, err := bob.JoinedRooms(ctx); err != nil || len(rooms) != 1 || rooms[0] != roomID {
		t.Errorf("joined rooms %v %v", rooms, err)
	}
	if err := bob.Leave(ctx, roomID, ""); err != nil {
		t.Fatal(err)
	}
	if err := bob.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WhoAmI(ctx); !client.IsCode(err, client.CodeUnknownToken) {
		t.Errorf("after logout: %v, want M_UNKNOWN_TOKEN", err)
	}
}
