// Package eventauth implements the authorization rules of Matrix rooms:
// whether an event may take effect, given the room state it is checked
// against, for each room version from 1 to 12.
//
// The rules are those of the room version pages of the specification: the
// fragments content/rooms/fragments/v1-auth-rules.md (versions 1 and 2),
// v3-auth-rules.md (3 to 5) and v8-auth-rules.md (8 and 9), and the rules
// written out in content/rooms/v6.md, v7.md, v10.md, v11.md and v12.md;
// with content/server-server-api.md, "Authorization rules", "Auth events
// selection" and "Checks performed on receipt of a PDU", and the
// deprecated power level encodings of
// content/rooms/fragments/v1-stringy-power-levels.md and
// v1-floaty-power-levels.md. What differs between versions is read from
// the fields of roomversion.Version (Auth, and Event.StrictCanonicalJSON
// for float power levels), never from the version identifier.
//
// # Entry points
//
// Allowed applies the rules to an event against a State: the event's auth
// events, the state before it, or the room's current state (a failure
// there is a soft failure), and it is the check that state resolution
// repeats. CheckAuthEvents applies the checks on the event's own
// auth_events list, which only make sense against that list. Check does
// both, as a server does when it receives an event (step 4 of "Checks
// performed on receipt of a PDU"). Needed is the auth events selection: the
// state keys an event's authorization reads (AppendNeeded fills a
// caller's buffer instead, without allocating). PowerLevels is the parsed
// m.room.power_levels content with the specification's defaults and the
// creators' levels, for the rules and for state resolution; a Level is
// one power level, compared exactly whatever its size, and UserLevelIn
// reads one user's level without building a PowerLevels.
//
// Content is read from the raw bytes of the events without building maps;
// the parsed content of each power levels event is kept, keyed weakly by
// the event, while the event is alive.
//
// # Rejections
//
// A refusal is a *Rejection whose Rule is one of these stable identifiers
// (also returned by Rules) and whose Reason is a sentence:
//
// The create event (rules 1.x):
//
//	create.prev_events          it has prev_events
//	create.room_id              v12: it has a room_id
//	create.room_id_domain       v1-v11: the room ID's server is not the sender's
//	create.room_version         content.room_version is not a recognised version
//	create.no_creator           v1-v10: content.creator is missing
//	create.additional_creators  v12: additional_creators is not an array of valid user IDs
//
// The auth_events list (CheckAuthEvents; v12 rules 2 and 3, earlier rule 2):
//
//	room_id.no_create           v12: the room ID names no known create event
//	room_id.create_rejected     v12: the room ID names a rejected create event
//	auth_events.missing         a listed auth event is not among those given
//	auth_events.wrong_room      a listed auth event is in another room
//	auth_events.duplicate       two auth events for one (type, state_key)
//	auth_events.unexpected      an auth event the selection does not ask for
//	auth_events.create_listed   v12: the create event is listed
//	auth_events.rejected        a listed auth event was itself rejected
//	auth_events.no_create       v1-v11: the create event is not listed
//
// The state (Allowed):
//
//	create.missing              the state has no create event
//	create.wrong_room           the state's create event is for another room
//	power_levels.current_invalid the state's power levels event is not readable
//	federate                    m.federate is false and the sender is on another server
//	aliases.no_state_key        v1-v5: m.room.aliases without a state_key
//	aliases.state_key           v1-v5: m.room.aliases whose state_key is not the sender's server
//
// Membership (m.room.member):
//
//	member.no_state_key         no state_key
//	member.no_membership        no content.membership
//	member.authorised_via.unsigned v8+: join_authorised_via_users_server's server did not sign
//	member.membership_unknown   a membership the version does not know (knock before v7)
//	member.join.not_self        the sender joins someone else
//	member.join.banned          the sender is banned
//	member.join.not_invited     invite (or knock, v7+) join rule and not invited
//	member.join.no_authoriser   restricted join without join_authorised_via_users_server
//	member.join.authoriser_not_joined  the authorising user is not joined
//	member.join.authoriser_power the authorising user is below the invite level
//	member.join.join_rule       the join rule admits no join (private, unknown, or not in this version)
//	member.invite.third_party.target_banned  third-party invite of a banned user
//	member.invite.third_party.no_signed      third_party_invite has no signed object
//	member.invite.third_party.no_mxid_token  signed lacks mxid or token
//	member.invite.third_party.mxid           signed.mxid is not the state_key
//	member.invite.third_party.no_invite_event no m.room.third_party_invite for the token
//	member.invite.third_party.sender         the sender did not send the m.room.third_party_invite
//	member.invite.third_party.signature      no signature matches the invite's public keys
//	member.invite.sender_not_joined  the inviter is not joined
//	member.invite.target_joined the invitee is joined
//	member.invite.target_banned the invitee is banned
//	member.invite.power         the inviter is below the invite level
//	member.leave.not_member     leaving without being invited, joined or (v7+) knocking
//	member.leave.sender_not_joined   kicking or unbanning without being joined
//	member.leave.unban_power    unbanning below the ban level
//	member.leave.kick_power     kicking below the kick level, or a target not below the sender
//	member.ban.sender_not_joined banning without being joined
//	member.ban.power            banning below the ban level, or a target not below the sender
//	member.knock.join_rule      v7+: the join rule is not knock (or knock_restricted, v10+)
//	member.knock.not_self       v7+: knocking for someone else
//	member.knock.membership     v7+: knocking while banned, invited or joined
//
// Everything else:
//
//	sender.not_joined           the sender is not joined
//	third_party_invite.power    m.room.third_party_invite below the invite level
//	event.power                 the sender is below the event type's required level
//	state_key.user_id           a state_key starting with @ that is not the sender
//	power_levels.not_integer    a level is not an integer in this version's encodings
//	power_levels.users          users is not an object of valid user IDs to levels
//	power_levels.creator_in_users v12: users lists a creator
//	power_levels.scalar_current a changed scalar level is above the sender's level
//	power_levels.scalar_new     a new scalar level is above the sender's level
//	power_levels.events_current a changed or removed events/notifications entry is above the sender's level
//	power_levels.events_new     an added or changed events/notifications entry is above the sender's level
//	power_levels.users_current  a changed or removed user's level is not below the sender's (their own excepted)
//	power_levels.users_new      an added or changed user's level is above the sender's
//	redaction.power             v1-v2: redaction below the redact level of an event from another server
//
// # Decisions
//
// Where the specification leaves room, or implementations differ, this
// package follows the text of the specification, else the reference server
// (Synapse); each choice is written in a test comment:
//
//   - m.federate refuses only when it is the JSON value false; and it is
//     about the sender's server (a target user on another server is not
//     refused, unlike the reference server's extra check).
//   - Without an m.room.join_rules event (or without a join_rule key) the
//     join rule is "invite", as in the reference server. A join_rule that
//     is not a string (null, 5) matches no join rule: joins and knocks are
//     refused ("Otherwise, reject"), as in the reference server and ruma.
//   - Power levels are compared exactly, of any size (Level): levels
//     beyond the int64 range, which strings (v1-v9) and JSON numbers
//     (v1-v5) can carry, are not saturated, as the reference server's
//     integers are not. Float levels (v1-v5) are binary64 values truncated
//     toward zero. The creators' infinite level (v12) is above every
//     finite level.
//   - String levels (v1-v9) may be surrounded by Unicode white space (the
//     White_Space property: what the reference server's int() and ruma's
//     trim strip; not U+001C-U+001F), and hold ASCII digits only: other
//     scripts' digits and "_" separators, which Python's int() would take,
//     are refused, as the specification's format and ruma read it.
//   - The join_authorised_via_users_server signature rule (v8+) requires a
//     signature entry by that user's server on any membership; the
//     signature itself is verified with the event's other signatures.
//   - Power level values other than users are held to the same encodings
//     as users, in every version (notifications only where the rules read
//     it, v6+); a JSON null scalar (or map value) before v10 reads as
//     absent. Float levels exist where JSON is not strict (v1-v5).
//   - A leave by a user who has already left is refused (rule 5.1 lists
//     invite, join and knock only), unlike gomatrixserverlib.
//   - m.room.aliases is an ordinary state event from v6 on, and
//     knock_restricted does not exist before v10.
//   - A third-party invite is decided by the third-party rules alone: the
//     inviter's membership is not consulted, but the inviter must be the
//     sender of the m.room.third_party_invite.
//   - Float power levels (v1-v5) have no field of their own in
//     roomversion.Version: they go with the absence of strict canonical
//     JSON (Event.StrictCanonicalJSON), which is what lets floats into
//     events. Under strict JSON every level is a plain JSON integer.
//   - Check reads the events the auth_events list names (and, in v12, the
//     create event the room ID names); other events it is given are not
//     state for the rules.
//   - The v1-v2 redaction rule compares the servers of two event IDs; an
//     ID without a server name never matches.
//   - "Events must be signed by the server denoted by the sender property"
//     (and, in v1-v2, by the event ID's server) is the signature check of
//     the event package's verification, made before these rules; the one
//     signature these rules look at is the numbered join_authorised_via
//     rule above, and the third-party invite signature they verify.
//   - No create rule reads the create event's state_key (the reference
//     server and ruma agree; gomatrixserverlib refuses a non-empty one).
package eventauth

// Rules returns the identifiers a Rejection's Rule can hold, in the order
// of the package documentation.
func Rules() []string {
	return []string{
		"create.prev_events", "create.room_id", "create.room_id_domain", "create.room_version", "create.no_creator", "create.additional_creators",
		"room_id.no_create", "room_id.create_rejected",
		"auth_events.missing", "auth_events.wrong_room", "auth_events.duplicate", "auth_events.unexpected", "auth_events.create_listed", "auth_events.rejected", "auth_events.no_create",
		"create.missing", "create.wrong_room", "power_levels.current_invalid", "federate", "aliases.no_state_key", "aliases.state_key",
		"member.no_state_key", "member.no_membership", "member.authorised_via.unsigned", "member.membership_unknown",
		"member.join.not_self", "member.join.banned", "member.join.not_invited", "member.join.no_authoriser", "member.join.authoriser_not_joined", "member.join.authoriser_power", "member.join.join_rule",
		"member.invite.third_party.target_banned", "member.invite.third_party.no_signed", "member.invite.third_party.no_mxid_token", "member.invite.third_party.mxid", "member.invite.third_party.no_invite_event", "member.invite.third_party.sender", "member.invite.third_party.signature",
		"member.invite.sender_not_joined", "member.invite.target_joined", "member.invite.target_banned", "member.invite.power",
		"member.leave.not_member", "member.leave.sender_not_joined", "member.leave.unban_power", "member.leave.kick_power",
		"member.ban.sender_not_joined", "member.ban.power",
		"member.knock.join_rule", "member.knock.not_self", "member.knock.membership",
		"sender.not_joined", "third_party_invite.power", "event.power", "state_key.user_id",
		"power_levels.not_integer", "power_levels.users", "power_levels.creator_in_users",
		"power_levels.scalar_current", "power_levels.scalar_new", "power_levels.events_current", "power_levels.events_new", "power_levels.users_current", "power_levels.users_new",
		"redaction.power",
	}
}
