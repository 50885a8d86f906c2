package redact_test

import (
	"fmt"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
)

func ExampleRedact() {
	event := []byte(`{
		"type": "m.room.member",
		"state_key": "@alice:example.org",
		"sender": "@alice:example.org",
		"room_id": "!room:example.org",
		"origin": "example.org",
		"content": {"membership": "join", "displayname": "Alice", "avatar_url": "mxc://example.org/a"},
		"unsigned": {"age": 1234}
	}`)
	for _, v := range []roomversion.Version{roomversion.V10, roomversion.V11} {
		redacted, err := redact.Redact(v, event)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("v%s: %s\n", v.ID, redacted)
	}
	// Output:
	// v10: {"content":{"membership":"join"},"origin":"example.org","room_id":"!room:example.org","sender":"@alice:example.org","state_key":"@alice:example.org","type":"m.room.member"}
	// v11: {"content":{"membership":"join"},"room_id":"!room:example.org","sender":"@alice:example.org","state_key":"@alice:example.org","type":"m.room.member"}
}

func ExampleAppend() {
	// Append reuses a buffer, for a server that redacts many events.
	buf := make([]byte, 0, 1024)
	for _, ev := range []string{
		`{"type":"m.room.message","content":{"body":"hello"},"sender":"@a:example.org"}`,
		`{"type":"m.room.join_rules","state_key":"","content":{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!s:example.org"}]}}`,
	} {
		var err error
		buf, err = redact.Append(buf[:0], roomversion.V12, []byte(ev))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s\n", buf)
	}
	// Output:
	// {"content":{},"sender":"@a:example.org","type":"m.room.message"}
	// {"content":{"allow":[{"room_id":"!s:example.org","type":"m.room_membership"}],"join_rule":"restricted"},"state_key":"","type":"m.room.join_rules"}
}

func ExampleError() {
	_, err := redact.Redact(roomversion.V11, []byte(`{"type":"m.room.message","content":"hello"}`))
	fmt.Println(err)
	// Output:
	// redact: "content": the event's content is not a JSON object at offset 35
}

func ExampleAppendValidated() {
	// Input that canonicaljson has accepted (here its own output, as when
	// computing a reference hash) need not be checked again: only what is
	// kept is looked at closely.
	event := []byte(`{"content":{"body":"hi","msgtype":"m.text"},"depth":7,"origin_server_ts":1,"room_id":"!r:example.org","sender":"@a:example.org","type":"m.room.message"}`)
	v := roomversion.V11
	if err := canonicaljson.Valid(event, redact.Mode(v)); err != nil {
		fmt.Println(err)
		return
	}
	redacted, err := redact.AppendValidated(nil, v, event)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", redacted)
	// Output:
	// {"content":{},"depth":7,"origin_server_ts":1,"room_id":"!r:example.org","sender":"@a:example.org","type":"m.room.message"}
}
