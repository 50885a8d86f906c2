// Package clienttest drives the example homeserver with mautrix-go's
// client, a Matrix client library nobody here wrote. It is its own module
// so that mautrix stays out of the library's go.mod; run it with
//
//	cd examples/homeserver/clienttest && GOEXPERIMENT=jsonv2 go test ./...
//
// The test builds the homeserver from the parent directory, starts it on
// a loopback port, runs the flow, and stops it.
package clienttest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// startHomeserver builds and starts the example homeserver and returns
// its client API URL (and its federation address when fed is set).
func startHomeserver(t *testing.T, bin, name string, fed bool, extra ...string) (clientURL, fedAddr string) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--server-name", name, "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "hs.db"), "--key", filepath.Join(dir, "signing.key")}
	if fed {
		args = append(args, "--federation-listen", "127.0.0.1:0")
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			ready <- sc.Text()
		}
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok || !strings.HasPrefix(line, "mxkit homeserver ready: client ") {
			t.Fatalf("homeserver did not start: %q", line)
		}
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "http://") {
				if clientURL == "" {
					clientURL = f
				} else {
					fedAddr = strings.TrimPrefix(f, "http://")
				}
			}
		}
	case <-time.After(60 * time.Second):
		t.Fatal("homeserver not ready after 60s")
	}
	return clientURL, fedAddr
}

// buildHomeserver builds the example homeserver into a temporary directory.
func buildHomeserver(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "homeserver")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = ".."
	// The homeserver is in the library's module, which needs no experiment.
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the homeserver: %v\n%s", err, out)
	}
	return bin
}

func newUser(t *testing.T, ctx context.Context, url, name string) *mautrix.Client {
	t.Helper()
	anon, err := mautrix.NewClient(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.RegisterDummy(ctx, &mautrix.ReqRegister[any]{Username: name, Password: "pw-" + name}); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	c, err := mautrix.NewClient(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: name},
		Password:   "pw-" + name, StoreCredentials: true}); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return c
}

// syncUntil syncs c from since until pred is true of a sync response.
func syncUntil(t *testing.T, ctx context.Context, c *mautrix.Client, since, what string, pred func(*mautrix.RespSync) bool) string {
	t.Helper()
	for range 30 {
		r, err := c.SyncRequest(ctx, 2000, since, "", false, event.PresenceOnline)
		if err != nil {
			t.Fatalf("%s: sync: %v", c.UserID, err)
		}
		since = r.NextBatch
		if pred(r) {
			return since
		}
	}
	t.Fatalf("%s: %s never came through /sync", c.UserID, what)
	return ""
}

func hasBody(r *mautrix.RespSync, room id.RoomID, body string) bool {
	jr := r.Rooms.Join[room]
	if jr == nil {
		return false
	}
	for _, ev := range jr.Timeline.Events {
		if ev.Type == event.EventMessage && ev.Content.Raw["body"] == body {
			return true
		}
	}
	return false
}

// flow is the client flow: register, log in, create a room, invite and
// join, send, read back through sync and /messages, set the topic, leave.
func flow(t *testing.T, urlA, urlB string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := make([]byte, 3)
	rand.Read(b)
	tag := hex.EncodeToString(b)
	alice := newUser(t, ctx, urlA, "mtalice"+tag)
	bob := newUser(t, ctx, urlB, "mtbob"+tag)

	first := func(c *mautrix.Client) string {
		r, err := c.SyncRequest(ctx, 0, "", "", false, event.PresenceOnline)
		if err != nil {
			t.Fatalf("%s: initial sync: %v", c.UserID, err)
		}
		return r.NextBatch
	}
	sinceA, sinceB := first(alice), first(bob)

	created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "mautrix room"})
	if err != nil {
		t.Fatalf("createRoom: %v", err)
	}
	room := created.RoomID
	if _, err := alice.InviteUser(ctx, room, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
		t.Fatalf("invite: %v", err)
	}
	sinceB = syncUntil(t, ctx, bob, sinceB, "the invite", func(r *mautrix.RespSync) bool { return r.Rooms.Invite[room] != nil })
	if _, err := bob.JoinRoomByID(ctx, room); err != nil {
		t.Fatalf("join: %v", err)
	}
	if _, err := alice.SendText(ctx, room, "hello from alice"); err != nil {
		t.Fatalf("send: %v", err)
	}
	sinceB = syncUntil(t, ctx, bob, sinceB, "alice's message", func(r *mautrix.RespSync) bool { return hasBody(r, room, "hello from alice") })
	if _, err := bob.SendText(ctx, room, "hello from bob"); err != nil {
		t.Fatalf("send: %v", err)
	}
	sinceA = syncUntil(t, ctx, alice, sinceA, "bob's message", func(r *mautrix.RespSync) bool { return hasBody(r, room, "hello from bob") })

	msgs, err := alice.Messages(ctx, room, sinceA, "", mautrix.DirectionBackward, nil, 20)
	if err != nil {
		t.Fatalf("messages: %v", err)
	}
	var bodies []string
	for _, ev := range msgs.Chunk {
		if ev.Type == event.EventMessage {
			bodies = append(bodies, ev.Content.Raw["body"].(string))
		}
	}
	if len(bodies) < 2 || bodies[0] != "hello from bob" || bodies[1] != "hello from alice" {
		t.Fatalf("/messages backwards gave %q", bodies)
	}

	if _, err := alice.SendStateEvent(ctx, room, event.StateTopic, "", &event.TopicEventContent{Topic: "a topic from mautrix"}); err != nil {
		t.Fatalf("topic: %v", err)
	}
	syncUntil(t, ctx, bob, sinceB, "the topic", func(r *mautrix.RespSync) bool {
		jr := r.Rooms.Join[room]
		if jr == nil {
			return false
		}
		for _, ev := range jr.Timeline.Events {
			if ev.Type == event.StateTopic && ev.Content.Raw["topic"] == "a topic from mautrix" {
				return true
			}
		}
		return false
	})
	var topic event.TopicEventContent
	if err := bob.StateEvent(ctx, room, event.StateTopic, "", &topic); err != nil || topic.Topic != "a topic from mautrix" {
		t.Fatalf("topic state: %q, %v", topic.Topic, err)
	}
	if _, err := bob.LeaveRoom(ctx, room); err != nil {
		t.Fatalf("leave: %v", err)
	}
	if _, err := alice.LeaveRoom(ctx, room); err != nil {
		t.Fatalf("leave: %v", err)
	}
}

// TestMautrixFlow runs the flow against one homeserver.
func TestMautrixFlow(t *testing.T) {
	bin := buildHomeserver(t)
	url, _ := startHomeserver(t, bin, "mautrix.localhost", false)
	flow(t, url, url)
}

// TestMautrixFederation runs the flow with the second user on a second
// homeserver: the two servers find each other through --peer.
func TestMautrixFederation(t *testing.T) {
	bin := buildHomeserver(t)
	la, lb := freePort(t), freePort(t)
	peers := []string{"--peer", "a.test=" + la, "--peer", "b.test=" + lb}
	urlA, _ := startHomeserver(t, bin, "a.test", false, append([]string{"--federation-listen", la}, peers...)...)
	urlB, _ := startHomeserver(t, bin, "b.test", false, append([]string{"--federation-listen", lb}, peers...)...)
	flow(t, urlA, urlB)
}

// freePort finds a free loopback port for a federation listener (the
// peers must know each other's address before they start).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
