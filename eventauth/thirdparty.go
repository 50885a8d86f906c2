package eventauth

import (
	"crypto/ed25519"
	"strings"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// checkThirdPartyInvite applies the rules for an invite that carries
// content.third_party_invite: the invite stands on the signature of the
// identity server over content.third_party_invite.signed, checked against
// the public keys of the room's m.room.third_party_invite event for the
// token. The inviter's own membership and power are not consulted on this
// path: the rules allow or reject here (the m.room.third_party_invite
// event already needed the invite level).
func checkThirdPartyInvite(v roomversion.Version, ev *event.Event, state State, tpi []byte, target, targetMembership string) *Rejection {
	if targetMembership == "ban" {
		return rejectf("member.invite.third_party.target_banned", "%s is banned", target)
	}
	signed, ok := field(tpi, "signed")
	if !ok || !isObject(signed) {
		return reject("member.invite.third_party.no_signed", "content.third_party_invite has no signed object")
	}
	mxid, hasMXID := field(signed, "mxid")
	tok, hasToken := field(signed, "token")
	if !hasMXID || !hasToken {
		return reject("member.invite.third_party.no_mxid_token", "content.third_party_invite.signed lacks mxid or token")
	}
	if !stringIs(mxid, target) {
		return rejectf("member.invite.third_party.mxid", "signed.mxid %s is not the invited user %s", clip(mxid), target)
	}
	token, _ := stringValue(tok)
	var invite *event.Event
	if isString(tok) {
		invite = state.StateEvent(typeThirdPartyInvite, token)
	}
	if invite == nil {
		return rejectf("member.invite.third_party.no_invite_event", "there is no m.room.third_party_invite event for the token %s", clip(tok))
	}
	if invite.Sender() != ev.Sender() {
		return rejectf("member.invite.third_party.sender", "the invite is sent by %s, but the m.room.third_party_invite was sent by %s", ev.Sender(), invite.Sender())
	}
	if thirdPartySignatureValid(v, signed, invite.Content()) {
		return nil
	}
	return reject("member.invite.third_party.signature", "no signature in signed matches a public key of the m.room.third_party_invite event")
}

// thirdPartySignatureValid reports whether any ed25519 signature in
// signed.signatures verifies with any public key of the
// m.room.third_party_invite content: its public_key and the public_key of
// each entry of public_keys.
func thirdPartySignatureValid(v roomversion.Version, signed, inviteContent []byte) bool {
	var keys []ed25519.PublicKey
	addKey := func(raw []byte) {
		s, ok := stringValue(raw)
		if !ok {
			return
		}
		if k := decodeKey(s); k != nil {
			keys = append(keys, k)
		}
	}
	if pk, ok := field(inviteContent, "public_key"); ok {
		addKey(pk)
	}
	if pks, ok := field(inviteContent, "public_keys"); ok {
		arrayEach(pks, func(e []byte) bool {
			if pk, ok := field(e, "public_key"); ok {
				addKey(pk)
			}
			return true
		})
	}
	if len(keys) == 0 {
		return false
	}
	sigs, ok := field(signed, "signatures")
	if !ok {
		return false
	}
	mode := canonicaljson.Lenient
	if v.Event.StrictCanonicalJSON {
		mode = canonicaljson.Strict
	}
	entities, ok := newObjIter(sigs)
	if !ok {
		return false
	}
	for {
		ek, eesc, ev, ok := entities.next()
		if !ok {
			return false
		}
		entity, ok := keyString(ek, eesc)
		if !ok {
			continue
		}
		ids, ok := newObjIter(ev)
		if !ok {
			continue
		}
		for {
			ik, iesc, _, ok := ids.next()
			if !ok {
				break
			}
			id, ok := keyString(ik, iesc)
			if !ok || !strings.HasPrefix(id, "ed25519:") {
				continue
			}
			for _, k := range keys {
				m := map[signing.KeyID]ed25519.PublicKey{signing.KeyID(id): k}
				if signing.VerifyJSON(signed, entity, m, mode) == nil {
					return true
				}
			}
		}
	}
}

// decodeKey decodes an identity server's public key: base64, standard or
// URL-safe, padded or not, of 32 bytes.
func decodeKey(s string) ed25519.PublicKey {
	b, err := base64.Std.DecodeString(s)
	if err != nil {
		b, err = base64.URL.DecodeString(s)
	}
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil
	}
	return ed25519.PublicKey(b)
}
