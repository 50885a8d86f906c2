package e2ee

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"

	"github.com/mxkit/mxkit/clientapi"
)

// Cross-signing (content/client-server-api/modules/end_to_end_encryption.md,
// "Cross-signing"; content/server-server-api.md, "End-to-End Encryption").
// Keys are stored as uploaded and signatures apart, keyed by who signed:
// keys/query merges the owner's signatures and the querying user's, so
// that a signature of another user's master key is seen by its signer
// alone. A change of a user's keys or of the signatures of their own keys
// is a key change every user sharing a room with them sees; a signature
// of another user's master key is a change seen by the signer alone
// (e2e_key_changes_private).
const crossSigningSchema = `
CREATE TABLE IF NOT EXISTS e2e_cross_signing_keys (
	user_id TEXT NOT NULL,
	usage   TEXT NOT NULL,
	json    BLOB NOT NULL,
	PRIMARY KEY (user_id, usage)
);
CREATE TABLE IF NOT EXISTS e2e_signatures (
	signer        TEXT NOT NULL,
	signer_key_id TEXT NOT NULL,
	user_id       TEXT NOT NULL,
	key_id        TEXT NOT NULL,
	signature     TEXT NOT NULL,
	PRIMARY KEY (user_id, key_id, signer, signer_key_id)
);
CREATE TABLE IF NOT EXISTS e2e_key_changes_private (
	stream  INTEGER NOT NULL,
	user_id TEXT NOT NULL,
	viewer  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS e2e_key_changes_private_viewer ON e2e_key_changes_private (viewer, stream);
`

var _ clientapi.CrossSigning = (*Store)(nil)

// UploadSigningKeys implements clientapi.CrossSigning; the servers
// sharing a room with the user are sent an m.signing_key_update.
func (s *Store) UploadSigningKeys(ctx context.Context, who clientapi.Identity, keys map[string]json.RawMessage) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for usage, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO e2e_cross_signing_keys (user_id, usage, json) VALUES (?, ?, ?)`,
				who.UserID, usage, []byte(k)); err != nil {
				return err
			}
		}
		return s.changed(ctx, tx, who.UserID)
	})
	if err != nil {
		return err
	}
	return s.announceSigningKeys(ctx, who.UserID)
}

// announceSigningKeys sends the user's master and self-signing keys, as
// other servers see them, to the servers sharing a room with the user.
func (s *Store) announceSigningKeys(ctx context.Context, userID string) error {
	if s.Remote == nil {
		return nil
	}
	q, err := s.QueryLocal(ctx, map[string][]string{userID: {}})
	if err != nil {
		return err
	}
	s.Remote.SigningKeysChanged(ctx, userID, q.MasterKeys[userID], q.SelfSigningKeys[userID])
	return nil
}

// AddSignatures implements clientapi.CrossSigning. Signatures of the
// user's own devices are announced as m.device_list_update, of their
// master key as m.signing_key_update.
func (s *Store) AddSignatures(ctx context.Context, who clientapi.Identity, sigs []clientapi.KeySignature) error {
	own, ownKeys := false, false
	var devices []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		private := map[string]bool{}
		for _, sg := range sigs {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO e2e_signatures (signer, signer_key_id, user_id, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
				who.UserID, sg.SignerKeyID, sg.UserID, sg.KeyID, sg.Signature); err != nil {
				return err
			}
			if sg.UserID != who.UserID {
				private[sg.UserID] = true
				continue
			}
			own = true
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM e2e_device_keys WHERE user_id = ? AND device_id = ?`, who.UserID, sg.KeyID).Scan(&one)
			switch {
			case err == nil:
				devices = append(devices, sg.KeyID)
			case errors.Is(err, sql.ErrNoRows):
				ownKeys = true
			default:
				return err
			}
		}
		if own {
			if err := s.changed(ctx, tx, who.UserID); err != nil {
				return err
			}
		}
		for u := range private {
			pos, err := s.Next(ctx, tx)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO e2e_key_changes_private (stream, user_id, viewer) VALUES (?, ?, ?)`, pos, u, who.UserID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || !own || s.Remote == nil {
		return err
	}
	q, err := s.QueryLocal(ctx, map[string][]string{who.UserID: devices})
	if err != nil {
		return err
	}
	for _, d := range devices {
		s.Remote.KeysChanged(ctx, who.UserID, d, q.DeviceKeys[who.UserID][d])
	}
	if ownKeys {
		s.Remote.SigningKeysChanged(ctx, who.UserID, q.MasterKeys[who.UserID], q.SelfSigningKeys[who.UserID])
	}
	return nil
}

// signatures reads the signatures of userID's keys viewer may see (the
// owner's and the viewer's): key ID, signer, signer's key ID, signature.
func signatures(ctx context.Context, db *sql.DB, userID, viewer string) (map[string]map[string]map[string]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT key_id, signer, signer_key_id, signature FROM e2e_signatures WHERE user_id = ? AND signer IN (?, ?)`, userID, userID, viewer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]map[string]string{}
	for rows.Next() {
		var keyID, signer, signerKeyID, sig string
		if err := rows.Scan(&keyID, &signer, &signerKeyID, &sig); err != nil {
			return nil, err
		}
		if out[keyID] == nil {
			out[keyID] = map[string]map[string]string{}
		}
		if out[keyID][signer] == nil {
			out[keyID][signer] = map[string]string{}
		}
		out[keyID][signer][signerKeyID] = sig
	}
	return out, rows.Err()
}

// withSignatures merges the signatures of a key (by signer).
func withSignatures(key json.RawMessage, by map[string]map[string]string) (json.RawMessage, error) {
	for signer, sigs := range by {
		var err error
		if key, err = clientapi.MergeSignatures(key, signer, sigs); err != nil {
			return nil, err
		}
	}
	return key, nil
}

// crossSigningKeys adds the cross-signing keys of a local user to out,
// with the signatures viewer may see; the user-signing key only when the
// viewer is the user.
func (s *Store) crossSigningKeys(ctx context.Context, out *clientapi.KeysQueryResponse, userID, viewer string, sigs map[string]map[string]map[string]string) error {
	rows, err := s.R.QueryContext(ctx, `SELECT usage, json FROM e2e_cross_signing_keys WHERE user_id = ?`, userID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var usage string
		var k []byte
		if err := rows.Scan(&usage, &k); err != nil {
			return err
		}
		ck, err := clientapi.ParseCrossSigningKey(k)
		if err != nil {
			return err
		}
		key, err := withSignatures(k, sigs[ck.PublicKey])
		if err != nil {
			return err
		}
		switch {
		case usage == clientapi.UsageMaster:
			out.MasterKeys = setKey(out.MasterKeys, userID, key)
		case usage == clientapi.UsageSelfSigning:
			out.SelfSigningKeys = setKey(out.SelfSigningKeys, userID, key)
		case usage == clientapi.UsageUserSigning && viewer == userID:
			out.UserSigningKeys = setKey(out.UserSigningKeys, userID, key)
		}
	}
	return rows.Err()
}

func setKey(m map[string]json.RawMessage, userID string, k json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	m[userID] = k
	return m
}

// remoteCrossSigningKeys adds the master and self-signing keys of another
// server's users to out, with the viewer's own signatures of them.
func (s *Store) remoteCrossSigningKeys(ctx context.Context, out *clientapi.KeysQueryResponse, got *clientapi.KeysQueryResponse, users map[string][]string, viewer string) error {
	for u := range users {
		var sigs map[string]map[string]map[string]string
		for _, part := range []struct {
			usage string
			from  map[string]json.RawMessage
			to    *map[string]json.RawMessage
		}{{clientapi.UsageMaster, got.MasterKeys, &out.MasterKeys}, {clientapi.UsageSelfSigning, got.SelfSigningKeys, &out.SelfSigningKeys}} {
			k, ok := part.from[u]
			if !ok {
				continue
			}
			ck, err := clientapi.ParseCrossSigningKey(k)
			if err != nil || ck.UserID != u || !slices.Contains(ck.Usage, part.usage) {
				continue // not this user's key of this usage: dropped
			}
			if sigs == nil && viewer != "" {
				if sigs, err = signatures(ctx, s.R, u, viewer); err != nil {
					return err
				}
			}
			if k, err = clientapi.MergeSignatures(k, viewer, sigs[ck.PublicKey][viewer]); err != nil {
				continue
			}
			*part.to = setKey(*part.to, u, k)
		}
	}
	return nil
}
