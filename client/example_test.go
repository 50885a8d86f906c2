package client_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mxkit/mxkit/client"
	"github.com/mxkit/mxkit/content"
)

// A bot as a plain user: it logs in, joins the rooms it is invited to and
// answers "!ping" with "pong". The homeserver is the example homeserver,
// started for the examples; the second half plays a user.
func Example_bot() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// (Here the bot's account is created first; a deployed bot logs in
	// with c.LoginWithPassword.)
	bot, _ := client.New(homeserverURL, "")
	if _, err := bot.RegisterWithDummyAuth(ctx, &client.RegisterRequest{Username: "pingbot", Password: "secret"}); err != nil {
		panic(err)
	}

	// --- the bot ---
	s := &client.Syncer{Client: bot, Timeout: time.Second}
	s.On("m.room.member", func(ctx context.Context, ev *client.SyncEvent) error {
		var m content.Member
		if ev.DecodeContent(&m) == nil && ev.Block == client.BlockInviteState &&
			*ev.StateKey == bot.UserID && m.Membership == content.Invite {
			_, err := bot.JoinRoom(ctx, ev.RoomID, nil, "")
			return err
		}
		return nil
	})
	s.On("m.room.message", func(ctx context.Context, ev *client.SyncEvent) error {
		var m content.Message
		if ev.DecodeContent(&m) == nil && m.MsgType == content.MsgText && strings.TrimSpace(m.Body) == "!ping" {
			_, err := bot.SendNotice(ctx, ev.RoomID, "pong")
			return err
		}
		return nil
	})
	go s.Run(ctx)
	// --- end of the bot ---

	user, _ := client.New(homeserverURL, "")
	if _, err := user.RegisterWithDummyAuth(ctx, &client.RegisterRequest{Username: "pinger", Password: "secret"}); err != nil {
		panic(err)
	}
	roomID, err := user.CreateRoom(ctx, &client.CreateRoomRequest{Invite: []string{bot.UserID}})
	if err != nil {
		panic(err)
	}
	u := &client.Syncer{Client: user, Timeout: time.Second}
	u.On("m.room.member", func(ctx context.Context, ev *client.SyncEvent) error {
		var m content.Member
		if ev.DecodeContent(&m) == nil && ev.RoomID == roomID && *ev.StateKey == bot.UserID && m.Membership == content.Join {
			_, err := user.SendText(ctx, roomID, "!ping")
			return err
		}
		return nil
	})
	u.On("m.room.message", func(ctx context.Context, ev *client.SyncEvent) error {
		var m content.Message
		if ev.DecodeContent(&m) == nil && ev.Sender == bot.UserID {
			fmt.Println(m.Body)
			cancel()
		}
		return nil
	})
	u.Run(ctx)
	// Output: pong
}
