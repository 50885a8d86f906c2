package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxkit/mxkit/clientapi"
)

func TestParseRegistrationTokens(t *testing.T) {
	good := "# tokens\n\nabc\n  team-A_1.~ 3 \nzz 1\n"
	list, err := parseRegistrationTokens([]byte(good))
	if err != nil || len(list) != 3 || list[0] != (regToken{"abc", 0}) || list[1] != (regToken{"team-A_1.~", 3}) || list[2] != (regToken{"zz", 1}) {
		t.Fatalf("%+v %v", list, err)
	}
	for _, bad := range []struct{ in, want string }{
		{"a b c", "line 1: want TOKEN"},
		{"ok\nsp@ce", "line 2"},
		{strings.Repeat("x", 65), "longer than 64"},
		{"a 0", "not a positive integer"},
		{"a -1", "not a positive integer"},
		{"a many", "not a positive integer"},
		{"a\na 2", "given twice"},
	} {
		if _, err := parseRegistrationTokens([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.in, err, bad.want)
		}
	}
}

func FuzzParseRegistrationTokens(f *testing.F) {
	f.Add([]byte("abc\nteam 3\n# c\n"))
	f.Add([]byte("a 99999999999999999999"))
	f.Add([]byte("\xff\x00 1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := parseRegistrationTokens(data)
		if err != nil {
			return
		}
		for _, tok := range list {
			if tok.usesAllowed < 0 || clientapi.ValidRegistrationToken(tok.token) != nil {
				t.Fatalf("parsed %+v from %q", tok, data)
			}
		}
	})
}

// TestRegistrationTokensServed registers with a token of limited uses
// against the homeserver: the validity endpoint, the UIA stage, the use
// counted at completed registration, and the token spent after its uses.
func TestRegistrationTokensServed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("# invitations\ntwice 2\nforever\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hs := startConfig(t, &Config{ServerName: "tokens.localhost", RegistrationTokens: file})
	base := hs.ClientURL()
	anon := &api{t: t, base: base}
	valid := func(tok string) any {
		_, body := anon.call("GET", "/v1/register/m.login.registration_token/validity?token="+tok, nil)
		return body["valid"]
	}
	if valid("twice") != true || valid("forever") != true || valid("never") != false {
		t.Fatal("validity of the file's tokens")
	}
	registerWith := func(user, token string) (int, map[string]any) {
		code, body := anon.call("POST", "/v3/register", map[string]any{"username": user, "password": "pw"})
		if code != 401 {
			t.Fatalf("register without auth: %d %v", code, body)
		}
		return anon.call("POST", "/v3/register", map[string]any{"username": user, "password": "pw",
			"auth": map[string]string{"type": "m.login.registration_token", "token": token, "session": body["session"].(string)}})
	}
	if code, body := registerWith("u1", "never"); code != 401 || body["errcode"] != "M_UNAUTHORIZED" {
		t.Fatalf("unknown token: %d %v", code, body)
	}
	for _, u := range []string{"u1", "u2"} {
		if code, body := registerWith(u, "twice"); code != 200 {
			t.Fatalf("register %s: %d %v", u, code, body)
		}
	}
	if valid("twice") != false {
		t.Fatal("the token is still valid after its two uses")
	}
	if code, body := registerWith("u3", "twice"); code != 401 || body["errcode"] != "M_UNAUTHORIZED" {
		t.Fatalf("third use: %d %v", code, body)
	}
	if code, body := registerWith("u3", "forever"); code != 200 {
		t.Fatalf("unlimited token: %d %v", code, body)
	}
}

// TestRegistrationTokenUsesSurviveRestart: the uses are counted in the
// database, so a restart with the same file does not renew the token.
func TestRegistrationTokenUsesSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("once 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{ServerName: "restart-tokens.localhost", Listen: "127.0.0.1:0", DB: filepath.Join(dir, "hs.db"),
		KeyPath: filepath.Join(dir, "signing.key"), OpenRegistration: "auto", RegistrationTokens: file}
	start := func() *Homeserver {
		hs, err := New(cfg, discardLog())
		if err != nil {
			t.Fatal(err)
		}
		if err := hs.Listen(); err != nil {
			hs.Close()
			t.Fatal(err)
		}
		hs.Serve(make(chan error, 2))
		return hs
	}
	stop := func(hs *Homeserver) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		hs.Close()
	}
	hs := start()
	anon := &api{t: t, base: hs.ClientURL()}
	if code, body := anon.call("POST", "/v3/register", map[string]any{"username": "first", "password": "pw",
		"auth": map[string]string{"type": "m.login.registration_token", "token": "once"}}); code != 200 {
		t.Fatalf("register: %d %v", code, body)
	}
	stop(hs)
	hs = start()
	defer stop(hs)
	anon = &api{t: t, base: hs.ClientURL()}
	if _, body := anon.call("GET", "/v1/register/m.login.registration_token/validity?token=once", nil); body["valid"] != false {
		t.Fatalf("after a restart the spent token is %v", body)
	}
}
