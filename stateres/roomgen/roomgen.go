// Package roomgen generates realistic Matrix rooms for testing and
// benchmarking state resolution: deterministic (the same Config gives
// byte-identical events), valid for the room version, and fast enough to
// build rooms of a hundred thousand members.
//
// A generated room has two parts. The shared history, a single chain of
// events: the create event, the creator's join, power levels, join rules,
// history visibility, name and topic; then Members users joining over
// time, spread over Servers homeservers, with membership churn (leaves and
// rejoins), bans, kicks and unbans by moderators, topic and name changes
// and PowerChanges power level changes (moderators promoted and demoted)
// spread evenly. Then Forks
// branches grow concurrently from the end of the history, as when servers
// act during a netsplit: new users join, members leave, moderators ban,
// topics, names and power levels change, so that the branches conflict on
// power levels, memberships, bans and topics.
//
// Events carry their real content hashes and, by default, their real
// event IDs (reference hashes, room versions 3 and later); they are not
// signed, which state resolution does not need.
//
// Every event's auth events are chosen from the state before it by the
// auth events selection, and every event is checked with the
// authorization rules (eventauth.Check) before it is kept: an action that
// the rules refuse is dropped, so all events in the room are accepted.
//
// The state at the fork point is Base and each branch tip's state is Base
// with Changes[i] applied, the form stateres.ResolveChanges takes;
// StateSets gives the full maps for stateres.Resolve. All events are in
// Store, a stateres.MemoryStore.
package roomgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
)

// Config describes the room to generate. Zero fields take the defaults
// documented on each.
type Config struct {
	// Version is the room version; the zero value means roomversion.Default().
	Version roomversion.Version
	// Seed makes the room; the same seed gives the same room.
	Seed uint64
	// Members is the number of users who join in the shared history
	// (default 100).
	Members int
	// Servers is the number of homeservers the users are spread over
	// (default 10).
	Servers int
	// Moderators is the number of members promoted to power level 50 as
	// they join (default 5).
	Moderators int
	// Churn is the share of joins followed by other activity: a leave,
	// rejoin, kick, ban or unban of an earlier member, or a topic or name
	// change (default 0.2). Power level changes are PowerChanges.
	Churn float64
	// Forks is the number of concurrent branches after the history
	// (default 2; 1 means no fork: one state set).
	Forks int
	// PowerChanges is the number of power level changes (a moderator
	// promoted or demoted) spread evenly over the history (default 20).
	// Rooms of different sizes made with the same number have mainlines
	// of the same length.
	PowerChanges int
	// ForkEvents is the number of state events each branch tries to add
	// (default 10).
	ForkEvents int
	// ForkJoins is the share of a branch's events that are joins of new
	// users (default 0.4); the rest are churn as above.
	ForkJoins float64
	// ForkSeed, when not zero, seeds the branches separately from the
	// history, so that rooms of different sizes can share the same
	// conflict: the branches act only on the first 50 members and on users
	// of their own.
	ForkSeed uint64
	// PlaceholderHashes leaves the content hash as a placeholder instead
	// of computing it (state resolution does not read it; it saves a
	// canonicalization and a SHA-256 per event).
	PlaceholderHashes bool
	// ReadableIDs gives events readable IDs ("$<n>:<server>") taken with
	// event.ParseWithID. By default room versions 3 and later use the
	// real reference hash IDs, computed by event.Parse.
	ReadableIDs bool
}

// Room is a generated room.
type Room struct {
	Version roomversion.Version
	RoomID  string
	// Events are all events, each after its auth and prev events.
	Events []*event.Event
	// Store holds all events.
	Store *stateres.MemoryStore
	// Base is the state at the fork point (the end of the shared history).
	Base stateres.StateMap
	// Changes are, for each branch tip, its state changes since Base.
	Changes []stateres.StateMap
	// Tips are the last event of each branch.
	Tips []*event.Event
}

// StateSets returns the state at each branch tip as a full state map.
func (r *Room) StateSets() []stateres.StateMap {
	out := make([]stateres.StateMap, len(r.Changes))
	for i, c := range r.Changes {
		m := make(stateres.StateMap, len(r.Base)+len(c))
		for k, id := range r.Base {
			m[k] = id
		}
		for k, id := range c {
			if id == "" {
				delete(m, k)
			} else {
				m[k] = id
			}
		}
		out[i] = m
	}
	return out
}

// Event types the generator sends.
const (
	tCreate      = "m.room.create"
	tMember      = "m.room.member"
	tPowerLevels = "m.room.power_levels"
	tJoinRules   = "m.room.join_rules"
	tHistory     = "m.room.history_visibility"
	tName        = "m.room.name"
	tTopic       = "m.room.topic"
)

// gen is the state of one generation.
type gen struct {
	cfg    Config
	v      roomversion.Version
	room   *Room
	roomID string
	seq    int
	ts     int64
	byID   map[string]*event.Event
	buf    []byte
	hashAt int // where render put the content hash placeholder
}

// branch is one line of history: its state and members.
type branch struct {
	rng     *rand.Rand
	state   map[stateres.StateKey]*event.Event
	changes stateres.StateMap // since the fork point (nil on the history)
	last    *event.Event
	depth   int64
	// joined and other members, in join order, with their index in list.
	joined    []string
	pos       map[string]int
	left      []string // users who left or were kicked, who may come back
	posLeft   map[string]int
	banned    []string
	posBanned map[string]int
	mods      []string // users at power level 50
	levels    map[string]int64
}

// Generate makes a room.
func Generate(cfg Config) (*Room, error) {
	if cfg.Version.ID == "" {
		cfg.Version = roomversion.Default()
	}
	if cfg.Members == 0 {
		cfg.Members = 100
	}
	if cfg.Servers <= 0 {
		cfg.Servers = 10
	}
	if cfg.Moderators == 0 {
		cfg.Moderators = 5
	}
	if cfg.Churn == 0 {
		cfg.Churn = 0.2
	}
	if cfg.Forks == 0 {
		cfg.Forks = 2
	}
	if cfg.PowerChanges == 0 {
		cfg.PowerChanges = 20
	}
	if cfg.ForkEvents == 0 {
		cfg.ForkEvents = 10
	}
	if cfg.ForkJoins == 0 {
		cfg.ForkJoins = 0.4
	}
	if cfg.Members < 0 || cfg.Forks < 0 || cfg.ForkEvents < 0 {
		return nil, errors.New("roomgen: negative sizes")
	}
	g := &gen{
		cfg:  cfg,
		v:    cfg.Version,
		room: &Room{Version: cfg.Version, Store: stateres.NewMemoryStore()},
		byID: make(map[string]*event.Event, cfg.Members*2),
		ts:   1_600_000_000_000,
	}
	g.room.Events = make([]*event.Event, 0, cfg.Members*2)
	h := &branch{
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0x6d786b6974)),
		state:     make(map[stateres.StateKey]*event.Event, cfg.Members+16),
		pos:       make(map[string]int, cfg.Members),
		posLeft:   make(map[string]int),
		posBanned: make(map[string]int),
		levels:    make(map[string]int64),
	}
	if err := g.history(h); err != nil {
		return nil, err
	}
	base := make(stateres.StateMap, len(h.state))
	for k, ev := range h.state {
		base[k] = ev.ID()
	}
	g.room.Base = base
	forkSeed := cfg.ForkSeed
	if forkSeed == 0 {
		forkSeed = cfg.Seed + 1
	}
	branches := make([]*branch, cfg.Forks)
	for i := range branches {
		branches[i] = h.fork(rand.New(rand.NewPCG(forkSeed, uint64(i)+1)))
	}
	if err := g.grow(branches); err != nil {
		return nil, err
	}
	for _, b := range branches {
		g.room.Changes = append(g.room.Changes, b.changes)
		g.room.Tips = append(g.room.Tips, b.last)
	}
	g.room.RoomID = g.roomID
	return g.room, nil
}

func (g *gen) server(n int) string { return "s" + strconv.Itoa(n%g.cfg.Servers) + ".example.org" }

func (g *gen) user(n int) string {
	return "@u" + strconv.Itoa(n) + ":" + g.server(n)
}

// history builds the shared chain.
func (g *gen) history(h *branch) error {
	creator := "@creator:" + g.server(0)
	if err := g.createRoom(h, creator); err != nil {
		return err
	}
	for n := 1; n <= g.cfg.Members; n++ {
		u := g.user(n)
		if _, err := g.send(h, u, tMember, u, `{"membership":"join"}`); err != nil {
			return err
		}
		if len(h.mods) < g.cfg.Moderators && n%7 == 1 {
			if err := g.setLevel(h, creator, u, 50); err != nil {
				return err
			}
		}
		if n > 10 && h.rng.Float64() < g.cfg.Churn {
			if err := g.churn(h, creator, false); err != nil {
				return err
			}
		}
		if every := g.cfg.Members / g.cfg.PowerChanges; every > 0 && n%every == 0 {
			if err := g.powerChange(h, creator, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *gen) createRoom(h *branch, creator string) error {
	var content string
	if g.v.Auth.CreatorInContent {
		content = `{"creator":` + strconv.Quote(creator) + `,"room_version":` + strconv.Quote(g.v.ID) + `}`
	} else {
		content = `{"room_version":` + strconv.Quote(g.v.ID) + `}`
	}
	create, err := g.send(h, creator, tCreate, "", content)
	if err != nil {
		return err
	}
	if g.v.Event.RoomID == roomversion.RoomIDCreateHash {
		g.roomID = "!" + create.ID()[1:]
	}
	if _, err := g.send(h, creator, tMember, creator, `{"membership":"join"}`); err != nil {
		return err
	}
	if !g.v.Auth.PrivilegedCreators {
		h.levels[creator] = 100
	}
	if _, err := g.send(h, creator, tPowerLevels, "", g.plContent(h)); err != nil {
		return err
	}
	for _, e := range [][2]string{
		{tJoinRules, `{"join_rule":"public"}`},
		{tHistory, `{"history_visibility":"shared"}`},
		{tName, `{"name":"Generated room"}`},
		{tTopic, `{"topic":"A room made by roomgen"}`},
	} {
		if _, err := g.send(h, creator, e[0], "", e[1]); err != nil {
			return err
		}
	}
	return nil
}

// plContent renders power levels with the branch's user levels.
func (g *gen) plContent(b *branch) string {
	buf := []byte(`{"ban":50,"events":{"m.room.name":50,"m.room.power_levels":100,"m.room.topic":50},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{`)
	users := make([]string, 0, len(b.levels))
	for u := range b.levels {
		users = append(users, u)
	}
	sortStrings(users)
	for k, u := range users {
		if k > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendQuote(buf, u)
		buf = append(buf, ':')
		buf = strconv.AppendInt(buf, b.levels[u], 10)
	}
	buf = append(buf, `},"users_default":0}`...)
	return string(buf)
}

func sortStrings(s []string) {
	// insertion sort is enough for the few users with levels
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// setLevel has admin set user's level (50 promotes a moderator, 0 demotes).
func (g *gen) setLevel(b *branch, admin, user string, level int64) error {
	old, had := b.levels[user]
	if level == 0 {
		delete(b.levels, user)
	} else {
		b.levels[user] = level
	}
	ev, err := g.send(b, admin, tPowerLevels, "", g.plContent(b))
	if err != nil {
		return err
	}
	if ev == nil { // refused: restore
		if had {
			b.levels[user] = old
		} else {
			delete(b.levels, user)
		}
		return nil
	}
	b.mods = b.mods[:0]
	for u, l := range b.levels {
		if l == 50 {
			b.mods = append(b.mods, u)
		}
	}
	sortStrings(b.mods)
	return nil
}

// churn does one random action other than a new join, on the history or
// (forked) on a branch; see pick for the users it may act on.
func (g *gen) churn(b *branch, creator string, forked bool) error {
	pick := func(list []string) string { return g.pick(b, list, forked) }
	actor := creator
	if len(b.mods) > 0 && b.rng.IntN(2) == 0 {
		actor = b.mods[b.rng.IntN(len(b.mods))]
	}
	switch x := b.rng.IntN(100); {
	case x < 35: // a member leaves
		if u := pick(b.joined); u != "" && u != creator && b.levels[u] == 0 {
			_, err := g.send(b, u, tMember, u, `{"membership":"leave"}`)
			return err
		}
	case x < 55: // someone who left comes back
		if u := pick(b.left); u != "" {
			_, err := g.send(b, u, tMember, u, `{"membership":"join"}`)
			return err
		}
	case x < 62: // a kick
		if u := pick(b.joined); u != "" && b.levels[u] == 0 && u != creator {
			_, err := g.send(b, actor, tMember, u, `{"membership":"leave","reason":"kicked"}`)
			return err
		}
	case x < 72: // a ban
		if u := pick(b.joined); u != "" && b.levels[u] == 0 && u != creator {
			_, err := g.send(b, actor, tMember, u, `{"membership":"ban","reason":"spam"}`)
			return err
		}
	case x < 76: // an unban
		if u := pick(b.banned); u != "" {
			_, err := g.send(b, actor, tMember, u, `{"membership":"leave"}`)
			return err
		}
	case x < 88: // topic
		_, err := g.send(b, actor, tTopic, "", `{"topic":"topic `+strconv.Itoa(g.seq)+`"}`)
		return err
	case x < 93: // name
		_, err := g.send(b, actor, tName, "", `{"name":"name `+strconv.Itoa(g.seq)+`"}`)
		return err
	default: // power levels, only on branches (see PowerChanges)
		if forked {
			return g.powerChange(b, creator, forked)
		}
		_, err := g.send(b, actor, tTopic, "", `{"topic":"topic `+strconv.Itoa(g.seq)+`"}`)
		return err
	}
	return nil
}

// powerChange promotes a member to moderator or demotes a moderator.
func (g *gen) powerChange(b *branch, creator string, forked bool) error {
	pick := func(list []string) string { return g.pick(b, list, forked) }
	if len(b.mods) > 1 && b.rng.IntN(2) == 0 {
		if u := pick(b.mods); u != "" {
			return g.setLevel(b, creator, u, 0)
		}
		return nil
	}
	if u := pick(b.joined[:min(len(b.joined), 1000)]); u != "" && u != creator {
		return g.setLevel(b, creator, u, 50)
	}
	return nil
}

// pick chooses a user from list. With ForkSeed, the history leaves the
// first 50 members alone, and the branches act only on them (and on users
// of their own), choosing from the sorted list so that rooms of any size
// make the same choices.
func (g *gen) pick(b *branch, list []string, forked bool) string {
	if len(list) == 0 {
		return ""
	}
	if g.cfg.ForkSeed == 0 {
		return list[b.rng.IntN(len(list))]
	}
	if !forked {
		u := list[b.rng.IntN(len(list))]
		if g.stable(u) {
			return ""
		}
		return u
	}
	var ok []string
	for _, u := range list {
		if g.stable(u) {
			ok = append(ok, u)
		}
	}
	if len(ok) == 0 {
		return ""
	}
	slices.Sort(ok)
	return ok[b.rng.IntN(len(ok))]
}

// stable reports a user every room made with the same ForkSeed has: the
// creator, the first 50 members, and branch users.
func (g *gen) stable(u string) bool {
	if len(u) > 2 && u[1] == 'u' {
		end := 2
		for end < len(u) && u[end] >= '0' && u[end] <= '9' {
			end++
		}
		n, _ := strconv.Atoi(u[2:end])
		return n <= 50
	}
	return true
}

// fork copies the branch state for a new branch.
func (h *branch) fork(rng *rand.Rand) *branch {
	b := &branch{
		rng:     rng,
		state:   make(map[stateres.StateKey]*event.Event, len(h.state)),
		changes: make(stateres.StateMap),
		last:    h.last,
		depth:   h.depth,
		joined:  append([]string(nil), h.joined...),
		pos:     make(map[string]int, len(h.pos)),
		left:    append([]string(nil), h.left...),
		banned:  append([]string(nil), h.banned...),
		mods:    append([]string(nil), h.mods...),
		levels:  make(map[string]int64, len(h.levels)),
	}
	for k, v := range h.state {
		b.state[k] = v
	}
	for k, v := range h.pos {
		b.pos[k] = v
	}
	b.posLeft = make(map[string]int, len(h.posLeft))
	for k, v := range h.posLeft {
		b.posLeft[k] = v
	}
	b.posBanned = make(map[string]int, len(h.posBanned))
	for k, v := range h.posBanned {
		b.posBanned[k] = v
	}
	for k, v := range h.levels {
		b.levels[k] = v
	}
	return b
}

// grow adds the branches' events, one step of each branch in turn, as
// servers acting at the same time would.
func (g *gen) grow(branches []*branch) error {
	creator := branches[0].state[stateres.StateKey{Type: tCreate}].Sender()
	for k := 0; k < g.cfg.ForkEvents; k++ {
		for i, b := range branches {
			if b.rng.Float64() < g.cfg.ForkJoins {
				u := "@f" + strconv.Itoa(i) + "x" + strconv.Itoa(k) + ":" + g.server(i)
				if _, err := g.send(b, u, tMember, u, `{"membership":"join"}`); err != nil {
					return err
				}
				continue
			}
			if err := g.churn(b, creator, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// send makes one event on branch b, from the state of b. It returns nil
// (and no error) when the authorization rules refuse the event.
func (g *gen) send(b *branch, sender, typ, stateKey, content string) (*event.Event, error) {
	g.seq++
	g.ts += 1000 + int64(g.seq%7)
	prev := []string{}
	if b.last != nil {
		prev = append(prev, b.last.ID())
	}
	isCreate := typ == tCreate
	// The auth events selection needs the event; build it once without
	// auth events to ask, then for real.
	raw := g.render(sender, typ, stateKey, content, prev, nil, b.depth+1)
	var probe *event.Event
	var err error
	if isCreate {
		if err := g.fillHash(raw); err != nil {
			return nil, err
		}
	}
	probe, err = g.parse(raw)
	if err != nil {
		return nil, fmt.Errorf("roomgen: generated an invalid event: %w", err)
	}
	var authIDs []string
	var authEvs []*event.Event
	if !isCreate {
		needed, err := eventauth.Needed(g.v, probe)
		if err != nil {
			return nil, fmt.Errorf("roomgen: %w", err)
		}
		for _, k := range needed {
			if ev := b.state[k]; ev != nil {
				authIDs = append(authIDs, ev.ID())
				authEvs = append(authEvs, ev)
			}
		}
		raw = g.render(sender, typ, stateKey, content, prev, authIDs, b.depth+1)
		if err := g.fillHash(raw); err != nil {
			return nil, err
		}
		if probe, err = g.parse(raw); err != nil {
			return nil, fmt.Errorf("roomgen: generated an invalid event: %w", err)
		}
	}
	ev := probe
	if !isCreate {
		st := eventauth.StateMap{}
		for _, a := range authEvs {
			sk, _ := a.StateKey()
			st[stateres.StateKey{Type: a.Type(), StateKey: sk}] = a
		}
		if !g.v.Auth.CreateInAuthEvents {
			st[stateres.StateKey{Type: tCreate}] = b.state[stateres.StateKey{Type: tCreate}]
		}
		if err := eventauth.Allowed(g.v, ev, st); err != nil {
			return nil, nil
		}
	}
	g.byID[ev.ID()] = ev
	g.room.Events = append(g.room.Events, ev)
	g.room.Store.Add(ev)
	b.last = ev
	b.depth++
	k := stateres.StateKey{Type: typ, StateKey: stateKey}
	b.state[k] = ev
	if b.changes != nil {
		b.changes[k] = ev.ID()
	}
	if typ == tMember {
		b.member(stateKey, ev.Membership())
	}
	return ev, nil
}

// member updates the branch's lists after a membership change.
func (b *branch) member(u, m string) {
	b.joined = b.list(&b.joined, b.pos, u, m == "join")
	b.left = b.list(&b.left, b.posLeft, u, m == "leave")
	b.banned = b.list(&b.banned, b.posBanned, u, m == "ban")
}

// list removes u from *l (swap with the last) and appends it when in is
// true, keeping pos, the index of each user in the list.
func (b *branch) list(l *[]string, pos map[string]int, u string, in bool) []string {
	s := *l
	if i, ok := pos[u]; ok {
		last := len(s) - 1
		s[i] = s[last]
		pos[s[i]] = i
		s = s[:last]
		delete(pos, u)
	}
	if in {
		pos[u] = len(s)
		s = append(s, u)
	}
	return s
}

// fillHash writes the event's content hash over the placeholder that
// render left (the content hash does not cover the hashes key, so the
// placeholder does not change it).
func (g *gen) fillHash(raw []byte) error {
	if g.cfg.PlaceholderHashes {
		return nil
	}
	sum, err := event.ContentHash(g.v, raw)
	if err != nil {
		return fmt.Errorf("roomgen: content hash: %w", err)
	}
	copy(raw[g.hashAt:], base64.Std.EncodeToString(sum[:]))
	return nil
}

func (g *gen) parse(raw []byte) (*event.Event, error) {
	if g.v.Event.Format == roomversion.EventFormatV1 || g.cfg.ReadableIDs {
		return event.ParseWithID(g.v, raw, g.readableID())
	}
	return event.Parse(g.v, raw)
}

func (g *gen) readableID() string {
	return "$" + strconv.Itoa(g.seq) + ":" + g.server(g.seq)
}

// render writes the PDU, with a placeholder content hash (see fillHash).
// The events are not signed, and in room versions 1 and 2 the reference
// hashes beside prev and auth event IDs are placeholders: state resolution
// reads neither.
func (g *gen) render(sender, typ, stateKey, content string, prev, auth []string, depth int64) []byte {
	b := g.buf[:0]
	v1 := g.v.Event.Format == roomversion.EventFormatV1
	refs := func(b []byte, ids []string) []byte {
		b = append(b, '[')
		for k, id := range ids {
			if k > 0 {
				b = append(b, ',')
			}
			if v1 {
				b = append(b, '[')
				b = strconv.AppendQuote(b, id)
				b = append(b, `,{"sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]`...)
			} else {
				b = strconv.AppendQuote(b, id)
			}
		}
		return append(b, ']')
	}
	b = append(b, `{"auth_events":`...)
	b = refs(b, auth)
	b = append(b, `,"content":`...)
	b = append(b, content...)
	b = append(b, `,"depth":`...)
	b = strconv.AppendInt(b, depth, 10)
	if v1 {
		b = append(b, `,"event_id":`...)
		b = strconv.AppendQuote(b, g.readableID())
	}
	b = append(b, `,"hashes":{"sha256":"`...)
	g.hashAt = len(b)
	b = append(b, `AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"origin_server_ts":`...)
	b = strconv.AppendInt(b, g.ts, 10)
	b = append(b, `,"prev_events":`...)
	b = refs(b, prev)
	roomID := g.roomID
	if roomID == "" && g.v.Event.RoomID != roomversion.RoomIDCreateHash {
		roomID = "!generated:" + g.server(0)
		g.roomID = roomID
	}
	if !(typ == tCreate && g.v.Event.RoomID == roomversion.RoomIDCreateHash) {
		b = append(b, `,"room_id":`...)
		b = strconv.AppendQuote(b, roomID)
	}
	b = append(b, `,"sender":`...)
	b = strconv.AppendQuote(b, sender)
	b = append(b, `,"signatures":{},"state_key":`...)
	b = strconv.AppendQuote(b, stateKey)
	b = append(b, `,"type":`...)
	b = strconv.AppendQuote(b, typ)
	b = append(b, '}')
	g.buf = b
	out := make([]byte, len(b))
	copy(out, b)
	return out
}
