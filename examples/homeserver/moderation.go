package main

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mxkit/mxkit/clientapi"
)

// Server administration: who the administrators are (--server-admin),
// account locks and suspensions, and the connections GET
// /admin/whois/{userId} reports (content/client-server-api/_index.md
// "Server administration", "Account moderation").

var (
	_ clientapi.Whois             = (*Accounts)(nil)
	_ clientapi.AccountModeration = (*Accounts)(nil)
)

// IsServerAdmin implements clientapi.AccountModeration.
func (a *Accounts) IsServerAdmin(_ context.Context, userID string) (bool, error) {
	return a.admins[userID], nil
}

// AccountStatus implements clientapi.AccountModeration.
func (a *Accounts) AccountStatus(ctx context.Context, userID string) (clientapi.AccountStatus, error) {
	var st clientapi.AccountStatus
	var hash string
	err := a.db.queryRow(ctx, `SELECT password_hash FROM users WHERE user_id = ?`, userID).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) || err == nil && hash == deactivatedHash {
		return st, clientapi.NotFound("user not found")
	} else if err != nil {
		return st, err
	}
	return a.moderation(ctx, userID)
}

func (a *Accounts) moderation(ctx context.Context, userID string) (clientapi.AccountStatus, error) {
	var st clientapi.AccountStatus
	err := a.db.queryRow(ctx, `SELECT locked, suspended FROM account_moderation WHERE user_id = ?`, userID).Scan(&st.Locked, &st.Suspended)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return st, err
}

// SetAccountStatus implements clientapi.AccountModeration. Access tokens
// are kept: a lock is lifted without the user logging in again
// ("Servers SHOULD NOT invalidate access tokens on locked accounts").
func (a *Accounts) SetAccountStatus(ctx context.Context, userID string, st clientapi.AccountStatus) error {
	_, err := a.db.w.ExecContext(ctx, `INSERT INTO account_moderation (user_id, locked, suspended) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET locked = excluded.locked, suspended = excluded.suspended`, userID, st.Locked, st.Suspended)
	return err
}

// errUserLocked refuses a login to a locked account: it "cannot obtain a
// new access token until the account has been unlocked".
var errUserLocked = clientapi.NewError(http.StatusUnauthorized, clientapi.CodeUserLocked, "this account has been locked").With("soft_logout", true)

// Whois implements clientapi.Whois: the user's devices, one session per
// live access token, with the addresses and user agents it was used from.
func (a *Accounts) Whois(ctx context.Context, userID string) (map[string]clientapi.WhoisDevice, error) {
	if ok, err := a.UserExists(ctx, userID); err != nil {
		return nil, err
	} else if !ok {
		return nil, clientapi.NotFound("user not found")
	}
	// The connections of tokens ended by a logout go now (a refresh
	// removes those of the token it replaces).
	if _, err := a.db.w.ExecContext(ctx, `DELETE FROM connections WHERE user_id = ? AND token NOT IN (SELECT token FROM tokens WHERE user_id = ?)`, userID, userID); err != nil {
		return nil, err
	}
	out := map[string]clientapi.WhoisDevice{}
	rows, err := a.db.r.QueryContext(ctx, `SELECT device_id FROM devices WHERE user_id = ?`, userID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var dev string
		if err := rows.Scan(&dev); err != nil {
			rows.Close()
			return nil, err
		}
		out[dev] = clientapi.WhoisDevice{Sessions: []clientapi.WhoisSession{}}
	}
	rows.Close()
	rows, err = a.db.r.QueryContext(ctx, `SELECT c.device_id, c.token, c.ip, c.user_agent, c.last_seen FROM connections c
		JOIN tokens t ON t.token = c.token WHERE c.user_id = ? ORDER BY c.device_id, c.token, c.last_seen DESC`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	lastToken := ""
	for rows.Next() {
		var dev, token string
		var conn clientapi.WhoisConnection
		if err := rows.Scan(&dev, &token, &conn.IP, &conn.UserAgent, &conn.LastSeen); err != nil {
			return nil, err
		}
		d, ok := out[dev]
		if !ok {
			continue
		}
		if token != lastToken || len(d.Sessions) == 0 {
			d.Sessions = append(d.Sessions, clientapi.WhoisSession{})
			lastToken = token
		}
		s := &d.Sessions[len(d.Sessions)-1]
		s.Connections = append(s.Connections, conn)
		out[dev] = d
	}
	return out, rows.Err()
}

// connectionKey is where a request came from, put in its context by
// withConnection.
type connectionKey struct{}

type connection struct{ ip, userAgent string }

// withConnection records the address and user agent of each request in
// its context, for LookupToken to note.
func withConnection(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		ctx := context.WithValue(r.Context(), connectionKey{}, connection{ip: ip, userAgent: r.UserAgent()})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// connectionWriteInterval is how often one connection's last_seen is
// written: a write per request would cost more than the request.
const connectionWriteInterval = time.Minute

// connectionLog throttles the writes of last_seen.
type connectionLog struct {
	mu      sync.Mutex
	written map[[4]string]time.Time
}

// noteConnection records that token was used from the connection of
// ctx, at most once per connectionWriteInterval.
func (a *Accounts) noteConnection(ctx context.Context, who clientapi.Identity, token string) {
	conn, ok := ctx.Value(connectionKey{}).(connection)
	if !ok {
		return
	}
	now := time.Now()
	key := [4]string{who.UserID, token, conn.ip, conn.userAgent}
	a.conns.mu.Lock()
	if a.conns.written == nil || len(a.conns.written) > 100000 {
		a.conns.written = map[[4]string]time.Time{}
	}
	if now.Sub(a.conns.written[key]) < connectionWriteInterval {
		a.conns.mu.Unlock()
		return
	}
	a.conns.written[key] = now
	a.conns.mu.Unlock()
	a.db.w.ExecContext(ctx, `INSERT INTO connections (user_id, device_id, token, ip, user_agent, last_seen) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET last_seen = excluded.last_seen`, who.UserID, who.DeviceID, token, conn.ip, conn.userAgent, now.UnixMilli())
}
