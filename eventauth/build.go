package eventauth

import (
	"fmt"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// Room is what BuildFor needs of a room: its current state, for the auth
// events, and its forward extremities (the events with no successor yet),
// for prev_events and depth.
type Room interface {
	State
	ForwardExtremities() []*event.Event
}

// maxPrevEvents is the limit of the PDU schemas on prev_events.
const maxPrevEvents = 20

// BuildFor builds and signs b as the next event of room. When b has no
// PrevEvents or PrevRefs it follows the room's forward extremities (at most
// 20, the PDU schemas' limit); when b has no AuthEvents or AuthRefs they are
// the auth events selection of content/server-server-api.md, "Auth events
// selection" (Needed), taken from the room's current state. The depth
// follows from the prev events, as in Builder.Build.
//
// The selection needs the event's own type, state key, sender and content,
// so BuildFor builds a draft without auth events first and asks Needed
// about it. It lives here rather than in package event because the
// selection is a rule of this package, which is above event.
func BuildFor(v roomversion.Version, room Room, b event.Builder, server string, key *signing.SigningKey) (*event.Event, error) {
	if len(b.PrevEvents) == 0 && len(b.PrevRefs) == 0 {
		ext := room.ForwardExtremities()
		if len(ext) > maxPrevEvents {
			ext = ext[:maxPrevEvents]
		}
		b.PrevEvents = ext
	}
	if len(b.AuthEvents) == 0 && len(b.AuthRefs) == 0 {
		draft, err := b.Build(v, server, key)
		if err != nil {
			return nil, err
		}
		keys, err := Needed(v, draft)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if ev := room.StateEvent(k.Type, k.StateKey); ev != nil {
				b.AuthEvents = append(b.AuthEvents, ev)
			}
		}
	}
	return b.Build(v, server, key)
}

// MemoryRoom is a Room held in memory with a linear history: each event
// added becomes the only forward extremity. It is enough to build a room
// offline, one event after another.
type MemoryRoom struct {
	v           roomversion.Version
	state       map[StateKey]*event.Event
	extremities []*event.Event
}

// NewMemoryRoom returns an empty room of room version v.
func NewMemoryRoom(v roomversion.Version) *MemoryRoom {
	return &MemoryRoom{v: v, state: map[StateKey]*event.Event{}}
}

// StateEvent implements State with the room's current state.
func (r *MemoryRoom) StateEvent(typ, stateKey string) *event.Event {
	return r.state[StateKey{typ, stateKey}]
}

// ForwardExtremities implements Room.
func (r *MemoryRoom) ForwardExtremities() []*event.Event { return r.extremities }

// RoomID is the room's ID, known once the create event is added.
func (r *MemoryRoom) RoomID() string {
	if c := r.StateEvent("m.room.create", ""); c != nil {
		return c.RoomID()
	}
	return ""
}

// Add makes ev the room's only forward extremity and, for a state event,
// part of its current state. It does not check ev; Build does.
func (r *MemoryRoom) Add(ev *event.Event) {
	r.extremities = []*event.Event{ev}
	if sk, ok := ev.StateKey(); ok {
		r.state[StateKey{ev.Type(), sk}] = ev
	}
}

// Build builds b with BuildFor, filling in the room ID, checks it against
// the room's current state with Allowed, and adds it. An event the rules
// refuse is returned with the error and not added.
func (r *MemoryRoom) Build(b event.Builder, server string, key *signing.SigningKey) (*event.Event, error) {
	if b.RoomID == "" {
		b.RoomID = r.RoomID()
	}
	ev, err := BuildFor(r.v, r, b, server, key)
	if err != nil {
		return nil, err
	}
	if err := Allowed(r.v, ev, r); err != nil {
		return ev, fmt.Errorf("eventauth: built event not allowed: %w", err)
	}
	r.Add(ev)
	return ev, nil
}
