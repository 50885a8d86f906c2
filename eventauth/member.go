package eventauth

import (
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

// checkMember applies the rules for m.room.member events.
func checkMember(v roomversion.Version, ev *event.Event, state State, create *event.Event, pl *PowerLevels) *Rejection {
	target, isState := ev.StateKey()
	if !isState {
		return reject("member.no_state_key", "an m.room.member event must have a state_key")
	}
	content := ev.Content()
	// The event package reads content.membership when it parses (""
	// when it is not a string, which no rule knows); only then is the
	// content read again, to tell an absent membership from another value.
	membership := ev.Membership()
	if membership == "" {
		if _, has := field(content, "membership"); !has {
			return reject("member.no_membership", "content.membership is missing")
		}
	}
	sender := ev.Sender()

	if v.Auth.RestrictedJoins {
		if av, ok := fieldRare(content, keyAuthorisedVia); ok {
			// The rule asks for a valid signature by the authorising user's
			// server. Signatures are verified when the event is received
			// (content/server-server-api.md, "Checks performed on receipt of
			// a PDU", step 2); the rules here require that server's
			// signature to be present, as the reference server does.
			authoriser, _ := stringValue(av)
			if !signedBy(ev.JSON(), domainOf(authoriser)) {
				return rejectf("member.authorised_via.unsigned", "content.join_authorised_via_users_server names %s, but the event is not signed by its server", clip(av))
			}
		}
	}

	senderMembership := membershipOf(state.StateEvent(typeMember, sender))
	targetMembership := senderMembership
	if target != sender {
		targetMembership = membershipOf(state.StateEvent(typeMember, target))
	}

	switch membership {
	case "join":
		// The room creator's first join, straight after the create event.
		if prev := ev.PrevEventIDs(); len(prev) == 1 && prev[0] == create.ID() {
			if creatorOf(v, create) == target {
				return nil
			}
		}
		if sender != target {
			return rejectf("member.join.not_self", "%s cannot join %s to the room: only users join themselves", sender, target)
		}
		if senderMembership == "ban" {
			return rejectf("member.join.banned", "%s is banned from the room", sender)
		}
		jrEv := state.StateEvent(typeJoinRules, "")
		joinRule, isRule := joinRuleOf(jrEv)
		switch {
		case !isRule:
			return rejectf("member.join.join_rule", "the join rule is not a string (%s) and lets no one join", joinRuleRaw(jrEv))
		case joinRule == "invite" || (v.Auth.Knocking && joinRule == "knock"):
			if senderMembership == "invite" || senderMembership == "join" {
				return nil
			}
			return rejectf("member.join.not_invited", "the join rule is %q and %s is not invited", joinRule, sender)
		case (v.Auth.RestrictedJoins && joinRule == "restricted") || (v.Auth.KnockRestricted && joinRule == "knock_restricted"):
			if senderMembership == "invite" || senderMembership == "join" {
				return nil
			}
			av, ok := fieldRare(content, keyAuthorisedVia)
			if !ok {
				return rejectf("member.join.no_authoriser", "the join rule is %q and the join has no join_authorised_via_users_server", joinRule)
			}
			authoriser, ok := stringValue(av)
			if !ok {
				return rejectf("member.join.no_authoriser", "join_authorised_via_users_server is not a user ID: %s", clip(av))
			}
			if membershipOf(state.StateEvent(typeMember, authoriser)) != "join" {
				return rejectf("member.join.authoriser_not_joined", "the authorising user %s is not joined to the room", authoriser)
			}
			if lvl, inv := pl.UserLevelExact(authoriser), pl.c.scalar(scInvite); lvl.Cmp(inv) < 0 {
				return rejectf("member.join.authoriser_power", "the authorising user %s has power level %s, below the invite level %s", authoriser, lvl, inv)
			}
			return nil
		case joinRule == "public":
			return nil
		}
		return rejectf("member.join.join_rule", "the join rule %q does not let %s join", joinRule, sender)

	case "invite":
		if tpi, ok := fieldRare(content, keyThirdPartyInvite); ok {
			return checkThirdPartyInvite(v, ev, state, tpi, target, targetMembership)
		}
		if senderMembership != "join" {
			return rejectf("member.invite.sender_not_joined", "the inviter %s is not joined to the room", sender)
		}
		switch targetMembership {
		case "join":
			return rejectf("member.invite.target_joined", "%s is already joined", target)
		case "ban":
			return rejectf("member.invite.target_banned", "%s is banned", target)
		}
		if lvl, inv := pl.UserLevelExact(sender), pl.c.scalar(scInvite); lvl.Cmp(inv) < 0 {
			return rejectf("member.invite.power", "the inviter's power level %s is below the invite level %s", lvl, inv)
		}
		return nil

	case "leave":
		if sender == target {
			if senderMembership == "invite" || senderMembership == "join" || (v.Auth.Knocking && senderMembership == "knock") {
				return nil
			}
			return rejectf("member.leave.not_member", "%s cannot leave: their membership is %q", sender, displayMembership(senderMembership))
		}
		if senderMembership != "join" {
			return rejectf("member.leave.sender_not_joined", "%s is not joined and cannot kick or unban", sender)
		}
		senderLevel := pl.UserLevelExact(sender)
		if ban := pl.c.scalar(scBan); targetMembership == "ban" && senderLevel.Cmp(ban) < 0 {
			return rejectf("member.leave.unban_power", "unbanning needs the ban level %s; the sender has %s", ban, senderLevel)
		}
		targetLevel := pl.UserLevelExact(target)
		kick := pl.c.scalar(scKick)
		if senderLevel.Cmp(kick) >= 0 && targetLevel.Cmp(senderLevel) < 0 {
			return nil
		}
		return rejectf("member.leave.kick_power", "kicking needs the kick level %s and more power than the target (sender %s, target %s)", kick, senderLevel, targetLevel)

	case "ban":
		if senderMembership != "join" {
			return rejectf("member.ban.sender_not_joined", "%s is not joined and cannot ban", sender)
		}
		senderLevel := pl.UserLevelExact(sender)
		targetLevel := pl.UserLevelExact(target)
		ban := pl.c.scalar(scBan)
		if senderLevel.Cmp(ban) >= 0 && targetLevel.Cmp(senderLevel) < 0 {
			return nil
		}
		return rejectf("member.ban.power", "banning needs the ban level %s and more power than the target (sender %s, target %s)", ban, senderLevel, targetLevel)

	case "knock":
		if !v.Auth.Knocking {
			break
		}
		jrEv := state.StateEvent(typeJoinRules, "")
		joinRule, isRule := joinRuleOf(jrEv)
		if !isRule {
			return rejectf("member.knock.join_rule", "the join rule is not a string (%s) and does not allow knocking", joinRuleRaw(jrEv))
		}
		if joinRule != "knock" && !(v.Auth.KnockRestricted && joinRule == "knock_restricted") {
			return rejectf("member.knock.join_rule", "the join rule %q does not allow knocking", joinRule)
		}
		if sender != target {
			return rejectf("member.knock.not_self", "%s cannot knock for %s", sender, target)
		}
		switch senderMembership {
		case "ban", "invite", "join":
			return rejectf("member.knock.membership", "%s cannot knock: their membership is %q", sender, senderMembership)
		}
		return nil
	}
	mv, _ := field(content, "membership")
	return rejectf("member.membership_unknown", "the membership %s is not one this room version knows", clip(mv))
}

// joinRuleRaw returns the raw content.join_rule of a join rules event for
// a rejection reason.
func joinRuleRaw(ev *event.Event) string {
	jr, _ := field(ev.Content(), "join_rule")
	return clip(jr)
}

func displayMembership(m string) string {
	if m == "" {
		return "none"
	}
	return m
}

// creatorOf returns the room's creator for the creator-join rule:
// content.creator (v1-v10) or the create event's sender (v11+).
func creatorOf(v roomversion.Version, create *event.Event) string {
	if v.Auth.CreatorInContent {
		cv, _ := field(create.Content(), "creator")
		s, _ := stringValue(cv)
		return s
	}
	return create.Sender()
}

// signedBy reports whether the event's signatures hold a non-empty entry
// for server.
func signedBy(raw []byte, server string) bool {
	if server == "" {
		return false
	}
	sigs, ok := field(raw, "signatures")
	if !ok {
		return false
	}
	entry, ok := field(sigs, server)
	if !ok {
		return false
	}
	it, ok := newObjIter(entry)
	if !ok {
		return false
	}
	_, _, _, has := it.next()
	return has
}
