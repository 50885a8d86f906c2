// Package e2ee is the example homeserver's end-to-end encryption support
// (content/client-server-api/modules/end_to_end_encryption.md and
// send_to_device.md): the device keys, one-time keys and fallback keys of
// local devices, their claims, the log of key changes that
// keys/changes and /sync's device_lists read, the queue of
// send-to-device messages delivered in /sync until the next sync
// acknowledges them, cross-signing keys and signatures, and server-side
// key backups (Backup). It implements clientapi.Keys, clientapi.ToDevice,
// clientapi.CrossSigning and clientapi.KeyBackup on tables of its own in
// the homeserver's SQLite database.
//
// Positions are those of the homeserver's per-user data stream (the
// second part of its sync tokens), given by Next. Keys of other servers'
// users are asked of their server through Remote (user/keys/query,
// user/keys/claim); changes are announced to and taken from other servers
// as m.device_list_update and m.signing_key_update EDUs.
package e2ee

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/examples/homeserver/internal/dbutil"
)

// Schema is added to the database on start (idempotent).
const Schema = keysSchema + backupSchema + crossSigningSchema

const keysSchema = `
CREATE TABLE IF NOT EXISTS e2e_device_keys (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	json      BLOB NOT NULL,
	PRIMARY KEY (user_id, device_id)
);
CREATE TABLE IF NOT EXISTS e2e_one_time_keys (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	key_id    TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	json      BLOB NOT NULL,
	PRIMARY KEY (user_id, device_id, key_id)
);
CREATE TABLE IF NOT EXISTS e2e_fallback_keys (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	key_id    TEXT NOT NULL,
	json      BLOB NOT NULL,
	used      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, device_id, algorithm)
);
CREATE TABLE IF NOT EXISTS e2e_key_changes (
	stream  INTEGER NOT NULL,
	user_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS e2e_key_changes_stream ON e2e_key_changes (stream);
CREATE TABLE IF NOT EXISTS e2e_to_device (
	stream    INTEGER NOT NULL,
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	json      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS e2e_to_device_device ON e2e_to_device (user_id, device_id, stream);
`

// Store is the keys and the to-device queue.
type Store struct {
	W, R *sql.DB
	// Next takes the next position of the per-user data stream.
	Next func(ctx context.Context, tx *sql.Tx) (int64, error)
	// Notify wakes the syncs waiting for news.
	Notify func()
	// SyncPosition reads the per-user data position of a sync token.
	SyncPosition func(token string) (int64, error)
	// EventPosition reads the event stream position of a sync token
	// (nil: keys/changes answers no left users).
	EventPosition func(token string) (int64, error)
	// Local reports whether a user ID is of this server.
	Local func(userID string) bool
	// Remote reaches other servers (nil: only local users are served).
	Remote Remote
}

// Remote is what the store asks of other servers, over federation.
type Remote interface {
	// QueryKeys asks a server for its users' device keys and their
	// master and self-signing keys.
	QueryKeys(ctx context.Context, server string, users map[string][]string) (*clientapi.KeysQueryResponse, error)
	// ClaimKeys asks a server for one-time keys of its users' devices.
	ClaimKeys(ctx context.Context, server string, claim map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error)
	// SendToDevice sends messages to users of a server (an
	// m.direct_to_device EDU).
	SendToDevice(ctx context.Context, server, sender, eventType string, messages map[string]map[string]json.RawMessage)
	// KeysChanged tells the servers sharing a room with userID that the
	// keys of its device changed (an m.device_list_update EDU).
	KeysChanged(ctx context.Context, userID, deviceID string, keys json.RawMessage)
	// SigningKeysChanged tells the servers sharing a room with userID
	// that their cross-signing keys changed (an m.signing_key_update
	// EDU).
	SigningKeysChanged(ctx context.Context, userID string, master, selfSigning json.RawMessage)
}

func serverOf(userID string) string {
	_, s, _ := strings.Cut(userID, ":")
	return s
}

func (s *Store) local(userID string) bool { return s.Local == nil || s.Local(userID) }

var (
	_ clientapi.Keys     = (*Store)(nil)
	_ clientapi.ToDevice = (*Store)(nil)
)

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if s.Notify != nil {
		s.Notify()
	}
	return nil
}

// UploadKeys implements clientapi.Keys. New device keys are a key change
// (the device's user goes to device_lists.changed); one-time keys are
// added; fallback keys replace the device's fallback key of their
// algorithm.
func (s *Store) UploadKeys(ctx context.Context, who clientapi.Identity, up clientapi.KeysUpload) (map[string]int, error) {
	keysChanged := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if up.DeviceKeys != nil {
			var old []byte
			err := tx.QueryRowContext(ctx, `SELECT json FROM e2e_device_keys WHERE user_id = ? AND device_id = ?`, who.UserID, who.DeviceID).Scan(&old)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if string(old) != string(up.DeviceKeys) {
				if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO e2e_device_keys (user_id, device_id, json) VALUES (?, ?, ?)`,
					who.UserID, who.DeviceID, []byte(up.DeviceKeys)); err != nil {
					return err
				}
				if err := s.changed(ctx, tx, who.UserID); err != nil {
					return err
				}
				keysChanged = true
			}
		}
		for id, k := range up.OneTimeKeys {
			alg, _, _ := strings.Cut(id, ":")
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO e2e_one_time_keys (user_id, device_id, key_id, algorithm, json) VALUES (?, ?, ?, ?, ?)`,
				who.UserID, who.DeviceID, id, alg, []byte(k)); err != nil {
				return err
			}
		}
		for id, k := range up.FallbackKeys {
			alg, _, _ := strings.Cut(id, ":")
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, json, used) VALUES (?, ?, ?, ?, ?, 0)`,
				who.UserID, who.DeviceID, alg, id, []byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if keysChanged && s.Remote != nil {
		s.Remote.KeysChanged(ctx, who.UserID, who.DeviceID, up.DeviceKeys)
	}
	return s.OneTimeKeyCounts(ctx, who.UserID, who.DeviceID)
}

// RemoteKeysChanged records that a user of another server changed keys
// (an m.device_list_update EDU): local users sharing a room with them see
// the user in device_lists.changed and query again.
func (s *Store) RemoteKeysChanged(ctx context.Context, userID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.changed(ctx, tx, userID) })
}

func (s *Store) changed(ctx context.Context, tx *sql.Tx, userID string) error {
	pos, err := s.Next(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO e2e_key_changes (stream, user_id) VALUES (?, ?)`, pos, userID)
	return err
}

// DeviceChanged records that a user's devices changed (a device deleted),
// for the users who share a room with them.
func (s *Store) DeviceChanged(ctx context.Context, userID string, deviceIDs ...string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, d := range deviceIDs {
			for _, q := range []string{`DELETE FROM e2e_device_keys WHERE user_id = ? AND device_id = ?`,
				`DELETE FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?`,
				`DELETE FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ?`,
				`DELETE FROM e2e_to_device WHERE user_id = ? AND device_id = ?`} {
				if _, err := tx.ExecContext(ctx, q, userID, d); err != nil {
					return err
				}
			}
		}
		return s.changed(ctx, tx, userID)
	})
}

// OneTimeKeyCounts counts a device's unclaimed one-time keys by algorithm
// (signed_curve25519 always present, as clients expect).
func (s *Store) OneTimeKeyCounts(ctx context.Context, userID, deviceID string) (map[string]int, error) {
	rows, err := s.R.QueryContext(ctx, `SELECT algorithm, count(*) FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? GROUP BY algorithm`, userID, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[string]int{"signed_curve25519": 0}
	for rows.Next() {
		var alg string
		var n int
		if err := rows.Scan(&alg, &n); err != nil {
			return nil, err
		}
		counts[alg] = n
	}
	return counts, rows.Err()
}

// UnusedFallbackKeyTypes lists the algorithms of a device's fallback keys
// not yet used (device_unused_fallback_key_types).
func (s *Store) UnusedFallbackKeyTypes(ctx context.Context, userID, deviceID string) ([]string, error) {
	return dbutil.Strings(s.R.QueryContext(ctx, `SELECT algorithm FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0 ORDER BY algorithm`, userID, deviceID))
}

// QueryKeys implements clientapi.Keys for local users.
func (s *Store) QueryKeys(ctx context.Context, who clientapi.Identity, users map[string][]string) (*clientapi.KeysQueryResponse, error) {
	out := &clientapi.KeysQueryResponse{DeviceKeys: map[string]map[string]json.RawMessage{}, Failures: map[string]any{}}
	remote := map[string]map[string][]string{}
	for u, devs := range users {
		if !s.local(u) {
			if remote[serverOf(u)] == nil {
				remote[serverOf(u)] = map[string][]string{}
			}
			remote[serverOf(u)][u] = devs
			continue
		}
		out.DeviceKeys[u] = map[string]json.RawMessage{}
		sigs, err := signatures(ctx, s.R, u, who.UserID)
		if err != nil {
			return nil, err
		}
		rows, err := s.R.QueryContext(ctx, `SELECT device_id, json FROM e2e_device_keys WHERE user_id = ?`, u)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var d string
			var k []byte
			if err := rows.Scan(&d, &k); err != nil {
				rows.Close()
				return nil, err
			}
			if len(devs) == 0 || contains(devs, d) {
				if out.DeviceKeys[u][d], err = withSignatures(k, sigs[d]); err != nil {
					rows.Close()
					return nil, err
				}
			}
		}
		rows.Close()
		if err := s.crossSigningKeys(ctx, out, u, who.UserID, sigs); err != nil {
			return nil, err
		}
	}
	for server, us := range remote {
		if s.Remote == nil {
			out.Failures[server] = map[string]string{"errcode": "M_UNKNOWN", "error": "this server does not federate"}
			continue
		}
		got, err := s.Remote.QueryKeys(ctx, server, us)
		if err != nil {
			out.Failures[server] = map[string]string{"errcode": "M_UNKNOWN", "error": err.Error()}
			continue
		}
		for u := range us {
			out.DeviceKeys[u] = map[string]json.RawMessage{}
			for d, k := range got.DeviceKeys[u] {
				out.DeviceKeys[u][d] = k
			}
		}
		if err := s.remoteCrossSigningKeys(ctx, out, got, us, who.UserID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// QueryLocal answers another server's key query: local users only, their
// keys with their own signatures, no user-signing key.
func (s *Store) QueryLocal(ctx context.Context, users map[string][]string) (*clientapi.KeysQueryResponse, error) {
	local := map[string][]string{}
	for u, d := range users {
		if s.local(u) {
			local[u] = d
		}
	}
	return s.QueryKeys(ctx, clientapi.Identity{}, local)
}

// ClaimKeys implements clientapi.Keys: a one-time key is handed out once;
// with none left, the fallback key (marked used, still handed out).
func (s *Store) ClaimKeys(ctx context.Context, who clientapi.Identity, claim map[string]map[string]string) (*clientapi.KeysClaimResponse, error) {
	out := &clientapi.KeysClaimResponse{OneTimeKeys: map[string]map[string]map[string]json.RawMessage{}, Failures: map[string]any{}}
	remote := map[string]map[string]map[string]string{}
	local := map[string]map[string]string{}
	for u, devs := range claim {
		if s.local(u) {
			local[u] = devs
			continue
		}
		if remote[serverOf(u)] == nil {
			remote[serverOf(u)] = map[string]map[string]string{}
		}
		remote[serverOf(u)][u] = devs
	}
	for server, c := range remote {
		if s.Remote == nil {
			out.Failures[server] = map[string]string{"errcode": "M_UNKNOWN", "error": "this server does not federate"}
			continue
		}
		got, err := s.Remote.ClaimKeys(ctx, server, c)
		if err != nil {
			out.Failures[server] = map[string]string{"errcode": "M_UNKNOWN", "error": err.Error()}
			continue
		}
		for u, devs := range got {
			out.OneTimeKeys[u] = devs
		}
	}
	claim = local
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for u, devs := range claim {
			for d, alg := range devs {
				var id string
				var k []byte
				err := tx.QueryRowContext(ctx, `SELECT key_id, json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? ORDER BY key_id LIMIT 1`, u, d, alg).Scan(&id, &k)
				if err == nil {
					if _, err := tx.ExecContext(ctx, `DELETE FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? AND key_id = ?`, u, d, id); err != nil {
						return err
					}
				} else if errors.Is(err, sql.ErrNoRows) {
					err = tx.QueryRowContext(ctx, `SELECT key_id, json FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND algorithm = ?`, u, d, alg).Scan(&id, &k)
					if errors.Is(err, sql.ErrNoRows) {
						continue
					}
					if err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `UPDATE e2e_fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ? AND algorithm = ?`, u, d, alg); err != nil {
						return err
					}
				} else {
					return err
				}
				if out.OneTimeKeys[u] == nil {
					out.OneTimeKeys[u] = map[string]map[string]json.RawMessage{}
				}
				out.OneTimeKeys[u][d] = map[string]json.RawMessage{id: k}
			}
		}
		return nil
	})
	return out, err
}

// KeyChanges implements clientapi.Keys with sync tokens.
func (s *Store) KeyChanges(ctx context.Context, who clientapi.Identity, from, to string) ([]string, []string, error) {
	f, err := s.SyncPosition(from)
	if err != nil {
		return nil, nil, err
	}
	t, err := s.SyncPosition(to)
	if err != nil {
		return nil, nil, err
	}
	changed, err := s.Changed(ctx, who.UserID, f, t)
	if err != nil || s.EventPosition == nil {
		return changed, nil, err
	}
	if f, err = s.EventPosition(from); err != nil {
		return nil, nil, err
	}
	if t, err = s.EventPosition(to); err != nil {
		return nil, nil, err
	}
	left, err := s.Left(ctx, who.UserID, f, t)
	return changed, left, err
}

// Changed lists the users sharing a room with userID (and userID) whose
// keys changed after position from, up to to, and those whose master key
// userID signed in that span.
func (s *Store) Changed(ctx context.Context, userID string, from, to int64) ([]string, error) {
	return dbutil.Strings(s.R.QueryContext(ctx, `SELECT DISTINCT k.user_id FROM e2e_key_changes k WHERE k.stream > ? AND k.stream <= ? AND (k.user_id = ? OR EXISTS (
		SELECT 1 FROM current_state a JOIN current_state b ON a.room_id = b.room_id
		WHERE a.type = 'm.room.member' AND a.state_key = ? AND a.membership = 'join'
		AND b.type = 'm.room.member' AND b.state_key = k.user_id AND b.membership IN ('join', 'invite')))
		UNION SELECT p.user_id FROM e2e_key_changes_private p WHERE p.viewer = ? AND p.stream > ? AND p.stream <= ?
		ORDER BY 1`, from, to, userID, userID, userID, from, to))
}

// SendToDevice implements clientapi.ToDevice for local recipients
// ("*": each of the user's devices with keys or a login).
func (s *Store) SendToDevice(ctx context.Context, who clientapi.Identity, eventType string, messages map[string]map[string]json.RawMessage) error {
	remote := map[string]map[string]map[string]json.RawMessage{}
	local := map[string]map[string]json.RawMessage{}
	for u, devs := range messages {
		if s.local(u) {
			local[u] = devs
			continue
		}
		if remote[serverOf(u)] == nil {
			remote[serverOf(u)] = map[string]map[string]json.RawMessage{}
		}
		remote[serverOf(u)][u] = devs
	}
	if s.Remote != nil {
		for server, m := range remote {
			s.Remote.SendToDevice(ctx, server, who.UserID, eventType, m)
		}
	}
	return s.Deliver(ctx, who.UserID, eventType, local)
}

// Deliver queues messages of sender for local devices (from this server,
// or from an m.direct_to_device EDU).
func (s *Store) Deliver(ctx context.Context, sender, eventType string, messages map[string]map[string]json.RawMessage) error {
	who := clientapi.Identity{UserID: sender}
	return s.tx(ctx, func(tx *sql.Tx) error {
		for u, devs := range messages {
			for d, content := range devs {
				targets := []string{d}
				if d == "*" {
					var err error
					if targets, err = userDevices(ctx, tx, u); err != nil {
						return err
					}
				}
				ev, _ := json.Marshal(map[string]any{"type": eventType, "sender": who.UserID, "content": content})
				for _, t := range targets {
					pos, err := s.Next(ctx, tx)
					if err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO e2e_to_device (stream, user_id, device_id, json) VALUES (?, ?, ?, ?)`, pos, u, t, ev); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

func userDevices(ctx context.Context, tx *sql.Tx, userID string) ([]string, error) {
	return dbutil.Strings(tx.QueryContext(ctx, `SELECT device_id FROM devices WHERE user_id = ?`, userID))
}

// ToDeviceFor returns a device's messages after position since, up to to,
// and forgets those up to since: a sync with a token acknowledges what
// the sync that gave the token delivered.
func (s *Store) ToDeviceFor(ctx context.Context, userID, deviceID string, since, to int64) ([]json.RawMessage, error) {
	if since > 0 {
		if _, err := s.W.ExecContext(ctx, `DELETE FROM e2e_to_device WHERE user_id = ? AND device_id = ? AND stream <= ?`, userID, deviceID, since); err != nil {
			return nil, err
		}
	}
	rows, err := s.R.QueryContext(ctx, `SELECT json FROM e2e_to_device WHERE user_id = ? AND device_id = ? AND stream > ? AND stream <= ? ORDER BY stream`,
		userID, deviceID, since, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []json.RawMessage
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Left lists the users who no longer share a room with userID after a
// membership change between event stream positions from and to:
// device_lists.left ("Extensions to /sync": users "with whom we do not
// share any encrypted rooms anymore"). The candidates are those who left
// (or were banned from) a room userID had joined, and the members of the
// rooms userID left; as in the reference server, they are kept when no
// room is shared now, whether or not one was shared at from.
func (s *Store) Left(ctx context.Context, userID string, from, to int64) ([]string, error) {
	return dbutil.Strings(s.R.QueryContext(ctx, `SELECT DISTINCT x FROM (
		SELECT m.user_id AS x FROM membership_log m
		WHERE m.stream > ? AND m.stream <= ? AND m.membership IN ('leave', 'ban') AND m.user_id != ?
		AND EXISTS (SELECT 1 FROM membership_log u WHERE u.room_id = m.room_id AND u.user_id = ? AND u.membership = 'join' AND u.stream <= m.stream)
		UNION
		SELECT o.user_id AS x FROM membership_log me JOIN membership_log o ON o.room_id = me.room_id
		WHERE me.user_id = ? AND me.stream > ? AND me.stream <= ? AND me.membership IN ('leave', 'ban')
		AND o.user_id != ? AND o.membership = 'join' AND o.stream <= me.stream
	) WHERE NOT EXISTS (
		SELECT 1 FROM current_state a JOIN current_state b ON a.room_id = b.room_id
		WHERE a.type = 'm.room.member' AND a.state_key = ? AND a.membership = 'join'
		AND b.type = 'm.room.member' AND b.state_key = x AND b.membership IN ('join', 'invite'))
	ORDER BY x`, from, to, userID, userID, userID, from, to, userID, userID))
}
