package e2ee

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/mxkit/mxkit/clientapi"
)

const backupSchema = `
CREATE TABLE IF NOT EXISTS e2e_backup_versions (
	user_id   TEXT NOT NULL,
	version   INTEGER NOT NULL,
	algorithm TEXT NOT NULL,
	auth_data BLOB NOT NULL,
	etag      INTEGER NOT NULL DEFAULT 0,
	deleted   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, version)
);
CREATE TABLE IF NOT EXISTS e2e_backup_keys (
	user_id    TEXT NOT NULL,
	version    INTEGER NOT NULL,
	room_id    TEXT NOT NULL,
	session_id TEXT NOT NULL,
	json       BLOB NOT NULL,
	PRIMARY KEY (user_id, version, room_id, session_id)
);
`

// Backup is server-side key backup on the database (clientapi.KeyBackup;
// content/client-server-api/modules/end_to_end_encryption.md,
// "Server-side key backups"). Versions are numbered per user; a deleted
// version keeps its row (marked deleted, its keys gone) so that its
// number is never handed out again and deleting it twice succeeds. The
// current version is the newest not deleted. The etag is a counter
// bumped by every request that changes a version's keys.
type Backup struct{ W, R *sql.DB }

var _ clientapi.KeyBackup = Backup{}

func (b Backup) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := b.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// versionNumber parses a version string; one that is not a number was
// never created.
func versionNumber(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != v {
		return 0, clientapi.NotFound("unknown backup version")
	}
	return n, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// live reads a version not deleted (0: the current one).
func live(ctx context.Context, q querier, userID string, version int64) (*clientapi.BackupVersion, int64, error) {
	query := `SELECT version, algorithm, auth_data, etag FROM e2e_backup_versions WHERE user_id = ? AND deleted = 0 ORDER BY version DESC LIMIT 1`
	args := []any{userID}
	if version != 0 {
		query = `SELECT version, algorithm, auth_data, etag FROM e2e_backup_versions WHERE user_id = ? AND version = ? AND deleted = 0`
		args = append(args, version)
	}
	var out clientapi.BackupVersion
	var n, etag int64
	var auth []byte
	err := q.QueryRowContext(ctx, query, args...).Scan(&n, &out.Algorithm, &auth, &etag)
	if errors.Is(err, sql.ErrNoRows) {
		if version == 0 {
			return nil, 0, clientapi.NotFound("no current backup version")
		}
		return nil, 0, clientapi.NotFound("unknown backup version")
	}
	if err != nil {
		return nil, 0, err
	}
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM e2e_backup_keys WHERE user_id = ? AND version = ?`, userID, n).Scan(&out.Count); err != nil {
		return nil, 0, err
	}
	out.AuthData, out.Etag, out.Version = auth, strconv.FormatInt(etag, 10), strconv.FormatInt(n, 10)
	return &out, n, nil
}

// CreateBackup implements clientapi.KeyBackup.
func (b Backup) CreateBackup(ctx context.Context, userID, algorithm string, authData json.RawMessage) (string, error) {
	var v int64
	err := b.tx(ctx, func(tx *sql.Tx) error {
		// Deleted versions count: a number is never handed out twice.
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) + 1 FROM e2e_backup_versions WHERE user_id = ?`, userID).Scan(&v); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO e2e_backup_versions (user_id, version, algorithm, auth_data) VALUES (?, ?, ?, ?)`,
			userID, v, algorithm, []byte(authData))
		return err
	})
	return strconv.FormatInt(v, 10), err
}

// Backup implements clientapi.KeyBackup.
func (b Backup) Backup(ctx context.Context, userID, version string) (*clientapi.BackupVersion, error) {
	var n int64
	if version != "" {
		var err error
		if n, err = versionNumber(version); err != nil {
			return nil, err
		}
	}
	out, _, err := live(ctx, b.R, userID, n)
	return out, err
}

// UpdateBackup implements clientapi.KeyBackup.
func (b Backup) UpdateBackup(ctx context.Context, userID, version string, authData json.RawMessage) error {
	n, err := versionNumber(version)
	if err != nil {
		return err
	}
	res, err := b.W.ExecContext(ctx, `UPDATE e2e_backup_versions SET auth_data = ? WHERE user_id = ? AND version = ? AND deleted = 0`,
		[]byte(authData), userID, n)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return clientapi.NotFound("unknown backup version")
	}
	return nil
}

// DeleteBackup implements clientapi.KeyBackup.
func (b Backup) DeleteBackup(ctx context.Context, userID, version string) error {
	n, err := versionNumber(version)
	if err != nil {
		return err
	}
	return b.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE e2e_backup_versions SET deleted = 1 WHERE user_id = ? AND version = ?`, userID, n)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return clientapi.NotFound("unknown backup version")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM e2e_backup_keys WHERE user_id = ? AND version = ?`, userID, n)
		return err
	})
}

// keyFilter is the WHERE clause of a room and session filter.
func keyFilter(userID string, version int64, roomID, sessionID string) (string, []any) {
	where := ` WHERE user_id = ? AND version = ?`
	args := []any{userID, version}
	if roomID != "" {
		where += ` AND room_id = ?`
		args = append(args, roomID)
	}
	if sessionID != "" {
		where += ` AND session_id = ?`
		args = append(args, sessionID)
	}
	return where, args
}

// RoomKeys implements clientapi.KeyBackup.
func (b Backup) RoomKeys(ctx context.Context, userID, version, roomID, sessionID string) (map[string]map[string]json.RawMessage, error) {
	n, err := versionNumber(version)
	if err != nil {
		return nil, err
	}
	tx, err := b.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, _, err := live(ctx, tx, userID, n); err != nil {
		return nil, err
	}
	where, args := keyFilter(userID, n, roomID, sessionID)
	rows, err := tx.QueryContext(ctx, `SELECT room_id, session_id, json FROM e2e_backup_keys`+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]json.RawMessage{}
	for rows.Next() {
		var r, s string
		var k []byte
		if err := rows.Scan(&r, &s, &k); err != nil {
			return nil, err
		}
		if out[r] == nil {
			out[r] = map[string]json.RawMessage{}
		}
		out[r][s] = k
	}
	return out, rows.Err()
}

// PutRoomKeys implements clientapi.KeyBackup: in one transaction, the
// version check, the choice of the better key of each session and the
// writes.
func (b Backup) PutRoomKeys(ctx context.Context, userID, version string, keys map[string]map[string]json.RawMessage) (etag string, count int, err error) {
	err = b.tx(ctx, func(tx *sql.Tx) error {
		cur, n, err := live(ctx, tx, userID, 0)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return clientapi.WrongRoomKeysVersion(cur.Version)
		}
		changed := 0
		for r, ss := range keys {
			for s, k := range ss {
				var old []byte
				err := tx.QueryRowContext(ctx, `SELECT json FROM e2e_backup_keys WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?`,
					userID, n, r, s).Scan(&old)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				if err == nil && !clientapi.BetterSessionKey(old, k) {
					continue
				}
				if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO e2e_backup_keys (user_id, version, room_id, session_id, json) VALUES (?, ?, ?, ?, ?)`,
					userID, n, r, s, []byte(k)); err != nil {
					return err
				}
				changed++
			}
		}
		etag, count, err = bumpEtag(ctx, tx, userID, n, changed > 0)
		return err
	})
	return etag, count, err
}

// bumpEtag bumps the etag of a version if its keys changed and returns it
// with the version's key count.
func bumpEtag(ctx context.Context, tx *sql.Tx, userID string, version int64, changed bool) (string, int, error) {
	if changed {
		if _, err := tx.ExecContext(ctx, `UPDATE e2e_backup_versions SET etag = etag + 1 WHERE user_id = ? AND version = ?`, userID, version); err != nil {
			return "", 0, err
		}
	}
	cur, _, err := live(ctx, tx, userID, version)
	if err != nil {
		return "", 0, err
	}
	return cur.Etag, cur.Count, nil
}

// DeleteRoomKeys implements clientapi.KeyBackup.
func (b Backup) DeleteRoomKeys(ctx context.Context, userID, version, roomID, sessionID string) (etag string, count int, err error) {
	n, err := versionNumber(version)
	if err != nil {
		return "", 0, err
	}
	err = b.tx(ctx, func(tx *sql.Tx) error {
		if _, _, err := live(ctx, tx, userID, n); err != nil {
			return err
		}
		where, args := keyFilter(userID, n, roomID, sessionID)
		res, err := tx.ExecContext(ctx, `DELETE FROM e2e_backup_keys`+where, args...)
		if err != nil {
			return err
		}
		k, _ := res.RowsAffected()
		etag, count, err = bumpEtag(ctx, tx, userID, n, k > 0)
		return err
	})
	return etag, count, err
}
