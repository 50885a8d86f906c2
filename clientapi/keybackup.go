package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
)

// KeyBackup stores server-side backups of room keys
// (content/client-server-api/modules/end_to_end_encryption.md,
// "Server-side key backups", and the Key Backup API of
// data/api/client-server/key_backup.yaml). Optional: without it GET
// /room_keys/version answers 404 M_NOT_FOUND (no backup, what clients
// expect of a server without backups) and the other room_keys endpoints
// 404 M_UNRECOGNIZED.
//
// Backups are per user. A version string is never handed out twice for a
// user, even after its deletion, so that a client holding an old version
// cannot write to a new one by mistake. The current version is the newest
// one not deleted. The etag of a version changes whenever its keys change.
type KeyBackup interface {
	// CreateBackup creates a version, which becomes the current one,
	// and returns its version string.
	CreateBackup(ctx context.Context, userID, algorithm string, authData json.RawMessage) (string, error)
	// Backup returns a version ("" for the current one) with its count
	// and etag; a version unknown or deleted (or no version at all) is
	// 404 M_NOT_FOUND.
	Backup(ctx context.Context, userID, version string) (*BackupVersion, error)
	// UpdateBackup replaces the auth_data of a version (not deleted;
	// else 404 M_NOT_FOUND).
	UpdateBackup(ctx context.Context, userID, version string, authData json.RawMessage) error
	// DeleteBackup deletes a version and its keys. A version deleted
	// before is no error; one never created is 404 M_NOT_FOUND.
	DeleteBackup(ctx context.Context, userID, version string) error
	// RoomKeys returns the keys of a version (not deleted; else 404
	// M_NOT_FOUND) by room ID and session ID, only those of roomID and
	// sessionID when those are not empty.
	RoomKeys(ctx context.Context, userID, version, roomID, sessionID string) (map[string]map[string]json.RawMessage, error)
	// PutRoomKeys stores keys (room ID, session ID, KeyBackupData) in
	// the current version and returns its etag and count after. It
	// fails with 404 M_NOT_FOUND when the user has no backup, and with
	// WrongRoomKeysVersion when version is not the current one. A key
	// replaces the stored key of its session only when BetterSessionKey
	// says so; the check and the write are one atomic step.
	PutRoomKeys(ctx context.Context, userID, version string, keys map[string]map[string]json.RawMessage) (etag string, count int, err error)
	// DeleteRoomKeys deletes the keys of a version (not deleted; else
	// 404 M_NOT_FOUND), only those of roomID and sessionID when those
	// are not empty, and returns its etag and count after.
	DeleteRoomKeys(ctx context.Context, userID, version, roomID, sessionID string) (etag string, count int, err error)
}

// BackupVersion is the answer of GET /room_keys/version.
type BackupVersion struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Count     int             `json:"count"`
	Etag      string          `json:"etag"`
	Version   string          `json:"version"`
}

// CodeWrongRoomKeysVersion is the error of a key upload to a backup
// version that is not the current one.
const CodeWrongRoomKeysVersion = "M_WRONG_ROOM_KEYS_VERSION"

// WrongRoomKeysVersion is the 403 M_WRONG_ROOM_KEYS_VERSION error,
// carrying the current version as current_version.
func WrongRoomKeysVersion(current string) *Error {
	e := NewError(http.StatusForbidden, CodeWrongRoomKeysVersion, "version is not the current backup version")
	return e.With("current_version", current)
}

// SessionKeyRank is the part of a KeyBackupData that decides which of two
// keys of a session a backup keeps.
type SessionKeyRank struct {
	FirstMessageIndex int64 `json:"first_message_index"`
	ForwardedCount    int64 `json:"forwarded_count"`
	IsVerified        bool  `json:"is_verified"`
}

// BetterSessionKey reports whether proposed replaces stored as the key of
// a session ("Server-side key backups"): a verified key beats an
// unverified one; with the same is_verified, the lower
// first_message_index wins; with both equal, the lower forwarded_count.
// A tie keeps the stored key, as the reference server does (it replaces
// only on a strictly better key). Stored data that does not parse loses.
func BetterSessionKey(stored, proposed json.RawMessage) bool {
	var s, p SessionKeyRank
	if !s.read(stored) {
		return true
	}
	if !p.read(proposed) {
		return false
	}
	if s.IsVerified != p.IsVerified {
		return p.IsVerified
	}
	if s.FirstMessageIndex != p.FirstMessageIndex {
		return p.FirstMessageIndex < s.FirstMessageIndex
	}
	return p.ForwardedCount < s.ForwardedCount
}

func (r *SessionKeyRank) read(raw json.RawMessage) bool {
	return fields(raw, map[string]any{"first_message_index": &r.FirstMessageIndex, "forwarded_count": &r.ForwardedCount, "is_verified": &r.IsVerified})
}

// CheckKeyBackupData checks a KeyBackupData: an object with the four
// required fields of their types (first_message_index and forwarded_count
// integers, is_verified a boolean, session_data an object).
func CheckKeyBackupData(raw json.RawMessage) error {
	var k struct {
		FirstMessageIndex *json.Number
		ForwardedCount    *json.Number
		IsVerified        *bool
		SessionData       json.RawMessage
	}
	if !isObject(raw) || !fields(raw, map[string]any{"first_message_index": &k.FirstMessageIndex, "forwarded_count": &k.ForwardedCount,
		"is_verified": &k.IsVerified, "session_data": &k.SessionData}) {
		return BadJSON("key data must be an object with first_message_index, forwarded_count, is_verified and session_data")
	}
	for name, n := range map[string]*json.Number{"first_message_index": k.FirstMessageIndex, "forwarded_count": k.ForwardedCount} {
		if n == nil {
			return BadJSON("key data: " + name + " is required")
		}
		if v, err := n.Int64(); err != nil || v < 0 {
			return BadJSON("key data: " + name + " must be a non-negative integer")
		}
	}
	if k.IsVerified == nil {
		return BadJSON("key data: is_verified is required")
	}
	if !isObject(k.SessionData) {
		return BadJSON("key data: session_data must be an object")
	}
	return nil
}

func (s *Server) keyBackupRoutes(add addFunc) {
	L := legacyPrefixes
	add(L, "GET", "/room_keys/version", authRequired, (*call).backupVersion)
	add(L, "POST", "/room_keys/version", authRequired, (*call).createBackup)
	add(L, "GET", "/room_keys/version/{version}", authRequired, (*call).backupVersion)
	add(L, "PUT", "/room_keys/version/{version}", authRequired, (*call).updateBackup)
	add(L, "DELETE", "/room_keys/version/{version}", authRequired, (*call).deleteBackup)
	for _, p := range []string{"/room_keys/keys", "/room_keys/keys/{roomId}", "/room_keys/keys/{roomId}/{sessionId}"} {
		add(L, "GET", p, authRequired, (*call).getRoomKeys)
		add(L, "PUT", p, authRequired, (*call).putRoomKeys)
		add(L, "DELETE", p, authRequired, (*call).deleteRoomKeys)
	}
}

func (c *call) backupVersion() (any, error) {
	if c.s.KeyBackup == nil {
		return nil, NotFound("no current backup version")
	}
	return c.s.KeyBackup.Backup(c.ctx, c.who.UserID, c.r.PathValue("version"))
}

type backupBody struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Version   *string         `json:"version"`
}

func (c *call) decodeBackup() (backupBody, error) {
	var b backupBody
	if err := c.decode(&b, false); err != nil {
		return b, err
	}
	if b.Algorithm == "" {
		return b, MissingParam("algorithm is required")
	}
	if len(b.AuthData) == 0 {
		return b, MissingParam("auth_data is required")
	}
	if !isObject(b.AuthData) {
		return b, BadJSON("auth_data must be an object")
	}
	return b, nil
}

func (c *call) createBackup() (any, error) {
	if err := need(c.s.KeyBackup != nil); err != nil {
		return nil, err
	}
	b, err := c.decodeBackup()
	if err != nil {
		return nil, err
	}
	v, err := c.s.KeyBackup.CreateBackup(c.ctx, c.who.UserID, b.Algorithm, b.AuthData)
	if err != nil {
		return nil, err
	}
	return map[string]string{"version": v}, nil
}

// updateBackup changes only auth_data: the algorithm must be the
// version's, and a version in the body must be the path's (400
// M_INVALID_PARAM for either).
func (c *call) updateBackup() (any, error) {
	if err := need(c.s.KeyBackup != nil); err != nil {
		return nil, err
	}
	b, err := c.decodeBackup()
	if err != nil {
		return nil, err
	}
	version := c.r.PathValue("version")
	if b.Version != nil && *b.Version != version {
		return nil, InvalidParam("the version in the body does not match the one in the path")
	}
	cur, err := c.s.KeyBackup.Backup(c.ctx, c.who.UserID, version)
	if err != nil {
		return nil, err
	}
	if cur.Algorithm != b.Algorithm {
		return nil, InvalidParam("the algorithm of a backup version cannot change")
	}
	return struct{}{}, c.s.KeyBackup.UpdateBackup(c.ctx, c.who.UserID, version, b.AuthData)
}

func (c *call) deleteBackup() (any, error) {
	if err := need(c.s.KeyBackup != nil); err != nil {
		return nil, err
	}
	return struct{}{}, c.s.KeyBackup.DeleteBackup(c.ctx, c.who.UserID, c.r.PathValue("version"))
}

// backupVersionParam reads the required ?version=.
func (c *call) backupVersionParam() (string, error) {
	if err := need(c.s.KeyBackup != nil); err != nil {
		return "", err
	}
	v := c.r.URL.Query().Get("version")
	if v == "" {
		return "", MissingParam("version is required")
	}
	return v, nil
}

// getRoomKeys answers the keys of the whole backup ({"rooms": ...}), of
// a room ({"sessions": ...}, empty when the room has none) or of one
// session (its KeyBackupData; 404 M_NOT_FOUND when there is none).
func (c *call) getRoomKeys() (any, error) {
	version, err := c.backupVersionParam()
	if err != nil {
		return nil, err
	}
	room, session := c.r.PathValue("roomId"), c.r.PathValue("sessionId")
	keys, err := c.s.KeyBackup.RoomKeys(c.ctx, c.who.UserID, version, room, session)
	if err != nil {
		return nil, err
	}
	switch {
	case session != "":
		k, ok := keys[room][session]
		if !ok {
			return nil, NotFound("no key for this session in the backup")
		}
		return k, nil
	case room != "":
		return roomSessions(keys[room]), nil
	}
	rooms := map[string]any{}
	for r, ss := range keys {
		rooms[r] = roomSessions(ss)
	}
	return map[string]any{"rooms": rooms}, nil
}

func roomSessions(ss map[string]json.RawMessage) map[string]any {
	if ss == nil {
		ss = map[string]json.RawMessage{}
	}
	return map[string]any{"sessions": ss}
}

// putRoomKeys reads the keys at the granularity of the path, checks each
// KeyBackupData and hands them to the backend, which keeps the better
// key of each session.
func (c *call) putRoomKeys() (any, error) {
	if err := need(c.s.KeyBackup != nil); err != nil {
		return nil, err
	}
	room, session := c.r.PathValue("roomId"), c.r.PathValue("sessionId")
	keys := map[string]map[string]json.RawMessage{}
	switch {
	case session != "":
		var k json.RawMessage
		if err := c.decode(&k, false); err != nil {
			return nil, err
		}
		keys[room] = map[string]json.RawMessage{session: k}
	case room != "":
		var b struct {
			Sessions map[string]json.RawMessage `json:"sessions"`
		}
		if err := c.decode(&b, false); err != nil {
			return nil, err
		}
		if b.Sessions == nil {
			return nil, MissingParam("sessions is required")
		}
		keys[room] = b.Sessions
	default:
		var b struct {
			Rooms map[string]struct {
				Sessions map[string]json.RawMessage `json:"sessions"`
			} `json:"rooms"`
		}
		if err := c.decode(&b, false); err != nil {
			return nil, err
		}
		if b.Rooms == nil {
			return nil, MissingParam("rooms is required")
		}
		for r, ss := range b.Rooms {
			if ss.Sessions == nil {
				return nil, MissingParam("rooms." + r + ".sessions is required")
			}
			keys[r] = ss.Sessions
		}
	}
	for _, ss := range keys {
		for _, k := range ss {
			if err := CheckKeyBackupData(k); err != nil {
				return nil, err
			}
		}
	}
	version, err := c.backupVersionParam()
	if err != nil {
		return nil, err
	}
	etag, count, err := c.s.KeyBackup.PutRoomKeys(c.ctx, c.who.UserID, version, keys)
	if err != nil {
		return nil, err
	}
	return map[string]any{"etag": etag, "count": count}, nil
}

func (c *call) deleteRoomKeys() (any, error) {
	version, err := c.backupVersionParam()
	if err != nil {
		return nil, err
	}
	etag, count, err := c.s.KeyBackup.DeleteRoomKeys(c.ctx, c.who.UserID, version, c.r.PathValue("roomId"), c.r.PathValue("sessionId"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"etag": etag, "count": count}, nil
}
