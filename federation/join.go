package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/internal/mxerr"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

// This file holds both sides of the membership handshakes of
// content/server-server-api.md: "Joining Rooms" (make_join, send_join v2),
// "Knocking upon a room" (make_knock, send_knock), "Leaving Rooms (Rejecting
// Invites)" (make_leave, send_leave v2) and "Inviting to a room" (invite v2
// and v1).

// strippedStateTypes are the state events sent with invites and knocks to
// let the user recognise the room (invite_room_state, knock_room_state), the
// reference server's default list.
var strippedStateTypes = []string{"m.room.create", "m.room.join_rules", "m.room.canonical_alias", "m.room.avatar", "m.room.encryption", "m.room.name", "m.room.topic"}

// ---- resident side ----

// membershipTemplate answers make_join, make_leave and make_knock.
func (s *Server) membershipTemplate(w http.ResponseWriter, r *http.Request, membership string) {
	if !s.needRooms(w) || s.Key == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	ctx := r.Context()
	roomID, userID := r.PathValue("roomId"), r.PathValue("userId")
	if !strings.HasPrefix(userID, "@") || serverOf(userID) == "" {
		fail(w, badRequest(mxerr.InvalidParam, "userId is not a user ID"))
		return
	}
	if serverOf(userID) != origin(r) {
		fail(w, forbidden("user "+userID+" is not a user of the requesting server"))
		return
	}
	v, err := s.roomAccess(ctx, roomID, origin(r), false)
	if err != nil {
		fail(w, err)
		return
	}
	if membership != "leave" {
		vers := r.URL.Query()["ver"]
		if len(vers) == 0 {
			if membership == "knock" {
				fail(w, badRequest(mxerr.MissingParam, "ver is required"))
				return
			}
			vers = []string{"1"} // "Defaults to [1]" (joins-v1.yaml)
		}
		if !contains(vers, v.ID) {
			fail(w, badRequest(mxerr.IncompatibleRoomVersion, "the room's version "+v.ID+" is not one the server supports").With("room_version", v.ID))
			return
		}
		if membership == "knock" && !v.Auth.Knocking {
			// The reference server refuses with 403 M_FORBIDDEN.
			fail(w, forbidden("room version "+v.ID+" does not support knocking"))
			return
		}
	}
	content := map[string]any{"membership": membership}
	ev, err := s.buildLocal(ctx, v, roomID, event.TypeMember, &userID, userID, content)
	if err != nil {
		if membership == "join" {
			// Restricted rooms: vouch for the join with a local user who
			// can invite, when the conditions hold.
			if via, verr := s.authoriseRestrictedJoin(ctx, v, roomID, userID); verr != nil {
				fail(w, verr)
				return
			} else if via != "" {
				content["join_authorised_via_users_server"] = via
				ev, err = s.buildLocal(ctx, v, roomID, event.TypeMember, &userID, userID, content)
			}
		}
		if err != nil {
			fail(w, err)
			return
		}
	}
	var tmpl map[string]json.RawMessage
	if err := json.Unmarshal(ev.JSON(), &tmpl); err != nil {
		fail(w, err)
		return
	}
	delete(tmpl, "hashes")
	delete(tmpl, "signatures")
	delete(tmpl, "unsigned")
	tmpl["origin"], _ = json.Marshal(s.ServerName)
	respondJSON(w, http.StatusOK, map[string]any{"room_version": v.ID, "event": tmpl})
}

func (s *Server) handleMakeJoin(w http.ResponseWriter, r *http.Request) {
	s.membershipTemplate(w, r, "join")
}
func (s *Server) handleMakeLeave(w http.ResponseWriter, r *http.Request) {
	s.membershipTemplate(w, r, "leave")
}
func (s *Server) handleMakeKnock(w http.ResponseWriter, r *http.Request) {
	s.membershipTemplate(w, r, "knock")
}

// AuthoriseRestrictedJoin is the check a resident server makes before a
// join of a restricted room, for embedders that make joins of their own
// users locally: the user of serverName to name in the join's
// join_authorised_via_users_server, "" when the room is not restricted, or
// the errors of make_join (400 M_UNABLE_TO_AUTHORISE_JOIN when no allowed
// room can be checked here, 400 M_UNABLE_TO_GRANT_JOIN when no local user
// may invite, 403 when the user is in no allowed room).
func AuthoriseRestrictedJoin(ctx context.Context, rooms RoomStore, serverName string, v roomversion.Version, roomID, userID string) (string, error) {
	s := &Server{ServerName: serverName, Rooms: rooms}
	return s.authoriseRestrictedJoin(ctx, v, roomID, userID)
}

// authoriseRestrictedJoin finds a local user who can vouch for userID's join
// of a restricted room ("Restricted rooms"): "" when the room is not
// restricted (the join stands or falls on its own), an *Error when the
// conditions cannot be checked (400 M_UNABLE_TO_AUTHORISE_JOIN), are met but
// no local user can invite (400 M_UNABLE_TO_GRANT_JOIN), or are not met (403).
func (s *Server) authoriseRestrictedJoin(ctx context.Context, v roomversion.Version, roomID, userID string) (string, error) {
	if !v.Auth.RestrictedJoins {
		return "", nil
	}
	_, st, _, err := currentState(ctx, s.Rooms, roomID)
	if err != nil {
		return "", err
	}
	jr, err := s.stateEvent(ctx, st, "m.room.join_rules", "")
	if err != nil || jr == nil {
		return "", err
	}
	var rules struct {
		JoinRule string `json:"join_rule"`
		Allow    []struct {
			Type   string `json:"type"`
			RoomID string `json:"room_id"`
		} `json:"allow"`
	}
	json.Unmarshal(jr.Content(), &rules)
	if rules.JoinRule != "restricted" && !(rules.JoinRule == "knock_restricted" && v.Auth.KnockRestricted) {
		return "", nil
	}
	checked, met := false, false
	for _, a := range rules.Allow {
		if a.Type != "m.room_membership" || a.RoomID == "" {
			continue
		}
		_, other, _, err := currentState(ctx, s.Rooms, a.RoomID)
		if err != nil {
			continue // a room we are not in: cannot check it
		}
		if !s.localJoined(ctx, other) {
			// Known here, but no user of ours is in it any more: we hear
			// nothing of it since, so its state may be stale. The spec's
			// answer to "cannot check" is M_UNABLE_TO_AUTHORISE_JOIN.
			continue
		}
		checked = true
		m, err := s.stateEvent(ctx, other, event.TypeMember, userID)
		if err == nil && m != nil && m.Membership() == "join" {
			met = true
			break
		}
	}
	if !met {
		if !checked {
			return "", badRequest(mxerr.UnableToAuthoriseJoin, "cannot check the join conditions of the room")
		}
		return "", forbidden("the user meets none of the room's join conditions")
	}
	// A joined local user with the power to invite.
	create, _ := s.stateEvent(ctx, st, event.TypeCreate, "")
	pl, _ := s.stateEvent(ctx, st, "m.room.power_levels", "")
	levels, err := eventauth.NewPowerLevels(v, pl, create)
	if err != nil {
		return "", err
	}
	var local []string
	for k := range st {
		if k.Type == event.TypeMember && serverOf(k.StateKey) == s.ServerName {
			local = append(local, k.StateKey)
		}
	}
	sort.Strings(local)
	for _, u := range local {
		m, err := s.stateEvent(ctx, st, event.TypeMember, u)
		if err == nil && m != nil && m.Membership() == "join" && levels.UserLevel(u) >= levels.Invite() {
			return u, nil
		}
	}
	return "", badRequest(mxerr.UnableToGrantJoin, "no user of this server can grant the join")
}

// localJoined reports whether a user of this server is joined in the
// state st.
func (s *Server) localJoined(ctx context.Context, st stateres.StateMap) bool {
	var ids []string
	for k, id := range st {
		if k.Type == event.TypeMember && serverOf(k.StateKey) == s.ServerName {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return false
	}
	evs, err := s.Rooms.Events(ctx, ids)
	if err != nil {
		return false
	}
	for _, e := range evs {
		if e.Event != nil && e.Event.Membership() == "join" {
			return true
		}
	}
	return false
}

func (s *Server) stateEvent(ctx context.Context, st stateres.StateMap, typ, key string) (*event.Event, error) {
	id, ok := st[stateres.StateKey{Type: typ, StateKey: key}]
	if !ok {
		return nil, nil
	}
	evs, err := s.Rooms.Events(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	return evs[0].Event, nil
}

// buildLocal builds an event of ours on the room's current state (prev
// events: the forward extremities; auth events: the auth events selection from
// the current state), signed by us, and checks that the rules allow it (403
// M_FORBIDDEN otherwise). It does not store it.
func (s *Server) buildLocal(ctx context.Context, v roomversion.Version, roomID, typ string, stateKey *string, sender string, content any) (*event.Event, error) {
	_, st, extrem, err := currentState(ctx, s.Rooms, roomID)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	return s.buildOn(ctx, v, roomID, typ, stateKey, sender, raw, st, extrem)
}

func (s *Server) buildOn(ctx context.Context, v roomversion.Version, roomID, typ string, stateKey *string, sender string, content []byte, st stateres.StateMap, extrem []string) (*event.Event, error) {
	return buildEvent(ctx, s.Rooms, v, event.Builder{Type: typ, StateKey: stateKey, Sender: sender, RoomID: roomID, Content: content}, st, extrem, s.ServerName, s.Key, true)
}

// buildEvent builds b on the state st with the prev events extrem, signed by
// server with key, and, when check is set, checks it against st.
func buildEvent(ctx context.Context, store EventStore, v roomversion.Version, b event.Builder, st stateres.StateMap, extrem []string, server string, key *signing.SigningKey, check bool) (*event.Event, error) {
	if len(extrem) > event.MaxPrevEvents {
		extrem = extrem[:event.MaxPrevEvents]
	}
	prevSt, err := store.Events(ctx, extrem)
	if err != nil {
		return nil, err
	}
	for i, p := range prevSt {
		if p.Event == nil {
			return nil, fmt.Errorf("forward extremity %s not stored", extrem[i])
		}
		b.PrevEvents = append(b.PrevEvents, p.Event)
	}
	// A first build gives the event the selection reads; the second has
	// its auth events.
	probe, err := b.Build(v, server, key)
	if err != nil {
		return nil, badRequest(mxerr.BadJSON, "cannot build the event: "+err.Error())
	}
	needed, err := eventauth.Needed(v, probe)
	if err != nil {
		return nil, badRequest(mxerr.BadJSON, err.Error())
	}
	keys, _ := authKeys(v, probe)
	state := eventauth.StateMap{}
	var ids []string
	var kk []eventauth.StateKey
	for _, k := range keys {
		if id, ok := st[k]; ok {
			ids = append(ids, id)
			kk = append(kk, k)
		}
	}
	authSt, err := store.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, a := range authSt {
		if a.Event == nil {
			return nil, fmt.Errorf("state event %s not stored", ids[i])
		}
		if slices.Contains(needed, kk[i]) {
			b.AuthEvents = append(b.AuthEvents, a.Event)
		}
		state[kk[i]] = a.Event
	}
	ev, err := b.Build(v, server, key)
	if err != nil {
		return nil, badRequest(mxerr.BadJSON, "cannot build the event: "+err.Error())
	}
	if err := eventauth.Allowed(v, ev, state); check && err != nil {
		return nil, forbidden("the event is not allowed: " + err.Error())
	}
	return ev, nil
}

// acceptMembership is the resident side of send_join, send_leave and
// send_knock: it checks the event the origin signed, adds our signature,
// checks it against its auth events, the state before it and the current
// state, and stores it. It returns the signed event and the state before it.
func (s *Server) acceptMembership(r *http.Request, membership string) (*event.Event, stateres.StateMap, error) {
	ctx := r.Context()
	roomID, eventID, org := r.PathValue("roomId"), r.PathValue("eventId"), origin(r)
	v, err := s.roomAccess(ctx, roomID, org, false)
	if err != nil {
		return nil, nil, err
	}
	if membership == "knock" && !v.Auth.Knocking {
		return nil, nil, forbidden("room version " + v.ID + " does not support knocking")
	}
	body, err := s.body(r)
	if err != nil {
		return nil, nil, err
	}
	ev, err := event.Parse(v, body)
	if err != nil {
		return nil, nil, badRequest(mxerr.BadJSON, "the event is not valid in room version "+v.ID+": "+err.Error())
	}
	sk, _ := ev.StateKey()
	switch {
	case ev.ID() != eventID:
		return nil, nil, badRequest(mxerr.InvalidParam, "the event's ID is "+ev.ID()+", not "+eventID)
	case ev.RoomID() != roomID:
		return nil, nil, badRequest(mxerr.InvalidParam, "the event is not of room "+roomID)
	case ev.Type() != event.TypeMember:
		return nil, nil, badRequest(mxerr.InvalidParam, "the event is not an m.room.member event")
	case ev.Membership() != membership:
		return nil, nil, badRequest(mxerr.InvalidParam, "the event's membership is not "+membership)
	case !ev.IsState() || sk != ev.Sender():
		return nil, nil, badRequest(mxerr.InvalidParam, "the event's state_key is not its sender")
	case ev.SenderServer() != org:
		return nil, nil, badRequest(mxerr.InvalidParam, "the event's sender is not a user of the requesting server")
	}
	// Our signature goes on first: a restricted join vouched for by one of
	// our users must carry it to verify. Signing recomputes the content
	// hash, which the sender's signature covers, so a bad hash still fails.
	signedRaw, err := event.Sign(v, ev.JSON(), s.ServerName, s.Key)
	if err != nil {
		return nil, nil, err
	}
	signed, err := event.Parse(v, signedRaw)
	if err != nil {
		return nil, nil, err
	}
	if signed.ID() != ev.ID() {
		return nil, nil, fmt.Errorf("federation: signing changed the event ID")
	}
	vr := &event.Verifier{KeyRing: s.Keys, Now: s.Now}
	if res := vr.Verify(ctx, signed); res.Verdict != event.Valid {
		return nil, nil, badRequest(mxerr.InvalidParam, "the event's signatures or hashes do not verify: "+res.Err.Error())
	}
	mu := s.recv.roomLock(roomID)
	mu.Lock()
	defer mu.Unlock()
	if have, err := s.Rooms.Events(ctx, []string{signed.ID()}); err != nil {
		return nil, nil, err
	} else if have[0].Event != nil {
		if have[0].Rejected {
			return nil, nil, forbidden("the event was rejected")
		}
		before, err := stateBeforeEvent(ctx, s.Rooms, have[0].Event)
		return have[0].Event, before, err
	}
	before, err := stateBeforeEvent(ctx, s.Rooms, signed)
	if err != nil {
		return nil, nil, badRequest(mxerr.InvalidParam, "the event's prev events are not known here")
	}
	ids := authEventIDs(signed)
	authSt, err := s.Rooms.Events(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	var auth []*event.Event
	rej := map[string]bool{}
	for i, a := range authSt {
		if a.Event == nil {
			return nil, nil, badRequest(mxerr.InvalidParam, "auth event "+ids[i]+" is not known here")
		}
		auth = append(auth, a.Event)
		rej[ids[i]] = a.Rejected
	}
	if err := eventauth.Check(v, signed, auth, func(id string) bool { return rej[id] }); err != nil {
		return nil, nil, forbidden("the event is not allowed by its auth events: " + err.Error())
	}
	st, err := loadState(ctx, s.Rooms, v, signed, before)
	if err != nil {
		return nil, nil, err
	}
	if err := eventauth.Allowed(v, signed, st); err != nil {
		return nil, nil, forbidden("the event is not allowed by the room state: " + err.Error())
	}
	if soft, err := s.recv.softFails(ctx, signed, before); err != nil {
		return nil, nil, err
	} else if soft {
		return nil, nil, forbidden("the event is not allowed by the room's current state")
	}
	ne := NewEvent{Event: signed, Status: Accepted, StateAfter: stateAfter(before, signed, true)}
	if err := s.Rooms.StoreEvents(ctx, roomID, []NewEvent{ne}); err != nil {
		return nil, nil, err
	}
	if s.OnEvent != nil {
		s.OnEvent(ctx, ne)
	}
	return signed, before, nil
}

func (s *Server) stateEvents(ctx context.Context, st stateres.StateMap, only []string) ([]*event.Event, error) {
	keys := sortedKeys(st)
	var ids []string
	for _, k := range keys {
		if only == nil || (k.StateKey == "" && contains(only, k.Type)) {
			ids = append(ids, st[k])
		}
	}
	evs, err := s.Rooms.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*event.Event, 0, len(evs))
	for i, e := range evs {
		if e.Event == nil {
			return nil, fmt.Errorf("state event %s not stored", ids[i])
		}
		out = append(out, e.Event)
	}
	return out, nil
}

func (s *Server) handleSendJoin(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) || s.Key == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	ctx := r.Context()
	// omit_members (partial state) is accepted and ignored: the whole
	// state is always sent, and members_omitted is false, which the
	// specification allows.
	ev, before, err := s.acceptMembership(r, "join")
	if err != nil {
		fail(w, err)
		return
	}
	state, err := s.stateEvents(ctx, before, nil)
	if err != nil {
		fail(w, err)
		return
	}
	chain, err := authChain(ctx, s.Rooms, append(append([]*event.Event{}, state...), ev))
	if err != nil {
		fail(w, err)
		return
	}
	servers, err := serversInRoom(ctx, s.Rooms, stateAfter(before, ev, true))
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, map[string]any{
		"origin":          s.ServerName,
		"state":           rawEvents(state),
		"auth_chain":      rawEvents(chain),
		"event":           json.RawMessage(ev.JSON()),
		"members_omitted": false,
		"servers_in_room": servers,
	})
}

func (s *Server) handleSendLeave(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) || s.Key == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	if _, _, err := s.acceptMembership(r, "leave"); err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, json.RawMessage("{}"))
}

func (s *Server) handleSendKnock(w http.ResponseWriter, r *http.Request) {
	if !s.needRooms(w) || s.Key == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	_, before, err := s.acceptMembership(r, "knock")
	if err != nil {
		fail(w, err)
		return
	}
	state, err := s.stateEvents(r.Context(), before, strippedStateTypes)
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, map[string]any{"knock_room_state": rawEvents(state)})
}

// ---- invites, invitee side ----

// Invite is an invite received for one of our users, checked and signed by
// us.
type Invite struct {
	Origin string
	// Event is the invite with our signature added.
	Event *event.Event
	// RoomState is invite_room_state (full PDUs from room version 12, and
	// usually before; kept as sent).
	RoomState []json.RawMessage
}

// Invites decides on invites for local users and handles third-party
// invites ("Inviting to a room", "Third-party invites").
type Invites interface {
	// Invited is called with an invite that passed the checks; an error
	// refuses it (an *Error, such as 403 M_FORBIDDEN, is sent as it is).
	Invited(ctx context.Context, inv Invite) error
	// ExchangeThirdPartyInvite handles PUT /exchange_third_party_invite:
	// ev is the m.room.member event the origin asks us to authorise.
	ExchangeThirdPartyInvite(ctx context.Context, origin, roomID string, ev json.RawMessage) error
	// OnBind handles PUT /3pid/onbind from an identity server.
	OnBind(ctx context.Context, body json.RawMessage) error
}

// MemoryInvites is an Invites that records what it receives and accepts
// invites for the users in Users (all users when Users is nil).
type MemoryInvites struct {
	mu       sync.Mutex
	Users    map[string]bool
	Received []Invite
	Exchange []json.RawMessage
	Binds    []json.RawMessage
}

// Invited implements Invites.
func (m *MemoryInvites) Invited(ctx context.Context, inv Invite) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sk, _ := inv.Event.StateKey()
	if m.Users != nil && !m.Users[sk] {
		return notFoundErr("unknown user " + sk)
	}
	m.Received = append(m.Received, inv)
	return nil
}

// ExchangeThirdPartyInvite implements Invites by recording the request.
func (m *MemoryInvites) ExchangeThirdPartyInvite(ctx context.Context, origin, roomID string, ev json.RawMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Exchange = append(m.Exchange, ev)
	return nil
}

// OnBind implements Invites by recording the request.
func (m *MemoryInvites) OnBind(ctx context.Context, body json.RawMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Binds = append(m.Binds, body)
	return nil
}

// Invites returns the invites received so far.
func (m *MemoryInvites) Invites() []Invite {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Invite(nil), m.Received...)
}

func (s *Server) handleInviteV2(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RoomVersion     *string           `json:"room_version"`
		Event           json.RawMessage   `json:"event"`
		InviteRoomState []json.RawMessage `json:"invite_room_state"`
	}
	if err := s.decodeBody(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.RoomVersion == nil || len(req.Event) == 0 {
		fail(w, badRequest(mxerr.BadJSON, "room_version and event are required"))
		return
	}
	signed, err := s.receiveInvite(r, *req.RoomVersion, req.Event, req.InviteRoomState)
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, map[string]json.RawMessage{"event": signed.JSON()})
}

// handleInviteV1 is the legacy invite endpoint, for rooms of versions 1 and 2:
// the body is the event itself (with invite_room_state in unsigned) and the
// answer the array [200, {"event": ...}].
func (s *Server) handleInviteV1(w http.ResponseWriter, r *http.Request) {
	b, err := s.body(r)
	if err != nil {
		fail(w, err)
		return
	}
	var head struct {
		Unsigned struct {
			InviteRoomState []json.RawMessage `json:"invite_room_state"`
		} `json:"unsigned"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		fail(w, badRequest(mxerr.BadJSON, "body is not an event"))
		return
	}
	// v1 serves room versions 1 and 2, which share the event format.
	signed, err := s.receiveInvite(r, roomversion.V1.ID, b, head.Unsigned.InviteRoomState)
	if err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, []any{200, map[string]json.RawMessage{"event": signed.JSON()}})
}

func (s *Server) receiveInvite(r *http.Request, versionID string, raw json.RawMessage, roomState []json.RawMessage) (*event.Event, error) {
	if s.Invites == nil || s.Key == nil {
		return nil, errUnrecognized
	}
	ctx := r.Context()
	org := origin(r)
	roomID, eventID := r.PathValue("roomId"), r.PathValue("eventId")
	v, ok := s.versions().Lookup(versionID)
	if !ok {
		return nil, badRequest(mxerr.IncompatibleRoomVersion, "room version "+versionID+" is not supported").With("room_version", versionID)
	}
	if s.Rooms != nil {
		if _, err := s.Rooms.RoomVersion(ctx, roomID); err == nil {
			if _, err := s.roomAccess(ctx, roomID, org, false); err != nil {
				return nil, err
			}
		}
	}
	ev, err := event.Parse(v, raw)
	if err != nil {
		return nil, badRequest(mxerr.InvalidParam, "the event is not valid in room version "+v.ID+": "+err.Error())
	}
	sk, _ := ev.StateKey()
	switch {
	case ev.ID() != eventID:
		return nil, badRequest(mxerr.InvalidParam, "the event's ID is "+ev.ID()+", not "+eventID)
	case ev.RoomID() != roomID:
		return nil, badRequest(mxerr.InvalidParam, "the event is not of room "+roomID)
	case ev.Type() != event.TypeMember:
		return nil, badRequest(mxerr.InvalidParam, "the event is not an m.room.member event")
	case ev.Membership() != "invite":
		return nil, badRequest(mxerr.InvalidParam, "the event's membership is not invite")
	case ev.SenderServer() != org:
		return nil, badRequest(mxerr.InvalidParam, "the event's sender is not a user of the requesting server")
	case serverOf(sk) != s.ServerName:
		return nil, badRequest(mxerr.InvalidParam, "the invited user is not a user of this server")
	}
	// invite_room_state must hold the create event, as PDUs of the room's
	// version: enforced from the versions whose room ID is the create
	// event's hash (12), as the specification asks ("SHOULD apply to all
	// other room versions", "MAY apply to room versions 1 through 11").
	if v.Event.RoomID == roomversion.RoomIDCreateHash {
		haveCreate := false
		for _, st := range roomState {
			e, err := event.Parse(v, st)
			if err != nil {
				return nil, badRequest(mxerr.InvalidParam, "an invite_room_state entry is not a valid event of room version "+v.ID)
			}
			if e.Type() == event.TypeCreate && e.RoomID() == roomID {
				haveCreate = true
			}
		}
		if !haveCreate {
			return nil, badRequest(mxerr.InvalidParam, "invite_room_state has no m.room.create event of the room")
		}
	}
	vr := &event.Verifier{KeyRing: s.Keys, Now: s.Now}
	if res := vr.Verify(ctx, ev); res.Verdict != event.Valid {
		return nil, badRequest(mxerr.InvalidParam, "the event's signatures or hashes do not verify: "+res.Err.Error())
	}
	signedRaw, err := event.Sign(v, ev.JSON(), s.ServerName, s.Key)
	if err != nil {
		return nil, err
	}
	signed, err := event.Parse(v, signedRaw)
	if err != nil {
		return nil, err
	}
	if err := s.Invites.Invited(ctx, Invite{Origin: org, Event: signed, RoomState: roomState}); err != nil {
		return nil, err
	}
	return signed, nil
}

func (s *Server) handleExchangeThirdPartyInvite(w http.ResponseWriter, r *http.Request) {
	if s.Invites == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	var ev struct {
		Type     string `json:"type"`
		RoomID   string `json:"room_id"`
		Sender   string `json:"sender"`
		StateKey string `json:"state_key"`
		Content  struct {
			Membership       string          `json:"membership"`
			ThirdPartyInvite json.RawMessage `json:"third_party_invite"`
		} `json:"content"`
	}
	b, err := s.body(r)
	if err == nil {
		err = decodeJSON(b, &ev)
	}
	if err != nil {
		fail(w, err)
		return
	}
	roomID := r.PathValue("roomId")
	switch {
	case ev.Type != event.TypeMember || ev.Content.Membership != "invite":
		fail(w, badRequest(mxerr.InvalidParam, "the event is not an m.room.member invite"))
		return
	case ev.RoomID != roomID:
		fail(w, badRequest(mxerr.InvalidParam, "the event is not of room "+roomID))
		return
	case len(ev.Content.ThirdPartyInvite) == 0:
		fail(w, badRequest(mxerr.MissingParam, "content.third_party_invite is required"))
		return
	}
	if s.Rooms != nil {
		if _, err := s.roomAccess(r.Context(), roomID, origin(r), false); err != nil {
			fail(w, err)
			return
		}
	}
	if err := s.Invites.ExchangeThirdPartyInvite(r.Context(), origin(r), roomID, b); err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, json.RawMessage("{}"))
}

func (s *Server) handleOnBind(w http.ResponseWriter, r *http.Request) {
	if s.Invites == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	var req struct {
		Address string            `json:"address"`
		Medium  string            `json:"medium"`
		MXID    string            `json:"mxid"`
		Invites []json.RawMessage `json:"invites"`
	}
	b, err := s.body(r)
	if err == nil {
		err = decodeJSON(b, &req)
	}
	if err != nil {
		fail(w, err)
		return
	}
	if req.Address == "" || req.Medium == "" || req.MXID == "" || req.Invites == nil {
		fail(w, badRequest(mxerr.BadJSON, "address, medium, mxid and invites are required"))
		return
	}
	if err := s.Invites.OnBind(r.Context(), b); err != nil {
		fail(w, err)
		return
	}
	respondJSON(w, http.StatusOK, json.RawMessage("{}"))
}

// ---- our side: building events, joining, leaving, knocking, inviting ----

// ErrHandshake is wrapped by the errors of the outgoing membership flows when
// no server could complete the handshake.
var ErrHandshake = errors.New("federation: membership handshake failed")

// CreateEvent builds, signs, checks and stores a new event of ours in a room
// we are in (or the create event of a new room, whose RoomID the builder
// gives or, in room version 12, leaves empty), on top of the current state,
// and returns it. It does not send it: see SendEvents.
func (s *Server) CreateEvent(ctx context.Context, v roomversion.Version, b event.Builder) (*event.Event, error) {
	if b.Type == event.TypeCreate && len(b.PrevEvents)+len(b.PrevRefs) == 0 {
		if _, err := s.Rooms.RoomVersion(ctx, b.RoomID); err == nil && b.RoomID != "" {
			return nil, fmt.Errorf("federation: room %s exists", b.RoomID)
		}
		ev, err := b.Build(v, s.ServerName, s.Key)
		if err != nil {
			return nil, err
		}
		if err := eventauth.Check(v, ev, nil, nil); err != nil {
			return nil, err
		}
		ne := NewEvent{Event: ev, Status: Accepted, StateAfter: stateAfter(nil, ev, true)}
		return ev, s.Rooms.StoreEvents(ctx, ev.RoomID(), []NewEvent{ne})
	}
	mu := s.Receiver().roomLock(b.RoomID)
	mu.Lock()
	defer mu.Unlock()
	_, st, extrem, err := currentState(ctx, s.Rooms, b.RoomID)
	if err != nil {
		return nil, err
	}
	content := b.Content
	if content == nil {
		content = []byte("{}")
	}
	ev, err := s.buildOn(ctx, v, b.RoomID, b.Type, b.StateKey, b.Sender, content, st, extrem)
	if err != nil {
		return nil, err
	}
	ne := NewEvent{Event: ev, Status: Accepted, StateAfter: stateAfter(st, ev, true)}
	if err := s.Rooms.StoreEvents(ctx, b.RoomID, []NewEvent{ne}); err != nil {
		return nil, err
	}
	return ev, nil
}

// RoomServers returns the servers with joined members in the room's current
// state, except ours: where new events of the room must be sent.
func (s *Server) RoomServers(ctx context.Context, roomID string) ([]string, error) {
	_, st, _, err := currentState(ctx, s.Rooms, roomID)
	if err != nil {
		return nil, err
	}
	all, err := serversInRoom(ctx, s.Rooms, st)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, x := range all {
		if x != s.ServerName {
			out = append(out, x)
		}
	}
	return out, nil
}

// SendEvents sends events to every other server of their room (one
// transaction per server, in order) and returns the per-server error, nil
// when every server answered. A real homeserver queues and retries; this is
// the direct form.
func (s *Server) SendEvents(ctx context.Context, roomID string, evs []*event.Event) map[string]error {
	servers, err := s.RoomServers(ctx, roomID)
	if err != nil {
		return map[string]error{"": err}
	}
	errs := map[string]error{}
	for _, dest := range servers {
		if _, err := s.Client.SendPDUs(ctx, dest, evs, nil); err != nil {
			errs[dest] = err
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// JoinResult is the outcome of a remote join.
type JoinResult struct {
	// Event is the join event as stored.
	Event *event.Event
	// State is the room state before the join, as checked.
	State         []*event.Event
	ServersInRoom []string
	// Server is the resident server that completed the join.
	Server string
}

// template is the part of a make_* template that the joining server uses.
type template struct {
	Type       string          `json:"type"`
	RoomID     string          `json:"room_id"`
	Sender     string          `json:"sender"`
	StateKey   *string         `json:"state_key"`
	Depth      int64           `json:"depth"`
	Content    json.RawMessage `json:"content"`
	PrevEvents json.RawMessage `json:"prev_events"`
	AuthEvents json.RawMessage `json:"auth_events"`
}

// buildFromTemplate checks a make_* template (the checks the joining server
// MUST make: room_id, sender, state_key, type and membership) and builds our
// signed event from it.
func (s *Server) buildFromTemplate(t *Template, roomID, userID, membership string, extra map[string]any) (*event.Event, error) {
	var tm template
	if err := json.Unmarshal(t.Event, &tm); err != nil {
		return nil, badResponse("template: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(tm.Content, &c); err != nil || c == nil {
		return nil, badResponse("template: content is not an object")
	}
	switch {
	case tm.RoomID != roomID:
		return nil, badResponse("template: room_id %q, want %q", tm.RoomID, roomID)
	case tm.Sender != userID || tm.StateKey == nil || *tm.StateKey != userID:
		return nil, badResponse("template: sender and state_key must be %q", userID)
	case tm.Type != event.TypeMember:
		return nil, badResponse("template: type %q, want m.room.member", tm.Type)
	case c["membership"] != membership:
		return nil, badResponse("template: membership %v, want %q", c["membership"], membership)
	}
	for k, x := range extra {
		c[k] = x
	}
	content, _ := json.Marshal(c)
	prev, err := parseRefs(t.RoomVersion, tm.PrevEvents)
	if err != nil {
		return nil, badResponse("template: prev_events: %v", err)
	}
	auth, err := parseRefs(t.RoomVersion, tm.AuthEvents)
	if err != nil {
		return nil, badResponse("template: auth_events: %v", err)
	}
	b := event.Builder{Type: event.TypeMember, StateKey: &userID, Sender: userID, RoomID: roomID, Content: content,
		PrevRefs: prev, AuthRefs: auth, PrevDepth: max(tm.Depth-1, 0)}
	ev, err := b.Build(t.RoomVersion, s.ServerName, s.Key)
	if err != nil {
		return nil, badResponse("template: %v", err)
	}
	return ev, nil
}

// parseRefs reads prev_events or auth_events in the room version's format:
// [[id, hashes], ...] in versions 1 and 2, [id, ...] later.
func parseRefs(v roomversion.Version, raw json.RawMessage) ([]event.Reference, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if v.Event.Format == roomversion.EventFormatV1 {
		var pairs [][]json.RawMessage
		if err := json.Unmarshal(raw, &pairs); err != nil {
			return nil, err
		}
		out := make([]event.Reference, 0, len(pairs))
		for _, p := range pairs {
			var id string
			if len(p) != 2 || json.Unmarshal(p[0], &id) != nil {
				return nil, errors.New("entry is not [event ID, hashes]")
			}
			out = append(out, event.Reference{EventID: id, Hashes: p[1]})
		}
		return out, nil
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, err
	}
	out := make([]event.Reference, len(ids))
	for i, id := range ids {
		out[i].EventID = id
	}
	return out, nil
}

// supportedIDs lists our room version IDs for ver.
func (s *Server) supportedIDs() []string {
	var out []string
	for _, v := range s.versions().Known() {
		out = append(out, v.ID)
	}
	return out
}

// Join joins userID (one of ours) to a room we are not in, through the first
// of servers that completes the handshake ("Joining Rooms"): make_join with
// the room versions we support, our join event built from the template and
// signed, send_join v2, then the checks of what came back: the signatures and
// hashes of every state and auth chain event (an event with a bad hash is
// used redacted, one with a bad signature is dropped), each event against its
// own auth events (the auth chain in depth order), the create event of the
// room, and our join against its auth events and the returned state. The state
// and auth chain are stored as outliers and the join as the room's only
// forward extremity (NewEvent.ReplacesExtremities) with the state after it. Partial state (omit_members) is
// not used: the whole state is asked for.
func (s *Server) Join(ctx context.Context, servers []string, roomID, userID string, content map[string]any) (*JoinResult, error) {
	var errs []error
	for _, dest := range servers {
		if dest == s.ServerName {
			continue
		}
		res, err := s.joinVia(ctx, dest, roomID, userID, content)
		if err == nil {
			return res, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", dest, err))
	}
	return nil, fmt.Errorf("%w: %w", ErrHandshake, errors.Join(errs...))
}

func (s *Server) joinVia(ctx context.Context, dest, roomID, userID string, content map[string]any) (*JoinResult, error) {
	t, err := s.Client.MakeJoin(ctx, dest, roomID, userID, s.supportedIDs())
	if err != nil {
		return nil, err
	}
	if _, ok := s.versions().Lookup(t.RoomVersion.ID); !ok {
		return nil, badResponse("make_join: room version %s is not supported", t.RoomVersion.ID)
	}
	ev, err := s.buildFromTemplate(t, roomID, userID, "join", content)
	if err != nil {
		return nil, err
	}
	resp, err := s.Client.SendJoin(ctx, dest, ev, false)
	if err != nil {
		return nil, err
	}
	join := ev
	if resp.Event != nil {
		// The resident's copy carries its signature (needed for restricted
		// joins); it must still be our event with our signature.
		join = resp.Event
	}
	v := t.RoomVersion
	vr := &event.Verifier{KeyRing: s.Keys, Now: s.Now}
	if res := vr.Verify(ctx, join); res.Verdict != event.Valid {
		return nil, badResponse("send_join: the join event does not verify: %v", res.Err)
	}
	all := append(append([]*event.Event{}, resp.AuthChain...), resp.State...)
	checked, status, err := s.checkReceivedState(ctx, v, all)
	if err != nil {
		return nil, err
	}
	state := stateres.StateMap{}
	var stateEvs []*event.Event
	for _, e := range resp.State {
		c := checked[e.ID()]
		if c == nil || status[e.ID()] == Rejected || c.RoomID() != roomID {
			continue
		}
		sk, ok := c.StateKey()
		if !ok {
			return nil, badResponse("send_join: state lists %s, not a state event", c.ID())
		}
		state[stateres.StateKey{Type: c.Type(), StateKey: sk}] = c.ID()
		stateEvs = append(stateEvs, c)
	}
	cid, ok := state[stateres.StateKey{Type: event.TypeCreate}]
	if !ok {
		return nil, badResponse("send_join: the state has no create event of the room")
	}
	if checked[cid].RoomID() != roomID {
		return nil, badResponse("send_join: the create event is of another room")
	}
	// Our join against its auth events, and against the returned state.
	var auth []*event.Event
	for _, id := range authEventIDs(join) {
		a := checked[id]
		if a == nil {
			return nil, badResponse("send_join: auth event %s of the join is missing", id)
		}
		auth = append(auth, a)
	}
	if err := eventauth.Check(v, join, auth, func(id string) bool { return status[id] == Rejected }); err != nil {
		return nil, badResponse("send_join: the join is not allowed by its auth events: %v", err)
	}
	lookup := eventauth.StateMap{}
	for k, id := range state {
		lookup[k] = checked[id]
	}
	if err := eventauth.Allowed(v, join, lookup); err != nil {
		return nil, badResponse("send_join: the join is not allowed by the room state: %v", err)
	}
	// Store: the auth chain and state as outliers, then the join.
	var out []NewEvent
	sorted := make([]*event.Event, 0, len(checked))
	for _, e := range checked {
		sorted = append(sorted, e)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Depth() != sorted[j].Depth() {
			return sorted[i].Depth() < sorted[j].Depth()
		}
		return sorted[i].ID() < sorted[j].ID()
	})
	for _, e := range sorted {
		out = append(out, NewEvent{Event: e, Status: status[e.ID()]})
	}
	// The join replaces every extremity we had: after a ban lifted while
	// we were out, the ban would otherwise stay one.
	ne := NewEvent{Event: join, Status: Accepted, StateAfter: stateAfter(state, join, true), ReplacesExtremities: true}
	out = append(out, ne)
	if err := s.Rooms.StoreEvents(ctx, roomID, out); err != nil {
		return nil, err
	}
	return &JoinResult{Event: join, State: stateEvs, ServersInRoom: resp.ServersInRoom, Server: dest}, nil
}

// checkReceivedState verifies events received as a state and auth chain: the
// signatures and hashes in one batch, then each against its own auth events
// in depth order. It returns the usable events by ID (redacted where the hash
// failed) and the status of each: Outlier, or Rejected when its auth failed.
func (s *Server) checkReceivedState(ctx context.Context, v roomversion.Version, evs []*event.Event) (map[string]*event.Event, map[string]Status, error) {
	uniq := map[string]*event.Event{}
	var list []*event.Event
	for _, e := range evs {
		if uniq[e.ID()] == nil {
			uniq[e.ID()] = e
			list = append(list, e)
		}
	}
	vr := &event.Verifier{KeyRing: s.Keys, Now: s.Now}
	res := vr.VerifyAll(ctx, list)
	checked := map[string]*event.Event{}
	for i, e := range list {
		switch res[i].Verdict {
		case event.Valid:
			checked[e.ID()] = e
		case event.Redact:
			checked[e.ID()] = res[i].Redacted
		}
	}
	order := make([]*event.Event, 0, len(checked))
	for _, e := range checked {
		order = append(order, e)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].Depth() != order[j].Depth() {
			return order[i].Depth() < order[j].Depth()
		}
		return order[i].ID() < order[j].ID()
	})
	status := map[string]Status{}
	for _, e := range order {
		var auth []*event.Event
		ok := true
		for _, id := range authEventIDs(e) {
			a := checked[id]
			if a == nil {
				ok = false
				break
			}
			auth = append(auth, a)
		}
		status[e.ID()] = Outlier
		if !ok || eventauth.Check(v, e, auth, func(id string) bool { return status[id] == Rejected }) != nil {
			status[e.ID()] = Rejected
		}
	}
	return checked, status, nil
}

// Leave makes userID (one of ours) leave a room we are not in, or reject an
// invite to it, through the first of servers that completes make_leave and
// send_leave v2. The leave event is returned; it is not stored (we are not in
// the room).
func (s *Server) Leave(ctx context.Context, servers []string, roomID, userID string) (*event.Event, error) {
	var errs []error
	for _, dest := range servers {
		t, err := s.Client.MakeLeave(ctx, dest, roomID, userID)
		if err == nil {
			var ev *event.Event
			if ev, err = s.buildFromTemplate(t, roomID, userID, "leave", nil); err == nil {
				if err = s.Client.SendLeave(ctx, dest, ev); err == nil {
					return ev, nil
				}
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", dest, err))
	}
	return nil, fmt.Errorf("%w: %w", ErrHandshake, errors.Join(errs...))
}

// Knock knocks on a room for userID (one of ours) through the first of
// servers that completes make_knock and send_knock. It returns the knock
// event and knock_room_state, whose entries that do not parse or verify in the
// room's version are left out.
func (s *Server) Knock(ctx context.Context, servers []string, roomID, userID, reason string) (*event.Event, []*event.Event, error) {
	var errs []error
	for _, dest := range servers {
		t, err := s.Client.MakeKnock(ctx, dest, roomID, userID, s.supportedIDs())
		if err == nil {
			var extra map[string]any
			if reason != "" {
				extra = map[string]any{"reason": reason}
			}
			var ev *event.Event
			if ev, err = s.buildFromTemplate(t, roomID, userID, "knock", extra); err == nil {
				var st []json.RawMessage
				if st, err = s.Client.SendKnock(ctx, dest, ev); err == nil {
					return ev, s.verifiedStripped(ctx, t.RoomVersion, st), nil
				}
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", dest, err))
	}
	return nil, nil, fmt.Errorf("%w: %w", ErrHandshake, errors.Join(errs...))
}

func (s *Server) verifiedStripped(ctx context.Context, v roomversion.Version, raws []json.RawMessage) []*event.Event {
	var evs []*event.Event
	for _, r := range raws {
		if e, err := event.Parse(v, r); err == nil {
			evs = append(evs, e)
		}
	}
	vr := &event.Verifier{KeyRing: s.Keys, Now: s.Now}
	res := vr.VerifyAll(ctx, evs)
	out := evs[:0]
	for i, e := range evs {
		if res[i].Verdict == event.Valid {
			out = append(out, e)
		}
	}
	return out
}

// Invite invites target, a user of another server, to a room we are in, on
// behalf of sender ("Inviting to a room"): it builds and checks the invite
// on the current state, has the target's server sign it (invite v2, with the
// room's stripped state), checks that signature, stores the event and returns
// it. Send it to the room's other servers with SendEvents.
func (s *Server) Invite(ctx context.Context, roomID, sender, target string) (*event.Event, error) {
	v, err := s.Rooms.RoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	mu := s.Receiver().roomLock(roomID)
	mu.Lock()
	defer mu.Unlock()
	_, st, extrem, err := currentState(ctx, s.Rooms, roomID)
	if err != nil {
		return nil, err
	}
	content, _ := json.Marshal(map[string]string{"membership": "invite"})
	ev, err := s.buildOn(ctx, v, roomID, event.TypeMember, &target, sender, content, st, extrem)
	if err != nil {
		return nil, err
	}
	stripped, err := s.stateEvents(ctx, st, strippedStateTypes)
	if err != nil {
		return nil, err
	}
	signed, err := s.Client.Invite(ctx, serverOf(target), ev, rawEvents(stripped))
	if err != nil {
		return nil, err
	}
	// The invitee's server must have signed (and changed nothing else: the
	// ID, a hash of the redacted event, is the same).
	vr := &event.Verifier{KeyRing: s.Keys, Now: s.Now}
	if res := vr.Verify(ctx, signed); res.Verdict != event.Valid {
		return nil, badResponse("invite: the signed event does not verify: %v", res.Err)
	}
	if err := s.verifySignatureOf(ctx, signed, serverOf(target)); err != nil {
		return nil, err
	}
	ne := NewEvent{Event: signed, Status: Accepted, StateAfter: stateAfter(st, signed, true)}
	if err := s.Rooms.StoreEvents(ctx, roomID, []NewEvent{ne}); err != nil {
		return nil, err
	}
	return signed, nil
}

// verifySignatureOf checks the signature of server on ev (over its redacted
// form, "Validating hashes and signatures on received events"): the
// Verifier checks the servers the event must be signed by, and the invitee's
// server is not one of them.
func (s *Server) verifySignatureOf(ctx context.Context, ev *event.Event, server string) error {
	var sigs map[string]map[string]json.RawMessage
	if err := json.Unmarshal(ev.Signatures(), &sigs); err != nil || len(sigs[server]) == 0 {
		return badResponse("the event has no signature of %s", server)
	}
	var reqs []signing.KeyRequest
	for id := range sigs[server] {
		if kid, err := signing.ParseKeyID(id); err == nil {
			reqs = append(reqs, signing.KeyRequest{ServerName: server, KeyID: kid})
		}
	}
	found, err := s.Keys.PublicKeys(ctx, reqs)
	if err != nil {
		return err
	}
	keys := map[signing.KeyID]ed25519.PublicKey{}
	for k, pk := range found {
		if k.ServerName == server {
			keys[k.KeyID] = pk.Key
		}
	}
	redacted, err := redact.Redact(ev.Version(), ev.JSON())
	if err != nil {
		return err
	}
	mode := canonicaljson.Lenient
	if ev.Version().Event.StrictCanonicalJSON {
		mode = canonicaljson.Strict
	}
	if err := signing.VerifyJSON(redacted, server, keys, mode); err != nil {
		return badResponse("the signature of %s does not verify: %v", server, err)
	}
	return nil
}
