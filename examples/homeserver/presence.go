package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/mxkit/mxkit/clientapi"
)

// Presence implements clientapi.Presence
// (content/client-server-api/_index.md, "Presence") on the database:
// the status users set with PUT /presence or the set_presence parameter of
// sync, delivered by sync to the users who share a room with them. It is
// not sent over federation.
type Presence struct {
	db     *Store
	notify *notifier

	mu   sync.Mutex
	last map[string]string // user -> presence last stored, to write only changes
}

var _ clientapi.Presence = (*Presence)(nil)

// Presence implements clientapi.Presence.
func (p *Presence) Presence(ctx context.Context, userID string) (*clientapi.PresenceStatus, error) {
	var n int
	if err := p.db.queryRow(ctx, `SELECT count(*) FROM users WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, clientapi.NotFound("unknown user " + userID)
	}
	st, err := p.status(ctx, userID)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (p *Presence) status(ctx context.Context, userID string) (*clientapi.PresenceStatus, error) {
	var presence, msg string
	var last int64
	err := p.db.queryRow(ctx, `SELECT presence, status_msg, last_active FROM presence WHERE user_id = ?`, userID).Scan(&presence, &msg, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return &clientapi.PresenceStatus{Presence: "offline"}, nil
	}
	if err != nil {
		return nil, err
	}
	active := presence == "online"
	return &clientapi.PresenceStatus{Presence: presence, StatusMsg: msg, LastActiveAgo: max(time.Now().UnixMilli()-last, 0), CurrentlyActive: &active}, nil
}

// SetPresence implements clientapi.Presence.
func (p *Presence) SetPresence(ctx context.Context, who clientapi.Identity, st clientapi.PresenceStatus) error {
	return p.set(ctx, who.UserID, st.Presence, &st.StatusMsg)
}

// fromSync records the set_presence of a sync request; only a change is
// written (a sync must not cost a commit each time).
func (p *Presence) fromSync(ctx context.Context, userID, presence string) error {
	if presence == "" {
		presence = "online"
	}
	p.mu.Lock()
	same := p.last[userID] == presence
	p.mu.Unlock()
	if same {
		return nil
	}
	return p.set(ctx, userID, presence, nil)
}

// set stores a presence (and the status message when msg is not nil).
func (p *Presence) set(ctx context.Context, userID, presence string, msg *string) error {
	err := p.db.Tx(ctx, func(tx *sql.Tx) error {
		pos, err := nextPosition(ctx, tx, "account_data")
		if err != nil {
			return err
		}
		m := ""
		if msg != nil {
			m = *msg
		} else if err := tx.QueryRowContext(ctx, `SELECT status_msg FROM presence WHERE user_id = ?`, userID).Scan(&m); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO presence (user_id, presence, status_msg, last_active, stream) VALUES (?, ?, ?, ?, ?)`,
			userID, presence, m, time.Now().UnixMilli(), pos)
		return err
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.last == nil {
		p.last = map[string]string{}
	}
	p.last[userID] = presence
	p.mu.Unlock()
	p.notify.bump(0)
	return nil
}

// events returns the m.presence events for a sync of userID: the users who
// share a joined room with them (and themselves) whose presence changed
// in (from, to].
func (p *Presence) events(ctx context.Context, userID string, from, to int64) ([]json.RawMessage, error) {
	rows, err := p.db.query(ctx, `SELECT p.user_id FROM presence p WHERE p.stream > ? AND p.stream <= ? AND (p.user_id = ? OR EXISTS (
		SELECT 1 FROM current_state a JOIN current_state b ON a.room_id = b.room_id
		WHERE a.type = 'm.room.member' AND a.state_key = ? AND a.membership = 'join'
		  AND b.type = 'm.room.member' AND b.state_key = p.user_id AND b.membership = 'join'))`, from, to, userID, userID)
	if err != nil {
		return nil, err
	}
	var users []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			rows.Close()
			return nil, err
		}
		users = append(users, u)
	}
	rows.Close()
	var out []json.RawMessage
	for _, u := range users {
		st, err := p.status(ctx, u)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(map[string]any{"type": "m.presence", "sender": u, "content": st})
		out = append(out, b)
	}
	return out, nil
}
