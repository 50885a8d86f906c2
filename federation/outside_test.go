package federation

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// recordingOutside is an OutsideRooms that knows one room and records what
// it is given.
type recordingOutside struct {
	roomID string
	v      roomversion.Version
	taken  []*event.Event
}

func (o *recordingOutside) Version(_ context.Context, roomID string) (roomversion.Version, bool) {
	return o.v, roomID == o.roomID
}

func (o *recordingOutside) Take(_ context.Context, origin string, ev *event.Event) error {
	if origin != "remote.test" {
		return errors.New("unexpected origin " + origin)
	}
	o.taken = append(o.taken, ev)
	return nil
}

// TestReceiveOutsideRooms: the PDUs of a room this server is not in go to
// Receiver.Outside when it claims the room, after the checks every PDU gets
// (signatures, hashes) and the ones of its own (a membership event of a
// local user, sent by a user of the origin).
func TestReceiveOutsideRooms(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	out := &recordingOutside{roomID: "!elsewhere:remote.test", v: roomversion.V10}
	f.recv.Outside = out
	forged, _ := signing.GenerateKey("r1") // same key ID, another key

	third, _ := signing.GenerateKey("t1")
	f.ring.Add("third.test", third.ID, signing.PublicKey{Key: third.Public(), ValidUntilTS: 1 << 50})
	build := func(roomID, typ, sender, stateKey, content string, key *signing.SigningKey) *event.Event {
		t.Helper()
		b := event.Builder{Type: typ, Sender: sender, RoomID: roomID, Content: []byte(content),
			PrevRefs: []event.Reference{{EventID: "$invite"}}, AuthRefs: []event.Reference{{EventID: "$create"}}, PrevDepth: 3}
		if stateKey != "" {
			b.StateKey = &stateKey
		}
		server := "remote.test"
		if key == third {
			server = "third.test"
		}
		ev, err := b.Build(roomversion.V10, server, key)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	withdraw := build(out.roomID, event.TypeMember, bob, "@carol:hs.test", `{"membership":"leave"}`, f.remoteKey)
	message := build(out.roomID, "m.room.message", bob, "", `{"body":"hi"}`, f.remoteKey)
	remoteTarget := build(out.roomID, event.TypeMember, bob, "@dave:remote.test", `{"membership":"leave"}`, f.remoteKey)
	otherSender := build(out.roomID, event.TypeMember, "@eve:third.test", "@carol:hs.test", `{"membership":"leave"}`, third)
	badSig := build(out.roomID, event.TypeMember, bob, "@carol:hs.test", `{"membership":"ban"}`, forged)
	unclaimed := build("!unknown:remote.test", event.TypeMember, bob, "@carol:hs.test", `{"membership":"leave"}`, f.remoteKey)

	res := f.receive("outside", withdraw, message, remoteTarget, otherSender, badSig, unclaimed)
	f.expect(res, withdraw, "")
	f.expect(res, message, "not a membership event")
	f.expect(res, remoteTarget, "not a membership of a user of this server")
	f.expect(res, otherSender, "not a user of the origin server")
	f.expect(res, badSig, "signature")
	if r, ok := res[unclaimed.ID()]; ok && r.Error == "" {
		t.Errorf("a PDU of a room nobody claims was accepted")
	}
	if len(out.taken) != 1 || out.taken[0].ID() != withdraw.ID() {
		var ids []string
		for _, e := range out.taken {
			ids = append(ids, e.ID())
		}
		t.Fatalf("taken %s, want only the withdrawal %s", strings.Join(ids, ","), withdraw.ID())
	}
	if _, ok := f.status(withdraw.ID()); ok {
		t.Fatalf("an event of a room this server is not in was stored in the room store")
	}
}
