package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mxkit/mxkit/examples/homeserver/e2ee"
	"github.com/mxkit/mxkit/examples/homeserver/pushing"
	"net/url"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // pure-Go SQLite driver, registered as "sqlite"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/roomversion"
)

// schema is the whole database. Every statement is idempotent so that it
// runs on every start; schemaVersion guards incompatible changes.
const schema = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
	user_id       TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL DEFAULT '',
	appservice    TEXT NOT NULL DEFAULT '',
	created_ts    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
	user_id      TEXT NOT NULL,
	device_id    TEXT NOT NULL,
	display_name TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (user_id, device_id)
);
CREATE TABLE IF NOT EXISTS tokens (
	token     TEXT PRIMARY KEY,
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens (user_id);
CREATE TABLE IF NOT EXISTS profiles (
	user_id TEXT NOT NULL,
	field   TEXT NOT NULL,
	value   TEXT NOT NULL,
	PRIMARY KEY (user_id, field)
);
CREATE TABLE IF NOT EXISTS rooms (
	room_id     TEXT PRIMARY KEY,
	version     TEXT NOT NULL,
	state_group INTEGER NOT NULL DEFAULT 0,
	created_ts  INTEGER NOT NULL
);
-- events: every PDU the server holds, local or received. stream is the
-- position sync tokens count in; outliers (events known only as auth or
-- state of others) have no place in the timeline.
CREATE TABLE IF NOT EXISTS events (
	stream       INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id     TEXT NOT NULL UNIQUE,
	room_id      TEXT NOT NULL,
	type         TEXT NOT NULL,
	state_key    TEXT,
	sender       TEXT NOT NULL,
	depth        INTEGER NOT NULL,
	origin_ts    INTEGER NOT NULL,
	json         BLOB NOT NULL,
	status       INTEGER NOT NULL, -- federation.Status
	state_after  INTEGER NOT NULL DEFAULT 0, -- state group; 0 for outliers
	txn_user     TEXT NOT NULL DEFAULT '',
	txn_device   TEXT NOT NULL DEFAULT '',
	txn_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_room ON events (room_id, stream);
CREATE INDEX IF NOT EXISTS events_txn ON events (txn_user, txn_device, txn_id);
-- state_groups: room states. An event points at the group after it, and
-- events that change no state share their group. A group with prev 0 is a
-- snapshot: state is the whole state as a JSON array of [type, state_key,
-- event_id]. Otherwise it is a delta on group prev: the entries that
-- changed, an empty event_id for a key removed; depth counts the deltas
-- down to the snapshot (bounded, see maxGroupChain). One state event costs
-- one small row, not a copy of the room's state.
CREATE TABLE IF NOT EXISTS state_groups (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	room_id TEXT NOT NULL,
	prev    INTEGER NOT NULL DEFAULT 0,
	depth   INTEGER NOT NULL DEFAULT 0,
	state   BLOB NOT NULL
);
-- auth_refs: which state events cite an event as an auth event (for
-- state resolution's auth difference).
CREATE TABLE IF NOT EXISTS auth_refs (
	auth_id  TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (auth_id, event_id)
);
CREATE TABLE IF NOT EXISTS extremities (
	room_id  TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (room_id, event_id)
);
CREATE TABLE IF NOT EXISTS current_state (
	room_id    TEXT NOT NULL,
	type       TEXT NOT NULL,
	state_key  TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	membership TEXT NOT NULL DEFAULT '',
	stream     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX IF NOT EXISTS current_members ON current_state (state_key, type);
-- memberships: every membership change of a user, for sync (rooms left
-- since a token, events visible to a former member).
CREATE TABLE IF NOT EXISTS membership_log (
	stream     INTEGER NOT NULL,
	room_id    TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	membership TEXT NOT NULL,
	event_id   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS membership_log_user ON membership_log (user_id, stream);
CREATE TABLE IF NOT EXISTS aliases (
	alias   TEXT PRIMARY KEY,
	room_id TEXT NOT NULL,
	creator TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_data (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	type    TEXT NOT NULL,
	content BLOB NOT NULL,
	stream  INTEGER NOT NULL,
	PRIMARY KEY (user_id, room_id, type)
);
CREATE TABLE IF NOT EXISTS filters (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id TEXT NOT NULL,
	filter  BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
	room_id  TEXT NOT NULL,
	user_id  TEXT NOT NULL,
	type     TEXT NOT NULL,
	thread   TEXT NOT NULL,
	event_id TEXT NOT NULL,
	ts       INTEGER NOT NULL,
	stream   INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id, type, thread)
);
CREATE TABLE IF NOT EXISTS client_txns (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	endpoint  TEXT NOT NULL,
	txn_id    TEXT NOT NULL,
	body      BLOB NOT NULL,
	PRIMARY KEY (user_id, device_id, endpoint, txn_id)
);
CREATE TABLE IF NOT EXISTS federation_txns (
	origin TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	body   BLOB NOT NULL,
	PRIMARY KEY (origin, txn_id)
);
CREATE TABLE IF NOT EXISTS server_keys (
	server_name   TEXT NOT NULL,
	key_id        TEXT NOT NULL,
	key           BLOB NOT NULL,
	valid_until   INTEGER NOT NULL,
	expired_ts    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (server_name, key_id)
);
-- server_key_objects: the signed key objects fetched from other servers.
CREATE TABLE IF NOT EXISTS server_key_objects (
	server_name TEXT NOT NULL,
	valid_until INTEGER NOT NULL,
	raw         BLOB NOT NULL,
	PRIMARY KEY (server_name, valid_until)
);
-- remote_invites: invites of local users to rooms this server is not in.
CREATE TABLE IF NOT EXISTS remote_invites (
	room_id    TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	json       BLOB NOT NULL,
	room_state BLOB NOT NULL,
	origin     TEXT NOT NULL,
	stream     INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id)
);
-- redactions: the redactions applied to events (content/client-server-api/_index.md,
-- "Redactions"): by the original sender's server, or by a user with the
-- redact power level.
CREATE TABLE IF NOT EXISTS redactions (
	redacts      TEXT NOT NULL,
	redaction_id TEXT NOT NULL,
	sender       TEXT NOT NULL,
	ts           INTEGER NOT NULL,
	PRIMARY KEY (redacts, redaction_id)
);
-- outbound_queue: local events not yet delivered to a server, in order.
CREATE TABLE IF NOT EXISTS outbound_queue (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	dest     TEXT NOT NULL,
	event_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbound_queue_dest ON outbound_queue (dest, event_id);
CREATE TABLE IF NOT EXISTS presence (
	user_id     TEXT PRIMARY KEY,
	presence    TEXT NOT NULL,
	status_msg  TEXT NOT NULL DEFAULT '',
	last_active INTEGER NOT NULL,
	stream      INTEGER NOT NULL
);
-- appservice_state: per application service, the next transaction ID and
-- the stream position of the last event put in a stored transaction.
CREATE TABLE IF NOT EXISTS appservice_state (
	service_id TEXT PRIMARY KEY,
	next_txn   INTEGER NOT NULL,
	stream     INTEGER NOT NULL
);
-- appservice_txns: transactions to application services not yet delivered.
CREATE TABLE IF NOT EXISTS appservice_txns (
	service_id TEXT NOT NULL,
	txn_id     INTEGER NOT NULL,
	body       BLOB NOT NULL,
	PRIMARY KEY (service_id, txn_id)
);
-- a counter for the sync positions of what is not an event (account data)
CREATE TABLE IF NOT EXISTS positions (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
`

// Version 2: state groups as deltas.
const schemaVersion = "2"

// Store is the homeserver's database: one SQLite file in WAL mode.
// Writes go through one connection (SQLite has one writer at a time);
// reads use a pool and see the last committed state.
type Store struct {
	w *sql.DB // one connection, BEGIN IMMEDIATE
	r *sql.DB // readers

	cacheMu sync.Mutex
	cache   map[string]*event.Event // parsed events by ID, bounded

	stmts stmtCache
}

// ErrNotFound is returned by lookups that find nothing.
var ErrNotFound = errors.New("not found")

// OpenStore opens (creating if needed) the database at path.
func OpenStore(path string) (*Store, error) {
	dsn := func(extra string) string {
		q := url.Values{}
		if extra != "" {
			// The journal mode is a property of the file, set once
			// by the writer; readers changing it would take locks.
			q.Add("_pragma", "journal_mode(WAL)")
		}
		q.Add("_pragma", "busy_timeout(10000)")
		// FULL: a transaction is on disk when COMMIT returns, which is
		// what answering 200 after the commit relies on.
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(1)")
		if extra != "" {
			q.Add("_txlock", extra)
		}
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if _, err := w.Exec(schema + endedInvitesSchema + pushing.Schema + searchSchema + modulesSchema + directorySchema + knockSchema + relationsSchema + e2ee.Schema + sessionsSchema); err != nil {
		w.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if err := pushing.Migrate(context.Background(), w); err != nil {
		w.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	var v string
	err = w.QueryRow(`SELECT value FROM meta WHERE key='schema_version'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := w.Exec(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`, schemaVersion); err != nil {
			w.Close()
			return nil, err
		}
	case err != nil:
		w.Close()
		return nil, err
	case v != schemaVersion:
		w.Close()
		return nil, fmt.Errorf("database %s: schema version %s, this program uses %s", path, v, schemaVersion)
	}
	r, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		w.Close()
		return nil, err
	}
	// Connections are kept open: opening one runs the pragmas again.
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	return &Store{w: w, r: r, cache: make(map[string]*event.Event)}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.mu.Lock()
	for _, st := range s.stmts.m {
		st.Close()
	}
	s.stmts.m = nil
	s.stmts.mu.Unlock()
	err1 := s.r.Close()
	err2 := s.w.Close()
	return errors.Join(err1, err2)
}

// Tx runs f in a write transaction and commits it.
func (s *Store) Tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// StoredEvent is an event row.
type StoredEvent struct {
	Stream    int64
	Event     *event.Event
	Status    federation.Status
	After     int64 // state group after the event, 0 if unknown
	TxnUser   string
	TxnDevice string
	TxnID     string
	// RedactedBy is the redaction applied to the event, if any: the
	// redaction event as stored, or {event_id, sender, origin_server_ts}
	// when that event is not.
	RedactedBy sql.NullString
}

const eventCols = `stream, event_id, room_id, json, status, state_after, txn_user, txn_device, txn_id,
	(SELECT coalesce((SELECT CAST(r.json AS TEXT) FROM events r WHERE r.event_id = x.redaction_id),
		json_object('event_id', x.redaction_id, 'sender', x.sender, 'origin_server_ts', x.ts)) FROM redactions x WHERE x.redacts = events.event_id LIMIT 1)`

type rowScanner interface{ Scan(...any) error }

func (s *Store) scanEvent(row rowScanner, versions func(roomID string) (roomversion.Version, error)) (*StoredEvent, error) {
	var se StoredEvent
	var id, roomID string
	var raw []byte
	if err := row.Scan(&se.Stream, &id, &roomID, &raw, &se.Status, &se.After, &se.TxnUser, &se.TxnDevice, &se.TxnID, &se.RedactedBy); err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	ev := s.cache[id]
	s.cacheMu.Unlock()
	if ev == nil {
		v, err := versions(roomID)
		if err != nil {
			return nil, err
		}
		ev, err = event.ParseWithID(v, raw, id)
		if err != nil {
			return nil, fmt.Errorf("stored event %s: %w", id, err)
		}
		s.remember(ev)
	}
	se.Event = ev
	return &se, nil
}

func (s *Store) remember(ev *event.Event) {
	s.cacheMu.Lock()
	if len(s.cache) > 50000 {
		// Drop an arbitrary half: the cache only saves parsing.
		n := 0
		for k := range s.cache {
			delete(s.cache, k)
			if n++; n > 25000 {
				break
			}
		}
	}
	s.cache[ev.ID()] = ev
	s.cacheMu.Unlock()
}

// encodeState and decodeState convert a state map for the state_groups table.
func encodeState(st map[stateKey]string) []byte {
	rows := make([][3]string, 0, len(st))
	for k, id := range st {
		rows = append(rows, [3]string{k.Type, k.StateKey, id})
	}
	b, _ := json.Marshal(rows)
	return b
}

func decodeState(b []byte) (map[stateKey]string, error) {
	var rows [][3]string
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, err
	}
	st := make(map[stateKey]string, len(rows))
	for _, r := range rows {
		st[stateKey{Type: r[0], StateKey: r[1]}] = r[2]
	}
	return st, nil
}

// placeholders returns "?,?,?" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Prepared statements of the read pool, by query text: preparing is a
// good part of the cost of a small SQLite query.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (s *Store) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	if st := s.stmts.m[q]; st != nil {
		return st, nil
	}
	if s.stmts.m == nil || len(s.stmts.m) > 500 {
		for _, st := range s.stmts.m {
			st.Close()
		}
		s.stmts.m = map[string]*sql.Stmt{}
	}
	st, err := s.r.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.stmts.m[q] = st
	return st, nil
}

// queryRow runs a one-row read on the read pool.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return s.r.QueryRowContext(ctx, q, args...) // reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs a read on the read pool.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
