package event_test

import (
	"context"
	"fmt"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// The specification's test key (content/appendices.md, "Cryptographic
// Test Vectors"); a server loads its own with signing.ParseKeyFile.
func exampleKey() *signing.SigningKey {
	seed, _ := base64.DecodeString("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
	key, _ := signing.NewSigningKey("ed25519:1", seed)
	return key
}

func ExampleParse() {
	raw := []byte(`{"auth_events":[],"content":{},"depth":3,"hashes":{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},"origin":"domain","origin_server_ts":1000000,"prev_events":[],"room_id":"!x:domain","sender":"@a:domain","signatures":{"domain":{"ed25519:1":"KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},"type":"X","unsigned":{"age_ts":1000000}}`)
	e, err := event.Parse(roomversion.V10, raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.ID())
	fmt.Println(e.Sender(), e.Type(), e.Depth(), e.ContentHashValid())

	// An event that breaks a rule says which.
	_, err = event.Parse(roomversion.V10, []byte(`{"type":"X","depth":1.5}`))
	fmt.Println(err)
	// Output:
	// $8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc
	// @a:domain X 3 true
	// event: 1.5 is not an integer; room versions 6 and later allow integers only at offset 20 (json.float)
}

func ExampleBuilder_Build() {
	stateKey := ""
	create := event.Builder{
		Type:           "m.room.create",
		StateKey:       &stateKey,
		Sender:         "@alice:example.org",
		Content:        []byte(`{"room_version":"12"}`),
		OriginServerTS: 1700000000000,
	}
	e, err := create.Build(roomversion.V12, "example.org", exampleKey())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.RoomID())
	fmt.Println(e.Depth())

	msg := event.Builder{
		Type:           "m.room.message",
		Sender:         "@alice:example.org",
		RoomID:         e.RoomID(),
		Content:        []byte(`{"body":"hello","msgtype":"m.text"}`),
		PrevEvents:     []*event.Event{e},
		OriginServerTS: 1700000000001,
	}
	m, err := msg.Build(roomversion.V12, "example.org", exampleKey())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Depth(), m.PrevEventIDs()[0] == e.ID())
	// Output:
	// !37iwD-DyT01UTC3QaO2Ot9nDS1G-rmVcGz0DYMPzG6c
	// 1
	// 2 true
}

func ExampleVerifier() {
	key := exampleKey()
	ring := signing.NewMemoryKeyRing()
	ring.Add("example.org", key.ID, signing.PublicKey{Key: key.Public(), ValidUntilTS: 1 << 50})
	vr := &event.Verifier{KeyRing: ring}

	b := event.Builder{Type: "m.room.message", Sender: "@alice:example.org", RoomID: "!r:example.org",
		Content: []byte(`{"body":"hello"}`), OriginServerTS: 1700000000000}
	e, _ := b.Build(roomversion.V10, "example.org", key)

	results := vr.VerifyAll(context.Background(), []*event.Event{e})
	fmt.Println(results[0].Verdict)
	// Output:
	// valid
}
