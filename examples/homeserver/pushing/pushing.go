// Package pushing is the example homeserver's push notifications
// (content/client-server-api/modules/push.md, "Push Notifications"): it
// keeps users' push rules and pushers, evaluates the rules of each local
// member of a room for every new event (package push), records the
// notifications for GET /notifications and the unread counts of /sync,
// and sends them to the users' push gateways (content/push-gateway-api.md).
//
// It implements clientapi.PushRuleStore, clientapi.Pushers and
// clientapi.Notifications on tables of its own in the homeserver's SQLite
// database, and learns about events and rooms through Source, which the
// homeserver implements.
//
// The rules are evaluated against the room as it is when the worker reads
// the event (its current state), not the state at the event: the two
// differ only for events that arrive late, and notifications are about
// the present. A gateway that fails is not retried; its notification
// stays in GET /notifications.
package pushing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/push"
)

// Schema is added to the database on start (idempotent).
const Schema = `
CREATE TABLE IF NOT EXISTS push_rules (
	user_id TEXT PRIMARY KEY,
	json    BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS pushers (
	user_id TEXT NOT NULL,
	app_id  TEXT NOT NULL,
	pushkey TEXT NOT NULL,
	json    BLOB NOT NULL,
	ts      INTEGER NOT NULL,
	PRIMARY KEY (user_id, app_id, pushkey)
);
CREATE INDEX IF NOT EXISTS pushers_key ON pushers (app_id, pushkey);
CREATE TABLE IF NOT EXISTS notifications (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id   TEXT NOT NULL,
	room_id   TEXT NOT NULL,
	event_id  TEXT NOT NULL,
	stream    INTEGER NOT NULL,
	actions   BLOB NOT NULL,
	highlight INTEGER NOT NULL,
	ts        INTEGER NOT NULL,
	thread    TEXT NOT NULL DEFAULT 'main'
);
CREATE INDEX IF NOT EXISTS notifications_user ON notifications (user_id, id);
CREATE INDEX IF NOT EXISTS notifications_room ON notifications (user_id, room_id, stream);
CREATE TABLE IF NOT EXISTS push_position (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	stream INTEGER NOT NULL
);
`

// Event is an accepted room event as the worker reads it.
type Event struct {
	Stream  int64
	RoomID  string
	EventID string
	Type    string
	Sender  string
	// StateKey is nil for a message event.
	StateKey *string
	// Raw is the event as stored (its type, content, sender, state_key
	// and room_id are where the push rules look).
	Raw json.RawMessage
	// Client is the event in the client format, for GET /notifications.
	Client json.RawMessage
}

// Room is what the rules need of a room.
type Room struct {
	// Members are the joined members with their display names ("" when
	// none); Local are those of this server.
	Members     map[string]string
	Local       []string
	PowerLevels *eventauth.PowerLevels
	Name        string
}

// Source is the homeserver side.
type Source interface {
	// EventsAfter returns up to limit accepted events after the stream
	// position, oldest first.
	EventsAfter(ctx context.Context, pos int64, limit int) ([]Event, error)
	// Room describes a room now.
	Room(ctx context.Context, roomID string) (*Room, error)
	// ReadMarks are where the user's read receipts (public or private)
	// in the room point.
	ReadMarks(ctx context.Context, userID, roomID string) (ReadMarks, error)
	// Newest is the stream position of the newest event.
	Newest(ctx context.Context) (int64, error)
	// Event returns one event, nil when it is unknown.
	Event(ctx context.Context, eventID string) (*Event, error)
	// Wait returns a channel closed when new events may have arrived.
	Wait() <-chan struct{}
}

// ReadMarks are the stream positions of the events a user's read receipts
// in a room point at (0 when none): Unthreaded for receipts without a
// thread_id, Threads for threaded ones by thread ("main" or the root's
// event ID). Client-server API, "Threaded read receipts": an unthreaded
// receipt marks every event up to it read, a threaded one the events of
// its thread.
type ReadMarks struct {
	Unthreaded int64
	Threads    map[string]int64
}

// Read reports whether an event of thread at stream is read.
func (m ReadMarks) Read(thread string, stream int64) bool {
	return stream <= m.Unthreaded || stream <= m.Threads[thread]
}

// MainThread is the thread of the events outside any thread, thread
// roots included.
const MainThread = "main"

// ThreadOf is the thread an event belongs to by its own content: the root
// named by an m.thread relation, else MainThread.
func ThreadOf(raw json.RawMessage) string {
	thread, _ := relation(raw)
	return thread
}

// relation reads an event's m.relates_to: the thread root of an m.thread
// relation (else MainThread), and the event any other relation points at
// ("" when none).
func relation(raw json.RawMessage) (thread, parent string) {
	var ev struct {
		Content struct {
			RelatesTo *struct {
				RelType string `json:"rel_type"`
				EventID string `json:"event_id"`
			} `json:"m.relates_to"`
		} `json:"content"`
	}
	if json.Unmarshal(raw, &ev) != nil || ev.Content.RelatesTo == nil || ev.Content.RelatesTo.EventID == "" {
		return MainThread, ""
	}
	if ev.Content.RelatesTo.RelType == "m.thread" {
		return ev.Content.RelatesTo.EventID, ""
	}
	return MainThread, ev.Content.RelatesTo.EventID
}

// threadOf is the thread of an event for notification counts
// (client-server API, "Threaded read receipts"): its own m.thread
// relation, or else the thread of the event another relation points at (a
// reaction or an edit of a reply in a thread is in that thread), one
// level, as the reference server reads it.
func (s *Service) threadOf(ctx context.Context, raw json.RawMessage) (string, error) {
	thread, parent := relation(raw)
	if parent == "" {
		return thread, nil
	}
	ev, err := s.Source.Event(ctx, parent)
	if err != nil || ev == nil {
		return MainThread, err
	}
	return ThreadOf(ev.Raw), nil
}

// Migrate brings a database made before notifications had a thread up
// to date (the column's default puts old notifications in the main
// timeline).
func Migrate(ctx context.Context, w *sql.DB) error {
	var n int
	if err := w.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('notifications') WHERE name = 'thread'`).Scan(&n); err != nil || n > 0 {
		return err
	}
	_, err := w.ExecContext(ctx, `ALTER TABLE notifications ADD COLUMN thread TEXT NOT NULL DEFAULT 'main'`)
	return err
}

// Service is the push part of the homeserver.
type Service struct {
	W, R    *sql.DB // the writer (one connection) and the readers
	Source  Source
	Log     *slog.Logger
	Gateway *push.Gateway
	// Now is the clock; nil: time.Now.
	Now func() time.Time

	mu      sync.Mutex
	done    int64         // events up to this stream position are evaluated
	changed chan struct{} // closed when done moves; nil until waited on
}

// evaluated records that the events up to pos have been evaluated.
func (s *Service) evaluated(pos int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = max(s.done, pos)
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// WaitEvaluated waits, at most wait, until the push rules of the events
// up to stream position pos have been evaluated, so that the counts a
// sync answers include the events it answers (the reference server
// evaluates them before it stores an event). It reports whether they
// have; a sync goes on either way.
func (s *Service) WaitEvaluated(ctx context.Context, pos int64, wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if s.done >= pos {
			s.mu.Unlock()
			return true
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

var (
	_ clientapi.PushRuleStore = (*Service)(nil)
	_ clientapi.Pushers       = (*Service)(nil)
	_ clientapi.Notifications = (*Service)(nil)
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// UserPushRules implements clientapi.PushRuleStore.
func (s *Service) UserPushRules(ctx context.Context, userID string) (*clientapi.UserPushRules, error) {
	var raw []byte
	err := s.R.QueryRowContext(ctx, `SELECT json FROM push_rules WHERE user_id = ?`, userID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var u clientapi.UserPushRules
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// SetUserPushRules implements clientapi.PushRuleStore.
func (s *Service) SetUserPushRules(ctx context.Context, userID string, rules *clientapi.UserPushRules) error {
	raw, err := json.Marshal(rules)
	if err != nil {
		return err
	}
	_, err = s.W.ExecContext(ctx, `INSERT INTO push_rules (user_id, json) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET json = excluded.json`, userID, raw)
	return err
}

// rules are the user's effective rules: the defaults with their changes.
func (s *Service) rules(ctx context.Context, userID string) (push.Ruleset, error) {
	u, err := s.UserPushRules(ctx, userID)
	if err != nil {
		return push.Ruleset{}, err
	}
	return clientapi.EffectivePushRules(userID, u), nil
}

// Pushers implements clientapi.Pushers.
func (s *Service) Pushers(ctx context.Context, userID string) ([]clientapi.Pusher, error) {
	rows, err := s.R.QueryContext(ctx, `SELECT json FROM pushers WHERE user_id = ? ORDER BY ts, app_id, pushkey`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []clientapi.Pusher
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var p clientapi.Pusher
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetPusher implements clientapi.Pushers.
func (s *Service) SetPusher(ctx context.Context, userID string, p clientapi.Pusher, appendPusher bool) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tx, err := s.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if !appendPusher {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?`, p.AppID, p.PushKey, userID); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO pushers (user_id, app_id, pushkey, json, ts) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET json = excluded.json`, userID, p.AppID, p.PushKey, raw, s.now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// DeletePusher implements clientapi.Pushers.
func (s *Service) DeletePusher(ctx context.Context, userID, appID, pushKey string) error {
	_, err := s.W.ExecContext(ctx, `DELETE FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?`, userID, appID, pushKey)
	return err
}

// Notifications implements clientapi.Notifications: newest first; the
// token is the id of the last notification given.
func (s *Service) Notifications(ctx context.Context, who clientapi.Identity, req clientapi.NotificationsRequest) ([]clientapi.Notification, string, error) {
	before := int64(1) << 62
	if req.From != "" {
		n, err := strconv.ParseInt(req.From, 10, 64)
		if err != nil || n < 0 {
			return nil, "", clientapi.InvalidParam("malformed from token")
		}
		before = n
	}
	rows, err := s.R.QueryContext(ctx, `SELECT id, room_id, event_id, stream, actions, ts, thread FROM notifications
		WHERE user_id = ? AND id < ? AND (? = 0 OR highlight = 1) ORDER BY id DESC LIMIT ?`,
		who.UserID, before, boolInt(req.OnlyHighlight), req.Limit+1)
	if err != nil {
		return nil, "", err
	}
	type row struct {
		id, stream, ts          int64
		roomID, eventID, thread string
		actions                 []byte
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.roomID, &r.eventID, &r.stream, &r.actions, &r.ts, &r.thread); err != nil {
			rows.Close()
			return nil, "", err
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > req.Limit {
		list = list[:req.Limit]
		next = strconv.FormatInt(list[len(list)-1].id, 10)
	}
	out := make([]clientapi.Notification, 0, len(list))
	read := map[string]ReadMarks{}
	for _, r := range list {
		ev, err := s.Source.Event(ctx, r.eventID)
		if err != nil {
			return nil, "", err
		}
		if ev == nil {
			continue // purged
		}
		marks, ok := read[r.roomID]
		if !ok {
			if marks, err = s.Source.ReadMarks(ctx, who.UserID, r.roomID); err != nil {
				return nil, "", err
			}
			read[r.roomID] = marks
		}
		var actions []any
		json.Unmarshal(r.actions, &actions)
		out = append(out, clientapi.Notification{Actions: actions, Event: ev.Client, Read: marks.Read(r.thread, r.stream), RoomID: r.roomID, TS: r.ts})
	}
	return out, next, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Counts are the unread notification counts of a room for /sync
// (unread_notifications): the notifications not read by the user's
// receipts, and those of them that highlight, in all and by thread
// (MainThread for the main timeline).
func (s *Service) Counts(ctx context.Context, userID, roomID string) (all clientapi.UnreadNotifications, byThread map[string]clientapi.UnreadNotifications, err error) {
	marks, err := s.Source.ReadMarks(ctx, userID, roomID)
	if err != nil {
		return all, nil, err
	}
	rows, err := s.R.QueryContext(ctx, `SELECT thread, stream, highlight FROM notifications WHERE user_id = ? AND room_id = ? AND stream > ?`,
		userID, roomID, marks.Unthreaded)
	if err != nil {
		return all, nil, err
	}
	defer rows.Close()
	byThread = map[string]clientapi.UnreadNotifications{}
	for rows.Next() {
		var thread string
		var stream int64
		var highlight int
		if err := rows.Scan(&thread, &stream, &highlight); err != nil {
			return all, nil, err
		}
		if marks.Read(thread, stream) {
			continue
		}
		t := byThread[thread]
		t.NotificationCount++
		all.NotificationCount++
		t.HighlightCount += highlight
		all.HighlightCount += highlight
		byThread[thread] = t
	}
	return all, byThread, rows.Err()
}
