package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/examples/homeserver/internal/dbutil"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

type stateKey = eventauth.StateKey

// Rooms is the room logic of the homeserver: it makes local events from
// the current state, checks received ones, keeps the state after every
// event and the forward extremities, resolves forks with the room
// version's state resolution, and tells sync when something happened.
type Rooms struct {
	name string
	key  *signing.SigningKey
	db   *Store
	log  *slog.Logger

	locksMu sync.Mutex
	locks   map[string]*sync.Mutex

	verMu    sync.RWMutex
	versions map[string]roomversion.Version

	groupMu sync.Mutex
	groups  map[int64]map[stateKey]string // immutable state groups, bounded
	// groupEntries counts the entries of the cached groups.
	groupEntries int

	notify *notifier

	// outbound, when set, sends a new local event to the other servers
	// in the room. It is called after the event is committed.
	outbound func(ev *event.Event, servers []string)
}

func newRooms(name string, key *signing.SigningKey, db *Store, log *slog.Logger) *Rooms {
	return &Rooms{
		name: name, key: key, db: db, log: log,
		locks:    make(map[string]*sync.Mutex),
		versions: make(map[string]roomversion.Version),
		groups:   make(map[int64]map[stateKey]string),
		notify:   newNotifier(),
	}
}

// lock serialises the changes to one room.
func (r *Rooms) lock(roomID string) func() {
	r.locksMu.Lock()
	m := r.locks[roomID]
	if m == nil {
		m = new(sync.Mutex)
		r.locks[roomID] = m
	}
	r.locksMu.Unlock()
	m.Lock()
	return m.Unlock
}

// Version returns the room version of a room the server knows.
func (r *Rooms) Version(roomID string) (roomversion.Version, error) {
	r.verMu.RLock()
	v, ok := r.versions[roomID]
	r.verMu.RUnlock()
	if ok {
		return v, nil
	}
	var id string
	err := r.db.r.QueryRow(`SELECT version FROM rooms WHERE room_id = ?`, roomID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return roomversion.Version{}, fmt.Errorf("room %s: %w", roomID, ErrNotFound)
	}
	if err != nil {
		return roomversion.Version{}, err
	}
	v, err = roomversion.Get(id)
	if err != nil {
		return v, err
	}
	r.verMu.Lock()
	r.versions[roomID] = v
	r.verMu.Unlock()
	return v, nil
}

// load loads events by ID; the ones the server does not have are absent.
func (r *Rooms) load(ctx context.Context, ids []string) (map[string]*StoredEvent, error) {
	out := make(map[string]*StoredEvent, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := r.db.query(ctx, `SELECT `+eventCols+` FROM events WHERE event_id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			se, err := r.db.scanEvent(rows, r.Version)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[se.Event.ID()] = se
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Event loads one event.
func (r *Rooms) Event(ctx context.Context, id string) (*StoredEvent, error) {
	m, err := r.load(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	se := m[id]
	if se == nil {
		return nil, fmt.Errorf("event %s: %w", id, ErrNotFound)
	}
	return se, nil
}

// stateStore adapts the database to stateres.Store.
type stateStore struct{ r *Rooms }

func (s stateStore) Events(ctx context.Context, ids []string) ([]stateres.Stored, error) {
	m, err := s.r.load(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]stateres.Stored, len(ids))
	for i, id := range ids {
		if se := m[id]; se != nil {
			out[i] = stateres.Stored{Event: se.Event, Rejected: se.Status == federation.Rejected}
		}
	}
	return out, nil
}

// Group returns a state group (shared; do not modify).
func (r *Rooms) Group(ctx context.Context, id int64) (map[stateKey]string, error) {
	return r.readGroup(ctx, r.db.r, id)
}

// maxGroupChain bounds the deltas between a group and its snapshot (the
// reference server keeps chains short likewise): reading a group reads at
// most this many rows.
const maxGroupChain = 50

// readGroup reads a state group, following its deltas down to the nearest
// snapshot or group in the cache. The maps it returns are shared: callers
// must not change them.
func (r *Rooms) readGroup(ctx context.Context, q querier, id int64) (map[stateKey]string, error) {
	if id == 0 {
		return map[stateKey]string{}, nil
	}
	type row struct {
		id, prev int64
		state    []byte
	}
	var chain []row
	var base map[stateKey]string
	for cur := id; ; {
		if g := r.cachedGroup(cur); g != nil {
			base = g
			break
		}
		var rw row
		rw.id = cur
		if err := q.QueryRowContext(ctx, `SELECT prev, state FROM state_groups WHERE id = ?`, cur).Scan(&rw.prev, &rw.state); err != nil {
			return nil, fmt.Errorf("state group %d: %w", cur, err)
		}
		chain = append(chain, rw)
		if rw.prev == 0 {
			break
		}
		if len(chain) > maxGroupChain+1 {
			return nil, fmt.Errorf("state group %d: chain of deltas longer than %d", id, maxGroupChain)
		}
		cur = rw.prev
	}
	// Apply from the oldest: the snapshot (or cached base), then each delta.
	for i := len(chain) - 1; i >= 0; i-- {
		entries, err := decodeState(chain[i].state)
		if err != nil {
			return nil, fmt.Errorf("state group %d: %w", chain[i].id, err)
		}
		if chain[i].prev == 0 {
			base = entries
		} else {
			next := maps.Clone(base)
			for k, v := range entries {
				if v == "" {
					delete(next, k)
				} else {
					next[k] = v
				}
			}
			base = next
		}
		r.cacheGroup(chain[i].id, base)
	}
	return base, nil
}

// groupCacheMax bounds the entries of the cached groups (all maps
// together), so that the cache of a 100,000-member room holds a few
// states, not thousands.
const groupCacheMax = 500_000

func (r *Rooms) cachedGroup(id int64) map[stateKey]string {
	r.groupMu.Lock()
	defer r.groupMu.Unlock()
	return r.groups[id]
}

func (r *Rooms) cacheGroup(id int64, g map[stateKey]string) {
	r.groupMu.Lock()
	defer r.groupMu.Unlock()
	if r.groupEntries+len(g) > groupCacheMax {
		clear(r.groups)
		r.groupEntries = 0
	}
	if _, ok := r.groups[id]; !ok {
		r.groups[id] = g
		r.groupEntries += len(g)
	}
}

// currentGroup returns the room's current state group.
func (r *Rooms) currentGroup(ctx context.Context, q querier, roomID string) (int64, error) {
	var g int64
	err := q.QueryRowContext(ctx, `SELECT state_group FROM rooms WHERE room_id = ?`, roomID).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("room %s: %w", roomID, ErrNotFound)
	}
	return g, err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// CurrentState returns the room's current state map.
func (r *Rooms) CurrentState(ctx context.Context, roomID string) (map[stateKey]string, error) {
	g, err := r.currentGroup(ctx, r.db.r, roomID)
	if err != nil {
		return nil, err
	}
	return r.Group(ctx, g)
}

// stateView is a room state whose events are loaded when the rules ask.
type stateView struct {
	ctx    context.Context
	r      *Rooms
	ids    map[stateKey]string
	loaded map[string]*event.Event
	err    error
}

func (s *stateView) StateEvent(typ, key string) *event.Event {
	id, ok := s.ids[stateKey{Type: typ, StateKey: key}]
	if !ok {
		return nil
	}
	if ev, ok := s.loaded[id]; ok {
		return ev
	}
	se, err := s.r.Event(s.ctx, id)
	if err != nil {
		s.err = err
		return nil
	}
	if s.loaded == nil {
		s.loaded = make(map[string]*event.Event)
	}
	s.loaded[id] = se.Event
	return se.Event
}

// Local describes an event a local user sends.
type Local struct {
	RoomID   string
	Sender   string
	Type     string
	StateKey *string
	Content  []byte
	Redacts  string
	TS       int64
	// Txn records the client transaction for unsigned.transaction_id.
	TxnDevice, TxnID string

	// dests are the servers the event is queued for, in the same
	// transaction that stores it.
	dests []string
}

// ErrForbidden wraps the authorization rules' refusal of a local event.
var ErrForbidden = errors.New("forbidden")

// Send makes, checks, stores and distributes a local event in an existing
// room. The returned event is committed.
func (r *Rooms) Send(ctx context.Context, l Local) (*event.Event, error) {
	unlock := r.lock(l.RoomID)
	defer unlock()
	return r.sendLocked(ctx, l)
}

// sendLocked is Send with the room lock held.
func (r *Rooms) sendLocked(ctx context.Context, l Local) (*event.Event, error) {
	v, err := r.Version(l.RoomID)
	if err != nil {
		return nil, err
	}
	group, err := r.currentGroup(ctx, r.db.w, l.RoomID)
	if err != nil {
		return nil, err
	}
	state, err := r.Group(ctx, group)
	if err != nil {
		return nil, err
	}
	extIDs, err := r.extremities(ctx, r.db.w, l.RoomID)
	if err != nil {
		return nil, err
	}
	if len(extIDs) > event.MaxPrevEvents {
		extIDs = extIDs[:event.MaxPrevEvents]
	}
	exts, err := r.load(ctx, extIDs)
	if err != nil {
		return nil, err
	}
	b := &event.Builder{
		Type: l.Type, StateKey: l.StateKey, Sender: l.Sender, RoomID: l.RoomID,
		Content: l.Content, Redacts: l.Redacts, OriginServerTS: l.TS,
	}
	for _, id := range extIDs {
		if se := exts[id]; se != nil {
			b.PrevEvents = append(b.PrevEvents, se.Event)
		}
	}
	view := &stateView{ctx: ctx, r: r, ids: state}
	// The auth events selection depends on the event itself (its type,
	// sender, state key and membership): build it once without auth
	// events to ask eventauth.Needed, then for real.
	draft, err := b.Build(v, r.name, r.key)
	if err != nil {
		return nil, badEvent(err)
	}
	needed, err := eventauth.Needed(v, draft)
	if err != nil {
		return nil, badEvent(err)
	}
	for _, k := range needed {
		if ev := view.StateEvent(k.Type, k.StateKey); ev != nil {
			b.AuthEvents = append(b.AuthEvents, ev)
		}
	}
	if view.err != nil {
		return nil, view.err
	}
	ev, err := b.Build(v, r.name, r.key)
	if err != nil {
		return nil, badEvent(err)
	}
	if err := eventauth.Allowed(v, ev, view); err != nil {
		if view.err != nil {
			return nil, view.err
		}
		return nil, fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	after := state
	if ev.IsState() {
		k, _ := ev.StateKey()
		after = maps.Clone(state)
		after[stateKey{Type: ev.Type(), StateKey: k}] = ev.ID()
	}
	if r.outbound != nil {
		l.dests = r.destinations(ctx, ev)
	}
	if err := r.storeLocked(ctx, l.RoomID, []federation.NewEvent{{Event: ev, Status: federation.Accepted, StateAfter: after}}, &l); err != nil {
		return nil, err
	}
	if len(l.dests) > 0 {
		r.outbound(ev, l.dests)
	}
	return ev, nil
}

// destinations are the servers a new local event goes to: those with a
// joined member in the room's current state (before the event, so that
// a leave reaches the servers it leaves), and a member event's target's
// server.
func (r *Rooms) destinations(ctx context.Context, ev *event.Event) []string {
	servers := r.serversIn(ctx, ev.RoomID(), nil)
	if ev.Type() == event.TypeMember {
		if k, _ := ev.StateKey(); k != "" {
			servers = append(servers, serverOf(k))
		}
	}
	return slices.DeleteFunc(slices.Compact(sortStrings(servers)), func(s string) bool { return s == r.name || s == "" })
}

// serversIn lists the servers with a joined member in the room's
// current state.
func (r *Rooms) serversIn(ctx context.Context, roomID string, _ map[stateKey]string) []string {
	rows, err := r.db.query(ctx, `SELECT DISTINCT substr(state_key, instr(state_key, ':') + 1) FROM current_state
		WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join'`, roomID)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var servers []string
	for rows.Next() {
		var s string
		if rows.Scan(&s) == nil {
			servers = append(servers, s)
		}
	}
	return servers
}

func sortStrings(s []string) []string { slices.Sort(s); return s }

// badEvent marks an event the client described that cannot be built.
type badEventError struct{ err error }

func (e *badEventError) Error() string { return e.err.Error() }
func (e *badEventError) Unwrap() error { return e.err }

func badEvent(err error) error { return &badEventError{err} }

func insertGroup(ctx context.Context, tx *sql.Tx, roomID string, st map[stateKey]string) (int64, error) {
	return insertGroupOn(ctx, tx, roomID, st, 0, nil, 0)
}

// insertGroupOn stores the state st as a delta on the group base (whose
// state is baseState and chain depth baseDepth), or as a snapshot when
// there is no base, the chain is long, or the delta would be as large as
// a snapshot.
func insertGroupOn(ctx context.Context, tx *sql.Tx, roomID string, st map[stateKey]string, base int64, baseState map[stateKey]string, baseDepth int64) (int64, error) {
	prev, depth, rows := int64(0), int64(0), st
	if base != 0 && baseDepth < maxGroupChain {
		delta := map[stateKey]string{}
		for k, v := range st {
			if baseState[k] != v {
				delta[k] = v
			}
		}
		for k := range baseState {
			if _, ok := st[k]; !ok {
				delta[k] = "" // removed
			}
		}
		if len(delta) < len(st)/2+1 {
			prev, depth, rows = base, baseDepth+1, delta
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO state_groups (room_id, prev, depth, state) VALUES (?, ?, ?, ?)`, roomID, prev, depth, encodeState(rows))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// setCurrent records the room's new current state: the group, and the
// rows of current_state and membership_log for the keys that changed.
func setCurrent(ctx context.Context, tx *sql.Tx, roomID string, group int64, old, now map[stateKey]string, stream int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE rooms SET state_group = ? WHERE room_id = ?`, group, roomID); err != nil {
		return err
	}
	for k, id := range now {
		if old[k] == id {
			continue
		}
		membership := ""
		if k.Type == event.TypeMember {
			var raw []byte
			if err := tx.QueryRowContext(ctx, `SELECT json FROM events WHERE event_id = ?`, id).Scan(&raw); err != nil {
				return fmt.Errorf("state event %s: %w", id, err)
			}
			membership = jsonMembership(raw)
			if _, err := tx.ExecContext(ctx, `INSERT INTO membership_log (stream, room_id, user_id, membership, event_id) VALUES (?, ?, ?, ?, ?)`,
				stream, roomID, k.StateKey, membership, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO current_state (room_id, type, state_key, event_id, membership, stream) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, membership = excluded.membership, stream = excluded.stream`,
			roomID, k.Type, k.StateKey, id, membership, stream); err != nil {
			return err
		}
	}
	for k := range old {
		if _, ok := now[k]; !ok {
			if _, err := tx.ExecContext(ctx, `DELETE FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?`, roomID, k.Type, k.StateKey); err != nil {
				return err
			}
		}
	}
	return nil
}

// extremities reads a room's forward extremities, sorted.
func (r *Rooms) extremities(ctx context.Context, q querier, roomID string) ([]string, error) {
	return dbutil.Strings(q.QueryContext(ctx, `SELECT event_id FROM extremities WHERE room_id = ? ORDER BY event_id`, roomID))
}

// CreateRoom makes a new room: the create event and then the events of
// the plan, each built on the state the previous one left.
func (r *Rooms) CreateRoom(ctx context.Context, v roomversion.Version, creator string, createContent []byte, rest []Local) (string, error) {
	b := &event.Builder{Type: event.TypeCreate, StateKey: new(string), Sender: creator, Content: createContent}
	roomID := ""
	if v.Event.RoomID == roomversion.RoomIDServer {
		roomID = "!" + randomString(18) + ":" + r.name
		b.RoomID = roomID
	}
	create, err := b.Build(v, r.name, r.key)
	if err != nil {
		return "", badEvent(err)
	}
	roomID = create.RoomID()
	if err := eventauth.Allowed(v, create, eventauth.StateMap{}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	unlock := r.lock(roomID)
	defer unlock()
	st := stateres.StateMap{{Type: event.TypeCreate}: create.ID()}
	if err := r.storeLocked(ctx, roomID, []federation.NewEvent{{Event: create, Status: federation.Accepted, StateAfter: st}}, nil); err != nil {
		return "", err
	}
	for _, l := range rest {
		l.RoomID = roomID
		if _, err := r.sendLocked(ctx, l); err != nil {
			return roomID, fmt.Errorf("creating room %s, event %s: %w", roomID, l.Type, err)
		}
	}
	return roomID, nil
}

func serverOf(id string) string {
	for i := 0; i < len(id); i++ {
		if id[i] == ':' {
			return id[i+1:]
		}
	}
	return ""
}
