package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/examples/homeserver/pushing"
	"github.com/mxkit/mxkit/federation"
)

// pushSource implements pushing.Source on the homeserver's rooms.
type pushSource struct{ hs *Homeserver }

func (p pushSource) toPush(se *StoredEvent) pushing.Event {
	ev := se.Event
	out := pushing.Event{Stream: se.Stream, RoomID: ev.RoomID(), EventID: ev.ID(), Type: ev.Type(), Sender: ev.Sender(),
		Raw: ev.JSON(), Client: clientEvent(se, "", "")}
	if k, ok := ev.StateKey(); ok {
		out.StateKey = &k
	}
	return out
}

// EventsAfter implements pushing.Source: the accepted events of rooms,
// in stream order.
func (p pushSource) EventsAfter(ctx context.Context, pos int64, limit int) ([]pushing.Event, error) {
	rows, err := p.hs.db.query(ctx, `SELECT `+eventCols+` FROM events WHERE stream > ? AND status = ? AND state_after != 0 ORDER BY stream LIMIT ?`,
		pos, federation.Accepted, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pushing.Event
	for rows.Next() {
		se, err := p.hs.db.scanEvent(rows, p.hs.rooms.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, p.toPush(se))
	}
	return out, rows.Err()
}

// Event implements pushing.Source.
func (p pushSource) Event(ctx context.Context, eventID string) (*pushing.Event, error) {
	m, err := p.hs.rooms.load(ctx, []string{eventID})
	if err != nil || m[eventID] == nil {
		return nil, err
	}
	ev := p.toPush(m[eventID])
	return &ev, nil
}

// Newest implements pushing.Source.
func (p pushSource) Newest(ctx context.Context) (int64, error) {
	var n int64
	err := p.hs.db.queryRow(ctx, `SELECT coalesce(max(stream), 0) FROM events`).Scan(&n)
	return n, err
}

// Room implements pushing.Source from the room's current state.
func (p pushSource) Room(ctx context.Context, roomID string) (*pushing.Room, error) {
	v, err := p.hs.rooms.Version(roomID)
	if err != nil {
		return nil, nil // not a room of ours (yet): nobody to notify
	}
	st, err := p.hs.rooms.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for k, id := range st {
		if k.Type == event.TypeMember || k.Type == event.TypeCreate || k.Type == "m.room.power_levels" || k.Type == "m.room.name" {
			ids = append(ids, id)
		}
	}
	evs, err := p.hs.rooms.load(ctx, ids)
	if err != nil {
		return nil, err
	}
	room := &pushing.Room{Members: map[string]string{}}
	var create, pl *event.Event
	for k, id := range st {
		se := evs[id]
		if se == nil {
			continue
		}
		switch k.Type {
		case event.TypeCreate:
			create = se.Event
		case "m.room.power_levels":
			pl = se.Event
		case "m.room.name":
			var c struct {
				Name string `json:"name"`
			}
			json.Unmarshal(se.Event.Content(), &c)
			room.Name = c.Name
		case event.TypeMember:
			if se.Event.Membership() != "join" {
				continue
			}
			var c struct {
				DisplayName string `json:"displayname"`
			}
			json.Unmarshal(se.Event.Content(), &c)
			room.Members[k.StateKey] = c.DisplayName
			if serverOf(k.StateKey) == p.hs.cfg.ServerName {
				room.Local = append(room.Local, k.StateKey)
			}
		}
	}
	if create == nil {
		return nil, errors.New("push: room " + roomID + " has no create event")
	}
	if room.PowerLevels, err = eventauth.NewPowerLevels(v, pl, create); err != nil {
		return nil, err
	}
	return room, nil
}

// ReadMarks implements pushing.Source: the positions of the events the
// user's read receipts point at, unthreaded and by thread.
func (p pushSource) ReadMarks(ctx context.Context, userID, roomID string) (pushing.ReadMarks, error) {
	marks := pushing.ReadMarks{Threads: map[string]int64{}}
	rows, err := p.hs.db.query(ctx, `SELECT r.thread, max(e.stream) FROM receipts r JOIN events e ON e.event_id = r.event_id
		WHERE r.room_id = ? AND r.user_id = ? AND r.type IN ('m.read', 'm.read.private') GROUP BY r.thread`, roomID, userID)
	if err != nil {
		return marks, err
	}
	defer rows.Close()
	for rows.Next() {
		var thread string
		var pos int64
		if err := rows.Scan(&thread, &pos); err != nil {
			return marks, err
		}
		if thread == "" {
			marks.Unthreaded = pos
		} else {
			marks.Threads[thread] = pos
		}
	}
	return marks, rows.Err()
}

// Wait implements pushing.Source.
func (p pushSource) Wait() <-chan struct{} { return p.hs.rooms.notify.wait() }
