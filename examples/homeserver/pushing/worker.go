package pushing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/push"
)

// batch is how many events the worker reads at a time.
const batch = 100

// Run evaluates the push rules for new events until ctx ends. It starts
// after the position it stored last (on first start: after the newest
// event, so an existing server does not notify its whole history).
func (s *Service) Run(ctx context.Context) {
	pos, err := s.position(ctx)
	if err != nil {
		s.Log.Error("push: reading the position", "err", err)
		return
	}
	s.evaluated(pos)
	for {
		wake := s.Source.Wait()
		// The head first: once the events after pos are read and fewer
		// than a batch, every event up to it is evaluated (those that
		// do not notify included).
		head, err := s.Source.Newest(ctx)
		var evs []Event
		if err == nil {
			evs, err = s.Source.EventsAfter(ctx, pos, batch)
		}
		if err == nil && len(evs) > 0 {
			err = s.handle(ctx, evs)
			if err == nil {
				pos = evs[len(evs)-1].Stream
			}
		}
		if err == nil {
			if len(evs) < batch {
				s.evaluated(max(pos, head))
			} else {
				s.evaluated(pos)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.Log.Warn("push: evaluating events", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if len(evs) == batch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

// position reads where the worker stopped; the first time, the newest
// event.
func (s *Service) position(ctx context.Context) (int64, error) {
	var pos int64
	err := s.R.QueryRowContext(ctx, `SELECT stream FROM push_position WHERE id = 1`).Scan(&pos)
	if err == nil {
		return pos, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if pos, err = s.Source.Newest(ctx); err != nil {
		return 0, err
	}
	_, err = s.W.ExecContext(ctx, `INSERT OR IGNORE INTO push_position (id, stream) VALUES (1, ?)`, pos)
	return pos, err
}

// notice is one notification decided for one user.
type notice struct {
	user string
	ev   *Event
	res  push.Result
	room *Room
}

// handle evaluates a batch of events and records the notifications and the
// new position in one transaction, then sends to the gateways.
func (s *Service) handle(ctx context.Context, evs []Event) error {
	rooms := map[string]*Room{}
	rules := map[string]*push.Ruleset{}
	var notices []notice
	for i := range evs {
		ev := &evs[i]
		room, ok := rooms[ev.RoomID]
		if !ok {
			var err error
			if room, err = s.Source.Room(ctx, ev.RoomID); err != nil {
				return err
			}
			rooms[ev.RoomID] = room
		}
		if room == nil {
			continue
		}
		for _, user := range room.Local {
			if user == ev.Sender {
				continue // one's own events never notify
			}
			rs, ok := rules[user]
			if !ok {
				r, err := s.rules(ctx, user)
				if err != nil {
					return err
				}
				rs = &r
				rules[user] = rs
			}
			res, matched := push.Evaluate(rs, ev.Raw, push.Context{DisplayName: room.Members[user], MemberCount: len(room.Members), PowerLevels: room.PowerLevels})
			if matched && res.Notify {
				notices = append(notices, notice{user: user, ev: ev, res: res, room: room})
			}
		}
	}
	if err := s.record(ctx, notices, evs[len(evs)-1].Stream); err != nil {
		return err
	}
	s.send(ctx, notices)
	return nil
}

func (s *Service) record(ctx context.Context, notices []notice, pos int64) error {
	tx, err := s.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ts := s.now().UnixMilli()
	threads := map[string]string{} // by event: one lookup for all its users
	for _, n := range notices {
		actions, err := json.Marshal(n.res.Actions)
		if err != nil {
			return err
		}
		thread, ok := threads[n.ev.EventID]
		if !ok {
			if thread, err = s.threadOf(ctx, n.ev.Raw); err != nil {
				return err
			}
			threads[n.ev.EventID] = thread
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (user_id, room_id, event_id, stream, actions, highlight, ts, thread) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			n.user, n.ev.RoomID, n.ev.EventID, n.ev.Stream, actions, boolInt(n.res.Highlight()), ts, thread); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE push_position SET stream = ? WHERE id = 1`, pos); err != nil {
		return err
	}
	return tx.Commit()
}

// send tells the users' push gateways, one request per pusher, and removes
// the pushers whose keys a gateway rejects.
func (s *Service) send(ctx context.Context, notices []notice) {
	if s.Gateway == nil {
		return
	}
	for _, n := range notices {
		pushers, err := s.Pushers(ctx, n.user)
		if err != nil || len(pushers) == 0 {
			continue
		}
		unread, err := s.unread(ctx, n.user)
		if err != nil {
			s.Log.Warn("push: counting unread", "user", n.user, "err", err)
			continue
		}
		for _, p := range pushers {
			if p.Kind != "http" {
				continue
			}
			note := s.notification(n, p, unread)
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			rejected, err := s.Gateway.Notify(sctx, p.URL(), note)
			cancel()
			if err != nil {
				s.Log.Warn("push: gateway", "user", n.user, "app_id", p.AppID, "err", err)
				continue
			}
			if slices.Contains(rejected, p.PushKey) {
				s.Log.Info("push: the gateway rejected a pushkey; removing the pusher", "user", n.user, "app_id", p.AppID)
				s.DeletePusher(ctx, n.user, p.AppID, p.PushKey)
			}
		}
	}
}

// notification is the request of POST /_matrix/push/v1/notify for one
// pusher: every event field, or only the IDs and counts for the
// event_id_only format (push-gateway-api.md, "Homeserver behaviour").
// The pusher's data goes to the gateway without its url.
func (s *Service) notification(n notice, p clientapi.Pusher, unread int) *push.Notification {
	var data map[string]json.RawMessage
	json.Unmarshal(p.Data, &data)
	format := ""
	json.Unmarshal(data["format"], &format)
	delete(data, "url")
	dataRaw, _ := json.Marshal(data)
	dev := push.Device{AppID: p.AppID, PushKey: p.PushKey, Data: dataRaw, Tweaks: n.res.Tweaks}
	note := &push.Notification{EventID: n.ev.EventID, RoomID: n.ev.RoomID, Devices: []push.Device{dev}}
	if unread > 0 {
		note.Counts = &push.Counts{Unread: unread}
	}
	if format == "event_id_only" {
		return note
	}
	var fields struct {
		Content json.RawMessage `json:"content"`
	}
	json.Unmarshal(n.ev.Raw, &fields)
	note.Type, note.Sender, note.Content = n.ev.Type, n.ev.Sender, fields.Content
	note.SenderDisplayName = n.room.Members[n.ev.Sender]
	note.RoomName = n.room.Name
	note.UserIsTarget = n.ev.StateKey != nil && *n.ev.StateKey == n.user
	// Low priority for what neither sounds nor highlights, as the
	// reference server does.
	note.Prio = "low"
	if _, sound := n.res.Tweaks["sound"]; sound || n.res.Highlight() {
		note.Prio = "high"
	}
	return note
}

// unread counts the user's notifications after their read receipt in each
// room ("counts.unread": "the number of unread messages a user has across
// all of the rooms they are a member of").
func (s *Service) unread(ctx context.Context, userID string) (int, error) {
	rows, err := s.R.QueryContext(ctx, `SELECT DISTINCT room_id FROM notifications WHERE user_id = ?`, userID)
	if err != nil {
		return 0, err
	}
	var rooms []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			rows.Close()
			return 0, err
		}
		rooms = append(rooms, r)
	}
	rows.Close()
	total := 0
	for _, r := range rooms {
		n, _, err := s.Counts(ctx, userID, r)
		if err != nil {
			return 0, err
		}
		total += n.NotificationCount
	}
	return total, nil
}
