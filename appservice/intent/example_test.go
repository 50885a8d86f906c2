package intent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/mxkit/mxkit/appservice"
	"github.com/mxkit/mxkit/appservice/intent"
	"github.com/mxkit/mxkit/client"
	"github.com/mxkit/mxkit/content"
)

// An echo bot as an application service: it joins the rooms its user is
// invited to and answers every text message with a notice. The homeserver
// was started with the registration file (--appservice); the bot serves
// the registration's url. The second half plays a user who invites the
// bot and says hello.
func Example_echoBot() {
	// --- the echo bot ---
	data, err := os.ReadFile(registrationFile)
	if err != nil {
		panic(err)
	}
	reg, err := appservice.ParseRegistration(data)
	if err != nil {
		panic(err)
	}
	as := intent.New(reg, homeserverURL, "hs.test")
	bot := as.Bot()
	as.On("m.room.member", func(ctx context.Context, ev *appservice.ClientEvent) error {
		var m content.Member
		json.Unmarshal(ev.Content, &m)
		if ev.StateKey == nil || *ev.StateKey != bot.UserID || m.Membership != content.Invite {
			return nil
		}
		return bot.EnsureJoined(ctx, ev.RoomID)
	})
	as.On("m.room.message", func(ctx context.Context, ev *appservice.ClientEvent) error {
		var m content.Message
		if json.Unmarshal(ev.Content, &m) != nil || m.MsgType != content.MsgText {
			return nil
		}
		_, err := bot.SendNotice(ctx, ev.RoomID, "echo: "+m.Body)
		return err
	})
	go http.Serve(listener, as)
	// --- end of the echo bot ---

	// A user invites the bot, says hello when it has joined, and waits
	// for the echo.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, _ := client.New(homeserverURL, "")
	if _, err := alice.RegisterWithDummyAuth(ctx, &client.RegisterRequest{Username: "alice", Password: "secret"}); err != nil {
		panic(err)
	}
	roomID, err := alice.CreateRoom(ctx, &client.CreateRoomRequest{Invite: []string{bot.UserID}})
	if err != nil {
		panic(err)
	}
	s := &client.Syncer{Client: alice, Timeout: time.Second}
	s.On("m.room.member", func(ctx context.Context, ev *client.SyncEvent) error {
		var m content.Member
		ev.DecodeContent(&m)
		if ev.RoomID == roomID && *ev.StateKey == bot.UserID && m.Membership == content.Join {
			_, err := alice.SendText(ctx, roomID, "hello")
			return err
		}
		return nil
	})
	s.On("m.room.message", func(ctx context.Context, ev *client.SyncEvent) error {
		var m content.Message
		ev.DecodeContent(&m)
		if ev.Sender == bot.UserID && m.MsgType == content.MsgNotice {
			fmt.Println(m.Body)
			cancel()
		}
		return nil
	})
	s.Run(ctx)
	// Output: echo: hello
}
