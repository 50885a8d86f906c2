package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
)

// Rooms implements federation.RoomStore on the database, so the
// federation receive pipeline, the room handlers and the join flows keep
// their events in the same place the client API reads them.
var _ federation.RoomStore = (*Rooms)(nil)

// RoomVersion implements federation.RoomVersions.
func (r *Rooms) RoomVersion(ctx context.Context, roomID string) (roomversion.Version, error) {
	v, err := r.Version(roomID)
	if errors.Is(err, ErrNotFound) {
		return v, fmt.Errorf("%w: %s", federation.ErrUnknownRoom, roomID)
	}
	return v, err
}

// StateAfter implements federation.StateStore.
func (r *Rooms) StateAfter(ctx context.Context, ids []string) ([]stateres.StateMap, error) {
	evs, err := r.load(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]stateres.StateMap, len(ids))
	for i, id := range ids {
		se := evs[id]
		if se == nil || se.After == 0 {
			continue
		}
		g, err := r.Group(ctx, se.After)
		if err != nil {
			return nil, err
		}
		out[i] = g
	}
	return out, nil
}

// ForwardExtremities implements federation.StateStore.
func (r *Rooms) ForwardExtremities(ctx context.Context, roomID string) ([]string, error) {
	if _, err := r.RoomVersion(ctx, roomID); err != nil {
		return nil, err
	}
	return r.extremities(ctx, r.db.r, roomID)
}

// StoreEvents implements federation.EventWriter.
func (r *Rooms) StoreEvents(ctx context.Context, roomID string, evs []federation.NewEvent) error {
	unlock := r.lock(roomID)
	defer unlock()
	return r.storeLocked(ctx, roomID, evs, nil)
}

// ReferencedBy implements stateres.AuthChainIndex, so that state
// resolution follows the conflicted events instead of the whole room.
func (r *Rooms) ReferencedBy(ctx context.Context, ids []string) ([][]stateres.Ref, error) {
	out := make([][]stateres.Ref, len(ids))
	for i, id := range ids {
		rows, err := r.db.query(ctx, `SELECT e.event_id, e.type, e.state_key FROM auth_refs a JOIN events e ON e.event_id = a.event_id WHERE a.auth_id = ? AND e.state_key IS NOT NULL`, id)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var ref stateres.Ref
			if err := rows.Scan(&ref.ID, &ref.Type, &ref.StateKey); err != nil {
				rows.Close()
				return nil, err
			}
			out[i] = append(out[i], ref)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// overlayStore serves state resolution the events of a batch not yet
// committed, then the database.
type overlayStore struct {
	r     *Rooms
	batch map[string]federation.NewEvent
}

func (o overlayStore) Events(ctx context.Context, ids []string) ([]stateres.Stored, error) {
	out, err := o.r.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if ne, ok := o.batch[id]; ok {
			out[i] = stateres.Stored{Event: ne.Event, Rejected: ne.Status == federation.Rejected}
		}
	}
	return out, nil
}

// storeLocked stores a batch of events of one room, with the room lock
// held: the events with their status and state after, the forward
// extremities, and the room's current state (resolved across the
// extremities when there are several), all in one transaction. The
// sync stream moves when it is committed.
func (r *Rooms) storeLocked(ctx context.Context, roomID string, evs []federation.NewEvent, local *Local) error {
	if len(evs) == 0 {
		return nil
	}
	v := evs[0].Event.Version()
	known := true
	if _, err := r.Version(roomID); errors.Is(err, ErrNotFound) {
		known = false
	} else if err != nil {
		return err
	}
	oldExt := []string{}
	var oldGroup int64
	if known {
		var err error
		if oldExt, err = r.extremities(ctx, r.db.w, roomID); err != nil {
			return err
		}
		if oldGroup, err = r.currentGroup(ctx, r.db.w, roomID); err != nil {
			return err
		}
	}
	// Skip what is stored already.
	ids := make([]string, len(evs))
	for i, ne := range evs {
		if ne.Event == nil {
			return errors.New("StoreEvents: nil event")
		}
		ids[i] = ne.Event.ID()
	}
	have, err := r.load(ctx, ids)
	if err != nil {
		return err
	}
	batch := make(map[string]federation.NewEvent, len(evs))
	var fresh []federation.NewEvent
	for _, ne := range evs {
		id := ne.Event.ID()
		if h := have[id]; h != nil && !(ne.Historical && h.After == 0 && ne.StateAfter != nil) {
			continue // stored; only an outlier may become history
		}
		if _, dup := batch[id]; dup {
			continue
		}
		batch[id] = ne
		fresh = append(fresh, ne)
	}
	if len(fresh) == 0 {
		return nil
	}

	// The new forward extremities, and the state across them.
	ext := slices.Clone(oldExt)
	for _, ne := range fresh {
		if ne.Status != federation.Accepted || ne.Historical {
			continue
		}
		if ne.ReplacesExtremities {
			// A join completing a send_join: the resident's state is the
			// room's, what we had before is stale.
			ext = append(ext[:0], ne.Event.ID())
			continue
		}
		prev := ne.Event.PrevEventIDs()
		ext = slices.DeleteFunc(ext, func(x string) bool { return slices.Contains(prev, x) })
		ext = append(ext, ne.Event.ID())
	}
	slices.Sort(ext)
	extChanged := !slices.Equal(ext, sortStrings(slices.Clone(oldExt)))
	var current stateres.StateMap
	if extChanged && len(ext) > 0 {
		states := make([]stateres.StateMap, 0, len(ext))
		var fromDB []string
		for _, id := range ext {
			if ne, ok := batch[id]; ok {
				states = append(states, ne.StateAfter)
			} else {
				fromDB = append(fromDB, id)
			}
		}
		dbStates, err := r.StateAfter(ctx, fromDB)
		if err != nil {
			return err
		}
		for i, st := range dbStates {
			if st == nil {
				return fmt.Errorf("room %s: state after extremity %s is not known", roomID, fromDB[i])
			}
			states = append(states, st)
		}
		if len(states) == 1 {
			current = states[0]
		} else {
			current, err = stateres.Resolve(ctx, v, states, overlayStore{r, batch}, nil)
			if err != nil {
				return fmt.Errorf("room %s: resolving the state of %d forward extremities: %w", roomID, len(states), err)
			}
		}
	}

	// Redactions that apply (decided before the transaction, which must
	// not wait on reads).
	applies := map[string]bool{}
	for _, ne := range fresh {
		if ne.Status == federation.Accepted && ne.Event.Type() == event.TypeRedaction && ne.Event.Redacts() != "" {
			applies[ne.Event.ID()] = r.redactionApplies(ctx, ne.Event, batch)
		}
	}

	var lastStream int64
	groupOf := map[string]int64{} // event ID -> state group, this batch
	err = r.db.Tx(ctx, func(tx *sql.Tx) error {
		if !known {
			if _, err := tx.ExecContext(ctx, `INSERT INTO rooms (room_id, version, state_group, created_ts) VALUES (?, ?, 0, strftime('%s','now')*1000)`, roomID, v.ID); err != nil {
				return err
			}
		}
		for _, ne := range fresh {
			ev := ne.Event
			var group int64
			if ne.StateAfter != nil {
				group, err = r.findGroup(ctx, tx, ev, ne.StateAfter, groupOf)
				if err != nil {
					return err
				}
			}
			groupOf[ev.ID()] = group
			var sk any
			if k, ok := ev.StateKey(); ok {
				sk = k
			}
			var txnUser, txnDevice, txnID string
			if local != nil && local.TxnID != "" && ev.Sender() == local.Sender {
				txnUser, txnDevice, txnID = local.Sender, local.TxnDevice, local.TxnID
			}
			var stream any // the next position; for history, below every other
			if have[ev.ID()] != nil {
				// An outlier becoming history: its row is replaced.
				if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE event_id = ?`, ev.ID()); err != nil {
					return err
				}
			}
			if ne.Historical {
				if stream, err = historicalStream(ctx, tx, ev.Depth()); err != nil {
					return err
				}
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO events (stream, event_id, room_id, type, state_key, sender, depth, origin_ts, json, status, state_after, txn_user, txn_device, txn_id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				stream, ev.ID(), roomID, ev.Type(), sk, ev.Sender(), ev.Depth(), ev.OriginServerTS(), ev.JSON(),
				ne.Status, group, txnUser, txnDevice, txnID)
			if err != nil {
				return fmt.Errorf("storing event %s: %w", ev.ID(), err)
			}
			if !ne.Historical {
				if lastStream, err = res.LastInsertId(); err != nil {
					return err
				}
			}
			if local != nil && ev.Sender() == local.Sender {
				for _, d := range local.dests {
					if _, err := tx.ExecContext(ctx, `INSERT INTO outbound_queue (dest, event_id) VALUES (?, ?)`, d, ev.ID()); err != nil {
						return err
					}
				}
			}
			if applies[ev.ID()] {
				if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO redactions (redacts, redaction_id, sender, ts) VALUES (?, ?, ?, ?)`,
					ev.Redacts(), ev.ID(), ev.Sender(), ev.OriginServerTS()); err != nil {
					return err
				}
			}
			if sk != nil {
				for _, a := range ev.AuthEventIDs() {
					if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO auth_refs (auth_id, event_id) VALUES (?, ?)`, a, ev.ID()); err != nil {
						return err
					}
				}
			}
		}
		if !extChanged {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM extremities WHERE room_id = ?`, roomID); err != nil {
			return err
		}
		for _, id := range ext {
			if _, err := tx.ExecContext(ctx, `INSERT INTO extremities (room_id, event_id) VALUES (?, ?)`, roomID, id); err != nil {
				return err
			}
		}
		var curGroup int64
		for _, id := range ext {
			if g := groupOf[id]; g != 0 {
				if st := batch[id].StateAfter; maps.Equal(st, current) {
					curGroup = g
				}
			}
		}
		if curGroup == 0 {
			if curGroup, err = insertGroup(ctx, tx, roomID, current); err != nil {
				return err
			}
		}
		var old stateres.StateMap
		if oldGroup != 0 {
			if old, err = r.Group(ctx, oldGroup); err != nil {
				return err
			}
		}
		return setCurrent(ctx, tx, roomID, curGroup, old, current, lastStream)
	})
	if err != nil {
		return err
	}
	if !known {
		r.verMu.Lock()
		r.versions[roomID] = v
		r.verMu.Unlock()
	}
	for _, ne := range fresh {
		r.db.remember(ne.Event)
	}
	r.notify.bump(lastStream)
	return nil
}

// findGroup returns the state group holding st: the group after one of
// the event's prev events when it is the same state (an event that
// changes nothing, the common case), else a new group.
func (r *Rooms) findGroup(ctx context.Context, tx *sql.Tx, ev *event.Event, st stateres.StateMap, batch map[string]int64) (int64, error) {
	var base int64 // a prev event's group to store st as a delta on
	var baseState stateres.StateMap
	for _, p := range ev.PrevEventIDs() {
		g, ok := batch[p]
		if !ok {
			if err := tx.QueryRowContext(ctx, `SELECT state_after FROM events WHERE event_id = ?`, p).Scan(&g); err != nil {
				continue
			}
		}
		if g == 0 {
			continue
		}
		prevState, err := r.groupTx(ctx, tx, g)
		if err != nil {
			return 0, err
		}
		if maps.Equal(prevState, st) {
			return g, nil
		}
		if base == 0 {
			base, baseState = g, prevState
		}
	}
	var depth int64
	if base != 0 {
		if err := tx.QueryRowContext(ctx, `SELECT depth FROM state_groups WHERE id = ?`, base).Scan(&depth); err != nil {
			return 0, err
		}
	}
	return insertGroupOn(ctx, tx, ev.RoomID(), st, base, baseState, depth)
}

// groupTx is Group read through the write transaction (the group may be
// new in it).
func (r *Rooms) groupTx(ctx context.Context, tx *sql.Tx, id int64) (stateres.StateMap, error) {
	return r.readGroup(ctx, tx, id)
}

// Events implements federation.EventStore and stateres.Store.
func (r *Rooms) Events(ctx context.Context, ids []string) ([]stateres.Stored, error) {
	return stateStore{r}.Events(ctx, ids)
}

// redactionApplies reports whether a redaction takes effect on the event it
// names (content/client-server-api/_index.md, "Redactions"; from room
// version 3 the authorization rules leave it to this check): the events
// are in the same room, and the redaction comes from the original
// sender's server or from a user with the redact power level.
func (r *Rooms) redactionApplies(ctx context.Context, red *event.Event, batch map[string]federation.NewEvent) bool {
	var orig *event.Event
	if ne, ok := batch[red.Redacts()]; ok {
		orig = ne.Event
	} else if se, err := r.Event(ctx, red.Redacts()); err == nil {
		orig = se.Event
	}
	if orig == nil || orig.RoomID() != red.RoomID() {
		return false
	}
	if serverOf(orig.Sender()) == serverOf(red.Sender()) {
		return true
	}
	pl, err := r.powerLevels(ctx, red.RoomID())
	return err == nil && pl.UserLevel(red.Sender()) >= pl.Redact()
}

// powerLevels reads the room's current power levels.
func (r *Rooms) powerLevels(ctx context.Context, roomID string) (*eventauth.PowerLevels, error) {
	v, err := r.Version(roomID)
	if err != nil {
		return nil, err
	}
	st, err := r.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	view := &stateView{ctx: ctx, r: r, ids: st}
	pl := view.StateEvent("m.room.power_levels", "")
	create := view.StateEvent(event.TypeCreate, "")
	if view.err != nil {
		return nil, view.err
	}
	return eventauth.NewPowerLevels(v, pl, create)
}

// historicalStream places a backfilled event below every position of the
// events received live (they are all positive) and among history by depth,
// the order in which /messages must show it (backfill stores the oldest
// first, and may come back later for older ones still): a block of 1,024
// positions per depth, from -2^50, the first free one of the block for
// events of the same depth.
func historicalStream(ctx context.Context, tx *sql.Tx, depth int64) (int64, error) {
	const base, block = -(1 << 50), 1024
	depth = min(max(depth, 0), (1<<50)/block-1)
	lo := base + depth*block
	var used int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE stream >= ? AND stream < ?`, lo, lo+block).Scan(&used); err != nil {
		return 0, err
	}
	if used >= block {
		return 0, fmt.Errorf("more than %d backfilled events at depth %d", block, depth)
	}
	return lo + used, nil
}
