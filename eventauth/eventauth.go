package eventauth

import (
	"fmt"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

// StateKey names a piece of room state.
type StateKey struct{ Type, StateKey string }

// State is the room state the rules read: the event's auth events, the
// state before it, or the room's current state. StateEvent returns nil
// when the state has no such event.
type State interface {
	StateEvent(typ, stateKey string) *event.Event
}

// StateMap is a State held in a map.
type StateMap map[StateKey]*event.Event

// StateEvent implements State.
func (m StateMap) StateEvent(typ, stateKey string) *event.Event {
	return m[StateKey{typ, stateKey}]
}

// Rejection says which rule refused an event. Rule is a stable identifier
// (the list is in the package documentation); Reason is a sentence for
// people.
type Rejection struct {
	Rule   string
	Reason string
}

func (r *Rejection) Error() string { return "eventauth: " + r.Rule + ": " + r.Reason }

// Is lets errors.Is match a Rejection by rule: a target *Rejection with an
// empty Reason matches any rejection with the same Rule.
func (r *Rejection) Is(target error) bool {
	t, ok := target.(*Rejection)
	return ok && t.Rule == r.Rule && (t.Reason == "" || t.Reason == r.Reason)
}

func reject(rule, reason string) *Rejection { return &Rejection{Rule: rule, Reason: reason} }

func rejectf(rule, format string, args ...any) *Rejection {
	return &Rejection{Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

// Event types the rules name.
const (
	typeCreate           = "m.room.create"
	typeMember           = "m.room.member"
	typeJoinRules        = "m.room.join_rules"
	typePowerLevels      = "m.room.power_levels"
	typeThirdPartyInvite = "m.room.third_party_invite"
	typeAliases          = "m.room.aliases"
	typeRedaction        = "m.room.redaction"
)

// Allowed applies the authorization rules of v to ev against state: the
// create rules for an m.room.create event, otherwise the rules from
// "m.federate" on. It does not apply the checks on ev's own auth_events
// list (CheckAuthEvents does). It returns nil when the event is allowed,
// otherwise a *Rejection.
//
// The same call serves each check of "Checks performed on receipt of a PDU"
// (content/server-server-api.md): with the event's auth events, the state
// before it, or the current state (soft failure), and state resolution's
// iterative auth checks.
func Allowed(v roomversion.Version, ev *event.Event, state State) error {
	if rej := allowed(v, ev, state); rej != nil {
		return rej
	}
	return nil
}

func allowed(v roomversion.Version, ev *event.Event, state State) *Rejection {
	typ := ev.Type()
	if typ == typeCreate {
		return checkCreate(v, ev)
	}
	create := state.StateEvent(typeCreate, "")
	if create == nil {
		return reject("create.missing", "the state has no m.room.create event")
	}
	if !inRoom(create, ev.RoomID()) {
		return rejectf("create.wrong_room", "the m.room.create event in the state is for room %s, not %s", create.RoomID(), ev.RoomID())
	}

	// m.federate: a false value keeps other servers' users out.
	sender := ev.Sender()
	if fed, ok := fieldRare(create.Content(), keyFederate); ok && string(fed) == "false" {
		if domainOf(sender) != domainOf(create.Sender()) {
			return rejectf("federate", "the room does not federate (m.federate is false) and %s is not on the creator's server %s", sender, domainOf(create.Sender()))
		}
	}

	if v.Auth.SpecialCaseAliases && typ == typeAliases {
		sk, isState := ev.StateKey()
		if !isState {
			return reject("aliases.no_state_key", "an m.room.aliases event must have a state_key")
		}
		if sk != domainOf(sender) {
			return rejectf("aliases.state_key", "the state_key %q of an m.room.aliases event must be the sender's server %q", sk, domainOf(sender))
		}
		return nil
	}

	var pl PowerLevels
	if rej := pl.init(v, state.StateEvent(typePowerLevels, ""), create); rej != nil {
		return rejectf("power_levels.current_invalid", "the current m.room.power_levels event is not usable: %s", rej.Reason)
	}

	if typ == typeMember {
		return checkMember(v, ev, state, create, &pl)
	}

	if membershipOf(state.StateEvent(typeMember, sender)) != "join" {
		return rejectf("sender.not_joined", "the sender %s is not joined to the room", sender)
	}
	senderLevel := pl.UserLevelExact(sender)

	if typ == typeThirdPartyInvite {
		inv := pl.c.scalar(scInvite)
		if senderLevel.Cmp(inv) >= 0 {
			return nil
		}
		return rejectf("third_party_invite.power", "the sender's power level %s is below the invite level %s", senderLevel, inv)
	}

	stateKey, isState := ev.StateKey()
	if need := pl.EventLevelExact(typ, isState); need.Cmp(senderLevel) > 0 {
		return rejectf("event.power", "sending %s needs power level %s; the sender has %s", typ, need, senderLevel)
	}

	if isState && len(stateKey) > 0 && stateKey[0] == '@' && stateKey != sender {
		return rejectf("state_key.user_id", "the state_key %q starts with @ and is not the sender %s", stateKey, sender)
	}

	if typ == typePowerLevels {
		return checkPowerLevels(v, ev, create, &pl, senderLevel)
	}

	if v.Auth.RedactionAuthRule && typ == typeRedaction {
		redact := pl.c.scalar(scRedact)
		if senderLevel.Cmp(redact) >= 0 {
			return nil
		}
		if d := domainOf(ev.Redacts()); d != "" && d == domainOf(ev.ID()) {
			return nil
		}
		return rejectf("redaction.power", "the sender's power level %s is below the redact level %s and the redacted event %s is from another server than the redaction %s", senderLevel, redact, ev.Redacts(), ev.ID())
	}
	return nil
}

// membershipOf returns content.membership of an m.room.member event, ""
// for nil. The rules treat a user without a member event as having left.
func membershipOf(ev *event.Event) string {
	if ev == nil {
		return ""
	}
	return ev.Membership()
}

// checkCreate applies the rules for m.room.create events.
func checkCreate(v roomversion.Version, ev *event.Event) *Rejection {
	if n := len(ev.PrevEventIDs()); n > 0 {
		return rejectf("create.prev_events", "an m.room.create event must have no prev_events; it has %d", n)
	}
	if v.Event.RoomID == roomversion.RoomIDCreateHash {
		if _, has := ev.RoomIDField(); has {
			return reject("create.room_id", "an m.room.create event of this room version must not have a room_id: the room ID is derived from its hash")
		}
	}
	if v.Auth.CreateRoomIDDomain {
		if domainOf(ev.RoomID()) != domainOf(ev.Sender()) {
			return rejectf("create.room_id_domain", "the room ID %s is not on the sender's server %s", ev.RoomID(), domainOf(ev.Sender()))
		}
	}
	content := ev.Content()
	if rv, has := field(content, "room_version"); has {
		id, ok := stringValue(rv)
		if !ok {
			return rejectf("create.room_version", "content.room_version is not a string: %s", clip(rv))
		}
		if _, known := roomversion.Lookup(id); !known && id != v.ID {
			return rejectf("create.room_version", "content.room_version %q is not a recognised room version", id)
		}
	}
	if v.Auth.CreatorInContent {
		if _, has := field(content, "creator"); !has {
			return reject("create.no_creator", "content.creator is missing")
		}
	}
	if v.Auth.PrivilegedCreators {
		if ac, has := field(content, "additional_creators"); has {
			bad := ""
			ok := arrayEach(ac, func(e []byte) bool {
				s, isStr := stringValue(e)
				if !isStr || !validUserID(s) {
					bad = clip(e)
					return false
				}
				return true
			})
			if !ok {
				if bad != "" {
					return rejectf("create.additional_creators", "content.additional_creators holds %s, which is not a valid user ID", bad)
				}
				return reject("create.additional_creators", "content.additional_creators is not an array of user IDs")
			}
		}
	}
	return nil
}

// joinRuleOf returns content.join_rule of the join rules event. Without
// one (or without a join_rule key) the room is treated as invite-only, as
// the reference server does: the rules give no default. A join_rule that
// is not a string (null, 5) is no join rule at all: it returns "" with
// ok false, which matches none of the rules' join rules, so that a join
// falls to "Otherwise, reject" (the reference server's lookup with a
// default of "invite" finds the null or number and matches nothing; ruma
// fails to read it).
func joinRuleOf(ev *event.Event) (rule string, ok bool) {
	if ev == nil {
		return "invite", true
	}
	jr, has := field(ev.Content(), "join_rule")
	if !has {
		return "invite", true
	}
	if !isString(jr) {
		return "", false
	}
	return joinRuleString(jr), true
}

func joinRuleString(jr []byte) string {
	// The join rules the versions know, without allocating.
	switch string(jr[1 : len(jr)-1]) {
	case "public":
		return "public"
	case "invite":
		return "invite"
	case "knock":
		return "knock"
	case "restricted":
		return "restricted"
	case "knock_restricted":
		return "knock_restricted"
	case "private":
		return "private"
	}
	s, _ := stringValue(jr)
	return s
}

// CheckAuthEvents applies the checks on ev's own auth_events list:
// duplicates, entries the auth events selection does not ask for, rejected
// entries, entries from another room, and the create event (listed in room
// versions 1-11; never listed, and named by the room ID instead, in v12).
// authEvents holds the events the list names (more may be given: v12
// needs the create event, which is not listed); rejected reports whether
// an event was itself rejected (nil: none was).
func CheckAuthEvents(v roomversion.Version, ev *event.Event, authEvents []*event.Event, rejected func(eventID string) bool) error {
	if rej := checkAuthEvents(v, ev, authEvents, rejected); rej != nil {
		return rej
	}
	return nil
}

func checkAuthEvents(v roomversion.Version, ev *event.Event, authEvents []*event.Event, rejected func(eventID string) bool) *Rejection {
	if ev.Type() == typeCreate {
		return nil
	}
	if rejected == nil {
		rejected = func(string) bool { return false }
	}
	byID := func(id string) *event.Event {
		for _, a := range authEvents {
			if a != nil && a.ID() == id {
				return a
			}
		}
		return nil
	}
	if !v.Auth.CreateInAuthEvents {
		// v12: the room ID names the create event, which must be accepted.
		var create *event.Event
		for _, a := range authEvents {
			if a != nil && a.Type() == typeCreate && inRoom(a, ev.RoomID()) {
				if sk, _ := a.StateKey(); sk == "" {
					create = a
					break
				}
			}
		}
		if create == nil {
			return rejectf("room_id.no_create", "the room ID %s does not name a known m.room.create event", ev.RoomID())
		}
		if rejected(create.ID()) {
			return rejectf("room_id.create_rejected", "the room ID %s names an m.room.create event that was rejected", ev.RoomID())
		}
	}
	var buf [MaxNeeded]StateKey
	needed, rej := appendNeeded(buf[:0], v, ev)
	if rej != nil {
		return rej
	}
	// The listed events, then the rules in the specification's order:
	// duplicates, entries the selection does not ask for, rejected
	// entries, the create event, other rooms.
	ids := ev.AuthEventIDs()
	var small [10]*event.Event
	listed := small[:0]
	for _, id := range ids {
		a := byID(id)
		if a == nil {
			return rejectf("auth_events.missing", "the auth event %s is not known", id)
		}
		listed = append(listed, a)
	}
	for i, a := range listed {
		sk, isState := a.StateKey()
		if !isState {
			continue
		}
		for _, b := range listed[:i] {
			if bk, bs := b.StateKey(); bs && bk == sk && b.Type() == a.Type() {
				return rejectf("auth_events.duplicate", "the auth events list two events for (%s, %q): %s and %s", a.Type(), sk, b.ID(), a.ID())
			}
		}
	}
	hasCreate := false
	for _, a := range listed {
		sk, isState := a.StateKey()
		if !isState {
			return rejectf("auth_events.unexpected", "the auth event %s is not a state event", a.ID())
		}
		k := StateKey{a.Type(), sk}
		if k.Type == typeCreate && k.StateKey == "" {
			if !v.Auth.CreateInAuthEvents {
				return rejectf("auth_events.create_listed", "the auth events list the m.room.create event %s, which this room version implies by the room ID instead", a.ID())
			}
			hasCreate = true
		}
		wanted := false
		for _, n := range needed {
			if n == k {
				wanted = true
				break
			}
		}
		if !wanted {
			return rejectf("auth_events.unexpected", "the auth event %s for (%s, %q) is not one the auth events selection asks for", a.ID(), k.Type, k.StateKey)
		}
	}
	for _, a := range listed {
		if rejected(a.ID()) {
			return rejectf("auth_events.rejected", "the auth event %s was itself rejected", a.ID())
		}
	}
	if v.Auth.CreateInAuthEvents && !hasCreate {
		return reject("auth_events.no_create", "the auth events do not include the m.room.create event")
	}
	for _, a := range listed {
		if !inRoom(a, ev.RoomID()) {
			return rejectf("auth_events.wrong_room", "the auth event %s is in room %s, not %s", a.ID(), a.RoomID(), ev.RoomID())
		}
	}
	return nil
}

// Check is the whole authorization of ev against its auth events, as
// "Checks performed on receipt of a PDU" step 4 asks: CheckAuthEvents,
// then Allowed with the auth events as the state. authEvents must hold
// the events ev's auth_events list names; the state is made of those (an
// event given but not listed is not read), and, in room version 12, of
// the create event named by the room ID, which must be given too.
func Check(v roomversion.Version, ev *event.Event, authEvents []*event.Event, rejected func(eventID string) bool) error {
	if ev.Type() == typeCreate {
		return Allowed(v, ev, StateMap(nil))
	}
	if rej := checkAuthEvents(v, ev, authEvents, rejected); rej != nil {
		return rej
	}
	ids := ev.AuthEventIDs()
	state := make(StateMap, len(ids)+1)
	for _, a := range authEvents {
		if a == nil {
			continue
		}
		sk, isState := a.StateKey()
		if !isState {
			continue
		}
		use := false
		for _, id := range ids {
			if a.ID() == id {
				use = true
				break
			}
		}
		if !use && !v.Auth.CreateInAuthEvents && a.Type() == typeCreate && sk == "" && inRoom(a, ev.RoomID()) {
			use = true
		}
		if !use {
			continue
		}
		k := StateKey{a.Type(), sk}
		if prev, dup := state[k]; dup && prev.ID() != a.ID() {
			return rejectf("auth_events.duplicate", "two auth events for (%s, %q): %s and %s", k.Type, k.StateKey, prev.ID(), a.ID())
		}
		state[k] = a
	}
	return Allowed(v, ev, state)
}

// Needed is the auth events selection of content/server-server-api.md,
// "Auth events selection": the state that ev's authorization needs,
// sorted by type then state key. The create event needs nothing. The
// error (a *Rejection) is for an m.room.member event without a state_key
// or membership, whose needs cannot be told.
func Needed(v roomversion.Version, ev *event.Event) ([]StateKey, error) {
	keys, rej := appendNeeded(make([]StateKey, 0, MaxNeeded), v, ev)
	if rej != nil {
		return nil, rej
	}
	return keys, nil
}

// MaxNeeded is the most state keys the auth events selection can name:
// the create event, the power levels, the sender's and the target's
// membership, the join rules, and a third-party invite or the authorising
// user's membership.
const MaxNeeded = 6

// AppendNeeded is Needed appending to dst: the selection is appended
// (sorted by type then state key) and the extended slice returned; with
// MaxNeeded free capacity it does not allocate. On error dst is returned
// unchanged.
func AppendNeeded(dst []StateKey, v roomversion.Version, ev *event.Event) ([]StateKey, error) {
	keys, rej := appendNeeded(dst, v, ev)
	if rej != nil {
		return dst, rej
	}
	return keys, nil
}

func keyLess(a, b StateKey) bool {
	if a.Type != b.Type {
		return a.Type < b.Type
	}
	return a.StateKey < b.StateKey
}

// addKey appends k to keys unless keys[start:] holds it.
func addKey(keys []StateKey, start int, k StateKey) []StateKey {
	for _, x := range keys[start:] {
		if x == k {
			return keys
		}
	}
	return append(keys, k)
}

func appendNeeded(keys []StateKey, v roomversion.Version, ev *event.Event) ([]StateKey, *Rejection) {
	start := len(keys)
	typ := ev.Type()
	if typ == typeCreate {
		return keys, nil
	}
	if v.Auth.CreateInAuthEvents {
		keys = append(keys, StateKey{typeCreate, ""})
	}
	keys = append(keys, StateKey{typePowerLevels, ""})
	sender := ev.Sender()
	keys = append(keys, StateKey{typeMember, sender})
	if typ == typeMember {
		target, isState := ev.StateKey()
		if !isState {
			return keys[:start], reject("member.no_state_key", "an m.room.member event must have a state_key")
		}
		content := ev.Content()
		// The event package has read content.membership when it is a
		// string; only its absence needs a look at the content.
		membership := ev.Membership()
		if membership == "" {
			if _, has := field(content, "membership"); !has {
				return keys[:start], reject("member.no_membership", "content.membership is missing")
			}
		}
		if target != sender {
			keys = append(keys, StateKey{typeMember, target})
		}
		if membership == "join" || membership == "invite" || membership == "knock" {
			keys = append(keys, StateKey{typeJoinRules, ""})
		}
		if membership == "invite" {
			if tok, ok := pathRare(content, keyThirdPartyInvite, "signed", "token"); ok {
				if s, ok := stringValue(tok); ok {
					keys = addKey(keys, start, StateKey{typeThirdPartyInvite, s})
				}
			}
		}
		if membership == "join" && v.Auth.RestrictedJoins {
			if av, ok := fieldRare(content, keyAuthorisedVia); ok {
				if s, ok := stringValue(av); ok {
					keys = addKey(keys, start, StateKey{typeMember, s})
				}
			}
		}
	}
	// At most six keys: an insertion sort, by type then state key.
	sel := keys[start:]
	for i := 1; i < len(sel); i++ {
		for j := i; j > 0 && keyLess(sel[j], sel[j-1]); j-- {
			sel[j], sel[j-1] = sel[j-1], sel[j]
		}
	}
	return keys, nil
}

// inRoom reports whether ev belongs to the room roomID. For a create event
// whose room ID is its hash (v12) the comparison is made without building
// that ID.
func inRoom(ev *event.Event, roomID string) bool {
	if ev.Type() == typeCreate && ev.Version().Event.RoomID == roomversion.RoomIDCreateHash {
		if sk, _ := ev.StateKey(); sk == "" {
			id := ev.ID()
			return len(id) > 0 && len(roomID) > 0 && roomID[0] == '!' && roomID[1:] == id[1:]
		}
	}
	return ev.RoomID() == roomID
}
