// Package roomversion describes every room version of the Matrix
// specification as plain data.
//
// A room version fixes the rules that every server in a room must agree
// on: the event format, how event and room IDs are formed, the
// authorization rules, the redaction algorithm, the state resolution
// algorithm, how strictly JSON is checked and whether signing-key validity
// is enforced (specification, "Room Versions", content/rooms/_index.md, and
// one page per version, content/rooms/v1.md … v12.md).
//
// Each Version is a struct of named rules. Code that behaves differently
// by version reads a field; it never compares version identifiers. Each
// version below is built from the one before it with only its differences
// written out, so the history of the protocol reads top to bottom.
//
// There is no global registry to mutate. Lookup and Known answer for the
// twelve versions of the specification; an embedder that wants an
// experimental or private version copies one and changes what it needs:
//
//	custom := roomversion.V12
//	custom.ID = "org.example.v12-nofederate"
//	custom.Stable = false
//	set := roomversion.NewSet(append(roomversion.Known(), custom)...)
//
// and passes the Version value (or the Set, where a recognised-versions list
// is needed) to the packages that take one.
package roomversion

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// EventFormat is the shape of a PDU.
type EventFormat uint8

const (
	// EventFormatV1 (room versions 1 and 2): the PDU carries its own
	// event_id, and prev_events / auth_events are lists of
	// [event_id, {"sha256": reference hash}] pairs.
	EventFormatV1 EventFormat = 1
	// EventFormatV3 (room versions 3 and later): no event_id field; the ID
	// is derived from the reference hash, and prev_events / auth_events are
	// plain lists of event IDs.
	EventFormatV3 EventFormat = 3
)

// EventIDFormat says how an event ID is formed.
type EventIDFormat uint8

const (
	// EventIDGiven: the ID is the event's own event_id field,
	// "$opaque:server" (room versions 1 and 2).
	EventIDGiven EventIDFormat = 1
	// EventIDHashStd: "$" + unpadded standard base64 of the reference hash
	// (room version 3).
	EventIDHashStd EventIDFormat = 2
	// EventIDHashURL: "$" + unpadded URL-safe base64 of the reference hash
	// (room versions 4 and later).
	EventIDHashURL EventIDFormat = 3
)

// RoomIDFormat says how a room ID is formed.
type RoomIDFormat uint8

const (
	// RoomIDServer: "!opaque:server", chosen by the creating server; the
	// create event carries it (room versions 1 to 11).
	RoomIDServer RoomIDFormat = 1
	// RoomIDCreateHash: "!" + the URL-safe reference hash of the create
	// event, which carries no room_id itself (room version 12).
	RoomIDCreateHash RoomIDFormat = 2
)

// StateResAlgorithm names a state resolution algorithm.
type StateResAlgorithm uint8

const (
	// StateResV1 is the original algorithm of room version 1.
	StateResV1 StateResAlgorithm = 1
	// StateResV2 is the algorithm of room versions 2 to 11.
	StateResV2 StateResAlgorithm = 2
	// StateResV21 is state resolution v2.1 of room version 12: the
	// iterative auth checks of power events start from an empty map, and
	// the full conflicted set includes the conflicted state subgraph.
	StateResV21 StateResAlgorithm = 3
)

func (a StateResAlgorithm) String() string {
	switch a {
	case StateResV1:
		return "v1"
	case StateResV2:
		return "v2"
	case StateResV21:
		return "v2.1"
	}
	return fmt.Sprintf("StateResAlgorithm(%d)", uint8(a))
}

// EventRules are the rules of the event format.
type EventRules struct {
	Format  EventFormat
	EventID EventIDFormat
	RoomID  RoomIDFormat
	// RedactsInContent: an m.room.redaction names its target in
	// content.redacts, not in a top-level redacts key (v11+).
	RedactsInContent bool
	// StrictCanonicalJSON: events must be valid canonical JSON with
	// integers in [-(2^53)+1, 2^53-1] and no other numbers (v6+). Before
	// v6 servers must not enforce this; floats may appear in events, and
	// depth may reach 2^63-1.
	StrictCanonicalJSON bool
}

// AuthRules are the differences between the authorization rules of the
// room versions.
type AuthRules struct {
	// CreatorInContent: the create event must have content.creator, and
	// the room's creator is that user (v1-v10). When false the creator is
	// the create event's sender (v11+).
	CreatorInContent bool
	// CreateRoomIDDomain: a create event whose room_id domain differs from
	// its sender's domain is rejected (v1-v11; v12 create events have no
	// room_id).
	CreateRoomIDDomain bool
	// CreateInAuthEvents: every event other than the create event must
	// list the create event among its auth_events (v1-v11). When false the
	// create event must never be listed; it is implied by the room ID, and
	// every event's room_id must name an accepted create event (v12).
	CreateInAuthEvents bool
	// PrivilegedCreators: the creators are the create event's sender and
	// content.additional_creators; they have infinite power and cannot
	// appear in the power levels' users map (v12).
	PrivilegedCreators bool
	// SpecialCaseAliases: m.room.aliases events are allowed when the
	// sender's domain matches the state key, without power checks (v1-v5).
	SpecialCaseAliases bool
	// RedactionAuthRule: an m.room.redaction is allowed only if the sender
	// has the redact level or the redacted event_id's domain is the
	// sender's domain (v1, v2). From v3 the redaction is authorised like
	// any other event and its effect is decided when it is applied.
	RedactionAuthRule bool
	// NotificationsPowerLevels: changes to the power levels'
	// notifications map are checked like changes to events (v6+).
	NotificationsPowerLevels bool
	// Knocking: the knock membership and join rule exist (v7+).
	Knocking bool
	// RestrictedJoins: the restricted join rule and
	// join_authorised_via_users_server exist (v8+).
	RestrictedJoins bool
	// KnockRestricted: the knock_restricted join rule exists (v10+).
	KnockRestricted bool
	// IntegerPowerLevels: power level values must be JSON integers;
	// strings such as "50" are rejected (v10+). Before v10 they are parsed
	// as the spec's deprecated string format, and before v6 (no strict
	// canonical JSON) floats are truncated.
	IntegerPowerLevels bool
}

// RedactionRules are the differences between the redaction algorithms.
type RedactionRules struct {
	// KeepOriginMembershipPrevState keeps the legacy top-level keys
	// origin, membership and prev_state (v1-v10).
	KeepOriginMembershipPrevState bool
	// KeepAliases keeps content.aliases of m.room.aliases (v1-v5).
	KeepAliases bool
	// KeepJoinRulesAllow keeps content.allow of m.room.join_rules (v8+).
	KeepJoinRulesAllow bool
	// KeepJoinAuthorisedVia keeps content.join_authorised_via_users_server
	// of m.room.member (v9+).
	KeepJoinAuthorisedVia bool
	// KeepAllCreateContent keeps all of m.room.create's content (v11+);
	// before, only creator.
	KeepAllCreateContent bool
	// KeepPowerLevelsInvite keeps content.invite of m.room.power_levels (v11+).
	KeepPowerLevelsInvite bool
	// KeepRedactionRedacts keeps content.redacts of m.room.redaction (v11+).
	KeepRedactionRedacts bool
	// KeepThirdPartyInviteSigned keeps content.third_party_invite.signed
	// of m.room.member (v11+).
	KeepThirdPartyInviteSigned bool
}

// SigningRules are the differences in which signatures an event needs and
// how keys are judged.
type SigningRules struct {
	// EventIDServerSigns: the server named in the event_id must sign the
	// event too (v1, v2).
	EventIDServerSigns bool
	// EnforceKeyValidity: a signing key is only valid for events whose
	// origin_server_ts is at most min(valid_until_ts, now + 7 days) (v5+).
	// Before v5, valid_until_ts must be ignored.
	EnforceKeyValidity bool
}

// Version is one room version: its identifier and every rule that depends
// on it.
type Version struct {
	// ID is the identifier used in m.room.create's content.room_version.
	ID string
	// Stable reports whether the specification marks the version stable.
	Stable bool

	Event     EventRules
	Auth      AuthRules
	Redaction RedactionRules
	Signing   SigningRules
	StateRes  StateResAlgorithm
}

// MaxDepth is the largest depth an event may have: 2^53-1 where strict
// canonical JSON applies, 2^63-1 before.
func (v Version) MaxDepth() int64 {
	if v.Event.StrictCanonicalJSON {
		return 1<<53 - 1
	}
	return 1<<63 - 1
}

// String returns the identifier.
func (v Version) String() string { return v.ID }

// ErrUnknown is returned (wrapped) for a version identifier that is not
// known.
var ErrUnknown = errors.New("roomversion: unknown room version")

// ErrInconsistent is returned (wrapped) by Validate.
var ErrInconsistent = errors.New("roomversion: inconsistent rules")

// Validate reports whether the rules of v fit together. Every version of
// the specification is valid; Validate is for versions an embedder
// describes.
func (v Version) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: version %q: %s", ErrInconsistent, v.ID, fmt.Sprintf(format, args...))
	}
	if err := ValidID(v.ID); err != nil {
		return err
	}
	switch v.Event.Format {
	case EventFormatV1:
		if v.Event.EventID != EventIDGiven {
			return bad("event format v1 carries its event_id")
		}
	case EventFormatV3:
		if v.Event.EventID != EventIDHashStd && v.Event.EventID != EventIDHashURL {
			return bad("event format v3 needs a hash event ID")
		}
	default:
		return bad("unknown event format %d", v.Event.Format)
	}
	switch v.Event.RoomID {
	case RoomIDServer:
		if v.Auth.PrivilegedCreators {
			return bad("privileged creators need hash room IDs")
		}
	case RoomIDCreateHash:
		if v.Event.EventID != EventIDHashURL {
			return bad("hash room IDs need URL-safe hash event IDs")
		}
		if v.Auth.CreateInAuthEvents || v.Auth.CreateRoomIDDomain {
			return bad("with hash room IDs the create event is implied, has no room_id and is not listed in auth_events")
		}
	default:
		return bad("unknown room ID format %d", v.Event.RoomID)
	}
	if v.Auth.KnockRestricted && !(v.Auth.Knocking && v.Auth.RestrictedJoins) {
		return bad("knock_restricted needs knocking and restricted joins")
	}
	if v.Auth.RedactionAuthRule && v.Event.RedactsInContent {
		return bad("the v1 redaction auth rule reads the top-level redacts")
	}
	switch v.StateRes {
	case StateResV1, StateResV2, StateResV21:
	default:
		return bad("unknown state resolution algorithm %d", v.StateRes)
	}
	return nil
}

// ValidID checks a room version identifier against the grammar of the
// specification: 1 to 32 code points of [a-z0-9.-].
func ValidID(id string) error {
	if id == "" || utf8.RuneCountInString(id) > 32 {
		return fmt.Errorf("%w: identifier %q must be 1 to 32 characters", ErrInconsistent, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("%w: identifier %q has %q outside [a-z0-9.-]", ErrInconsistent, id, c)
		}
	}
	return nil
}

// The versions of the specification, each from the one before.
// Treat them as values: copy before changing.
var (
	// V1: content/rooms/v1.md.
	V1 = v1()
	// V2: state resolution v2 (content/rooms/v2.md).
	V2 = v2()
	// V3: event IDs are reference hashes; the redaction auth rule is
	// replaced by "handling redactions" (content/rooms/v3.md).
	V3 = v3()
	// V4: event IDs use URL-safe base64 (content/rooms/v4.md).
	V4 = v4()
	// V5: signing-key validity is enforced (content/rooms/v5.md).
	V5 = v5()
	// V6: strict canonical JSON, no aliases special case, notifications
	// power levels, aliases no longer survive redaction (content/rooms/v6.md).
	V6 = v6()
	// V7: knocking (content/rooms/v7.md).
	V7 = v7()
	// V8: restricted joins; join_rules allow survives redaction
	// (content/rooms/v8.md).
	V8 = v8()
	// V9: join_authorised_via_users_server survives redaction
	// (content/rooms/v9.md).
	V9 = v9()
	// V10: knock_restricted; power levels must be integers
	// (content/rooms/v10.md).
	V10 = v10()
	// V11: no creator in create content; redacts in content; new
	// redaction rules (content/rooms/v11.md).
	V11 = v11()
	// V12: room IDs are create event hashes; privileged creators; state
	// resolution v2.1 (content/rooms/v12.md).
	V12 = v12()
)

func v1() Version {
	return Version{
		ID:     "1",
		Stable: true,
		Event: EventRules{
			Format:  EventFormatV1,
			EventID: EventIDGiven,
			RoomID:  RoomIDServer,
		},
		Auth: AuthRules{
			CreatorInContent:   true,
			CreateRoomIDDomain: true,
			CreateInAuthEvents: true,
			SpecialCaseAliases: true,
			RedactionAuthRule:  true,
		},
		Redaction: RedactionRules{
			KeepOriginMembershipPrevState: true,
			KeepAliases:                   true,
		},
		Signing:  SigningRules{EventIDServerSigns: true},
		StateRes: StateResV1,
	}
}

func v2() Version {
	v := v1()
	v.ID = "2"
	v.StateRes = StateResV2
	return v
}

func v3() Version {
	v := v2()
	v.ID = "3"
	v.Event.Format = EventFormatV3
	v.Event.EventID = EventIDHashStd
	v.Auth.RedactionAuthRule = false
	v.Signing.EventIDServerSigns = false
	return v
}

func v4() Version {
	v := v3()
	v.ID = "4"
	v.Event.EventID = EventIDHashURL
	return v
}

func v5() Version {
	v := v4()
	v.ID = "5"
	v.Signing.EnforceKeyValidity = true
	return v
}

func v6() Version {
	v := v5()
	v.ID = "6"
	v.Event.StrictCanonicalJSON = true
	v.Auth.SpecialCaseAliases = false
	v.Auth.NotificationsPowerLevels = true
	v.Redaction.KeepAliases = false
	return v
}

func v7() Version {
	v := v6()
	v.ID = "7"
	v.Auth.Knocking = true
	return v
}

func v8() Version {
	v := v7()
	v.ID = "8"
	v.Auth.RestrictedJoins = true
	v.Redaction.KeepJoinRulesAllow = true
	return v
}

func v9() Version {
	v := v8()
	v.ID = "9"
	v.Redaction.KeepJoinAuthorisedVia = true
	return v
}

func v10() Version {
	v := v9()
	v.ID = "10"
	v.Auth.KnockRestricted = true
	v.Auth.IntegerPowerLevels = true
	return v
}

func v11() Version {
	v := v10()
	v.ID = "11"
	v.Event.RedactsInContent = true
	v.Auth.CreatorInContent = false
	v.Redaction.KeepOriginMembershipPrevState = false
	v.Redaction.KeepAllCreateContent = true
	v.Redaction.KeepPowerLevelsInvite = true
	v.Redaction.KeepRedactionRedacts = true
	v.Redaction.KeepThirdPartyInviteSigned = true
	return v
}

func v12() Version {
	v := v11()
	v.ID = "12"
	v.Event.RoomID = RoomIDCreateHash
	v.Auth.CreateRoomIDDomain = false
	v.Auth.CreateInAuthEvents = false
	v.Auth.PrivilegedCreators = true
	v.StateRes = StateResV21
	return v
}

// Set is a collection of versions that a server recognises, looked up by
// identifier. The zero Set recognises nothing; Standard is the set of the
// specification's versions.
type Set struct {
	byID  map[string]Version
	order []string
}

// NewSet returns a Set of the given versions. A later version with the
// same identifier replaces an earlier one.
func NewSet(versions ...Version) *Set {
	s := &Set{byID: make(map[string]Version, len(versions))}
	for _, v := range versions {
		if _, dup := s.byID[v.ID]; !dup {
			s.order = append(s.order, v.ID)
		}
		s.byID[v.ID] = v
	}
	return s
}

// Lookup returns the version with identifier id.
func (s *Set) Lookup(id string) (Version, bool) {
	if s == nil {
		return Version{}, false
	}
	v, ok := s.byID[id]
	return v, ok
}

// Get is Lookup with an error that says which identifier is unknown.
func (s *Set) Get(id string) (Version, error) {
	if v, ok := s.Lookup(id); ok {
		return v, nil
	}
	return Version{}, fmt.Errorf("%w: %q", ErrUnknown, id)
}

// Known returns the versions of the set in the order they were given.
func (s *Set) Known() []Version {
	if s == nil {
		return nil
	}
	out := make([]Version, len(s.order))
	for i, id := range s.order {
		out[i] = s.byID[id]
	}
	return out
}

var standard = NewSet(v1(), v2(), v3(), v4(), v5(), v6(), v7(), v8(), v9(), v10(), v11(), v12())

// Standard returns the set of the specification's room versions 1 to 12.
// Each call returns a new Set, so changing it changes nothing else.
func Standard() *Set { return NewSet(standard.Known()...) }

// Lookup returns the specification's room version with identifier id.
// Unknown identifiers, including "" and versions other servers may have
// invented, are reported as not found: they are never treated as another
// version.
func Lookup(id string) (Version, bool) { return standard.Lookup(id) }

// Get is Lookup with an error wrapping ErrUnknown.
func Get(id string) (Version, error) { return standard.Get(id) }

// Known returns the specification's room versions, 1 to 12, in order.
func Known() []Version { return standard.Known() }

// Default returns the version servers should use for new rooms: 12, as
// content/rooms/_index.md recommends.
func Default() Version { return v12() }

// DefaultCreateRoomVersion is the room version an m.room.create event
// declares when its content has no room_version.
const DefaultCreateRoomVersion = "1"
