package visibility_test

import (
	"fmt"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/visibility"
)

// A message sent while the room's history was "joined" and bob was only
// invited: bob may not see it, even after joining; his server may not
// either, unless another of its users was joined.
func ExampleUserMaySee() {
	key, _ := signing.NewSigningKey("ed25519:1", make([]byte, 32))
	msg, _ := (&event.Builder{Type: "m.room.message", Sender: "@alice:example.org", RoomID: "!room:example.org",
		Content:  []byte(`{"msgtype":"m.text","body":"hi"}`),
		PrevRefs: []event.Reference{{EventID: "$previous"}}, PrevDepth: 5}).Build(roomversion.V11, "example.org", key)

	at := visibility.State{Visibility: visibility.Joined, Members: []visibility.Member{{UserID: "@bob:example.net", Membership: "invite"}}}
	fmt.Println(visibility.UserMaySee(msg, "@bob:example.net", visibility.At{Before: at, After: at}, true))
	fmt.Println(visibility.ServerMaySee(msg, "example.net", visibility.At{Before: at, After: at}, true))

	at.Members = append(at.Members, visibility.Member{UserID: "@carol:example.net", Membership: "join"})
	fmt.Println(visibility.ServerMaySee(msg, "example.net", visibility.At{Before: at, After: at}, true))
	// Output:
	// false
	// false
	// true
}
