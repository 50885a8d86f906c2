package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

// fixture is a room on a local server "hs.test" with a remote member
// @bob:remote.test, for the pipeline and handler tests. Events of the remote
// server are built by hand and given to the Receiver.
type fixture struct {
	t         *testing.T
	v         roomversion.Version
	srv       *Server
	store     *MemoryRoomStore
	ring      *signing.MemoryKeyRing
	localKey  *signing.SigningKey
	remoteKey *signing.SigningKey
	roomID    string
	recv      *Receiver
	edus      *MemoryEDUs
	keys      map[string]*signing.SigningKey // signing keys of other origins
}

const (
	alice = "@alice:hs.test"
	bob   = "@bob:remote.test"
)

func newFixture(t *testing.T, v roomversion.Version) *fixture {
	t.Helper()
	f := &fixture{t: t, v: v, store: NewMemoryRoomStore(), ring: signing.NewMemoryKeyRing(), edus: &MemoryEDUs{}}
	f.localKey, _ = signing.GenerateKey("l1")
	f.remoteKey, _ = signing.GenerateKey("r1")
	f.ring.Add("hs.test", f.localKey.ID, signing.PublicKey{Key: f.localKey.Public(), ValidUntilTS: 1 << 50})
	f.ring.Add("remote.test", f.remoteKey.ID, signing.PublicKey{Key: f.remoteKey.Public(), ValidUntilTS: 1 << 50})
	f.srv = &Server{ServerName: "hs.test", Key: f.localKey, Keys: f.ring, Rooms: f.store, EDUs: f.edus,
		Invites: &MemoryInvites{}, Queries: &MemoryQueries{}, OpenID: &MemoryQueries{}, Directory: &MemoryDirectory{}, Devices: &MemoryDevices{}, Media: &MemoryMedia{}}
	f.recv = f.srv.Receiver()
	hs := &homeserver{name: "hs.test", key: f.localKey, srv: f.srv, store: f.store}
	f.roomID = createRoom(t, hs, v, alice, "!room:hs.test")
	// bob joins over federation.
	join := f.remote(event.Builder{Type: event.TypeMember, StateKey: strp(bob), Sender: bob, Content: []byte(`{"membership":"join"}`)})
	f.expect(f.receive("join", join), join, "")
	return f
}

// remote builds an event of remote.test on the room's current state.
func (f *fixture) remote(b event.Builder) *event.Event {
	f.t.Helper()
	ctx := context.Background()
	_, st, extrem, err := currentState(ctx, f.store, f.roomID)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.remoteOn(b, st, extrem)
}

func (f *fixture) remoteOn(b event.Builder, st stateres.StateMap, extrem []string) *event.Event {
	f.t.Helper()
	b.RoomID = f.roomID
	if b.Content == nil {
		b.Content = []byte(`{}`)
	}
	ev, err := buildEvent(context.Background(), f.store, f.v, b, st, extrem, "remote.test", f.remoteKey, false)
	if err != nil {
		f.t.Fatalf("build %s: %v", b.Type, err)
	}
	return ev
}

// receive sends the events as one transaction of remote.test.
func (f *fixture) receive(txnID string, evs ...*event.Event) map[string]PDUResult {
	f.t.Helper()
	raws := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		raws[i] = e.JSON()
	}
	return f.receiveRaw(txnID, raws, nil)
}

func (f *fixture) receiveRaw(txnID string, pdus []json.RawMessage, edus []EDU) map[string]PDUResult {
	f.t.Helper()
	body, _ := json.Marshal(Transaction{Origin: "remote.test", OriginServerTS: 1, PDUs: pdus, EDUs: edus})
	res, err := f.recv.Receive(context.Background(), "remote.test", txnID, body)
	if err != nil {
		f.t.Fatalf("transaction %s: %v", txnID, err)
	}
	return res
}

// expect checks the result of ev: errPart "" wants no error.
func (f *fixture) expect(res map[string]PDUResult, ev *event.Event, errPart string) {
	f.t.Helper()
	r, ok := res[ev.ID()]
	if !ok {
		f.t.Fatalf("no result for %s in %v", ev.ID(), res)
	}
	if errPart == "" && r.Error != "" || errPart != "" && !strings.Contains(r.Error, errPart) {
		f.t.Fatalf("result for %s %s: %q, want error containing %q", ev.Type(), ev.ID(), r.Error, errPart)
	}
}

func (f *fixture) status(id string) (Status, bool) { return f.store.Status(id) }

func (f *fixture) local(b event.Builder) *event.Event {
	f.t.Helper()
	b.RoomID = f.roomID
	ev, err := f.srv.CreateEvent(context.Background(), f.v, b)
	if err != nil {
		f.t.Fatalf("local %s: %v", b.Type, err)
	}
	return ev
}

var pipelineVersions = []roomversion.Version{roomversion.V1, roomversion.V6, roomversion.V10, roomversion.V12}

func TestReceivePipeline(t *testing.T) {
	for _, v := range pipelineVersions {
		t.Run("v"+v.ID, func(t *testing.T) {
			f := newFixture(t, v)
			msg := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"hi"}`)})

			// Forged: signed by another key under remote.test's key ID.
			forger, _ := signing.GenerateKey(f.remoteKey.ID.Version())
			forged, err := (&event.Builder{Type: "m.room.message", Sender: bob, RoomID: f.roomID, Content: []byte(`{"body":"forged"}`),
				PrevEvents: []*event.Event{msg}, AuthEvents: mustEvents(t, f.store, msg.AuthEventIDs())}).Build(v, "remote.test", forger)
			if err != nil {
				t.Fatal(err)
			}
			// Tampered: content changed after signing.
			res := f.receive("t1", msg)
			f.expect(res, msg, "")
			if st, _ := f.status(msg.ID()); st != Accepted {
				t.Fatalf("message stored as %v", st)
			}
			tamperedSrc := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"original"}`)})
			tampered := json.RawMessage(strings.Replace(string(tamperedSrc.JSON()), "original", "changed!", 1))
			// Bad auth: carol, not in the room, sends a message.
			carol := f.remote(event.Builder{Type: "m.room.message", Sender: "@carol:remote.test", Content: []byte(`{"body":"let me in"}`)})

			res = f.receiveRaw("t2", []json.RawMessage{forged.JSON(), tampered, carol.JSON()}, nil)
			f.expect(res, forged, "signature")
			if _, ok := f.status(forged.ID()); ok {
				t.Errorf("forged event stored")
			}
			f.expect(res, tamperedSrc, "")
			if got := mustEvents(t, f.store, []string{tamperedSrc.ID()})[0]; got == nil || string(got.Content()) != "{}" {
				t.Errorf("tampered event stored as %v, want redacted", got)
			}
			f.expect(res, carol, "rejected")
			if st, _ := f.status(carol.ID()); st != Rejected {
				t.Errorf("carol's message stored as %v, want rejected", st)
			}
		})
	}
}

func TestReceiveSoftFail(t *testing.T) {
	for _, v := range pipelineVersions {
		t.Run("v"+v.ID, func(t *testing.T) {
			f := newFixture(t, v)
			ctx := context.Background()
			_, before, extrem, err := currentState(ctx, f.store, f.roomID)
			if err != nil {
				t.Fatal(err)
			}
			// alice bans bob here; bob's server, not knowing it yet,
			// sends a message on the state before the ban.
			ban := f.local(event.Builder{Type: event.TypeMember, StateKey: strp(bob), Sender: alice, Content: []byte(`{"membership":"ban"}`)})
			evade := f.remoteOn(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"still here"}`)}, before, extrem)
			res := f.receive("soft", evade)
			// Soft failure is not reported to the sender.
			f.expect(res, evade, "")
			if st, _ := f.status(evade.ID()); st != SoftFailed {
				t.Fatalf("evading message stored as %v, want soft_failed", st)
			}
			ex, _ := f.store.ForwardExtremities(ctx, f.roomID)
			if len(ex) != 1 || ex[0] != ban.ID() {
				t.Errorf("forward extremities %v, want only the ban", ex)
			}
		})
	}
}

func TestReceiveTransactionLimitsAndDedupe(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	ctx := context.Background()
	msg := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"one"}`)})
	pdus := make([]json.RawMessage, 51)
	for i := range pdus {
		pdus[i] = msg.JSON()
	}
	edus := make([]EDU, 101)
	for i := range edus {
		edus[i] = EDU{Type: "m.presence", Content: json.RawMessage(`{"push":[{"user_id":"@bob:remote.test","presence":"online","last_active_ago":1}]}`)}
	}
	for _, c := range []struct {
		name string
		body any
	}{
		{"51 PDUs", Transaction{Origin: "remote.test", OriginServerTS: 1, PDUs: pdus}},
		{"101 EDUs", Transaction{Origin: "remote.test", OriginServerTS: 1, PDUs: pdus[:1], EDUs: edus}},
		{"not an object", []int{1}},
		{"no pdus", map[string]any{"origin": "remote.test", "origin_server_ts": 1}},
		{"no origin_server_ts", map[string]any{"origin": "remote.test", "pdus": []any{}}},
	} {
		body, _ := json.Marshal(c.body)
		_, err := f.recv.Receive(ctx, "remote.test", "limits-"+c.name, body)
		var me *Error
		if !errors.As(err, &me) || me.Status != http.StatusBadRequest || me.Code != "M_BAD_JSON" {
			t.Errorf("%s: %v, want 400 M_BAD_JSON", c.name, err)
		}
	}
	if _, ok := f.status(msg.ID()); ok {
		t.Errorf("a PDU of a refused transaction was stored")
	}
	// 50 PDUs and 100 EDUs are fine.
	res := f.receiveRaw("fifty", pdus[:50], edus[:100])
	f.expect(res, msg, "")
	if n := len(f.edus.Received()); n != 100 {
		t.Errorf("%d EDUs handed over, want 100", n)
	}

	// A transaction ID is processed once per origin.
	m2 := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"two"}`)})
	first := f.receive("dup", m2)
	m3 := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"three"}`)})
	again := f.receive("dup", m3)
	if fmt.Sprint(first) != fmt.Sprint(again) {
		t.Errorf("repeated transaction answered %v, first %v", again, first)
	}
	if _, ok := f.status(m3.ID()); ok {
		t.Errorf("the repeated transaction was processed again")
	}
	// The same ID from another origin is another transaction.
	body, _ := json.Marshal(Transaction{Origin: "other.test", OriginServerTS: 1, PDUs: []json.RawMessage{m3.JSON()}})
	other, err := f.recv.Receive(ctx, "other.test", "dup", body)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other[m3.ID()]; !ok {
		t.Errorf("transaction dup of other.test was deduplicated with remote.test's")
	}
}

func TestReceiveBadPDUs(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	msg := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"x"}`)})
	var m map[string]any
	json.Unmarshal(msg.JSON(), &m)
	m["depth"] = "deep" // wrong type
	badFormat, _ := json.Marshal(m)
	badID, _ := event.EventID(f.v, badFormat)
	unknownRoom := json.RawMessage(strings.Replace(string(msg.JSON()), f.roomID, "!nowhere:hs.test", 1))
	res := f.receiveRaw("bad", []json.RawMessage{badFormat, unknownRoom, json.RawMessage(`"not an object"`), msg.JSON()}, nil)
	if r := res[badID]; !strings.Contains(r.Error, "invalid event") {
		t.Errorf("badly formatted PDU: %+v", r)
	}
	// A PDU of an unknown room gets an error result under its event ID
	// in each room version (the sender's is among them); the reference
	// server gives it none, which leaves the sender without an answer.
	// A non-object cannot be named and is ignored. The good PDU goes
	// through.
	unknownID, _ := event.EventID(f.v, unknownRoom)
	if r := res[unknownID]; !strings.Contains(r.Error, "unknown room") {
		t.Errorf("PDU of an unknown room: %+v", r)
	}
	for id, r := range res {
		if id != badID && id != msg.ID() && !strings.Contains(r.Error, "unknown room") {
			t.Errorf("unexpected result %s: %+v", id, r)
		}
	}
	f.expect(res, msg, "")
}

func TestReceiveACL(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	f.local(event.Builder{Type: "m.room.server_acl", StateKey: strp(""), Sender: alice, Content: []byte(`{"allow":["*"],"deny":["*.test.evil","remote.test"]}`)})
	msg := f.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"denied"}`)})
	typing, _ := json.Marshal(map[string]any{"room_id": f.roomID, "user_id": bob, "typing": true})
	otherTyping, _ := json.Marshal(map[string]any{"room_id": "!unknown:x", "user_id": bob, "typing": true})
	spoofTyping, _ := json.Marshal(map[string]any{"room_id": "!unknown:x", "user_id": alice, "typing": true})
	receipt, _ := json.Marshal(map[string]any{f.roomID: map[string]any{}, "!unknown:x": map[string]any{}})
	res := f.receiveRaw("acl", []json.RawMessage{msg.JSON()}, []EDU{
		{Type: "m.typing", Content: typing}, {Type: "m.typing", Content: otherTyping}, {Type: "m.typing", Content: spoofTyping}, {Type: "m.receipt", Content: receipt},
	})
	f.expect(res, msg, "ACL")
	if _, ok := f.status(msg.ID()); ok {
		t.Errorf("PDU of a denied server stored")
	}
	got := f.edus.Received()
	if len(got) != 2 || string(got[0].EDU.Content) != string(otherTyping) || strings.Contains(string(got[1].EDU.Content), f.roomID) {
		t.Errorf("EDUs after the ACL: %+v", got)
	}
}

func mustEvents(t *testing.T, store EventStore, ids []string) []*event.Event {
	t.Helper()
	st, err := store.Events(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*event.Event, len(st))
	for i, s := range st {
		out[i] = s.Event
	}
	return out
}

// TestReceiveEDUOrigin: EDUs about users of another server than the origin
// are dropped (presence entries one by one).
func TestReceiveEDUOrigin(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	presence := json.RawMessage(`{"push":[{"user_id":"@bob:remote.test","presence":"online","last_active_ago":1},{"user_id":"@alice:hs.test","presence":"online","last_active_ago":1}]}`)
	f.receiveRaw("edus", []json.RawMessage{}, []EDU{
		{Type: "m.presence", Content: presence},
		{Type: "m.device_list_update", Content: json.RawMessage(`{"user_id":"@alice:hs.test","device_id":"D","stream_id":1}`)},
		{Type: "m.device_list_update", Content: json.RawMessage(`{"user_id":"@bob:remote.test","device_id":"D","stream_id":1}`)},
		{Type: "m.direct_to_device", Content: json.RawMessage(`{"sender":"@bob:remote.test","type":"m.x","message_id":"1","messages":{}}`)},
		{Type: "", Content: json.RawMessage(`{}`)},
	})
	got := f.edus.Received()
	if len(got) != 3 {
		t.Fatalf("EDUs handed over: %+v", got)
	}
	if strings.Contains(string(got[0].EDU.Content), "alice") || !strings.Contains(string(got[0].EDU.Content), "bob") {
		t.Errorf("presence after the origin check: %s", got[0].EDU.Content)
	}
	if !strings.Contains(string(got[1].EDU.Content), "bob") || got[2].EDU.Type != "m.direct_to_device" || got[2].Origin != "remote.test" {
		t.Errorf("EDUs: %+v", got)
	}
}

// FuzzReceive: any transaction body gives results or a 400, never a panic,
// and every result names a PDU of the body.
func FuzzReceive(f *testing.F) {
	fx := newFixture(&testing.T{}, roomversion.V10)
	msg := fx.remote(event.Builder{Type: "m.room.message", Sender: bob, Content: []byte(`{"body":"seed"}`)})
	seeds := []string{
		`{"origin":"remote.test","origin_server_ts":1,"pdus":[` + string(msg.JSON()) + `]}`,
		`{"origin":"remote.test","origin_server_ts":1,"pdus":[{"room_id":"` + fx.roomID + `"}]}`,
		`{"origin":"remote.test","origin_server_ts":1,"pdus":[],"edus":[{"edu_type":"m.typing","content":{"room_id":"` + fx.roomID + `","user_id":"@bob:remote.test"}}]}`,
		`{"pdus":1}`, `[]`, `{`, `{"origin_server_ts":1,"pdus":[1,"x",null,{}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	n := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		n++
		res, err := fx.recv.Receive(context.Background(), "remote.test", fmt.Sprint("fuzz", n), body)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || me.Status != 400 {
				t.Fatalf("error %v, want a 400", err)
			}
			return
		}
		var t2 struct{ PDUs []json.RawMessage }
		json.Unmarshal(body, &t2)
		if len(res) > len(t2.PDUs) {
			t.Fatalf("%d results for %d PDUs", len(res), len(t2.PDUs))
		}
		for id := range res {
			if !strings.HasPrefix(id, "$") {
				t.Fatalf("result for %q, not an event ID", id)
			}
		}
	})
}
