package clientapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// fake is a toy in-memory homeserver backend implementing every
// interface of the package. It is simple on purpose (no auth rules, no
// history visibility); tests and examples drive the adapters with it.
type fake struct {
	server string

	mu       sync.Mutex
	tokens   map[string]Identity
	users    map[string]string // user ID -> password
	nextID   int
	rooms    map[string]*fakeRoom
	aliases  map[string]string
	profiles map[string]map[string]any
	acct     map[[3]string]json.RawMessage
	receipts []string
	typing   []string
	log      []fakeEntry // every event, the sync stream
	sends    int
	plans    []*CreateRoomPlan
	wake     chan struct{}

	deviceNames map[string]string
	published   map[string]bool
	push        map[string][]byte
	reports     []Report
}

type fakeEntry struct {
	roomID string
	ev     json.RawMessage
}

type fakeRoom struct {
	state   map[StateKey]json.RawMessage
	members map[string]string
	events  []json.RawMessage
}

func newFake() *fake {
	return &fake{
		server:   "example.org",
		tokens:   map[string]Identity{},
		users:    map[string]string{},
		rooms:    map[string]*fakeRoom{},
		aliases:  map[string]string{},
		profiles: map[string]map[string]any{},
		acct:     map[[3]string]json.RawMessage{},
		wake:     make(chan struct{}),
	}
}

// server returns a Server wired to f.
func (f *fake) handler() *Server {
	return &Server{
		ServerName: f.server, BaseURL: "https://matrix.example.org", AllowRegistration: true,
		Tokens: f, Accounts: f, Registration: f, Rooms: f, Sender: f, Reader: f, Syncer: f,
		Directory: f, Profile: f, AccountData: f, Ephemeral: f, Devices: f,
		PublishedRooms: f, PushRules: f, Pushers: &MemoryPushers{}, Searcher: &MemorySearch{}, Upgrader: f,
		Reports: f, OpenID: &MemoryOpenID{}, Timestamps: f,
		AccountManager: f, LoginTokens: &MemoryLoginTokens{},
		Keys: &MemoryKeys{}, ToDevice: &MemoryToDevice{}, KeyBackup: &MemoryKeyBackup{},
	}
}

// addUser registers a user with a device and returns its token.
func (f *fake) addUser(local, password string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := "@" + local + ":" + f.server
	f.users[id] = password
	tok := "tok_" + local
	f.tokens[tok] = Identity{UserID: id, DeviceID: "DEV" + local}
	return tok
}

func (f *fake) LookupToken(_ context.Context, token string, as Masquerade) (Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if token == "as_token" {
		who := Identity{AppService: "bridge", UserID: "@bridgebot:" + f.server}
		if as.UserID != "" {
			if !strings.HasPrefix(as.UserID, "@bridge_") {
				return Identity{}, NewError(http.StatusForbidden, CodeExclusive, "user is not in the application service's namespace")
			}
			who.UserID = as.UserID
		}
		who.DeviceID = as.DeviceID
		return who, nil
	}
	if token == "expired" {
		return Identity{}, UnknownToken(true)
	}
	who, ok := f.tokens[token]
	if !ok {
		return Identity{}, ErrUnknownToken
	}
	return who, nil
}

func (f *fake) CheckPassword(_ context.Context, userID, password string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.users[userID]; !ok || p != password {
		return Forbidden("invalid username or password")
	}
	return nil
}

func (f *fake) Login(_ context.Context, req LoginRequest) (Credentials, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.AppService != "" && !strings.HasPrefix(req.UserID, "@bridge_") {
		return Credentials{}, NewError(http.StatusBadRequest, CodeExclusive, "user is not in the application service's namespace")
	}
	f.nextID++
	dev := req.DeviceID
	if dev == "" {
		dev = fmt.Sprintf("DEV%d", f.nextID)
	}
	tok := fmt.Sprintf("tok%d", f.nextID)
	f.tokens[tok] = Identity{UserID: req.UserID, DeviceID: dev}
	return Credentials{UserID: req.UserID, AccessToken: tok, DeviceID: dev}, nil
}

func (f *fake) Logout(_ context.Context, who Identity) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tokens, who.AccessToken)
	return nil
}

func (f *fake) LogoutAll(_ context.Context, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for t, who := range f.tokens {
		if who.UserID == userID {
			delete(f.tokens, t)
		}
	}
	return nil
}

func (f *fake) Available(_ context.Context, local string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, taken := f.users["@"+local+":"+f.server]
	return !taken, nil
}

func (f *fake) Register(_ context.Context, userID, password, appService string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if (appService != "") != strings.HasPrefix(userID, "@bridge_") {
		return NewError(http.StatusBadRequest, CodeExclusive, "namespace")
	}
	if _, ok := f.users[userID]; ok {
		return NewError(http.StatusBadRequest, CodeUserInUse, "taken")
	}
	f.users[userID] = password
	return nil
}

// appendLocked adds an event to a room and wakes the long-polls.
func (f *fake) appendLocked(roomID, sender, typ string, stateKey *string, content json.RawMessage) string {
	f.nextID++
	id := fmt.Sprintf("$e%d", f.nextID)
	m := map[string]any{"event_id": id, "room_id": roomID, "sender": sender, "type": typ, "content": content, "origin_server_ts": 1}
	if stateKey != nil {
		m["state_key"] = *stateKey
	}
	ev, _ := json.Marshal(m)
	r := f.rooms[roomID]
	r.events = append(r.events, ev)
	if stateKey != nil {
		r.state[StateKey{typ, *stateKey}] = ev
		if typ == "m.room.member" {
			var c struct{ Membership string }
			json.Unmarshal(content, &c)
			r.members[*stateKey] = c.Membership
		}
	}
	f.log = append(f.log, fakeEntry{roomID, ev})
	close(f.wake)
	f.wake = make(chan struct{})
	return id
}

func (f *fake) CreateRoom(_ context.Context, who Identity, plan *CreateRoomPlan) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if plan.Alias != "" {
		if _, ok := f.aliases[plan.Alias]; ok {
			return "", NewError(http.StatusBadRequest, CodeRoomInUse, "alias taken")
		}
	}
	f.nextID++
	roomID := fmt.Sprintf("!r%d:%s", f.nextID, f.server)
	f.rooms[roomID] = &fakeRoom{state: map[StateKey]json.RawMessage{}, members: map[string]string{}}
	for _, ev := range plan.Events {
		sk := ev.StateKey
		f.appendLocked(roomID, who.UserID, ev.Type, &sk, ev.Content)
	}
	if plan.Alias != "" {
		f.aliases[plan.Alias] = roomID
	}
	f.plans = append(f.plans, plan)
	return roomID, nil
}

func (f *fake) room(roomID string) (*fakeRoom, error) {
	r := f.rooms[roomID]
	if r == nil {
		return nil, NotFound("unknown room")
	}
	return r, nil
}

func (f *fake) Join(_ context.Context, who Identity, req JoinRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	roomID := req.RoomIDOrAlias
	if strings.HasPrefix(roomID, "#") {
		roomID = f.aliases[roomID]
	}
	if _, err := f.room(roomID); err != nil {
		return "", err
	}
	f.appendLocked(roomID, who.UserID, "m.room.member", &who.UserID, json.RawMessage(`{"membership":"join"}`))
	return roomID, nil
}

func (f *fake) ChangeMembership(_ context.Context, who Identity, req MembershipRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(req.RoomID)
	if err != nil {
		return "", err
	}
	if req.Action != ActionKnock && r.members[who.UserID] != "join" {
		return "", Forbidden("not in the room")
	}
	m := map[string]string{ActionInvite: "invite", ActionLeave: "leave", ActionKick: "leave", ActionBan: "ban", ActionUnban: "leave", ActionKnock: "knock"}[req.Action]
	c := map[string]string{"membership": m}
	if req.Reason != "" {
		c["reason"] = req.Reason
	}
	f.appendLocked(req.RoomID, who.UserID, "m.room.member", &req.Target, mustJSON(c))
	return req.RoomID, nil
}

func (f *fake) Forget(_ context.Context, who Identity, roomID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(roomID)
	if err != nil {
		return err
	}
	if r.members[who.UserID] == "join" {
		return NewError(http.StatusBadRequest, CodeUnknown, "user is in the room")
	}
	return nil
}

func (f *fake) JoinedRooms(_ context.Context, who Identity) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id, r := range f.rooms {
		if r.members[who.UserID] == "join" {
			out = append(out, id)
		}
	}
	return out, nil
}

func (f *fake) Send(_ context.Context, who Identity, ev OutgoingEvent) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(ev.RoomID)
	if err != nil {
		return "", err
	}
	if r.members[who.UserID] != "join" {
		return "", Forbidden("not in the room")
	}
	f.sends++
	content := ev.Content
	if ev.Redacts != "" {
		var m map[string]any
		json.Unmarshal(content, &m)
		m["redacts"] = ev.Redacts
		content = mustJSON(m)
	}
	return f.appendLocked(ev.RoomID, who.UserID, ev.Type, ev.StateKey, content), nil
}

func (f *fake) Event(_ context.Context, _ Identity, roomID, eventID string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(roomID)
	if err != nil {
		return nil, err
	}
	for _, ev := range r.events {
		if strings.Contains(string(ev), `"event_id":"`+eventID+`"`) {
			return ev, nil
		}
	}
	return nil, NotFound("event not found")
}

func (f *fake) State(_ context.Context, _ Identity, roomID string, key *StateKey) ([]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(roomID)
	if err != nil {
		return nil, err
	}
	if key != nil {
		if ev, ok := r.state[*key]; ok {
			return []json.RawMessage{ev}, nil
		}
		return nil, nil
	}
	var out []json.RawMessage
	for _, ev := range r.state {
		out = append(out, ev)
	}
	return out, nil
}

func (f *fake) Members(_ context.Context, _ Identity, req MembersRequest) ([]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(req.RoomID)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for u, m := range r.members {
		if req.Membership != "" && m != req.Membership || req.NotMembership != "" && m == req.NotMembership {
			continue
		}
		out = append(out, r.state[StateKey{"m.room.member", u}])
	}
	return out, nil
}

func (f *fake) Messages(_ context.Context, _ Identity, req MessagesRequest) (*MessagesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(req.RoomID)
	if err != nil {
		return nil, err
	}
	resp := &MessagesResponse{Start: req.From}
	n := min(req.Limit, len(r.events))
	if req.Dir == "b" {
		for i := len(r.events) - 1; i >= len(r.events)-n; i-- {
			resp.Chunk = append(resp.Chunk, r.events[i])
		}
	} else {
		resp.Chunk = append(resp.Chunk, r.events[:n]...)
	}
	return resp, nil
}

func (f *fake) Context(_ context.Context, _ Identity, req ContextRequest) (*ContextResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(req.RoomID)
	if err != nil {
		return nil, err
	}
	for i, ev := range r.events {
		if strings.Contains(string(ev), `"event_id":"`+req.EventID+`"`) {
			return &ContextResponse{Event: ev, EventsBefore: r.events[max(0, i-req.Limit):i], EventsAfter: r.events[i+1 : min(len(r.events), i+1+req.Limit)]}, nil
		}
	}
	return nil, NotFound("event not found")
}

// Sync answers from the log: since is a position in it.
func (f *fake) Sync(_ context.Context, who Identity, req SyncRequest) (*SyncResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := 0
	if req.Since != "" {
		if _, err := fmt.Sscanf(req.Since, "s%d", &pos); err != nil || pos > len(f.log) {
			return nil, InvalidParam("bad since token")
		}
	}
	resp := &SyncResponse{NextBatch: fmt.Sprintf("s%d", len(f.log))}
	for _, e := range f.log[pos:] {
		r := f.rooms[e.roomID]
		if r.members[who.UserID] != "join" {
			continue
		}
		if resp.Rooms == nil {
			resp.Rooms = &SyncRooms{Join: map[string]*JoinedRoom{}}
		}
		jr := resp.Rooms.Join[e.roomID]
		if jr == nil {
			jr = &JoinedRoom{Timeline: &Timeline{}, State: &EventsBlock{}}
			resp.Rooms.Join[e.roomID] = jr
		}
		jr.Timeline.Events = append(jr.Timeline.Events, e.ev)
	}
	return resp, nil
}

func (f *fake) Wait(ctx context.Context, _ Identity, since string) error {
	f.mu.Lock()
	wake := f.wake
	moved := since != fmt.Sprintf("s%d", len(f.log))
	f.mu.Unlock()
	if moved {
		return nil
	}
	select {
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fake) ResolveAlias(_ context.Context, alias string) (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.aliases[alias]; ok {
		return id, []string{f.server}, nil
	}
	return "", nil, NotFound("room alias not found")
}

func (f *fake) SetAlias(_ context.Context, _ Identity, alias, roomID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.aliases[alias]; ok {
		return NewError(http.StatusConflict, CodeUnknown, "room alias already exists")
	}
	f.aliases[alias] = roomID
	return nil
}

func (f *fake) DeleteAlias(_ context.Context, _ Identity, alias string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.aliases[alias]; !ok {
		return NotFound("room alias not found")
	}
	delete(f.aliases, alias)
	return nil
}

func (f *fake) RoomAliases(_ context.Context, _ Identity, roomID string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for a, id := range f.aliases {
		if id == roomID {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fake) Profile(_ context.Context, userID string) (map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[userID]; !ok {
		return nil, NotFound("unknown user")
	}
	return f.profiles[userID], nil
}

func (f *fake) SetProfileField(_ context.Context, who Identity, field string, value any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.profiles[who.UserID] == nil {
		f.profiles[who.UserID] = map[string]any{}
	}
	f.profiles[who.UserID][field] = value
	return nil
}

func (f *fake) AccountData(_ context.Context, userID, roomID, typ string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.acct[[3]string{userID, roomID, typ}]; ok {
		return c, nil
	}
	return nil, NotFound("account data not found")
}

func (f *fake) SetAccountData(_ context.Context, userID, roomID, typ string, content json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acct[[3]string{userID, roomID, typ}] = content
	return nil
}

func (f *fake) SetTyping(_ context.Context, who Identity, roomID string, typing bool, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.typing = append(f.typing, fmt.Sprintf("%s %s %v %v", roomID, who.UserID, typing, timeout))
	return nil
}

func (f *fake) SetReceipt(_ context.Context, who Identity, roomID, typ, eventID, thread string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.receipts = append(f.receipts, strings.Join([]string{roomID, who.UserID, typ, eventID, thread}, " "))
	return nil
}

func (f *fake) Devices(_ context.Context, who Identity) ([]Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Device
	for _, id := range f.tokens {
		if id.UserID == who.UserID {
			out = append(out, Device{DeviceID: id.DeviceID, DisplayName: f.deviceNames[id.DeviceID]})
		}
	}
	return out, nil
}

func (f *fake) SetDeviceDisplayName(_ context.Context, who Identity, deviceID, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range f.tokens {
		if id.UserID == who.UserID && id.DeviceID == deviceID {
			if f.deviceNames == nil {
				f.deviceNames = map[string]string{}
			}
			f.deviceNames[deviceID] = name
			return nil
		}
	}
	return NotFound("unknown device")
}

func (f *fake) DeleteDevices(_ context.Context, who Identity, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok, id := range f.tokens {
		if id.UserID == who.UserID && slices.Contains(ids, id.DeviceID) {
			delete(f.tokens, tok)
		}
	}
	return nil
}

func (f *fake) Visibility(_ context.Context, roomID string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.room(roomID); err != nil {
		return false, err
	}
	return f.published[roomID], nil
}

func (f *fake) SetVisibility(_ context.Context, _ Identity, roomID string, public bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.room(roomID); err != nil {
		return err
	}
	if f.published == nil {
		f.published = map[string]bool{}
	}
	f.published[roomID] = public
	return nil
}

func (f *fake) PublicRooms(_ context.Context, _ *Identity, req PublicRoomsRequest) (*PublicRoomsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &PublicRoomsResponse{}
	for id, pub := range f.published {
		if pub && (req.Limit == 0 || len(resp.Chunk) < req.Limit) {
			resp.Chunk = append(resp.Chunk, PublicRoom{RoomID: id, NumJoinedMembers: 1})
		}
	}
	return resp, nil
}

func (f *fake) UserPushRules(_ context.Context, userID string) (*UserPushRules, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	raw, ok := f.push[userID]
	if !ok {
		return nil, nil
	}
	var u UserPushRules
	err := json.Unmarshal(raw, &u)
	return &u, err
}

func (f *fake) SetUserPushRules(_ context.Context, userID string, u *UserPushRules) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	raw, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if f.push == nil {
		f.push = map[string][]byte{}
	}
	f.push[userID] = raw
	return nil
}

// UpgradeRoom implements Upgrader: the adapter's part is tested here; the
// planning has tests of its own (PlanUpgrade).
func (f *fake) UpgradeRoom(_ context.Context, who Identity, roomID string, req UpgradeRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rooms[roomID]
	if r == nil {
		return "", NotFound("unknown room")
	}
	if r.members[who.UserID] != "join" {
		return "", Forbidden("not in the room")
	}
	return "!upgraded-to-" + req.Version.ID + ":" + f.server, nil
}

// Report implements Reports: an event must be one of a room the reporter
// is joined to.
func (f *fake) Report(_ context.Context, who Identity, r Report) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.EventID != "":
		room := f.rooms[r.RoomID]
		if room == nil || room.members[who.UserID] != "join" {
			return NotFound("the event was not found or you are not joined to the room")
		}
		for _, ev := range room.events {
			if strings.Contains(string(ev), `"event_id":"`+r.EventID+`"`) {
				f.reports = append(f.reports, r)
				return nil
			}
		}
		return NotFound("the event was not found or you are not joined to the room")
	case r.UserID != "":
		if _, ok := f.users[r.UserID]; !ok {
			return NotFound("the user was not found")
		}
	case f.rooms[r.RoomID] == nil:
		return NotFound("the room was not found")
	}
	f.reports = append(f.reports, r)
	return nil
}

// TimestampToEvent implements Timestamps over the fake's log (which has no
// timestamps: the n-th event of a room is at time n).
func (f *fake) TimestampToEvent(_ context.Context, who Identity, roomID string, ts int64, dir string) (string, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	room := f.rooms[roomID]
	if room == nil || room.members[who.UserID] != "join" {
		return "", 0, Forbidden("not in the room")
	}
	n := int64(len(room.events))
	i := min(max(ts, 0), n-1)
	if dir == "f" && ts >= n {
		return "", 0, NotFound("no event at or after that time")
	}
	var e struct {
		EventID string `json:"event_id"`
	}
	json.Unmarshal(room.events[i], &e)
	return e.EventID, i, nil
}

// ChangePassword implements AccountManager.
func (f *fake) ChangePassword(_ context.Context, who Identity, pw string, logoutDevices bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[who.UserID] = pw
	if logoutDevices {
		for t, w := range f.tokens {
			if w.UserID == who.UserID && t != who.AccessToken {
				delete(f.tokens, t)
			}
		}
	}
	return nil
}

// Deactivate implements AccountManager.
func (f *fake) Deactivate(_ context.Context, who Identity, erase bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[who.UserID] = "\x00deactivated"
	for t, w := range f.tokens {
		if w.UserID == who.UserID {
			delete(f.tokens, t)
		}
	}
	return nil
}
