package appservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// SenderUserID is the user ID of the application service's own user on the
// homeserver serverName: "@" + sender_localpart + ":" + serverName.
func (r *Registration) SenderUserID(serverName string) string {
	return "@" + r.SenderLocalpart + ":" + serverName
}

// UserInNamespace reports whether userID matches one of the users
// namespaces (the regular expressions only: see Registry.InterestedInUser
// for the sender and the local-users rule).
func (r *Registration) UserInNamespace(userID string) bool {
	return firstMatch(r.Namespaces.Users, userID) != nil
}

// AliasInNamespace reports whether a room alias matches one of the aliases
// namespaces.
func (r *Registration) AliasInNamespace(alias string) bool {
	return firstMatch(r.Namespaces.Aliases, alias) != nil
}

// RoomInNamespace reports whether a room ID matches one of the rooms
// namespaces.
func (r *Registration) RoomInNamespace(roomID string) bool {
	return firstMatch(r.Namespaces.Rooms, roomID) != nil
}

// ExclusiveUser reports whether userID matches a users namespace marked
// exclusive. A string matched by an exclusive and a non-exclusive namespace
// is exclusive: the specification says an exclusive namespace keeps others
// out of everything in it. (Synapse looks only at the first namespace that
// matches, so there the order of the entries decides.)
func (r *Registration) ExclusiveUser(userID string) bool {
	return anyExclusive(r.Namespaces.Users, userID)
}

// ExclusiveAlias is ExclusiveUser for room aliases.
func (r *Registration) ExclusiveAlias(alias string) bool {
	return anyExclusive(r.Namespaces.Aliases, alias)
}

// ExclusiveRoom is ExclusiveUser for room IDs.
func (r *Registration) ExclusiveRoom(roomID string) bool {
	return anyExclusive(r.Namespaces.Rooms, roomID)
}

// ProvidesProtocol reports whether the registration lists protocol.
func (r *Registration) ProvidesProtocol(protocol string) bool {
	for _, p := range r.Protocols {
		if p == protocol {
			return true
		}
	}
	return false
}

func firstMatch(list []Namespace, s string) *Namespace {
	for i := range list {
		if list[i].Matches(s) {
			return &list[i]
		}
	}
	return nil
}

func anyExclusive(list []Namespace, s string) bool {
	for i := range list {
		if list[i].Exclusive && list[i].Matches(s) {
			return true
		}
	}
	return false
}

// ErrDuplicate is matched (errors.Is) by a *DuplicateError.
var ErrDuplicate = errors.New("duplicate in application service registrations")

// DuplicateError reports two registrations of one Registry that share a
// value that must be unique. Field is "id", "as_token", "hs_token",
// "as_token/hs_token" (one's as_token is the other's hs_token) or
// "sender_localpart"; First and Second are the IDs of the registrations (the
// tokens themselves are never put in an error).
type DuplicateError struct {
	Field         string
	First, Second string
}

func (e *DuplicateError) Error() string {
	if e.Field == "id" {
		return fmt.Sprintf("appservice registrations: two registrations have the id %q", e.First)
	}
	return fmt.Sprintf("appservice registrations: %q and %q share the same %s", e.First, e.Second, e.Field)
}

// Is reports whether target is ErrDuplicate or ErrInvalidRegistration.
func (e *DuplicateError) Is(target error) bool {
	return target == ErrDuplicate || target == ErrInvalidRegistration
}

// Registry is the set of application services registered with one
// homeserver. It validates the group: the specification requires id and
// as_token to be unique ("The homeserver MUST enforce this"); a Registry
// also refuses a repeated hs_token, a token used as one service's as_token
// and another's hs_token (the homeserver sends hs_token to the service, so
// that service would learn the other's as_token and could act as it), and a
// repeated sender_localpart (two services would own one user). Synapse
// checks only id and as_token.
//
// A Registry is immutable and safe for concurrent use.
type Registry struct {
	serverName string
	services   []*Registration
	byID       map[string]*Registration
	byASToken  map[string]*Registration
}

// NewRegistry validates each registration (Registration.Validate) and the
// group, for the homeserver serverName. The first problem is returned: a
// *RegistrationError (wrapped with the registration's id) or a
// *DuplicateError.
func NewRegistry(serverName string, regs ...*Registration) (*Registry, error) {
	r := &Registry{
		serverName: serverName,
		byID:       make(map[string]*Registration, len(regs)),
		byASToken:  make(map[string]*Registration, len(regs)),
	}
	hsTokens := make(map[string]*Registration, len(regs))
	senders := make(map[string]*Registration, len(regs))
	for i, reg := range regs {
		if reg == nil {
			return nil, &RegistrationError{Field: fmt.Sprintf("registration %d", i), Msg: "is nil"}
		}
		if err := reg.Validate(); err != nil {
			return nil, fmt.Errorf("registration %q: %w", reg.ID, err)
		}
		if o := r.byID[reg.ID]; o != nil {
			return nil, &DuplicateError{Field: "id", First: o.ID, Second: reg.ID}
		}
		if o := r.byASToken[reg.ASToken]; o != nil {
			return nil, &DuplicateError{Field: "as_token", First: o.ID, Second: reg.ID}
		}
		if o := hsTokens[reg.HSToken]; o != nil {
			return nil, &DuplicateError{Field: "hs_token", First: o.ID, Second: reg.ID}
		}
		if o := hsTokens[reg.ASToken]; o != nil {
			return nil, &DuplicateError{Field: "as_token/hs_token", First: o.ID, Second: reg.ID}
		}
		if o := r.byASToken[reg.HSToken]; o != nil {
			return nil, &DuplicateError{Field: "as_token/hs_token", First: o.ID, Second: reg.ID}
		}
		if o := senders[reg.SenderLocalpart]; o != nil {
			return nil, &DuplicateError{Field: "sender_localpart", First: o.ID, Second: reg.ID}
		}
		r.byID[reg.ID] = reg
		r.byASToken[reg.ASToken] = reg
		hsTokens[reg.HSToken] = reg
		senders[reg.SenderLocalpart] = reg
		r.services = append(r.services, reg)
	}
	return r, nil
}

// LoadRegistry reads and parses registration files (ParseRegistration)
// and makes a Registry of them, as a homeserver does at start-up. An error
// names the file.
func LoadRegistry(serverName string, paths ...string) (*Registry, error) {
	regs := make([]*Registration, 0, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		reg, err := ParseRegistration(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		regs = append(regs, reg)
	}
	return NewRegistry(serverName, regs...)
}

// ServerName is the homeserver's name.
func (r *Registry) ServerName() string { return r.serverName }

// Services returns the registrations in the order given to NewRegistry.
func (r *Registry) Services() []*Registration {
	return append([]*Registration(nil), r.services...)
}

// ByID returns the registration with the given id, or nil.
func (r *Registry) ByID(id string) *Registration { return r.byID[id] }

// ByASToken returns the registration whose as_token is token, or nil.
func (r *Registry) ByASToken(token string) *Registration {
	if token == "" {
		return nil
	}
	return r.byASToken[token]
}

// IsLocal reports whether a user ID or alias belongs to this homeserver
// (its server name, the part after the first colon, equals ServerName).
func (r *Registry) IsLocal(id string) bool {
	i := strings.IndexByte(id, ':')
	return i >= 0 && id[i+1:] == r.serverName
}

// InterestedInUser reports whether reg is interested in userID: a local
// user that is reg's sender or matches a users namespace. Only local users
// count ("application services can only register interest in local users",
// content/application-service-api.md, "Registration"); Synapse checks the
// sender of an event against the regex without the local test, but a
// sensible regex names the server anyway.
func (r *Registry) InterestedInUser(reg *Registration, userID string) bool {
	if !r.IsLocal(userID) {
		return false
	}
	return r.isSender(reg, userID) || reg.UserInNamespace(userID)
}

// isSender reports whether userID is reg's sender user, without building
// the ID (the interest test runs it for every member of a room).
func (r *Registry) isSender(reg *Registration, userID string) bool {
	lp := reg.SenderLocalpart
	return len(userID) == len(lp)+len(r.serverName)+2 && userID[0] == '@' &&
		userID[1:1+len(lp)] == lp && userID[1+len(lp)] == ':' && userID[2+len(lp):] == r.serverName
}

// ExclusiveUserOwner returns the application service that claims userID
// exclusively (an exclusive users namespace, or its sender user), or nil.
// Registration of that user by anyone else gets M_EXCLUSIVE.
func (r *Registry) ExclusiveUserOwner(userID string) *Registration {
	for _, reg := range r.services {
		if r.isSender(reg, userID) {
			return reg
		}
		if reg.ExclusiveUser(userID) {
			return reg
		}
	}
	return nil
}

// ExclusiveAliasOwner returns the application service that claims a room
// alias exclusively, or nil.
func (r *Registry) ExclusiveAliasOwner(alias string) *Registration {
	for _, reg := range r.services {
		if reg.ExclusiveAlias(alias) {
			return reg
		}
	}
	return nil
}

// ExclusiveRoomOwner returns the application service that claims a room ID
// exclusively, or nil.
func (r *Registry) ExclusiveRoomOwner(roomID string) *Registration {
	for _, reg := range r.services {
		if reg.ExclusiveRoom(roomID) {
			return reg
		}
	}
	return nil
}

// Event is what the interest test reads of an event. *event.Event has
// these methods.
type Event interface {
	Sender() string
	Type() string
	StateKey() (string, bool)
	RoomID() string
}

// Rooms answers the room questions of the interest test; the homeserver
// implements it over its storage. MemoryRooms is an in-memory one.
type Rooms interface {
	// RoomAliases returns the aliases that point to the room.
	RoomAliases(ctx context.Context, roomID string) ([]string, error)
	// JoinedLocalMembers returns the local users joined to the room.
	JoinedLocalMembers(ctx context.Context, roomID string) ([]string, error)
}

// Interested reports whether reg is interested in ev
// (content/application-service-api.md, "Registration", and the namespace
// descriptions of registration.yaml), testing in Synapse's order, cheapest
// first:
//
//  1. the sender is a user reg is interested in (InterestedInUser);
//  2. for an m.room.member event, its state_key is;
//  3. the room ID matches a rooms namespace;
//  4. an alias of the room matches an aliases namespace;
//  5. a local user joined to the room is one reg is interested in.
//
// rooms is consulted only for 4 and 5, and may be nil if the caller has no
// room data (then only 1 to 3 are tested).
func (r *Registry) Interested(ctx context.Context, reg *Registration, ev Event, rooms Rooms) (bool, error) {
	if r.InterestedInUser(reg, ev.Sender()) {
		return true, nil
	}
	if ev.Type() == "m.room.member" {
		if sk, ok := ev.StateKey(); ok && r.InterestedInUser(reg, sk) {
			return true, nil
		}
	}
	return r.InterestedInRoom(ctx, reg, ev.RoomID(), rooms)
}

// InterestedInRoom is the room part of Interested (steps 3 to 5); used
// also for typing notifications and receipts, which go to a service
// interested in their room.
func (r *Registry) InterestedInRoom(ctx context.Context, reg *Registration, roomID string, rooms Rooms) (bool, error) {
	if reg.RoomInNamespace(roomID) {
		return true, nil
	}
	if rooms == nil {
		return false, nil
	}
	if len(reg.Namespaces.Aliases) > 0 {
		aliases, err := rooms.RoomAliases(ctx, roomID)
		if err != nil {
			return false, err
		}
		for _, a := range aliases {
			if reg.AliasInNamespace(a) {
				return true, nil
			}
		}
	}
	members, err := rooms.JoinedLocalMembers(ctx, roomID)
	if err != nil {
		return false, err
	}
	for _, m := range members {
		if r.InterestedInUser(reg, m) {
			return true, nil
		}
	}
	return false, nil
}

// InterestedServices returns the registrations interested in ev, in
// registry order.
func (r *Registry) InterestedServices(ctx context.Context, ev Event, rooms Rooms) ([]*Registration, error) {
	var out []*Registration
	for _, reg := range r.services {
		ok, err := r.Interested(ctx, reg, ev, rooms)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, reg)
		}
	}
	return out, nil
}

// MemoryRooms is an in-memory Rooms, for tests and examples.
type MemoryRooms struct {
	Aliases map[string][]string // room ID -> aliases
	Members map[string][]string // room ID -> joined local users
}

// RoomAliases implements Rooms.
func (m *MemoryRooms) RoomAliases(_ context.Context, roomID string) ([]string, error) {
	return m.Aliases[roomID], nil
}

// JoinedLocalMembers implements Rooms.
func (m *MemoryRooms) JoinedLocalMembers(_ context.Context, roomID string) ([]string, error) {
	return m.Members[roomID], nil
}

// FilterReceipt prepares an m.receipt ephemeral event (the client format
// with room_id) for reg: private read receipts (m.read.private) are kept
// only for users reg is interested in; normal and threaded read receipts
// are kept for everyone (content/application-service-api.md, "Pushing
// ephemeral data"). ok is false when nothing is left to send. The
// homeserver first decides, with InterestedInRoom, whether the service gets
// the room's receipts at all.
func (r *Registry) FilterReceipt(reg *Registration, ev json.RawMessage) (out json.RawMessage, ok bool, err error) {
	if !bytes.Contains(ev, []byte("m.read.private")) {
		return ev, true, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(ev, &top); err != nil {
		return nil, false, fmt.Errorf("appservice: receipt: %w", err)
	}
	var content map[string]map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top["content"], &content); err != nil {
		return nil, false, fmt.Errorf("appservice: receipt content: %w", err)
	}
	changed := false
	for eventID, byType := range content {
		if private, has := byType["m.read.private"]; has {
			for user := range private {
				if !r.InterestedInUser(reg, user) {
					delete(private, user)
					changed = true
				}
			}
			if len(private) == 0 {
				delete(byType, "m.read.private")
			}
		}
		if len(byType) == 0 {
			delete(content, eventID)
		}
	}
	if len(content) == 0 {
		return nil, false, nil
	}
	if !changed {
		return ev, true, nil
	}
	c, err := json.Marshal(content)
	if err != nil {
		return nil, false, err
	}
	top["content"] = c
	out, err = json.Marshal(top)
	return out, err == nil, err
}
