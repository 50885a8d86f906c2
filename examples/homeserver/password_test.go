package main

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestPasswordHashes(t *testing.T) {
	h, err := hashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, rehash := checkPassword(h, "correct horse"); !ok || rehash {
		t.Fatalf("own hash: ok=%v rehash=%v", ok, rehash)
	}
	if ok, _ := checkPassword(h, "correct horsE"); ok {
		t.Fatalf("a wrong password matched")
	}
	// A hash made with weaker parameters still checks, and asks to be
	// replaced; the parameters of the string are the ones used.
	salt := []byte("0123456789abcdef")
	weak := "$argon2id$v=19$m=8192,t=1,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$" +
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("correct horse"), salt, 1, 8192, 1, 32))
	if ok, rehash := checkPassword(weak, "correct horse"); !ok || !rehash {
		t.Fatalf("weaker hash: ok=%v rehash=%v", ok, rehash)
	}
	if ok, _ := checkPassword(strings.Replace(weak, "t=1", "t=2", 1), "correct horse"); ok {
		t.Fatalf("a hash checked with parameters it was not made with matched")
	}
	// The PBKDF2 hashes written before.
	key, _ := pbkdf2.Key(sha256.New, "old pw", []byte("saltsaltsaltsalt"), 60000, 32)
	legacy := "pbkdf2$60000$saltsaltsaltsalt$" + hex.EncodeToString(key)
	if ok, rehash := checkPassword(legacy, "old pw"); !ok || !rehash {
		t.Fatalf("legacy hash: ok=%v rehash=%v", ok, rehash)
	}
	for _, bad := range []string{"", "$argon2id$", "$argon2id$v=19$m=19456,t=2,p=1$!!$!!", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$a2V5",
		"$argon2id$v=18$m=19456,t=2,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdA$a2V5", "pbkdf2$1$x$00"} {
		if ok, _ := checkPassword(bad, ""); ok {
			t.Errorf("%q matched", bad)
		}
	}
}

// TestPasswordUpgradeAndUnknownUsers: a PBKDF2 hash is replaced by an
// argon2id one at the next login; a login for an unknown user computes a
// hash too, so that its time does not tell which users exist.
func TestPasswordUpgradeAndUnknownUsers(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "pw.test", false, nil)
	register(t, hs.hs.ClientURL(), "alice")
	ctx := context.Background()
	key, _ := pbkdf2.Key(sha256.New, "pw-alice", []byte("saltsaltsaltsalt"), 60000, 32)
	legacy := "pbkdf2$60000$saltsaltsaltsalt$" + hex.EncodeToString(key)
	if _, err := hs.hs.db.w.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE user_id = '@alice:pw.test'`, legacy); err != nil {
		t.Fatal(err)
	}
	login(t, hs.hs.ClientURL(), "alice")
	var stored string
	hs.hs.db.queryRow(ctx, `SELECT password_hash FROM users WHERE user_id = '@alice:pw.test'`).Scan(&stored)
	if !strings.HasPrefix(stored, "$argon2id$") {
		t.Fatalf("the legacy hash was not replaced: %q", stored)
	}
	login(t, hs.hs.ClientURL(), "alice")

	before := passwordChecks.Load()
	if err := hs.hs.acct.CheckPassword(ctx, "@nobody:pw.test", "guess"); err == nil {
		t.Fatal("an unknown user logged in")
	}
	if passwordChecks.Load() == before {
		t.Fatalf("a login for an unknown user computed no hash")
	}
}
