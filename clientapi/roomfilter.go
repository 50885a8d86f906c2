package clientapi

import (
	"encoding/json"
	"strings"

	"github.com/mxkit/mxkit/internal/jsonraw"
)

// RoomEventFilter is a parsed RoomEventFilter (client-server API,
// "Filtering"; data/api/client-server/definitions/room_event_filter.yaml):
// what GET /messages, /context and the room parts of a sync filter pass
// to a backend as raw JSON, ready to apply. A nil list means the key was
// absent (no restriction); an empty list restricts to nothing.
type RoomEventFilter struct {
	Limit                     int
	Types, NotTypes           []string
	Senders, NotSenders       []string
	Rooms, NotRooms           []string
	ContainsURL               *bool
	LazyLoadMembers           bool
	IncludeRedundantMembers   bool
	UnreadThreadNotifications bool
}

// ParseRoomEventFilter reads a RoomEventFilter; nil or empty raw is the
// filter that keeps everything. A filter of the wrong shape is 400
// M_BAD_JSON (ValidateRoomEventFilter).
func ParseRoomEventFilter(raw json.RawMessage) (*RoomEventFilter, error) {
	f := &RoomEventFilter{}
	if len(raw) == 0 || string(raw) == "null" {
		return f, nil
	}
	var t roomEventFilterTypes
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, BadJSON("filter: " + err.Error())
	}
	if t.Limit != nil {
		f.Limit = *t.Limit
	}
	f.Types, f.NotTypes, f.Senders, f.NotSenders = t.Types, t.NotTypes, t.Senders, t.NotSenders
	f.Rooms, f.NotRooms, f.ContainsURL = t.Rooms, t.NotRooms, t.ContainsURL
	f.LazyLoadMembers = t.LazyLoadMembers != nil && *t.LazyLoadMembers
	f.IncludeRedundantMembers = t.IncludeRedundantMembers != nil && *t.IncludeRedundantMembers
	f.UnreadThreadNotifications = t.UnreadThreadNotifications != nil && *t.UnreadThreadNotifications
	return f, nil
}

// Matches reports whether an event passes the filter: its type in types
// (where "*" stands for any run of characters) and not in not_types, its
// sender and room likewise (exact), and, when contains_url is set, its
// content having a "url" key or not. The not_ lists win over the others.
func (f *RoomEventFilter) Matches(roomID, sender, typ string, content json.RawMessage) bool {
	if f == nil {
		return true
	}
	if !allowed(f.Types, f.NotTypes, typ, globMatch) || !allowed(f.Senders, f.NotSenders, sender, exact) ||
		!allowed(f.Rooms, f.NotRooms, roomID, exact) {
		return false
	}
	if f.ContainsURL != nil {
		if _, has := jsonraw.Field(content, "url"); has != *f.ContainsURL {
			return false
		}
	}
	return true
}

func exact(pattern, s string) bool { return pattern == s }

func allowed(include, exclude []string, s string, match func(pattern, s string) bool) bool {
	for _, p := range exclude {
		if match(p, s) {
			return false
		}
	}
	if include == nil {
		return true
	}
	for _, p := range include {
		if match(p, s) {
			return true
		}
	}
	return false
}

// globMatch matches s against a pattern whose only special character is
// "*", any run of characters (the filter's types; unlike path.Match, "?"
// and "[" are literal, as event types may hold them).
func globMatch(pattern, s string) bool {
	first, rest, wild := strings.Cut(pattern, "*")
	if !wild {
		return pattern == s
	}
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	for {
		part, more, ok := strings.Cut(rest, "*")
		if !ok { // the last part: a suffix
			return len(s) >= len(rest) && strings.HasSuffix(s, rest)
		}
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s, rest = s[i+len(part):], more
	}
}
