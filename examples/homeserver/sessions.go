package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mxkit/mxkit/clientapi"
)

// sessionsSchema holds what the server keeps of sessions besides their
// tokens: refresh tokens and access token expiry
// (content/client-server-api/_index.md "Refreshing access tokens"), the
// connections GET /admin/whois reports, and the moderation state of
// accounts ("Account locking", "Account suspension").
const sessionsSchema = `
-- token_meta: an access token issued with a refresh token. parent is the
-- refresh token it was refreshed from, until the token is first used.
CREATE TABLE IF NOT EXISTS token_meta (
	token      TEXT PRIMARY KEY,
	expires_ts INTEGER NOT NULL,
	parent     TEXT NOT NULL DEFAULT ''
);
-- refresh_tokens: access_token is the token issued with it; parent is
-- the refresh token it replaced, until it or its access token is used.
CREATE TABLE IF NOT EXISTS refresh_tokens (
	token        TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL,
	device_id    TEXT NOT NULL,
	access_token TEXT NOT NULL,
	parent       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS refresh_tokens_parent ON refresh_tokens (parent);
CREATE TABLE IF NOT EXISTS connections (
	user_id    TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	token      TEXT NOT NULL,
	ip         TEXT NOT NULL,
	user_agent TEXT NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (user_id, device_id, token, ip, user_agent)
);
CREATE TABLE IF NOT EXISTS account_moderation (
	user_id   TEXT PRIMARY KEY,
	locked    INTEGER NOT NULL DEFAULT 0,
	suspended INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS registration_tokens (
	token        TEXT PRIMARY KEY,
	uses_allowed INTEGER,
	completed    INTEGER NOT NULL DEFAULT 0
);
`

// defaultAccessTokenLifetime is the lifetime of refreshable access
// tokens when the configuration names none (the reference server's
// default is five minutes too).
const defaultAccessTokenLifetime = 5 * time.Minute

var _ clientapi.Refresher = (*Accounts)(nil)

// tokenLifetime is the lifetime of refreshable access tokens, 0 when
// refresh tokens are off.
func (a *Accounts) tokenLifetime() time.Duration {
	switch {
	case a.accessTokenLifetime < 0:
		return 0
	case a.accessTokenLifetime == 0:
		return defaultAccessTokenLifetime
	}
	return a.accessTokenLifetime
}

// issueRefreshable records accessToken as expiring and mints a refresh
// token for it; parent is the refresh token it replaces ("" at login).
func (a *Accounts) issueRefreshable(ctx context.Context, tx *sql.Tx, userID, deviceID, accessToken, parent string) (clientapi.RefreshedTokens, error) {
	life := a.tokenLifetime()
	t := clientapi.RefreshedTokens{AccessToken: accessToken, RefreshToken: "mxr_" + randomString(32), ExpiresInMS: life.Milliseconds()}
	if _, err := tx.ExecContext(ctx, `INSERT INTO token_meta (token, expires_ts, parent) VALUES (?, ?, ?)`,
		accessToken, time.Now().Add(life).UnixMilli(), parent); err != nil {
		return t, err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (token, user_id, device_id, access_token, parent) VALUES (?, ?, ?, ?, ?)`,
		t.RefreshToken, userID, deviceID, accessToken, parent)
	return t, err
}

// checkTokenMeta applies the expiry of an access token (0: none) and,
// at its first use after a refresh, revokes the refresh token it was
// refreshed from (parent).
func (a *Accounts) checkTokenMeta(ctx context.Context, token string, expires int64, parent string) error {
	if expires > 0 && time.Now().UnixMilli() >= expires {
		// Soft logout: the client refreshes, or logs in again keeping
		// its device.
		return clientapi.UnknownToken(true)
	}
	if parent != "" {
		return a.db.Tx(ctx, func(tx *sql.Tx) error { return revokeParent(ctx, tx, parent) })
	}
	return nil
}

// revokeParent revokes the refresh token parent now that a token minted
// from it has been used.
func revokeParent(ctx context.Context, tx *sql.Tx, parent string) error {
	for _, q := range []string{
		`DELETE FROM refresh_tokens WHERE token = ?`,
		`UPDATE refresh_tokens SET parent = '' WHERE parent = ?`,
		`UPDATE token_meta SET parent = '' WHERE parent = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, parent); err != nil {
			return err
		}
	}
	return nil
}

// deleteAccessToken removes an access token and what is kept of it.
func deleteAccessToken(ctx context.Context, tx *sql.Tx, token string) error {
	for _, q := range []string{`DELETE FROM tokens WHERE token = ?`, `DELETE FROM token_meta WHERE token = ?`, `DELETE FROM connections WHERE token = ?`} {
		if _, err := tx.ExecContext(ctx, q, token); err != nil {
			return err
		}
	}
	return nil
}

// Refresh implements clientapi.Refresher: a new access token and refresh
// token for the device of refreshToken. The old access token is revoked
// at once; the old refresh token when the new tokens are first used.
// Refreshing again with the old refresh token before that (the client
// lost the answer) replaces the unused new tokens.
func (a *Accounts) Refresh(ctx context.Context, refreshToken string) (clientapi.RefreshedTokens, error) {
	if a.tokenLifetime() == 0 {
		return clientapi.RefreshedTokens{}, clientapi.UnknownToken(false)
	}
	var out clientapi.RefreshedTokens
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		var userID, deviceID, access, parent string
		err := tx.QueryRowContext(ctx, `SELECT user_id, device_id, access_token, parent FROM refresh_tokens WHERE token = ?`, refreshToken).
			Scan(&userID, &deviceID, &access, &parent)
		if errors.Is(err, sql.ErrNoRows) {
			// Unknown or revoked: as the reference server, without
			// soft_logout, since the session cannot be resumed.
			return clientapi.NewError(401, clientapi.CodeUnknownToken, "unknown or revoked refresh token")
		} else if err != nil {
			return err
		}
		// A locked account "cannot obtain a new access token until the
		// account has been unlocked"; the refresh token is kept.
		var locked bool
		err = tx.QueryRowContext(ctx, `SELECT locked FROM account_moderation WHERE user_id = ?`, userID).Scan(&locked)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if locked {
			return errUserLocked
		}
		if parent != "" {
			if err := revokeParent(ctx, tx, parent); err != nil {
				return err
			}
		}
		// Tokens minted from this refresh token and never used.
		rows, err := tx.QueryContext(ctx, `SELECT token, access_token FROM refresh_tokens WHERE parent = ?`, refreshToken)
		if err != nil {
			return err
		}
		var unused [][2]string
		for rows.Next() {
			var r [2]string
			if err := rows.Scan(&r[0], &r[1]); err != nil {
				rows.Close()
				return err
			}
			unused = append(unused, r)
		}
		rows.Close()
		for _, r := range unused {
			if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE token = ?`, r[0]); err != nil {
				return err
			}
			if err := deleteAccessToken(ctx, tx, r[1]); err != nil {
				return err
			}
		}
		// The session must still exist: a logout deletes the access
		// tokens of the device, which ends its refresh tokens too.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE token = ?`, access).Scan(&n); err != nil {
			return err
		}
		if n == 0 && len(unused) == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE token = ?`, refreshToken); err != nil {
				return err
			}
			return clientapi.NewError(401, clientapi.CodeUnknownToken, "the session of this refresh token has ended")
		}
		if err := deleteAccessToken(ctx, tx, access); err != nil {
			return err
		}
		newAccess := "mxk_" + randomString(32)
		if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (token, user_id, device_id) VALUES (?, ?, ?)`, newAccess, userID, deviceID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET access_token = '' WHERE token = ?`, refreshToken); err != nil {
			return err
		}
		out, err = a.issueRefreshable(ctx, tx, userID, deviceID, newAccess, refreshToken)
		return err
	})
	if err != nil {
		return clientapi.RefreshedTokens{}, err
	}
	return out, nil
}

// checkServerAdmins checks the --server-admin user IDs are local users'.
func checkServerAdmins(admins []string, serverName string) error {
	for _, id := range admins {
		if err := clientapi.ValidUserID(id, false); err != nil {
			return fmt.Errorf("--server-admin %q: %v", id, err)
		}
		if serverOf(id) != serverName {
			return fmt.Errorf("--server-admin %q: not a user of %s", id, serverName)
		}
	}
	return nil
}
