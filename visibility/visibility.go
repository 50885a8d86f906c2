// Package visibility implements the history visibility rules of Matrix
// rooms: whether a user, or a server, may see an event of a room, from the
// room state at that event.
//
// The rules are those of the client-server API, "Room History Visibility"
// (content/client-server-api/modules/history_visibility.md), section
// "Server behaviour":
//
//  1. If the history_visibility was set to world_readable, allow.
//  2. If the user's membership was join, allow.
//  3. If history_visibility was set to shared, and the user joined the room
//     at any point after the event was sent, allow.
//  4. If the user's membership was invite, and the history_visibility was
//     set to invited, allow.
//  5. Otherwise, deny.
//
// "Was" is the state of the room at the event. By default, when the state
// has no m.room.history_visibility event or its value is not understood,
// the visibility is shared. For m.room.history_visibility events
// themselves, and for the user's own m.room.member events, the user may see
// the event if the state before or after it would let them.
//
// One rule is the reference server's, beyond the specification's text: a
// user may always see their own leave after an invite or a join. Without
// it a rejected or withdrawn invite is invisible to the invitee under the
// joined and shared settings (neither "invite" before nor "leave" after
// passes the five steps), and the invite never leaves their clients.
//
// The server-server API names no rule of its own; its endpoints that serve
// events (content/server-server-api.md, "Backfilling and retrieving missing
// events", "Retrieving events") serve the history of a room to the servers
// of its users. A server may see an event if any of its users may
// (UserMaySee for each), which is the rule the reference server applies to
// /event, /backfill and /get_missing_events: world_readable and shared
// events are visible to a server in the room, invited events to a server
// with a member invited or joined at the event, joined events to a server
// with a member joined at the event.
//
// The package is pure: the caller reads the state (State, FromState) and
// says whether the user joined later (an input the state at the event
// cannot give). It imports only event and eventauth (and an internal JSON
// reader).
package visibility

import (
	"strings"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/internal/jsonraw"
)

// Visibility is a value of content.history_visibility of an
// m.room.history_visibility event.
type Visibility string

// The four values of the specification.
const (
	WorldReadable Visibility = "world_readable"
	Shared        Visibility = "shared"
	Invited       Visibility = "invited"
	Joined        Visibility = "joined"
)

// TypeHistoryVisibility is the event type of the setting (its state key is "").
const TypeHistoryVisibility = "m.room.history_visibility"

// Known reports whether v is one of the four values of the specification.
func (v Visibility) Known() bool {
	switch v {
	case WorldReadable, Shared, Invited, Joined:
		return true
	}
	return false
}

// effective is v, or Shared when v is not understood (the specification's
// default).
func (v Visibility) effective() Visibility {
	if v.Known() {
		return v
	}
	return Shared
}

// Parse returns the visibility an m.room.history_visibility content sets:
// its history_visibility string, or Shared when it is absent, not a string,
// not a known value, or the content is not a JSON object.
func Parse(content []byte) Visibility {
	raw, ok := jsonraw.Field(content, "history_visibility")
	if !ok {
		return Shared
	}
	for _, v := range [...]Visibility{WorldReadable, Shared, Invited, Joined} {
		if jsonraw.StringIs(raw, string(v)) {
			return v
		}
	}
	return Shared
}

// Of returns the visibility an m.room.history_visibility event sets, and
// Shared for nil (a state without the event) or any other event.
func Of(ev *event.Event) Visibility {
	if ev == nil || ev.Type() != TypeHistoryVisibility {
		return Shared
	}
	if sk, _ := ev.StateKey(); sk != "" {
		return Shared
	}
	return Parse(ev.Content())
}

// State is what the rules read from the room state at one point of the
// room: the history visibility and the memberships of the users a check is
// about.
type State struct {
	// Visibility is the history visibility; a value that is not known
	// (including "") counts as Shared.
	Visibility Visibility
	// Members are the memberships of the users the check is about. A
	// user absent has no member event.
	Members []Member
}

// Member is a user's membership ("join", "invite", "leave", "ban",
// "knock") in a State.
type Member struct {
	UserID, Membership string
}

// membership returns the membership of userID in s, "" when it has none.
func (s State) membership(userID string) string {
	for _, m := range s.Members {
		if m.UserID == userID {
			return m.Membership
		}
	}
	return ""
}

// FromState reads a State from room state for the given users: the
// m.room.history_visibility event and each user's m.room.member event.
func FromState(st eventauth.State, users ...string) State {
	s := State{Visibility: Of(st.StateEvent(TypeHistoryVisibility, ""))}
	for _, u := range users {
		if m := st.StateEvent(event.TypeMember, u); m != nil {
			if s.Members == nil {
				s.Members = make([]Member, 0, len(users))
			}
			s.Members = append(s.Members, Member{UserID: u, Membership: m.Membership()})
		}
	}
	return s
}

// At is the room state around one event: before it and after it. They
// differ only in the event's own state key, so for an event that is neither
// an m.room.history_visibility event nor a member event of the user (or of
// one of the server's users) a check reads only After, and a caller may
// pass the same State for both (see NeedsBefore).
type At struct {
	Before, After State
}

// allowed is the five steps of "Server behaviour" for one user at one point.
func allowed(v Visibility, membership string, joinedLater bool) bool {
	v = v.effective()
	switch {
	case v == WorldReadable: // 1
		return true
	case membership == "join": // 2
		return true
	case v == Shared && joinedLater: // 3
		return true
	case membership == "invite" && v == Invited: // 4
		return true
	}
	return false // 5
}

// UserMaySee reports whether userID may see ev, from the state at ev.
// joinedLater says whether the user joined the room at some point after ev
// (the caller knows it from the room's later state: typically, the user is
// joined now).
func UserMaySee(ev *event.Event, userID string, at At, joinedLater bool) bool {
	if allowed(at.After.Visibility, at.After.membership(userID), joinedLater) {
		return true
	}
	if isMemberOf(ev, userID) && at.After.membership(userID) == "leave" {
		// The reference server always lets users see their own leave
		// after an invite or a join, whatever the visibility: otherwise a
		// rejected or withdrawn invite never leaves their clients' room
		// lists (under "shared", neither the invite before nor the leave
		// after allows it by the five steps alone).
		if b := at.Before.membership(userID); b == "invite" || b == "join" {
			return true
		}
	}
	return userNeedsBefore(ev, userID) &&
		allowed(at.Before.Visibility, at.Before.membership(userID), joinedLater)
}

// ServerMaySee reports whether the server serverName may see ev, from the
// state at ev: whether any of its users may. The State's Members need only
// hold the server's users. inRoomLater says whether a user of the server
// joined the room after ev (for a server asking over federation: whether
// it is in the room now).
func ServerMaySee(ev *event.Event, serverName string, at At, inRoomLater bool) bool {
	if serverAllowed(at.After, serverName, inRoomLater) {
		return true
	}
	return serverNeedsBefore(ev, serverName) && serverAllowed(at.Before, serverName, inRoomLater)
}

// serverAllowed reports whether a user of serverName may see an event with
// st at it. A user without a member event may see what rules 1 and 3 allow.
func serverAllowed(st State, serverName string, inRoomLater bool) bool {
	if allowed(st.Visibility, "", inRoomLater) {
		return true
	}
	for _, m := range st.Members {
		if ServerOf(m.UserID) == serverName && allowed(st.Visibility, m.Membership, inRoomLater) {
			return true
		}
	}
	return false
}

// NeedsBefore reports whether a check of ev for the given users reads the
// state before ev as well as the state after it: ev is an
// m.room.history_visibility event, or the member event of one of users.
func NeedsBefore(ev *event.Event, users ...string) bool {
	if isVisibilityEvent(ev) {
		return true
	}
	for _, u := range users {
		if isMemberOf(ev, u) {
			return true
		}
	}
	return false
}

func userNeedsBefore(ev *event.Event, userID string) bool {
	return isVisibilityEvent(ev) || isMemberOf(ev, userID)
}

// ServerNeedsBefore is NeedsBefore for a check about a server: ev is an
// m.room.history_visibility event or the member event of one of its users.
func ServerNeedsBefore(ev *event.Event, serverName string) bool {
	return serverNeedsBefore(ev, serverName)
}

func serverNeedsBefore(ev *event.Event, serverName string) bool {
	if isVisibilityEvent(ev) {
		return true
	}
	if ev.Type() != event.TypeMember {
		return false
	}
	sk, _ := ev.StateKey()
	return ServerOf(sk) == serverName
}

func isVisibilityEvent(ev *event.Event) bool {
	sk, ok := ev.StateKey()
	return ok && sk == "" && ev.Type() == TypeHistoryVisibility
}

func isMemberOf(ev *event.Event, userID string) bool {
	sk, ok := ev.StateKey()
	return ok && sk == userID && ev.Type() == event.TypeMember
}

// ServerOf returns the server name of a user ID "@local:server" (everything
// after the first colon), or "" when there is none.
func ServerOf(userID string) string {
	_, server, ok := strings.Cut(userID, ":")
	if !ok {
		return ""
	}
	return server
}
