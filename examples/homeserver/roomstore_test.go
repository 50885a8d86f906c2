package main

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

// TestStoreForkAndStatuses drives the storage layer the way the
// federation receive pipeline does: two concurrent state events on one
// prev event (a fork), a rejected event and an outlier; and checks the
// forward extremities, the resolved current state, what the timeline
// shows, and that all of it is still there after the database is reopened.
func TestStoreForkAndStatuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "hs.db")
	db, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := signing.GenerateKey("t")
	if err != nil {
		t.Fatal(err)
	}
	rooms := newRooms("a.test", key, db, discardLog())
	v := roomversion.V11
	alice, bob := "@alice:a.test", "@bob:a.test"
	str := func(s string) *string { return &s }
	roomID, err := rooms.CreateRoom(ctx, v, alice, []byte(`{"creator":"@alice:a.test","room_version":"11"}`), []Local{
		{Sender: alice, Type: "m.room.member", StateKey: str(alice), Content: []byte(`{"membership":"join"}`)},
		{Sender: alice, Type: "m.room.power_levels", StateKey: str(""), Content: []byte(`{"users":{"@alice:a.test":100,"@bob:a.test":50}}`)},
		{Sender: alice, Type: "m.room.join_rules", StateKey: str(""), Content: []byte(`{"join_rule":"public"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	joinB, err := rooms.Send(ctx, Local{RoomID: roomID, Sender: bob, Type: "m.room.member", StateKey: str(bob), Content: []byte(`{"membership":"join"}`)})
	if err != nil {
		t.Fatal(err)
	}
	base, err := rooms.CurrentState(ctx, roomID)
	if err != nil {
		t.Fatal(err)
	}
	baseStream := rooms.notify.pos

	// Two topics built on the same prev event and the same state.
	view := &stateView{ctx: ctx, r: rooms, ids: base}
	auth := func(sender string) []*event.Event {
		return []*event.Event{view.StateEvent("m.room.create", ""), view.StateEvent("m.room.power_levels", ""), view.StateEvent("m.room.member", sender)}
	}
	build := func(sender, typ, content string) *event.Event {
		b := &event.Builder{Type: typ, StateKey: str(""), Sender: sender, RoomID: roomID, Content: []byte(content),
			PrevEvents: []*event.Event{joinB}, AuthEvents: auth(sender)}
		ev, err := b.Build(v, "a.test", key)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	topicA := build(alice, "m.room.topic", `{"topic":"a"}`)
	topicB := build(bob, "m.room.topic", `{"topic":"b"}`)
	after := func(ev *event.Event) stateres.StateMap {
		m := maps.Clone(base)
		m[stateKey{Type: ev.Type()}] = ev.ID()
		return m
	}
	rejected := build(bob, "m.room.name", `{"name":"rejected"}`)
	outlier := build(alice, "m.room.name", `{"name":"outlier"}`)
	err = rooms.StoreEvents(ctx, roomID, []federation.NewEvent{
		{Event: topicA, Status: federation.Accepted, StateAfter: after(topicA)},
		{Event: topicB, Status: federation.Accepted, StateAfter: after(topicB)},
		{Event: rejected, Status: federation.Rejected, StateAfter: base},
		{Event: outlier, Status: federation.Outlier},
	})
	if err != nil {
		t.Fatal(err)
	}

	want, err := stateres.Resolve(ctx, v, []stateres.StateMap{after(topicA), after(topicB)}, rooms, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(rooms *Rooms) {
		t.Helper()
		ext, err := rooms.ForwardExtremities(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		if wantExt := sortStrings([]string{topicA.ID(), topicB.ID()}); !slices.Equal(sortStrings(ext), wantExt) {
			t.Fatalf("forward extremities %v, want the two topics %v", ext, wantExt)
		}
		cur, err := rooms.CurrentState(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(cur, want) {
			t.Fatalf("current state %v, want the resolution %v", cur, want)
		}
		st, err := rooms.Events(ctx, []string{rejected.ID(), outlier.ID(), topicA.ID()})
		if err != nil {
			t.Fatal(err)
		}
		if !st[0].Rejected || st[1].Rejected || st[2].Rejected || st[1].Event == nil {
			t.Fatalf("stored statuses: rejected %v, outlier %v/%v, topic %v", st[0].Rejected, st[1].Rejected, st[1].Event != nil, st[2].Rejected)
		}
		sa, err := rooms.StateAfter(ctx, []string{outlier.ID(), topicB.ID()})
		if err != nil {
			t.Fatal(err)
		}
		if sa[0] != nil || !maps.Equal(sa[1], after(topicB)) {
			t.Fatalf("state after: outlier %v (want nil), topic b %v", sa[0], sa[1])
		}
		// The timeline shows the accepted events only.
		c := &Client{name: "a.test", rooms: rooms, db: rooms.db, log: discardLog()}
		tl, _, err := c.timeline(ctx, roomID, baseStream, 1<<62, 10, false)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, se := range tl {
			ids = append(ids, se.Event.ID())
		}
		if !slices.Equal(ids, []string{topicA.ID(), topicB.ID()}) {
			t.Fatalf("timeline %v, want the two topics", ids)
		}
	}
	check(rooms)

	// Storing again is a no-op.
	if err := rooms.StoreEvents(ctx, roomID, []federation.NewEvent{{Event: topicA, Status: federation.Accepted, StateAfter: after(topicA)}}); err != nil {
		t.Fatal(err)
	}
	check(rooms)

	// A new local event merges the fork.
	msg, err := rooms.Send(ctx, Local{RoomID: roomID, Sender: alice, Type: "m.room.message", Content: []byte(`{"body":"merge","msgtype":"m.text"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := sortStrings(slices.Clone(msg.PrevEventIDs())); !slices.Equal(got, sortStrings([]string{topicA.ID(), topicB.ID()})) {
		t.Fatalf("merge prev events %v", got)
	}
	ext, _ := rooms.ForwardExtremities(ctx, roomID)
	if !slices.Equal(ext, []string{msg.ID()}) {
		t.Fatalf("extremities after the merge %v", ext)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Everything is in the file.
	db2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	rooms2 := newRooms("a.test", key, db2, discardLog())
	cur, err := rooms2.CurrentState(ctx, roomID)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(cur, want) {
		t.Fatalf("current state after reopening %v, want %v", cur, want)
	}
	ext, _ = rooms2.ForwardExtremities(ctx, roomID)
	if !slices.Equal(ext, []string{msg.ID()}) {
		t.Fatalf("extremities after reopening %v", ext)
	}
}
