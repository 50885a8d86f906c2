package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mxkit/mxkit/appservice"
	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/examples/homeserver/internal/dbutil"
	"github.com/mxkit/mxkit/federation"
)

// Application services (content/application-service-api.md), hosted with
// package appservice:
//
//   - registrations come from the --appservice files (LoadRegistry); each
//     service's sender user is created at start;
//   - as_token requests are resolved in Accounts.LookupToken (Registry.ActAs),
//     registrations and logins with m.login.application_service and ordinary
//     registrations are checked against the namespaces (M_EXCLUSIVE);
//   - a feeder per service reads the events table in stream order, keeps the
//     events the service is interested in (Registry.Interested over the
//     aliases and current membership) and hands them to the service's
//     appservice.Sender, whose transactions are kept in the database
//     (asTxnStore) until delivered.
//
// Delivery across restarts: the service's stream position is moved, in the
// same database transaction that stores a transaction, to the last event the
// transaction carries. Events read but not yet put in a transaction are read
// again after a restart; stored transactions are resent with their IDs and
// bodies unchanged.

// asFeedBatch is how many events a feeder reads per query.
const asFeedBatch = 200

// asParts is the application service side of the homeserver.
type asParts struct {
	hs      *Homeserver
	reg     *appservice.Registry
	client  *appservice.Client
	store   *asTxnStore
	senders map[string]*appservice.Sender // by service ID

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newAppServices creates the services' sender
// users and stream positions, and prepares one Sender per service.
func newAppServices(hs *Homeserver, reg *appservice.Registry) (*asParts, error) {
	a := &asParts{hs: hs, reg: reg, client: &appservice.Client{HTTP: &http.Client{Timeout: 60 * time.Second}},
		store: &asTxnStore{db: hs.db, created: map[string]int64{}}, senders: map[string]*appservice.Sender{}}
	ctx := context.Background()
	for _, r := range reg.Services() {
		now := time.Now().UnixMilli()
		err := hs.db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (user_id, password_hash, appservice, created_ts) VALUES (?, '', ?, ?) ON CONFLICT DO NOTHING`,
				r.SenderUserID(hs.cfg.ServerName), r.ID, now); err != nil {
				return err
			}
			// A new service starts at the current end of the stream, as
			// in the reference server: it gets what happens from now on.
			// Transaction IDs start at the clock so that a service which
			// remembers IDs is not confused by a new database.
			_, err := tx.ExecContext(ctx, `INSERT INTO appservice_state (service_id, next_txn, stream)
				VALUES (?, ?, (SELECT coalesce(max(stream), 0) FROM events)) ON CONFLICT DO NOTHING`, r.ID, now)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("application service %s: %w", r.ID, err)
		}
		var pos int64
		if err := hs.db.queryRow(ctx, `SELECT stream FROM appservice_state WHERE service_id = ?`, r.ID).Scan(&pos); err != nil {
			return nil, err
		}
		a.store.created[r.ID] = pos
		opts := &appservice.SenderOptions{Store: a.store, MinBackoff: hs.cfg.AppServiceMinBackoff,
			OnFailure: func(txn appservice.Transaction, attempt int, err error, wait time.Duration) {
				hs.log.Info("application service transaction failed", "service", r.ID, "txn", txn.ID, "attempt", attempt, "err", err, "retry_in", wait)
			}}
		a.senders[r.ID] = appservice.NewSender(r, a.client, opts)
	}
	return a, nil
}

// start runs the senders and feeders until stop.
func (a *asParts) start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	for _, r := range a.reg.Services() {
		if r.URL == "" {
			// url: null: the service receives nothing (its sender user
			// and as_token still work).
			continue
		}
		s := a.senders[r.ID]
		a.wg.Add(2)
		go func() {
			defer a.wg.Done()
			for {
				err := s.Run(ctx)
				if ctx.Err() != nil {
					return
				}
				a.hs.log.Warn("application service sender stopped", "service", r.ID, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}()
		go func() {
			defer a.wg.Done()
			a.feed(ctx, r, s)
		}()
	}
}

// stop ends the senders and feeders and waits for them.
func (a *asParts) stop() {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
}

// feed hands the service the events it is interested in, in stream order.
func (a *asParts) feed(ctx context.Context, reg *appservice.Registration, s *appservice.Sender) {
	var pos int64
	if err := a.hs.db.queryRow(ctx, `SELECT stream FROM appservice_state WHERE service_id = ?`, reg.ID).Scan(&pos); err != nil {
		a.hs.log.Error("application service position", "service", reg.ID, "err", err)
		return
	}
	persisted, lastQueued := pos, int64(0)
	for {
		// Take the wake-up channel before reading, so that an event
		// stored during the read is not missed.
		wake := a.hs.rooms.notify.wait()
		n, queued, err := a.scan(ctx, reg, s, &pos)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.hs.log.Warn("application service feed", "service", reg.ID, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if queued > 0 {
			lastQueued = queued
		}
		// Move the stored position over events the service does not
		// want, once everything queued is in a stored transaction;
		// otherwise a restart would read them all again.
		if pos-persisted >= asFeedBatch/2 && a.store.createdUpTo(reg.ID) >= lastQueued {
			if _, err := a.hs.db.w.ExecContext(ctx, `UPDATE appservice_state SET stream = max(stream, ?) WHERE service_id = ?`, pos, reg.ID); err == nil {
				persisted = pos
			}
		}
		if n == asFeedBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

// scan reads the accepted events after *pos, queues those the service is
// interested in, and advances *pos. It returns how many events it read and
// the stream position of the last one it queued (0: none).
func (a *asParts) scan(ctx context.Context, reg *appservice.Registration, s *appservice.Sender, pos *int64) (int, int64, error) {
	rows, err := a.hs.db.query(ctx, `SELECT `+eventCols+` FROM events WHERE stream > ? AND status = ? ORDER BY stream LIMIT ?`,
		*pos, federation.Accepted, asFeedBatch)
	if err != nil {
		return 0, 0, err
	}
	var evs []*StoredEvent
	for rows.Next() {
		se, err := a.hs.db.scanEvent(rows, a.hs.rooms.Version)
		if err != nil {
			rows.Close()
			return 0, 0, err
		}
		evs = append(evs, se)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	var out []json.RawMessage
	var queued int64
	rooms := asRooms{a.hs}
	for _, se := range evs {
		ok, err := a.reg.Interested(ctx, reg, se.Event, rooms)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			out = append(out, clientEvent(se, "", ""))
			queued = se.Stream
		}
	}
	if len(out) > 0 {
		if err := s.Enqueue(out, nil); err != nil {
			return 0, 0, err
		}
	}
	if len(evs) > 0 {
		*pos = evs[len(evs)-1].Stream
	}
	return len(evs), queued, nil
}

// typing queues an m.typing ephemeral event (the users typing in the room
// now) for the services that asked for ephemeral data and are interested
// in the room (content/application-service-api.md, "Pushing ephemeral
// data").
func (a *asParts) typing(roomID string, users []string) {
	if users == nil {
		users = []string{}
	}
	ev, _ := json.Marshal(map[string]any{"type": "m.typing", "room_id": roomID, "content": map[string]any{"user_ids": users}})
	a.ephemeral(context.Background(), roomID, ev, false)
}

// receipt queues an m.receipt ephemeral event; private read receipts only
// reach services interested in their user (Registry.FilterReceipt).
func (a *asParts) receipt(ctx context.Context, roomID, userID, receiptType, eventID, threadID string, ts int64) {
	data := map[string]any{"ts": ts}
	if threadID != "" {
		data["thread_id"] = threadID
	}
	ev, _ := json.Marshal(map[string]any{"type": "m.receipt", "room_id": roomID,
		"content": map[string]any{eventID: map[string]any{receiptType: map[string]any{userID: data}}}})
	a.ephemeral(ctx, roomID, ev, true)
}

func (a *asParts) ephemeral(ctx context.Context, roomID string, ev json.RawMessage, isReceipt bool) {
	rooms := asRooms{a.hs}
	for _, r := range a.reg.Services() {
		if !r.ReceiveEphemeral || r.URL == "" {
			continue
		}
		ok, err := a.reg.InterestedInRoom(ctx, r, roomID, rooms)
		if err != nil || !ok {
			continue
		}
		out := ev
		if isReceipt {
			if out, ok, err = a.reg.FilterReceipt(r, ev); err != nil || !ok {
				continue
			}
		}
		if err := a.senders[r.ID].Enqueue(nil, []json.RawMessage{out}); err != nil {
			a.hs.log.Warn("application service ephemeral event", "service", r.ID, "err", err)
		}
	}
}

// queryUser asks the services whose users namespaces hold userID whether
// it exists (they create it before answering yes).
func (a *asParts) queryUser(ctx context.Context, userID string) bool {
	for _, r := range a.reg.Services() {
		if r.URL == "" || !r.UserInNamespace(userID) || !a.reg.IsLocal(userID) {
			continue
		}
		ok, err := a.client.QueryUser(ctx, r, userID)
		if err != nil {
			a.hs.log.Info("application service user query failed", "service", r.ID, "user", userID, "err", err)
			continue
		}
		if ok {
			return true
		}
	}
	return false
}

// queryAlias is queryUser for room aliases.
func (a *asParts) queryAlias(ctx context.Context, alias string) bool {
	for _, r := range a.reg.Services() {
		if r.URL == "" || !r.AliasInNamespace(alias) {
			continue
		}
		ok, err := a.client.QueryAlias(ctx, r, alias)
		if err != nil {
			a.hs.log.Info("application service alias query failed", "service", r.ID, "alias", alias, "err", err)
			continue
		}
		if ok {
			return true
		}
	}
	return false
}

// identity resolves an as_token (ok false: not one).
func (a *asParts) identity(ctx context.Context, token string, as clientapi.Masquerade, accts appservice.Accounts) (clientapi.Identity, bool, error) {
	act, ok, err := a.reg.ActAs(ctx, token, as.UserID, as.DeviceID, accts)
	if !ok || err != nil {
		return clientapi.Identity{}, ok, err
	}
	return clientapi.Identity{UserID: act.UserID, DeviceID: act.DeviceID, AppService: act.Service.ID, AccessToken: token,
		RateLimitExempt: !act.Service.RateLimited}, true, nil
}

// asRooms is appservice.Rooms over the database.
type asRooms struct{ hs *Homeserver }

// RoomAliases implements appservice.Rooms.
func (r asRooms) RoomAliases(ctx context.Context, roomID string) ([]string, error) {
	return r.strings(ctx, `SELECT alias FROM aliases WHERE room_id = ?`, roomID)
}

// JoinedLocalMembers implements appservice.Rooms.
func (r asRooms) JoinedLocalMembers(ctx context.Context, roomID string) ([]string, error) {
	return r.strings(ctx, `SELECT state_key FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join' AND state_key LIKE ?`,
		roomID, "%:"+r.hs.cfg.ServerName)
}

func (r asRooms) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	return dbutil.Strings(r.hs.db.query(ctx, q, args...))
}

// asTxnStore is appservice.TxnStore on the database: transactions stay in
// appservice_txns until delivered, and their IDs count up per service
// from appservice_state.next_txn.
type asTxnStore struct {
	db *Store

	mu      sync.Mutex
	created map[string]int64 // service -> stream of the last event in a stored transaction
}

// createdUpTo returns the stream position of the last event stored in a
// transaction of the service.
func (s *asTxnStore) createdUpTo(serviceID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created[serviceID]
}

// Create implements appservice.TxnStore.
func (s *asTxnStore) Create(ctx context.Context, serviceID string, body []byte) (appservice.Transaction, error) {
	var b struct {
		Events []struct {
			EventID string `json:"event_id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return appservice.Transaction{}, err
	}
	var id, stream int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT next_txn FROM appservice_state WHERE service_id = ?`, serviceID).Scan(&id); err != nil {
			return err
		}
		if n := len(b.Events); n > 0 {
			err := tx.QueryRowContext(ctx, `SELECT stream FROM events WHERE event_id = ?`, b.Events[n-1].EventID).Scan(&stream)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO appservice_txns (service_id, txn_id, body) VALUES (?, ?, ?)`, serviceID, id, body); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE appservice_state SET next_txn = ?, stream = max(stream, ?) WHERE service_id = ?`, id+1, stream, serviceID)
		return err
	})
	if err != nil {
		return appservice.Transaction{}, err
	}
	s.mu.Lock()
	s.created[serviceID] = max(s.created[serviceID], stream)
	s.mu.Unlock()
	return appservice.Transaction{ID: strconv.FormatInt(id, 10), Body: body}, nil
}

// Pending implements appservice.TxnStore.
func (s *asTxnStore) Pending(ctx context.Context, serviceID string) ([]appservice.Transaction, error) {
	rows, err := s.db.query(ctx, `SELECT txn_id, body FROM appservice_txns WHERE service_id = ? ORDER BY txn_id`, serviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []appservice.Transaction
	for rows.Next() {
		var id int64
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		out = append(out, appservice.Transaction{ID: strconv.FormatInt(id, 10), Body: body})
	}
	return out, rows.Err()
}

// Complete implements appservice.TxnStore.
func (s *asTxnStore) Complete(ctx context.Context, serviceID, txnID string) error {
	id, err := strconv.ParseInt(txnID, 10, 64)
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM appservice_txns WHERE service_id = ? AND txn_id = ?`, serviceID, id)
		return err
	})
}
