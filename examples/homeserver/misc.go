package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/federation"
)

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Data implements clientapi's Transactions, Filters, AccountData and
// Ephemeral on the database.
type Data struct {
	db     *Store
	notify *notifier
	typing *typingState
	// sendEDU, when set, sends an EDU to the other servers of a room.
	sendEDU func(ctx context.Context, roomID string, edu federation.EDU)
	// as, when set, gets typing and receipts for application services.
	as *asParts
}

var (
	_ clientapi.Transactions = (*Data)(nil)
	_ clientapi.Filters      = (*Data)(nil)
	_ clientapi.AccountData  = (*Data)(nil)
	_ clientapi.Ephemeral    = (*Data)(nil)
)

// Get implements clientapi.Transactions. The answers of send and redact
// are the events themselves, stored with their transaction ID in the
// transaction that stores the event: no second write, and no window in
// which a crash could lose the record of an event that exists.
func (d *Data) Get(ctx context.Context, k clientapi.TxnKey) ([]byte, bool, error) {
	if id, err := d.eventForTxn(ctx, k); err != nil || id != "" {
		if err != nil {
			return nil, false, err
		}
		body, err := json.Marshal(map[string]string{"event_id": id})
		return body, true, err
	}
	var body []byte
	err := d.db.queryRow(ctx, `SELECT body FROM client_txns WHERE user_id = ? AND device_id = ? AND endpoint = ? AND txn_id = ?`,
		k.UserID, k.DeviceID, k.Endpoint, k.TxnID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return body, err == nil, err
}

// eventForTxn finds the event a send or redact transaction made, "" if
// none (or the endpoint is another).
func (d *Data) eventForTxn(ctx context.Context, k clientapi.TxnKey) (string, error) {
	if !strings.HasPrefix(k.Endpoint, "send/") && !strings.HasPrefix(k.Endpoint, "redact/") {
		return "", nil
	}
	rows, err := d.db.query(ctx, `SELECT event_id, room_id, type, json FROM events WHERE txn_user = ? AND txn_device = ? AND txn_id = ?`, k.UserID, k.DeviceID, k.TxnID)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var id, roomID, typ string
		var raw []byte
		if err := rows.Scan(&id, &roomID, &typ, &raw); err != nil {
			return "", err
		}
		if k.Endpoint == "send/"+roomID+"/"+typ {
			return id, nil
		}
		if typ == "m.room.redaction" && strings.HasPrefix(k.Endpoint, "redact/"+roomID+"/") {
			return id, nil
		}
	}
	return "", rows.Err()
}

// Put implements clientapi.Transactions.
func (d *Data) Put(ctx context.Context, k clientapi.TxnKey, body []byte) error {
	if id, err := d.eventForTxn(ctx, k); err != nil || id != "" {
		return err // recorded with the event
	}
	return d.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO client_txns (user_id, device_id, endpoint, txn_id, body) VALUES (?, ?, ?, ?, ?)`,
			k.UserID, k.DeviceID, k.Endpoint, k.TxnID, body)
		return err
	})
}

// PutFilter implements clientapi.Filters.
func (d *Data) PutFilter(ctx context.Context, userID string, filter json.RawMessage) (string, error) {
	var id int64
	err := d.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO filters (user_id, filter) VALUES (?, ?)`, userID, []byte(filter))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	return strconv.FormatInt(id, 10), err
}

// GetFilter implements clientapi.Filters.
func (d *Data) GetFilter(ctx context.Context, userID, filterID string) (json.RawMessage, error) {
	var f []byte
	err := d.db.queryRow(ctx, `SELECT filter FROM filters WHERE user_id = ? AND id = ?`, userID, filterID).Scan(&f)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, clientapi.NotFound("unknown filter")
	}
	return f, err
}

// nextPosition takes the next value of a named counter in tx.
func nextPosition(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `INSERT INTO positions (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`, name).Scan(&v)
	return v, err
}

// AccountData implements clientapi.AccountData.
func (d *Data) AccountData(ctx context.Context, userID, roomID, dataType string) (json.RawMessage, error) {
	var c []byte
	err := d.db.queryRow(ctx, `SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?`, userID, roomID, dataType).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, clientapi.NotFound("account data not found")
	}
	return c, err
}

// SetAccountData implements clientapi.AccountData.
func (d *Data) SetAccountData(ctx context.Context, userID, roomID, dataType string, content json.RawMessage) error {
	var pos int64
	err := d.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if pos, err = nextPosition(ctx, tx, "account_data"); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO account_data (user_id, room_id, type, content, stream) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, stream = excluded.stream`,
			userID, roomID, dataType, []byte(content), pos)
		return err
	})
	if err == nil {
		d.notify.bump(0)
	}
	return err
}

// typingChanged tells the application services of a change of who is
// typing in a room.
func (d *Data) typingChanged(roomID string) {
	if d.as != nil {
		users, _ := d.typing.users(roomID)
		d.as.typing(roomID, users)
	}
}

// SetTyping implements clientapi.Ephemeral. Typing notifications are kept
// in memory (they expire within seconds) and delivered by sync; they are
// not sent over federation by this server.
func (d *Data) SetTyping(ctx context.Context, who clientapi.Identity, roomID string, typing bool, timeout time.Duration) error {
	if err := d.checkJoined(ctx, roomID, who.UserID); err != nil {
		return err
	}
	if typing && timeout <= 0 {
		timeout = 30 * time.Second
	}
	d.typing.set(roomID, who.UserID, typing, min(timeout, 2*time.Minute), func() { d.notify.bump(0); d.typingChanged(roomID) })
	d.notify.bump(0)
	d.typingChanged(roomID)
	if d.sendEDU != nil {
		b, _ := json.Marshal(map[string]any{"room_id": roomID, "user_id": who.UserID, "typing": typing})
		d.sendEDU(ctx, roomID, federation.EDU{Type: "m.typing", Content: b})
	}
	return nil
}

// SetReceipt implements clientapi.Ephemeral: receipts are stored, with a
// position for sync.
func (d *Data) SetReceipt(ctx context.Context, who clientapi.Identity, roomID, receiptType, eventID, threadID string) error {
	if err := d.checkJoined(ctx, roomID, who.UserID); err != nil {
		return err
	}
	ts := time.Now().UnixMilli()
	if err := d.storeReceipt(ctx, who, roomID, receiptType, eventID, threadID, ts); err != nil {
		return err
	}
	if d.sendEDU != nil && receiptType == "m.read" {
		data := map[string]any{"ts": ts}
		if threadID != "" {
			data["thread_id"] = threadID
		}
		b, _ := json.Marshal(map[string]any{roomID: map[string]any{"m.read": map[string]any{who.UserID: map[string]any{"event_ids": []string{eventID}, "data": data}}}})
		d.sendEDU(ctx, roomID, federation.EDU{Type: "m.receipt", Content: b})
	}
	return nil
}

// storeReceipt stores a receipt, local or from another server.
func (d *Data) storeReceipt(ctx context.Context, who clientapi.Identity, roomID, receiptType, eventID, threadID string, ts int64) error {
	err := d.db.Tx(ctx, func(tx *sql.Tx) error {
		pos, err := nextPosition(ctx, tx, "account_data")
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO receipts (room_id, user_id, type, thread, event_id, ts, stream) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			roomID, who.UserID, receiptType, threadID, eventID, ts, pos)
		return err
	})
	if err == nil {
		d.notify.bump(0)
		if d.as != nil {
			d.as.receipt(ctx, roomID, who.UserID, receiptType, eventID, threadID, ts)
		}
	}
	return err
}

// typingState holds who is typing in which room, with a version that
// moves at every change (the third part of sync tokens).
type typingState struct {
	mu      sync.Mutex
	version int64
	rooms   map[string]map[string]time.Time // room -> user -> expiry
	changed map[string]int64                // room -> version of its last change
}

func (t *typingState) current() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.version
}

// set records a change; expired, called when the typing times out, wakes
// the syncs that must tell it.
func (t *typingState) set(roomID, userID string, typing bool, timeout time.Duration, expired func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rooms == nil {
		t.rooms, t.changed = map[string]map[string]time.Time{}, map[string]int64{}
	}
	if typing {
		if t.rooms[roomID] == nil {
			t.rooms[roomID] = map[string]time.Time{}
		}
		until := time.Now().Add(timeout)
		t.rooms[roomID][userID] = until
		time.AfterFunc(timeout, func() {
			t.mu.Lock()
			still := t.rooms[roomID][userID].Equal(until)
			if still {
				delete(t.rooms[roomID], userID)
				t.version++
				t.changed[roomID] = t.version
			}
			t.mu.Unlock()
			if still {
				expired()
			}
		})
	} else {
		delete(t.rooms[roomID], userID)
	}
	t.version++
	t.changed[roomID] = t.version
}

// users returns who is typing in the room, sorted, and the version of the
// room's last change.
func (t *typingState) users(roomID string) ([]string, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for u := range t.rooms[roomID] {
		out = append(out, u)
	}
	slices.Sort(out)
	return out, t.changed[roomID]
}

// checkJoined refuses typing notifications and receipts of users who are
// not joined to the room (or of rooms that do not exist), as the reference
// server does (403 M_FORBIDDEN): they would otherwise be stored, shown to
// the room's members and sent to its servers. The federation side checks
// the same for other servers' users.
func (d *Data) checkJoined(ctx context.Context, roomID, userID string) error {
	var m string
	err := d.db.queryRow(ctx, `SELECT membership FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND state_key = ?`, roomID, userID).Scan(&m)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if m != "join" {
		return clientapi.Forbidden("you are not in this room")
	}
	return nil
}
