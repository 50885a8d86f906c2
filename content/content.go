// Package content holds typed contents for the events and EDUs of the
// Matrix specification (content/client-server-api/_index.md, "Events",
// "Room events" and "Messaging"; the modules of content/client-server-api/
// for reactions, relations, threads, replies, edits, pinned events, room
// upgrades, server ACLs, guest access, typing, receipts, presence, spaces
// (m.space.child, m.space.parent), stickers and the m.room.encrypted
// envelope; the schemas of data/event-schemas/schema/).
//
// Each type is a plain struct whose JSON is the content object of its event
// type, and whose EventType method names that type. Read one from a parsed
// event with Parse, which decodes Event.Content and leaves the event, and
// its raw bytes, untouched:
//
//	msg, err := content.Parse[content.Message](ev)
//
// Build an event from one with NewBuilder, which fills event.Builder's
// Type, StateKey and Content.
//
// Unknown fields are kept: every struct has an Extra map that decoding
// fills with the members it does not name (custom keys of clients, such
// as namespaced fields in m.room.message, or fields of later spec
// versions) and that encoding writes back after the named fields, so a
// decode then encode loses nothing. A key that encoding/json reads into a
// named field, which it matches without regard to case, is that field,
// not an extra one. Still, what is signed and hashed is the event's raw
// content, which Parse never changes: a server relaying an event relays
// its bytes, not a re-encoded struct.
//
// Power levels are kept as the JSON numbers they were written as (Level),
// not truncated to an integer type: room versions 1 to 9 accept levels as
// strings and room versions 1 to 5 numbers of any size. The authorization
// rules' reading of them (defaults, the creators' infinite level of room
// version 12, exact comparison) is eventauth.PowerLevels; Level.Int64 here
// is for display and for building events.
package content

import (
	"encoding/json"
	"fmt"

	"github.com/mxkit/mxkit/event"
)

// Content is the content of an event type.
type Content interface {
	// EventType is the event type whose content this is.
	EventType() string
}

// Parse decodes the content of ev as a T. It is an error for ev's type
// not to be T's event type, so that a handler cannot mistake one event for
// another.
func Parse[T Content](ev *event.Event) (T, error) {
	var c T
	if ev.Type() != c.EventType() {
		return c, fmt.Errorf("content: event %s has type %q, not %q", ev.ID(), ev.Type(), c.EventType())
	}
	err := json.Unmarshal(ev.Content(), &c)
	if err != nil {
		return c, fmt.Errorf("content: %s content: %w", c.EventType(), err)
	}
	return c, nil
}

// NewBuilder returns a builder of an event with content c from sender.
// A non-nil stateKey makes a state event. The caller adds the room, the
// prev and auth events (or uses eventauth.BuildFor) and builds it.
func NewBuilder(c Content, sender string, stateKey *string) (event.Builder, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return event.Builder{}, fmt.Errorf("content: %s: %w", c.EventType(), err)
	}
	b := event.Builder{Type: c.EventType(), StateKey: stateKey, Sender: sender, Content: raw}
	switch r := c.(type) {
	case Redaction:
		b.Redacts = r.Redacts
	case *Redaction:
		b.Redacts = r.Redacts
	}
	return b, nil
}

// StateKey returns a pointer to k, for NewBuilder.
func StateKey(k string) *string { return &k }
