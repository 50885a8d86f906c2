package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"github.com/mxkit/mxkit/examples/homeserver/e2ee"
	"github.com/mxkit/mxkit/examples/homeserver/pushing"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/examples/homeserver/internal/dbutil"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/visibility"
)

// Client implements the room side of clientapi (Rooms, Sender,
// RoomReader, Syncer, Directory) on Rooms and the database.
type Client struct {
	name  string
	rooms *Rooms
	db    *Store
	log   *slog.Logger
	// typing is shared with Data, which takes the notifications.
	typing   *typingState
	presence *Presence
	// join performs a remote join through federation; nil: only rooms
	// this server is in can be joined.
	join func(ctx context.Context, who clientapi.Identity, roomID string, via []string) error
	fed  *fedParts // nil without federation
	as   *asParts  // nil without application services
	// push gives the unread notification counts of /sync.
	push *pushing.Service
	// e2ee holds the keys and to-device messages /sync reports.
	e2ee *e2ee.Store
}

// dropRemoteInvite forgets an invite to a remote room once it is
// answered.
func (c *Client) dropRemoteInvite(ctx context.Context, roomID, userID string) {
	c.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM remote_invites WHERE room_id = ? AND user_id = ?`, roomID, userID)
		return err
	})
}

// remoteInviteOrigin returns the server that invited the user to a room
// this server is not in, "" if none.
func (c *Client) remoteInviteOrigin(ctx context.Context, roomID, userID string) string {
	var origin string
	c.db.queryRow(ctx, `SELECT origin FROM remote_invites WHERE room_id = ? AND user_id = ?`, roomID, userID).Scan(&origin)
	return origin
}

var (
	_ clientapi.Rooms      = (*Client)(nil)
	_ clientapi.Sender     = (*Client)(nil)
	_ clientapi.RoomReader = (*Client)(nil)
	_ clientapi.Syncer     = (*Client)(nil)
	_ clientapi.Directory  = (*Client)(nil)
)

// mapErr turns the room logic's errors into the client API's.
func mapErr(err error) error {
	var bad *badEventError
	var invalid *event.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrForbidden):
		return clientapi.Forbidden(err.Error())
	case errors.Is(err, ErrNotFound):
		return clientapi.NotFound(err.Error())
	case errors.As(err, &invalid) && invalid.Rule == "size.event":
		// The content fitted, the event built from it did not: the
		// same answer as for content over the limit ("Size limits").
		return clientapi.NewError(http.StatusRequestEntityTooLarge, clientapi.CodeTooLarge, err.Error())
	case errors.As(err, &bad):
		return clientapi.BadJSON(err.Error())
	}
	return err
}

// CreateRoom implements clientapi.Rooms.
func (c *Client) CreateRoom(ctx context.Context, who clientapi.Identity, plan *clientapi.CreateRoomPlan) (string, error) {
	if len(plan.Events) == 0 || plan.Events[0].Type != event.TypeCreate {
		return "", errors.New("createRoom plan does not start with the create event")
	}
	if plan.Alias != "" {
		if err := c.checkAlias(who, plan.Alias); err != nil {
			return "", err
		}
		var n int
		if err := c.db.queryRow(ctx, `SELECT count(*) FROM aliases WHERE alias = ?`, plan.Alias).Scan(&n); err != nil {
			return "", err
		}
		if n > 0 {
			return "", clientapi.NewError(http.StatusBadRequest, "M_ROOM_IN_USE", "room alias already taken")
		}
	}
	var rest []Local
	var remoteInvites []string
	for _, p := range plan.Events[1:] {
		sk := p.StateKey
		if p.Type == event.TypeMember && c.fed != nil && serverOf(sk) != c.name && jsonMembership([]byte(`{"content":`+string(p.Content)+`}`)) == "invite" {
			// A user of another server is invited through the
			// federation handshake, once the room exists.
			remoteInvites = append(remoteInvites, sk)
			continue
		}
		rest = append(rest, Local{Sender: who.UserID, Type: p.Type, StateKey: &sk, Content: p.Content})
	}
	roomID, err := c.rooms.CreateRoom(ctx, plan.Version, who.UserID, plan.Events[0].Content, rest)
	if err != nil {
		return roomID, mapErr(err)
	}
	for _, target := range remoteInvites {
		if err := c.fed.invite(ctx, roomID, who.UserID, target); err != nil {
			c.log.Warn("invite at room creation failed", "room", roomID, "target", target, "err", err)
		}
	}
	if plan.Alias != "" {
		if err := c.SetAlias(ctx, who, plan.Alias, roomID); err != nil {
			return roomID, err
		}
	}
	if plan.Public {
		if err := c.setPublished(ctx, roomID, true); err != nil {
			return roomID, err
		}
	}
	return roomID, nil
}

func (c *Client) membership(ctx context.Context, roomID, userID string) (string, error) {
	var m string
	err := c.db.queryRow(ctx, `SELECT membership FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND state_key = ?`, roomID, userID).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return m, err
}

func memberContent(membership, reason, displayName string) []byte {
	m := map[string]any{"membership": membership}
	if reason != "" {
		m["reason"] = reason
	}
	if displayName != "" {
		m["displayname"] = displayName
	}
	b, _ := json.Marshal(m)
	return b
}

func (c *Client) displayName(ctx context.Context, userID string) string {
	var v string
	if c.db.queryRow(ctx, `SELECT value FROM profiles WHERE user_id = ? AND field = 'displayname'`, userID).Scan(&v) != nil {
		return ""
	}
	var s string
	json.Unmarshal([]byte(v), &s)
	return s
}

// Join implements clientapi.Rooms.
func (c *Client) Join(ctx context.Context, who clientapi.Identity, req clientapi.JoinRequest) (string, error) {
	roomID := req.RoomIDOrAlias
	via := req.Via
	if strings.HasPrefix(roomID, "#") {
		id, servers, err := c.ResolveAlias(ctx, roomID)
		if err != nil {
			return "", err
		}
		roomID, via = id, append(via, servers...)
	}
	if _, err := c.rooms.Version(roomID); err == nil {
		if m, err := c.membership(ctx, roomID, who.UserID); err != nil {
			return "", err
		} else if m == "join" {
			return roomID, nil
		}
		// A room we are in: join locally if anyone here is still joined;
		// a room we left entirely needs a remote join.
		if c.rooms.hasLocalJoined(ctx, roomID, c.name) {
			return roomID, c.localJoin(ctx, who, roomID, req.Reason)
		}
	}
	if c.join == nil {
		return "", clientapi.NotFound("unknown room " + roomID)
	}
	if origin := c.remoteInviteOrigin(ctx, roomID, who.UserID); origin != "" {
		via = append(via, origin)
	}
	if len(via) == 0 {
		if s := serverOf(roomID); s != "" && s != c.name {
			via = []string{s}
		}
	}
	if err := c.join(ctx, who, roomID, via); err != nil {
		return "", err
	}
	return roomID, nil
}

// localJoin joins a room this server is in. A join the rules refuse is
// tried again vouched for by a local user who may invite when the room is
// restricted and the user is in an allowed room (content/client-server-api
// "Restricted rooms": the join names the authorising user in
// join_authorised_via_users_server), as a resident server does for
// make_join.
func (c *Client) localJoin(ctx context.Context, who clientapi.Identity, roomID, reason string) error {
	sk := who.UserID
	content := map[string]any{"membership": "join"}
	if reason != "" {
		content["reason"] = reason
	}
	if dn := c.displayName(ctx, who.UserID); dn != "" {
		content["displayname"] = dn
	}
	send := func() error {
		b, _ := json.Marshal(content)
		_, err := c.rooms.Send(ctx, Local{RoomID: roomID, Sender: who.UserID, Type: event.TypeMember, StateKey: &sk, Content: b})
		return err
	}
	err := send()
	if !errors.Is(err, ErrForbidden) {
		return mapErr(err)
	}
	v, verr := c.rooms.Version(roomID)
	if verr != nil {
		return mapErr(err)
	}
	via, verr := federation.AuthoriseRestrictedJoin(ctx, c.rooms, c.name, v, roomID, who.UserID)
	if verr != nil {
		return verr
	}
	if via == "" {
		return mapErr(err) // not restricted: the first refusal stands
	}
	content["join_authorised_via_users_server"] = via
	return mapErr(send())
}

// hasLocalJoined reports whether a user of server is joined to the room.
func (r *Rooms) hasLocalJoined(ctx context.Context, roomID, server string) bool {
	var n int
	r.db.queryRow(ctx, `SELECT count(*) FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join' AND state_key LIKE ?`,
		roomID, "%:"+server).Scan(&n)
	return n > 0
}

// ChangeMembership implements clientapi.Rooms.
func (c *Client) ChangeMembership(ctx context.Context, who clientapi.Identity, req clientapi.MembershipRequest) (string, error) {
	var membership string
	switch req.Action {
	case clientapi.ActionInvite:
		membership = "invite"
	case clientapi.ActionLeave, clientapi.ActionKick, clientapi.ActionUnban:
		membership = "leave"
	case clientapi.ActionBan:
		membership = "ban"
	case clientapi.ActionKnock:
		return c.knock(ctx, who, req.RoomID, req.Reason, req.Via)
	default:
		return "", clientapi.NewError(http.StatusBadRequest, "M_UNRECOGNIZED", "membership action "+req.Action+" is not supported by this server")
	}
	if _, err := c.rooms.Version(req.RoomID); err != nil {
		origin := c.remoteInviteOrigin(ctx, req.RoomID, who.UserID)
		if origin == "" {
			origin = c.remoteKnockOrigin(ctx, req.RoomID, who.UserID) // withdrawing a knock
		}
		if c.fed != nil && origin != "" && membership == "leave" && req.Target == who.UserID {
			return req.RoomID, c.fed.leaveRemote(ctx, req.RoomID, who.UserID, []string{origin})
		}
		return "", mapErr(err)
	}
	target := req.Target
	if req.Action == clientapi.ActionKick {
		if err := c.checkKickee(ctx, req.RoomID, target); err != nil {
			return "", err
		}
	}
	if membership == "invite" && c.fed != nil && serverOf(target) != c.name {
		return req.RoomID, c.fed.invite(ctx, req.RoomID, who.UserID, target)
	}
	_, err := c.rooms.Send(ctx, Local{RoomID: req.RoomID, Sender: who.UserID, Type: event.TypeMember, StateKey: &target,
		Content: memberContent(membership, req.Reason, "")})
	return req.RoomID, mapErr(err)
}

// checkKickee refuses a kick of a user who is not in the room: POST
// /rooms/{roomId}/kick answers 403 when "the kickee is not currently in
// the room", although the authorization rules would accept a leave for
// them. An invited or knocking user is in the room's membership (a kick
// withdraws the invite or refuses the knock).
func (c *Client) checkKickee(ctx context.Context, roomID, target string) error {
	m, err := c.membership(ctx, roomID, target)
	if err != nil {
		return err
	}
	switch m {
	case "join", "invite", "knock":
		return nil
	}
	return clientapi.Forbidden("the user " + target + " is not in the room")
}

// Forget implements clientapi.Rooms. Nothing is kept per user beyond the
// membership, so forgetting only checks the user has left.
func (c *Client) Forget(ctx context.Context, who clientapi.Identity, roomID string) error {
	m, err := c.membership(ctx, roomID, who.UserID)
	if err != nil {
		return err
	}
	if m == "join" || m == "invite" {
		return clientapi.NewError(http.StatusBadRequest, "M_UNKNOWN", "the user has not left the room")
	}
	return nil
}

// JoinedRooms implements clientapi.Rooms.
func (c *Client) JoinedRooms(ctx context.Context, who clientapi.Identity) ([]string, error) {
	return dbutil.Strings(c.db.query(ctx, `SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = ? AND membership = 'join' ORDER BY room_id`, who.UserID))
}

// Send implements clientapi.Sender.
func (c *Client) Send(ctx context.Context, who clientapi.Identity, ev clientapi.OutgoingEvent) (string, error) {
	if _, err := c.rooms.Version(ev.RoomID); err != nil {
		return "", mapErr(err)
	}
	if ev.Type == event.TypeRedaction {
		// Redacting someone else's event takes the redact power level.
		if orig, err := c.rooms.Event(ctx, ev.Redacts); err == nil && orig.Event.RoomID() == ev.RoomID && orig.Event.Sender() != who.UserID {
			pl, err := c.rooms.powerLevels(ctx, ev.RoomID)
			if err != nil {
				return "", err
			}
			if pl.UserLevel(who.UserID) < pl.Redact() {
				return "", clientapi.Forbidden("redacting another user's event needs power level " + strconv.FormatInt(pl.Redact(), 10))
			}
		}
	}
	e, err := c.rooms.Send(ctx, Local{RoomID: ev.RoomID, Sender: who.UserID, Type: ev.Type, StateKey: ev.StateKey,
		Content: ev.Content, Redacts: ev.Redacts, TS: ev.Timestamp, TxnDevice: who.DeviceID, TxnID: ev.TxnID})
	if err != nil {
		return "", mapErr(err)
	}
	return e.ID(), nil
}

// redactionFor renders unsigned.redacted_because of ev: the redaction
// event itself in the client format ("Redactions": "the event that
// redacted this event"), with its reason. by is the stored redaction
// event; when only its record is at hand ({event_id, sender,
// origin_server_ts}, for a redaction stored before its event was kept
// here), what that says.
func redactionFor(ev *event.Event, by string) json.RawMessage {
	if red, err := event.Parse(ev.Version(), []byte(by)); err == nil {
		return clientEvent(&StoredEvent{Event: red}, "", "")
	}
	var rec struct {
		EventID string `json:"event_id"`
		Sender  string `json:"sender"`
		TS      int64  `json:"origin_server_ts"`
	}
	json.Unmarshal([]byte(by), &rec)
	b, _ := json.Marshal(map[string]any{"event_id": rec.EventID, "sender": rec.Sender, "origin_server_ts": rec.TS,
		"type": event.TypeRedaction, "room_id": ev.RoomID(), "redacts": ev.ID(), "content": map[string]string{"redacts": ev.ID()}})
	return b
}

// clientEvent renders an event in the client format
// (content/client-server-api/_index.md, "Room event format").
func clientEvent(se *StoredEvent, forUser, forDevice string) json.RawMessage {
	return clientEventWith(se, forUser, forDevice, nil, nil)
}

// clientEventWith is clientEvent with unsigned["m.relations"] set to
// relations (the aggregations of the event's children) when not nil, and
// the entries of extra added to unsigned.
func clientEventWith(se *StoredEvent, forUser, forDevice string, relations json.RawMessage, extra map[string]any) json.RawMessage {
	ev := se.Event
	type out struct {
		Content        json.RawMessage `json:"content"`
		EventID        string          `json:"event_id"`
		OriginServerTS int64           `json:"origin_server_ts"`
		RoomID         string          `json:"room_id"`
		Sender         string          `json:"sender"`
		StateKey       *string         `json:"state_key,omitempty"`
		Type           string          `json:"type"`
		Redacts        string          `json:"redacts,omitempty"`
		Unsigned       map[string]any  `json:"unsigned"`
	}
	content := ev.Content()
	var redactedBecause json.RawMessage
	if se.RedactedBy.Valid {
		if red, err := redact.Redact(ev.Version(), ev.JSON()); err == nil {
			var r struct {
				Content json.RawMessage `json:"content"`
			}
			if json.Unmarshal(red, &r) == nil && r.Content != nil {
				content = r.Content
			}
		}
		redactedBecause = redactionFor(ev, se.RedactedBy.String)
	}
	o := out{Content: content, EventID: ev.ID(), OriginServerTS: ev.OriginServerTS(), RoomID: ev.RoomID(),
		Sender: ev.Sender(), Type: ev.Type(), Redacts: ev.Redacts(), Unsigned: map[string]any{}}
	if k, ok := ev.StateKey(); ok {
		o.StateKey = &k
	}
	if age := time.Now().UnixMilli() - ev.OriginServerTS(); age >= 0 {
		o.Unsigned["age"] = age
	}
	if redactedBecause != nil {
		o.Unsigned["redacted_because"] = redactedBecause
	}
	if se.TxnID != "" && se.TxnUser == forUser && se.TxnDevice == forDevice {
		o.Unsigned["transaction_id"] = se.TxnID
	}
	if relations != nil {
		o.Unsigned["m.relations"] = relations
	}
	for k, v := range extra {
		o.Unsigned[k] = v
	}
	b, _ := json.Marshal(o)
	return b
}

// visibleUntil returns the last stream position of the room the user may
// see (history visibility "shared" for members: everything while joined,
// up to the leave for a former member), or -1 when none.
func (c *Client) visibleUntil(ctx context.Context, roomID, userID string) (int64, error) {
	m, err := c.membership(ctx, roomID, userID)
	if err != nil {
		return -1, err
	}
	if m == "join" {
		return 1<<62 - 1, nil
	}
	var last sql.NullInt64
	err = c.db.queryRow(ctx, `SELECT max(stream) FROM membership_log WHERE room_id = ? AND user_id = ? AND membership IN ('join', 'invite', 'leave', 'ban')`, roomID, userID).Scan(&last)
	if err != nil || !last.Valid {
		return -1, err
	}
	if m == "invite" {
		return -1, nil
	}
	return last.Int64, nil
}

// readableUntil is visibleUntil for the endpoints that read history
// (/messages, /context, /event): a user who is not and was not in the room
// may read it too when its current history visibility is world_readable
// (the user then "peeks"; each event is still checked by historyFilter),
// as the reference server allows.
func (c *Client) readableUntil(ctx context.Context, roomID, userID string) (int64, error) {
	until, err := c.visibleUntil(ctx, roomID, userID)
	if err != nil || until >= 0 {
		return until, err
	}
	st, err := c.rooms.CurrentState(ctx, roomID)
	if err != nil {
		return -1, nil // an unknown room: nothing to read
	}
	id, ok := st[stateKey{Type: visibility.TypeHistoryVisibility}]
	if !ok {
		return -1, nil
	}
	se, err := c.rooms.Event(ctx, id)
	if err != nil {
		return -1, err
	}
	if visibility.Of(se.Event) == visibility.WorldReadable {
		return 1<<62 - 1, nil
	}
	return -1, nil
}

// visibleTo reports whether the user may see se (historyFilter).
func (c *Client) visibleTo(ctx context.Context, se *StoredEvent, userID string) (bool, error) {
	f, err := c.historyFilter(ctx, se.Event.RoomID(), userID)
	if err != nil {
		return false, err
	}
	out, err := f.filter(ctx, []*StoredEvent{se})
	return len(out) == 1, err
}

func (c *Client) forbiddenRoom() error {
	return clientapi.Forbidden("you are not allowed to see this room")
}

// Event implements clientapi.RoomReader.
func (c *Client) Event(ctx context.Context, who clientapi.Identity, roomID, eventID string) (json.RawMessage, error) {
	until, err := c.readableUntil(ctx, roomID, who.UserID)
	if err != nil {
		return nil, err
	}
	se, err := c.rooms.Event(ctx, eventID)
	if err != nil || se.Event.RoomID() != roomID || se.Stream > until || se.Status != federation.Accepted {
		return nil, clientapi.NotFound("event not found")
	}
	if ok, err := c.visibleTo(ctx, se, who.UserID); err != nil || !ok {
		return nil, cmp.Or[error](err, clientapi.NotFound("event not found"))
	}
	out, err := c.render(ctx, who, []*StoredEvent{se})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// stateEvents loads the events of a state map in client format, in a
// stable order.
func (c *Client) stateEvents(ctx context.Context, st map[stateKey]string, skip map[string]bool, who clientapi.Identity) ([]json.RawMessage, error) {
	ids := make([]string, 0, len(st))
	for _, id := range st {
		if !skip[id] {
			ids = append(ids, id)
		}
	}
	sortStrings(ids)
	evs, err := c.rooms.load(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(ids))
	for _, id := range ids {
		if se := evs[id]; se != nil {
			out = append(out, clientEvent(se, who.UserID, who.DeviceID))
		}
	}
	return out, nil
}

// stateFor returns the state a user may see: the current state when
// joined, the state at the leave otherwise.
func (c *Client) stateFor(ctx context.Context, who clientapi.Identity, roomID string) (map[stateKey]string, error) {
	until, err := c.readableUntil(ctx, roomID, who.UserID)
	if err != nil {
		return nil, err
	}
	if until < 0 {
		return nil, c.forbiddenRoom()
	}
	if until == 1<<62-1 {
		return c.rooms.CurrentState(ctx, roomID)
	}
	var g int64
	err = c.db.queryRow(ctx, `SELECT state_after FROM events WHERE room_id = ? AND stream <= ? AND state_after != 0 ORDER BY stream DESC LIMIT 1`, roomID, until).Scan(&g)
	if err != nil {
		return nil, err
	}
	return c.rooms.Group(ctx, g)
}

// State implements clientapi.RoomReader.
func (c *Client) State(ctx context.Context, who clientapi.Identity, roomID string, key *clientapi.StateKey) ([]json.RawMessage, error) {
	st, err := c.stateFor(ctx, who, roomID)
	if err != nil {
		return nil, err
	}
	if key != nil {
		id, ok := st[stateKey{Type: key.Type, StateKey: key.StateKey}]
		if !ok {
			return nil, clientapi.NotFound("state event not found")
		}
		st = map[stateKey]string{{Type: key.Type, StateKey: key.StateKey}: id}
	}
	return c.stateEvents(ctx, st, nil, who)
}

// Members implements clientapi.RoomReader.
func (c *Client) Members(ctx context.Context, who clientapi.Identity, req clientapi.MembersRequest) ([]json.RawMessage, error) {
	if req.Joined && who.AppService == "" {
		// GET /joined_members is for current members only (its 403
		// response; Synapse refuses departed users too). An application
		// service may ask for any room, as the endpoint is meant for them.
		if m, err := c.membership(ctx, req.RoomID, who.UserID); err != nil {
			return nil, err
		} else if m != "join" {
			return nil, clientapi.Forbidden("you are not a member of this room")
		}
	}
	st, err := c.stateFor(ctx, who, req.RoomID)
	if err != nil {
		return nil, err
	}
	if req.At != "" {
		// ?at=: the members at a point of the timeline (a sync or
		// /messages token), no later than what the user may see.
		at, err := parseToken(req.At)
		if err != nil {
			return nil, err
		}
		until, err := c.readableUntil(ctx, req.RoomID, who.UserID)
		if err != nil {
			return nil, err
		}
		if st, err = c.stateBefore(ctx, req.RoomID, min(at, until)+1); err != nil {
			return nil, err
		}
	}
	members := map[stateKey]string{}
	for k, id := range st {
		if k.Type == event.TypeMember {
			members[k] = id
		}
	}
	all, err := c.stateEvents(ctx, members, nil, who)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, raw := range all {
		var m struct {
			Content struct{ Membership string } `json:"content"`
		}
		json.Unmarshal(raw, &m)
		ms := m.Content.Membership
		if (req.Joined && ms != "join") || (req.Membership != "" && ms != req.Membership) || (req.NotMembership != "" && ms == req.NotMembership) {
			continue
		}
		out = append(out, raw)
	}
	return out, nil
}

// Pagination tokens: "s<N>" is the position after the event with stream
// N (also what /sync's next_batch and prev_batch carry).
func parseToken(tok string) (int64, error) {
	if tok == "" {
		return 0, errors.New("empty token")
	}
	s := strings.TrimPrefix(tok, "s")
	if i := strings.IndexByte(s, '_'); i >= 0 {
		s = s[:i]
	}
	// Backfilled history has negative positions (before everything the
	// server had when it joined), so tokens may be negative.
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -(1<<62) {
		return 0, clientapi.InvalidParam("malformed pagination token")
	}
	return n, nil
}

// historyStart is below every stream position, backfilled ones too.
const historyStart = -(1 << 62)

// timeline returns the accepted events of a room with from < stream <= to,
// the newest limit of them when newest, in stream order, and whether
// there were more.
func (c *Client) timeline(ctx context.Context, roomID string, from, to int64, limit int, newest bool) ([]*StoredEvent, bool, error) {
	order := "ASC"
	if newest {
		order = "DESC"
	}
	rows, err := c.db.query(ctx, `SELECT `+eventCols+` FROM events WHERE room_id = ? AND stream > ? AND stream <= ? AND status = ? ORDER BY stream `+order+` LIMIT ?`,
		roomID, from, to, federation.Accepted, limit+1)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []*StoredEvent
	for rows.Next() {
		se, err := c.db.scanEvent(rows, c.rooms.Version)
		if err != nil {
			return nil, false, err
		}
		out = append(out, se)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	if newest {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, more, nil
}

// Messages implements clientapi.RoomReader.
func (c *Client) Messages(ctx context.Context, who clientapi.Identity, req clientapi.MessagesRequest) (*clientapi.MessagesResponse, error) {
	until, err := c.readableUntil(ctx, req.RoomID, who.UserID)
	if err != nil {
		return nil, err
	}
	if until < 0 {
		return nil, c.forbiddenRoom()
	}
	hist, err := c.historyFilter(ctx, req.RoomID, who.UserID)
	if err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 10
	}
	limit = min(limit, 1000)
	var from int64
	if req.From == "" {
		if req.Dir == "f" {
			from = historyStart
		} else {
			from = c.maxStream(ctx)
		}
	} else if from, err = parseToken(req.From); err != nil {
		return nil, err
	}
	resp := &clientapi.MessagesResponse{Start: "s" + strconv.FormatInt(from, 10)}
	var evs []*StoredEvent
	if req.Dir == "f" {
		to := until
		if req.To != "" {
			if t, err := parseToken(req.To); err == nil {
				to = min(to, t)
			}
		}
		evs, _, err = c.timeline(ctx, req.RoomID, from, to, limit, false)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			resp.End = "s" + strconv.FormatInt(evs[len(evs)-1].Stream, 10)
		}
	} else {
		lo := int64(historyStart)
		if req.To != "" {
			if t, err := parseToken(req.To); err == nil {
				lo = t
			}
		}
		evs, _, err = c.timeline(ctx, req.RoomID, lo, min(from, until), limit, true)
		if err != nil {
			return nil, err
		}
		if len(evs) < limit && req.To == "" && c.fed != nil && c.fed.backfillOlder(ctx, req.RoomID, limit) {
			// The oldest event here is not the room's first: what came
			// before it was fetched from the room's servers; read again.
			if evs, _, err = c.timeline(ctx, req.RoomID, lo, min(from, until), limit, true); err != nil {
				return nil, err
			}
		}
		// newest first for dir=b
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
		if len(evs) > 0 && len(evs) == limit {
			resp.End = "s" + strconv.FormatInt(evs[len(evs)-1].Stream-1, 10)
		}
	}
	// The tokens above follow the events read; the chunk has those the
	// user may see (possibly fewer than the limit, as with the reference
	// server).
	if evs, err = hist.filter(ctx, evs); err != nil {
		return nil, err
	}
	filter, err := clientapi.ParseRoomEventFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	evs = slices.DeleteFunc(evs, func(se *StoredEvent) bool {
		return !filter.Matches(se.Event.RoomID(), se.Event.Sender(), se.Event.Type(), se.Event.Content())
	})
	if resp.Chunk, err = c.render(ctx, who, evs); err != nil {
		return nil, err
	}
	if filter.LazyLoadMembers && len(evs) > 0 {
		if resp.State, err = c.sendersMembers(ctx, who, evs); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// sendersMembers is the state block of a lazy-loading /messages
// (client-server API, "Lazy-loading room members"): the member events of
// the chunk's senders, as of the chunk's newest event: for dir=b that is
// the chunk's first event (the reference server's choice); for dir=f it
// is the last one, so that a chunk starting at m.room.create still has
// its creator's membership, which only begins after it (the spec wants
// the member events of every sender in the chunk). Members already sent are sent again: the spec lets a
// server include redundant members whatever include_redundant_members
// says, and keeping no per-device record keeps /messages stateless.
func (c *Client) sendersMembers(ctx context.Context, who clientapi.Identity, evs []*StoredEvent) (clientapi.EventList, error) {
	newest := evs[0]
	for _, se := range evs[1:] {
		if se.Stream > newest.Stream {
			newest = se
		}
	}
	state, err := c.stateAtEvent(ctx, newest)
	if err != nil || state == nil {
		return nil, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, se := range evs {
		sender := se.Event.Sender()
		if seen[sender] {
			continue
		}
		seen[sender] = true
		if id := state[stateKey{Type: event.TypeMember, StateKey: sender}]; id != "" {
			ids = append(ids, id)
		}
	}
	members, err := c.rooms.load(ctx, ids)
	if err != nil {
		return nil, err
	}
	var list []*StoredEvent
	for _, id := range ids {
		if se := members[id]; se != nil {
			list = append(list, se)
		}
	}
	return c.render(ctx, who, list)
}

// stateAtEvent is the state a client sees with an event: the state after
// it, as stored with it (nil when unknown).
func (c *Client) stateAtEvent(ctx context.Context, se *StoredEvent) (map[stateKey]string, error) {
	var g int64
	if err := c.db.queryRow(ctx, `SELECT state_after FROM events WHERE event_id = ?`, se.Event.ID()).Scan(&g); err != nil || g == 0 {
		return nil, nil
	}
	return c.rooms.Group(ctx, g)
}

func (c *Client) maxStream(ctx context.Context) int64 {
	var n sql.NullInt64
	c.db.queryRow(ctx, `SELECT max(stream) FROM events`).Scan(&n)
	return n.Int64
}

// Context implements clientapi.RoomReader.
func (c *Client) Context(ctx context.Context, who clientapi.Identity, req clientapi.ContextRequest) (*clientapi.ContextResponse, error) {
	until, err := c.readableUntil(ctx, req.RoomID, who.UserID)
	if err != nil {
		return nil, err
	}
	se, err := c.rooms.Event(ctx, req.EventID)
	if err != nil || until < 0 || se.Event.RoomID() != req.RoomID || se.Stream > until {
		return nil, clientapi.NotFound("event not found")
	}
	hist, err := c.historyFilter(ctx, req.RoomID, who.UserID)
	if err != nil {
		return nil, err
	}
	if seen, err := hist.filter(ctx, []*StoredEvent{se}); err != nil || len(seen) == 0 {
		return nil, cmp.Or[error](err, clientapi.NotFound("event not found"))
	}
	limit := max(req.Limit, 0)
	half := limit / 2
	before, _, err := c.timeline(ctx, req.RoomID, 0, se.Stream-1, half, true)
	if err != nil {
		return nil, err
	}
	after, _, err := c.timeline(ctx, req.RoomID, se.Stream, until, limit-half, false)
	if err != nil {
		return nil, err
	}
	resp := &clientapi.ContextResponse{Event: clientEvent(se, who.UserID, who.DeviceID),
		Start: "s" + strconv.FormatInt(se.Stream-1, 10), End: "s" + strconv.FormatInt(se.Stream, 10)}
	if len(before) > 0 {
		resp.Start = "s" + strconv.FormatInt(before[0].Stream-1, 10)
	}
	if len(after) > 0 {
		resp.End = "s" + strconv.FormatInt(after[len(after)-1].Stream, 10)
	}
	if before, err = hist.filter(ctx, before); err != nil {
		return nil, err
	}
	if after, err = hist.filter(ctx, after); err != nil {
		return nil, err
	}
	slices.Reverse(before)
	rendered, err := c.render(ctx, who, append(append([]*StoredEvent{se}, before...), after...))
	if err != nil {
		return nil, err
	}
	resp.Event = rendered[0]
	resp.EventsBefore = rendered[1 : 1+len(before)]
	resp.EventsAfter = rendered[1+len(before):]
	if se.After != 0 {
		st, err := c.rooms.Group(ctx, se.After)
		if err != nil {
			return nil, err
		}
		if resp.State, err = c.stateEvents(ctx, st, nil, who); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// ResolveAlias implements clientapi.Directory.
func (c *Client) ResolveAlias(ctx context.Context, alias string) (string, []string, error) {
	if server := serverOf(alias); server != c.name && c.fed != nil {
		// Another server's alias: ask it (GET /query/directory).
		resp, err := c.fed.client.QueryDirectory(ctx, server, alias)
		if err != nil {
			var me *federation.Error
			if errors.As(err, &me) {
				return "", nil, me
			}
			c.log.Warn("remote alias query failed", "alias", alias, "err", err)
			return "", nil, clientapi.NotFound("room alias " + alias + ": " + remoteFailure(err))
		}
		return resp.RoomID, resp.Servers, nil
	}
	var roomID string
	err := c.db.queryRow(ctx, `SELECT room_id FROM aliases WHERE alias = ?`, alias).Scan(&roomID)
	if errors.Is(err, sql.ErrNoRows) && c.as != nil && c.as.queryAlias(ctx, alias) {
		// A service whose namespace holds the alias has just created it
		// (content/application-service-api.md, "Querying").
		err = c.db.queryRow(ctx, `SELECT room_id FROM aliases WHERE alias = ?`, alias).Scan(&roomID)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, clientapi.NotFound("room alias " + alias + " not found")
	}
	return roomID, []string{c.name}, err
}

// SetAlias implements clientapi.Directory.
func (c *Client) SetAlias(ctx context.Context, who clientapi.Identity, alias, roomID string) error {
	if serverOf(alias) != c.name {
		return clientapi.InvalidParam("alias must be on this server")
	}
	if err := c.checkAlias(who, alias); err != nil {
		return err
	}
	return c.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO aliases (alias, room_id, creator) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, alias, roomID, who.UserID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return clientapi.NewError(http.StatusConflict, "M_UNKNOWN", "room alias "+alias+" already exists")
		}
		return nil
	})
}

// DeleteAlias implements clientapi.Directory.
func (c *Client) DeleteAlias(ctx context.Context, who clientapi.Identity, alias string) error {
	if err := c.checkAlias(who, alias); err != nil {
		return err
	}
	return c.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM aliases WHERE alias = ? AND creator = ?`, alias, who.UserID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return clientapi.NotFound("room alias " + alias + " not found or not yours")
		}
		return nil
	})
}

// checkAlias is M_EXCLUSIVE for creating or deleting an alias in an
// application service's exclusive namespace, or, for a service, outside
// its own (content/application-service-api.md, "Server admin style
// permissions").
func (c *Client) checkAlias(who clientapi.Identity, alias string) error {
	if c.as == nil {
		return nil
	}
	return c.as.reg.CheckAlias(alias, c.as.reg.ByID(who.AppService))
}

// RoomAliases implements clientapi.Directory.
func (c *Client) RoomAliases(ctx context.Context, who clientapi.Identity, roomID string) ([]string, error) {
	if err := c.checkInRoomOrWorldReadable(ctx, roomID, who.UserID); err != nil {
		return nil, err
	}
	return dbutil.Strings(c.db.query(ctx, `SELECT alias FROM aliases WHERE room_id = ? ORDER BY alias`, roomID))
}

// checkInRoomOrWorldReadable is the access rule of GET
// /rooms/{roomId}/aliases: users in the room (joined now), or anyone when
// the room's history visibility is world_readable; others get M_FORBIDDEN.
func (c *Client) checkInRoomOrWorldReadable(ctx context.Context, roomID, userID string) error {
	m, err := c.membership(ctx, roomID, userID)
	if err != nil || m == "join" {
		return err
	}
	if hv, err := c.currentContent(ctx, roomID, "m.room.history_visibility", ""); err != nil {
		return err
	} else if hv != nil {
		var v struct {
			HistoryVisibility string `json:"history_visibility"`
		}
		if json.Unmarshal(hv, &v) == nil && v.HistoryVisibility == "world_readable" {
			return nil
		}
	}
	return clientapi.Forbidden("you are not in this room")
}

// currentContent is the content of a current state event of the room, nil
// when there is none.
func (c *Client) currentContent(ctx context.Context, roomID, typ, key string) (json.RawMessage, error) {
	var id string
	err := c.db.queryRow(ctx, `SELECT event_id FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?`, roomID, typ, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	se, err := c.rooms.Event(ctx, id)
	if err != nil {
		return nil, err
	}
	return se.Event.Content(), nil
}
