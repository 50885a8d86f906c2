package content_test

import (
	"fmt"

	"github.com/mxkit/mxkit/content"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

// Typed contents build events in a room that picks their auth and prev
// events, and read them back from the parsed events.
func Example() {
	const alice = "@alice:example.org"
	room := eventauth.NewMemoryRoom(roomversion.V12)
	for _, step := range []struct {
		c  content.Content
		sk *string
	}{
		{content.Create{RoomVersion: "12"}, content.StateKey("")},
		{content.Member{Membership: content.Join, DisplayName: "Alice"}, content.StateKey(alice)},
		{content.Message{MsgType: content.MsgText, Body: "hello", Format: content.FormatHTML, FormattedBody: "<b>hello</b>"}, nil},
	} {
		b, err := content.NewBuilder(step.c, alice, step.sk)
		if err != nil {
			fmt.Println(err)
			return
		}
		b.OriginServerTS = 1700000000000
		if _, err := room.Build(b, "example.org", exampleKey()); err != nil {
			fmt.Println(err)
			return
		}
	}
	msg, err := content.Parse[content.Message](room.ForwardExtremities()[0])
	fmt.Println(msg.Body, msg.FormattedBody, err)
	member, err := content.Parse[content.Member](room.StateEvent("m.room.member", alice))
	fmt.Println(member.Membership, member.DisplayName, err)
	// Output:
	// hello <b>hello</b> <nil>
	// join Alice <nil>
}
