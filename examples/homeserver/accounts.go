package main

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/mxkit/mxkit/appservice"
	"github.com/mxkit/mxkit/clientapi"
)

// Accounts implements clientapi's TokenLookup, Accounts and Registration
// on the database.
type Accounts struct {
	name string
	db   *Store
	as   *asParts // nil without application services
	// remote answers for other servers' users (nil without federation).
	remote *remoteProfiles
	// profileChanged is told of a new display name or avatar.
	profileChanged func(ctx context.Context, who clientapi.Identity)
	// accessTokenLifetime is Config.AccessTokenLifetime (sessions.go).
	accessTokenLifetime time.Duration
	// admins are the server administrators; conns throttles the
	// connection log of whois (moderation.go).
	admins map[string]bool
	conns  connectionLog
}

var (
	_ clientapi.TokenLookup  = (*Accounts)(nil)
	_ clientapi.Accounts     = (*Accounts)(nil)
	_ clientapi.Registration = (*Accounts)(nil)
)

// Passwords are stored as argon2id (RFC 9106) in the PHC string format,
// "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>" (unpadded
// standard Base64), with OWASP's recommended parameters (m=19 MiB, t=2,
// p=1). Hashes of an earlier scheme or other parameters (PBKDF2-SHA256,
// "pbkdf2$60000$<salt>$<key>", written before) are checked as they are
// and replaced at the next successful login.
const (
	argonMemory  = 19 * 1024 // KiB
	argonPasses  = 2
	argonLanes   = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// legacyPBKDF2Iterations is the work factor of the PBKDF2 hashes written
// before argon2id.
const legacyPBKDF2Iterations = 60000

func hashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonPasses, argonMemory, argonLanes, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonPasses, argonLanes,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// passwordChecks counts the hashes computed to check passwords (a test
// reads it to see unknown users cost one too).
var passwordChecks atomic.Int64

// dummyHash is checked against for users that do not exist, so that a
// login for an unknown user costs what one for a known user costs.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword(randomString(16))
	return h
})

// checkPassword reports whether pw matches the stored hash, and whether
// the hash should be replaced by one of the current scheme.
func checkPassword(stored, pw string) (ok, rehash bool) {
	passwordChecks.Add(1)
	if strings.HasPrefix(stored, "pbkdf2$") {
		return checkPBKDF2(stored, pw), true
	}
	var version, memory, passes int
	var lanes uint8
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, false
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &lanes); err != nil ||
		memory < 8 || memory > 1<<22 || passes < 1 || passes > 100 || lanes < 1 {
		return false, false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 1024 {
		return false, false
	}
	key := argon2.IDKey([]byte(pw), salt, uint32(passes), uint32(memory), lanes, uint32(len(want)))
	ok = subtle.ConstantTimeCompare(key, want) == 1
	return ok, ok && (memory != argonMemory || passes != argonPasses || lanes != argonLanes || len(want) != argonKeyLen)
}

func checkPBKDF2(stored, pw string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2" || parts[1] != "60000" {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, pw, []byte(parts[2]), legacyPBKDF2Iterations, 32)
	if err != nil {
		return false
	}
	want, err := hex.DecodeString(parts[3])
	return err == nil && subtle.ConstantTimeCompare(key, want) == 1
}

// LookupToken implements clientapi.TokenLookup.
func (a *Accounts) LookupToken(ctx context.Context, token string, as clientapi.Masquerade) (clientapi.Identity, error) {
	if a.as != nil {
		// An application service's as_token, acting as its sender or as
		// the user_id (and device_id) it asks for.
		if who, ok, err := a.as.identity(ctx, token, as, a); ok {
			return who, err
		}
	}
	// One query: the token, its expiry (sessions.go) and the account's
	// moderation state (moderation.go).
	var who clientapi.Identity
	var expires sql.NullInt64
	var parent sql.NullString
	var locked, suspended sql.NullBool
	err := a.db.queryRow(ctx, `SELECT t.user_id, t.device_id, m.expires_ts, m.parent, a.locked, a.suspended FROM tokens t
		LEFT JOIN token_meta m ON m.token = t.token LEFT JOIN account_moderation a ON a.user_id = t.user_id
		WHERE t.token = ?`, token).Scan(&who.UserID, &who.DeviceID, &expires, &parent, &locked, &suspended)
	if errors.Is(err, sql.ErrNoRows) {
		return who, clientapi.ErrUnknownToken
	}
	if err != nil {
		return who, err
	}
	who.AccessToken = token
	if err := a.checkTokenMeta(ctx, token, expires.Int64, parent.String); err != nil {
		return who, err
	}
	who.Locked, who.Suspended = locked.Bool, suspended.Bool
	a.noteConnection(ctx, who, token)
	return who, nil
}

// UserExists implements appservice.Accounts.
func (a *Accounts) UserExists(ctx context.Context, userID string) (bool, error) {
	var n int
	err := a.db.queryRow(ctx, `SELECT count(*) FROM users WHERE user_id = ?`, userID).Scan(&n)
	return n > 0, err
}

// DeviceExists implements appservice.Accounts.
func (a *Accounts) DeviceExists(ctx context.Context, userID, deviceID string) (bool, error) {
	var n int
	err := a.db.queryRow(ctx, `SELECT count(*) FROM devices WHERE user_id = ? AND device_id = ?`, userID, deviceID).Scan(&n)
	return n > 0, err
}

// CheckPassword implements clientapi.Accounts.
func (a *Accounts) CheckPassword(ctx context.Context, userID, password string) error {
	var stored string
	err := a.db.queryRow(ctx, `SELECT password_hash FROM users WHERE user_id = ?`, userID).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		checkPassword(dummyHash(), password) // the same work as for a user that exists
		return clientapi.Forbidden("invalid username or password")
	} else if err != nil {
		return err
	}
	ok, rehash := checkPassword(stored, password)
	if !ok {
		return clientapi.Forbidden("invalid username or password")
	}
	if rehash {
		if h, err := hashPassword(password); err == nil {
			// Only if the hash is still the one checked: a password
			// changed meanwhile stays changed.
			_, err = a.db.w.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE user_id = ? AND password_hash = ?`, h, userID, stored)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Login implements clientapi.Accounts.
func (a *Accounts) Login(ctx context.Context, req clientapi.LoginRequest) (clientapi.Credentials, error) {
	if req.AppService != "" {
		// m.login.application_service: the user must be one the service
		// is interested in (M_EXCLUSIVE) and exist (as the reference
		// server, which answers 403 M_FORBIDDEN for an unknown user).
		if a.as == nil {
			return clientapi.Credentials{}, clientapi.ErrUnknownToken
		}
		if err := a.as.reg.CheckLogin(req.UserID, a.as.reg.ByID(req.AppService)); err != nil {
			return clientapi.Credentials{}, err
		}
		if ok, err := a.UserExists(ctx, req.UserID); err != nil {
			return clientapi.Credentials{}, err
		} else if !ok {
			return clientapi.Credentials{}, clientapi.Forbidden("unknown user " + req.UserID)
		}
	}
	if st, err := a.moderation(ctx, req.UserID); err != nil {
		return clientapi.Credentials{}, err
	} else if st.Locked {
		return clientapi.Credentials{}, errUserLocked
	}
	c := clientapi.Credentials{UserID: req.UserID, DeviceID: req.DeviceID, AccessToken: "mxk_" + randomString(32)}
	if c.DeviceID == "" {
		c.DeviceID = randomString(10)
	}
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (user_id, device_id, display_name) VALUES (?, ?, ?)
			ON CONFLICT (user_id, device_id) DO NOTHING`, c.UserID, c.DeviceID, req.InitialDisplayName); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (token, user_id, device_id) VALUES (?, ?, ?)`, c.AccessToken, c.UserID, c.DeviceID); err != nil {
			return err
		}
		if req.RefreshToken && a.tokenLifetime() > 0 {
			t, err := a.issueRefreshable(ctx, tx, c.UserID, c.DeviceID, c.AccessToken, "")
			c.RefreshToken, c.ExpiresInMS = t.RefreshToken, t.ExpiresInMS
			return err
		}
		return nil
	})
	return c, err
}

// Logout implements clientapi.Accounts.
func (a *Accounts) Logout(ctx context.Context, who clientapi.Identity) error {
	return a.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND device_id = ?`, who.UserID, who.DeviceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = ? AND device_id = ?`, who.UserID, who.DeviceID)
		return err
	})
}

// LogoutAll implements clientapi.Accounts.
func (a *Accounts) LogoutAll(ctx context.Context, userID string) error {
	return a.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ?`, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = ?`, userID)
		return err
	})
}

// Available implements clientapi.Registration.
func (a *Accounts) Available(ctx context.Context, localpart string) (bool, error) {
	if err := a.checkNamespace(ctx, "@"+localpart+":"+a.name, a.requestService(ctx)); err != nil {
		return false, err
	}
	var n int
	err := a.db.queryRow(ctx, `SELECT count(*) FROM users WHERE user_id = ?`, "@"+localpart+":"+a.name).Scan(&n)
	return n == 0, err
}

// Register implements clientapi.Registration.
func (a *Accounts) Register(ctx context.Context, userID, password, appService string) error {
	if err := a.checkNamespace(ctx, userID, appService); err != nil {
		return err
	}
	h := ""
	if password != "" {
		var err error
		if h, err = hashPassword(password); err != nil {
			return err
		}
	}
	return a.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (user_id, password_hash, appservice, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			userID, h, appService, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return clientapi.NewError(http.StatusBadRequest, "M_USER_IN_USE", "user ID already taken")
		}
		return nil
	})
}

// requestService returns the application service that authenticated the
// request, "" for a user or an unauthenticated request.
func (a *Accounts) requestService(ctx context.Context) string {
	who, _ := clientapi.IdentityFromContext(ctx)
	return who.AppService
}

// checkNamespace is M_EXCLUSIVE for creating userID: by a user inside a
// service's exclusive namespace, or by a service outside its own
// (content/application-service-api.md, "Server admin style permissions").
func (a *Accounts) checkNamespace(ctx context.Context, userID, appService string) error {
	if a.as == nil {
		if appService != "" {
			return clientapi.ErrUnknownToken
		}
		return nil
	}
	var by *appservice.Registration
	if appService != "" {
		if by = a.as.reg.ByID(appService); by == nil {
			return clientapi.ErrUnknownToken
		}
	}
	return a.as.reg.CheckUserID(userID, by)
}

// Profile implements clientapi.Profile.
func (a *Accounts) Profile(ctx context.Context, userID string) (map[string]any, error) {
	if a.remote != nil && serverOf(userID) != a.name {
		return a.remote.get(ctx, userID)
	}
	var n int
	if err := a.db.queryRow(ctx, `SELECT count(*) FROM users WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 && a.as != nil && a.as.queryUser(ctx, userID) {
		// A user of a service's namespace that the service has just
		// created (content/application-service-api.md, "Querying").
		if err := a.db.queryRow(ctx, `SELECT count(*) FROM users WHERE user_id = ?`, userID).Scan(&n); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, clientapi.NotFound("unknown user")
	}
	rows, err := a.db.query(ctx, `SELECT field, value FROM profiles WHERE user_id = ?`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]any{}
	for rows.Next() {
		var f, v string
		if err := rows.Scan(&f, &v); err != nil {
			return nil, err
		}
		var val any
		if jsonUnmarshal([]byte(v), &val) == nil {
			out[f] = val
		}
	}
	return out, rows.Err()
}

// SetProfileField implements clientapi.Profile.
func (a *Accounts) SetProfileField(ctx context.Context, who clientapi.Identity, field string, value any) error {
	err := a.setProfileField(ctx, who, field, value)
	if err == nil && a.profileChanged != nil && (field == "displayname" || field == "avatar_url") {
		a.profileChanged(ctx, who)
	}
	return err
}

func (a *Accounts) setProfileField(ctx context.Context, who clientapi.Identity, field string, value any) error {
	return a.db.Tx(ctx, func(tx *sql.Tx) error {
		if value == nil {
			_, err := tx.ExecContext(ctx, `DELETE FROM profiles WHERE user_id = ? AND field = ?`, who.UserID, field)
			return err
		}
		b, err := jsonMarshal(value)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO profiles (user_id, field, value) VALUES (?, ?, ?) ON CONFLICT (user_id, field) DO UPDATE SET value = excluded.value`, who.UserID, field, string(b))
		return err
	})
}
