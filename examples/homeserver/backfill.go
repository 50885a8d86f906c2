package main

import (
	"context"
	"database/sql"
	"sync"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
)

// Backfill (content/server-server-api.md, "Backfilling and retrieving
// missing events"): a server that joins a room reads the history before its
// join from the server it joined through, and /messages reaching the
// oldest event this server has asks the room's servers for what came
// before. Backfilled events are checked as received ones are
// (federation.Receiver.Backfill) and stored as history: below every stream
// position, so /messages finds them going back and nothing treats them as
// news (sync, pushes, application services, the search and relation
// indexes read positions after theirs).

// backfillAtJoin is how much history a join fetches.
const backfillAtJoin = 50

// backfillTried remembers the oldest events whose history was asked for
// already with nothing new, so that paging back at the start of what the
// room's servers will give does not ask again every time.
var backfillTried sync.Map // event ID -> struct{}

// backfill fetches history before the events from, through dest.
func (f *fedParts) backfill(ctx context.Context, dest, roomID string, from []string, limit int) int {
	evs, err := f.server.Receiver().Backfill(ctx, dest, roomID, from, limit)
	if err != nil {
		f.hs.log.Info("backfill failed", "room", roomID, "from", dest, "err", err)
	}
	return len(evs)
}

// backfillOlder fetches the history before the oldest event this server
// has of the room, from the room's other servers, unless that event is the
// room's create event. It reports whether anything was stored.
func (f *fedParts) backfillOlder(ctx context.Context, roomID string, limit int) bool {
	var id, typ string
	err := f.hs.db.queryRow(ctx, `SELECT event_id, type FROM events WHERE room_id = ? AND status = ? AND state_after != 0 ORDER BY stream LIMIT 1`,
		roomID, federation.Accepted).Scan(&id, &typ)
	if err == sql.ErrNoRows || typ == event.TypeCreate || err != nil {
		return false
	}
	if _, tried := backfillTried.Load(id); tried {
		return false
	}
	se, err := f.hs.rooms.Event(ctx, id)
	if err != nil {
		return false
	}
	for _, dest := range f.hs.rooms.serversIn(ctx, roomID, nil) {
		if dest == f.hs.cfg.ServerName {
			continue
		}
		if f.backfill(ctx, dest, roomID, se.Event.PrevEventIDs(), limit) > 0 {
			return true
		}
	}
	backfillTried.Store(id, struct{}{})
	return false
}
