package federation

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

// TestMemoryRoomStore: forward extremities follow accepted events only;
// statuses, state and versions are kept.
func TestMemoryRoomStore(t *testing.T) {
	ctx := context.Background()
	v := roomversion.V10
	key, _ := signing.GenerateKey("1")
	build := func(b event.Builder) *event.Event {
		b.RoomID = "!r:x"
		if b.Content == nil {
			b.Content = []byte(`{}`)
		}
		e, err := b.Build(v, "x", key)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	s := NewMemoryRoomStore()
	if _, err := s.RoomVersion(ctx, "!r:x"); !errors.Is(err, ErrUnknownRoom) {
		t.Fatalf("unknown room: %v", err)
	}
	create := build(event.Builder{Type: event.TypeCreate, StateKey: strp(""), Sender: "@a:x"})
	m1 := build(event.Builder{Type: "m.room.message", Sender: "@a:x", PrevEvents: []*event.Event{create}})
	m2 := build(event.Builder{Type: "m.room.message", Sender: "@a:x", PrevEvents: []*event.Event{create}, Content: []byte(`{"b":1}`)})
	soft := build(event.Builder{Type: "m.room.message", Sender: "@a:x", PrevEvents: []*event.Event{m1, m2}})
	rej := build(event.Builder{Type: "m.room.message", Sender: "@a:x", PrevEvents: []*event.Event{m1}, Content: []byte(`{"r":1}`)})
	out := build(event.Builder{Type: "m.room.topic", StateKey: strp(""), Sender: "@a:x"})
	// A join completing a send_join cites an outlier (the state sent by
	// the resident server): it replaces m1 and m2, which nothing cites.
	rejoin := build(event.Builder{Type: event.TypeMember, StateKey: strp("@a:x"), Sender: "@a:x", PrevEvents: []*event.Event{out}, Content: []byte(`{"membership":"join"}`)})
	after := build(event.Builder{Type: "m.room.message", Sender: "@a:x", PrevEvents: []*event.Event{rejoin}})
	st := stateres.StateMap{{Type: event.TypeCreate}: create.ID()}
	steps := []struct {
		ne    NewEvent
		extre []string
	}{
		{NewEvent{Event: create, Status: Accepted, StateAfter: st}, []string{create.ID()}},
		{NewEvent{Event: m1, Status: Accepted, StateAfter: st}, []string{m1.ID()}},
		{NewEvent{Event: m2, Status: Accepted, StateAfter: st}, []string{m1.ID(), m2.ID()}},
		{NewEvent{Event: soft, Status: SoftFailed, StateAfter: st}, []string{m1.ID(), m2.ID()}},
		{NewEvent{Event: rej, Status: Rejected, StateAfter: st}, []string{m1.ID(), m2.ID()}},
		{NewEvent{Event: out, Status: Outlier}, []string{m1.ID(), m2.ID()}},
		{NewEvent{Event: m1, Status: Rejected}, []string{m1.ID(), m2.ID()}}, // stored once
		{NewEvent{Event: rejoin, Status: Accepted, StateAfter: st, ReplacesExtremities: true}, []string{rejoin.ID()}},
		{NewEvent{Event: after, Status: Accepted, StateAfter: st}, []string{after.ID()}},
	}
	for i, c := range steps {
		if err := s.StoreEvents(ctx, "!r:x", []NewEvent{c.ne}); err != nil {
			t.Fatal(err)
		}
		ex, _ := s.ForwardExtremities(ctx, "!r:x")
		slices.Sort(ex)
		slices.Sort(c.extre)
		if !slices.Equal(ex, c.extre) {
			t.Errorf("step %d: extremities %v, want %v", i, ex, c.extre)
		}
	}
	if got, _ := s.RoomVersion(ctx, "!r:x"); got.ID != v.ID {
		t.Errorf("room version %s", got.ID)
	}
	evs, _ := s.Events(ctx, []string{m1.ID(), rej.ID(), "$none"})
	if evs[0].Event == nil || evs[0].Rejected || !evs[1].Rejected || evs[2].Event != nil {
		t.Errorf("Events: %+v", evs)
	}
	states, _ := s.StateAfter(ctx, []string{m1.ID(), out.ID(), "$none"})
	if states[0] == nil || states[1] != nil || states[2] != nil {
		t.Errorf("StateAfter: %v", states)
	}
	for id, want := range map[string]Status{soft.ID(): SoftFailed, rej.ID(): Rejected, out.ID(): Outlier, m1.ID(): Accepted} {
		if got, _ := s.Status(id); got != want {
			t.Errorf("status of %s: %v, want %v", id, got, want)
		}
	}
	if id, ts, err := s.EventAt(ctx, "!r:x", 0, "f"); err != nil || id == "" || ts == 0 {
		t.Errorf("EventAt: %s %d %v", id, ts, err)
	}
}
