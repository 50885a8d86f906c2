package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // substring; "" for success
		check   func(*Config) bool
	}{
		{name: "defaults", args: nil, check: func(c *Config) bool {
			return c.ServerName == "localhost:8008" && c.Listen == "127.0.0.1:8008" && c.FederationListen == "" &&
				c.DB == "./homeserver.db" && c.KeyPath == "./signing.key" && c.OpenRegistration == "auto"
		}},
		{name: "peers", args: []string{"--peer", "a.test=127.0.0.1:1", "--peer", "b.test=127.0.0.1:2"}, check: func(c *Config) bool {
			return c.Peers["a.test"] == "127.0.0.1:1" && c.Peers["b.test"] == "127.0.0.1:2"
		}},
		{name: "bad peer", args: []string{"--peer", "a.test"}, wantErr: "NAME=HOST:PORT"},
		{name: "bad peer address", args: []string{"--peer", "a.test=nowhere"}, wantErr: "peer a.test"},
		{name: "bad server name", args: []string{"--server-name", "no spaces allowed"}, wantErr: "--server-name"},
		{name: "plain HTTP off loopback", args: []string{"--listen", "0.0.0.0:8008"}, wantErr: "only allowed on loopback"},
		{name: "plain federation off loopback", args: []string{"--federation-listen", "192.0.2.1:8448"}, wantErr: "--federation-listen"},
		{name: "half TLS", args: []string{"--tls-cert", "c.pem"}, wantErr: "go together"},
		{name: "TLS off loopback", args: []string{"--listen", "0.0.0.0:8008", "--tls-cert", "c", "--tls-key", "k"}, check: func(c *Config) bool { return c.TLSCert == "c" }},
		{name: "registration", args: []string{"--open-registration=maybe"}, wantErr: "open-registration: want true, false or auto"},
		{name: "registration bare", args: []string{"--open-registration"}, check: func(c *Config) bool { return c.OpenRegistration == "true" }},
		{name: "registration bare then flag", args: []string{"--open-registration", "--log-level", "debug"}, check: func(c *Config) bool { return c.OpenRegistration == "true" }},
		{name: "registration false", args: []string{"--open-registration=false"}, check: func(c *Config) bool { return c.OpenRegistration == "false" }},
		{name: "registration auto", args: []string{"--open-registration=auto"}, check: func(c *Config) bool { return c.OpenRegistration == "auto" }},
		{name: "registration true", args: []string{"--open-registration=true"}, check: func(c *Config) bool { return c.OpenRegistration == "true" }},
		{name: "registration value apart", args: []string{"--open-registration", "false"}, wantErr: "--open-registration=false"},
		{name: "federation TLS alone", args: []string{"--federation-listen", "0.0.0.0:8448", "--federation-tls-cert", "c", "--federation-tls-key", "k"}, check: func(c *Config) bool {
			cert, key := c.federationCert()
			return c.TLSCert == "" && cert == "c" && key == "k" && c.federationTLS()
		}},
		{name: "federation TLS leaves the client plain", args: []string{"--listen", "0.0.0.0:8008", "--federation-tls-cert", "c", "--federation-tls-key", "k"}, wantErr: "--listen 0.0.0.0:8008: plain HTTP"},
		{name: "half federation TLS", args: []string{"--federation-tls-key", "k"}, wantErr: "go together"},
		{name: "federation TLS overrides", args: []string{"--tls-cert", "c", "--tls-key", "k", "--federation-tls-cert", "fc", "--federation-tls-key", "fk"}, check: func(c *Config) bool {
			cert, _ := c.federationCert()
			return cert == "fc" && c.TLSCert == "c"
		}},
		{name: "federation CA and private addresses", args: []string{"--federation-ca", "ca.pem", "--allow-private-addresses"}, check: func(c *Config) bool {
			return c.FederationCA == "ca.pem" && c.AllowPrivateAddresses
		}},
		{name: "private addresses off by default", args: nil, check: func(c *Config) bool { return !c.AllowPrivateAddresses && c.FederationCA == "" }},
		{name: "default room version", args: nil, check: func(c *Config) bool { return c.DefaultRoomVersion == "12" }},
		{name: "room version 10", args: []string{"--default-room-version", "10"}, check: func(c *Config) bool { return c.DefaultRoomVersion == "10" }},
		{name: "unknown room version", args: []string{"--default-room-version", "99"}, wantErr: "--default-room-version"},
		{name: "bad listen", args: []string{"--listen", "nocolon"}, wantErr: "--listen"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected argument"},
		{name: "log level", args: []string{"--log-level", "loud"}, wantErr: "--log-level"},
		{name: "appservices", args: []string{"--appservice", "a.yaml", "--appservice", "b.yaml"}, check: func(c *Config) bool {
			return len(c.AppServices) == 2 && c.AppServices[0] == "a.yaml" && c.AppServices[1] == "b.yaml"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

// TestBadConfigExits checks the program itself: a bad flag is a clear
// message and exit status 2; an unreadable key file exit status 1.
func TestBadConfigExits(t *testing.T) {
	run := func(args ...string) (int, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "MXKIT_HOMESERVER_MAIN=1", "MXKIT_HOMESERVER_ARGS="+strings.Join(args, " "))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stderr.String()
	}
	if code, msg := run("--listen", "0.0.0.0:1"); code != 2 || !strings.Contains(msg, "plain HTTP is only allowed on loopback") {
		t.Errorf("non-loopback listen: exit %d, %q", code, msg)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "bad.key")
	os.WriteFile(key, []byte("not a key\n"), 0o600)
	if code, msg := run("--listen", "127.0.0.1:0", "--key", key, "--db", filepath.Join(dir, "x.db")); code != 1 || !strings.Contains(msg, "signing key") {
		t.Errorf("bad key file: exit %d, %q", code, msg)
	}
	// A registration file is read at start-up, as the key is: a bad one is
	// exit status 1, with one line naming the file.
	reg := filepath.Join(dir, "bridge.yaml")
	os.WriteFile(reg, []byte("id: bridge\nurl: null\n"), 0o600)
	code, msg := run("--listen", "127.0.0.1:0", "--key", filepath.Join(dir, "ok.key"), "--db", filepath.Join(dir, "y.db"), "--appservice", reg)
	if lines := strings.Split(strings.TrimSpace(msg), "\n"); code != 1 || !strings.Contains(msg, "bridge.yaml") || !strings.Contains(lines[len(lines)-1], "bridge.yaml") {
		t.Errorf("bad registration file: exit %d, %q", code, msg)
	}
	if code, msg := run("--listen", "127.0.0.1:0", "--key", filepath.Join(dir, "ok.key"), "--db", filepath.Join(dir, "y.db"), "--appservice", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(msg, "missing.yaml") {
		t.Errorf("missing registration file: exit %d, %q", code, msg)
	}
}

// TestKeyPersists checks that the signing key is generated once and read
// back on the next start.
func TestKeyPersists(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.key")
	log := discardLog()
	k1, err := loadOrCreateKey(path, log)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadOrCreateKey(path, log)
	if err != nil {
		t.Fatal(err)
	}
	if k1.ID != k2.ID || !k1.Private.Equal(k2.Private) {
		t.Fatalf("the key changed between starts: %s, %s", k1.ID, k2.ID)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}

func FuzzParseSyncPos(f *testing.F) {
	for _, s := range []string{"", "s0_0", "s12_3", "s-1_0", "s1", "x", "s99999999999999999999_0", "s1_2_3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseSyncPos(s)
		if err != nil || s == "" {
			return
		}
		// A token that parses round-trips through its string form.
		q, err := parseSyncPos(p.String())
		if err != nil || q != p {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, p, p.String(), q, err)
		}
	})
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`[["m.room.create","","$a"],["m.room.member","@u:x","$b"]]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil {
			return
		}
		again, err := decodeState(encodeState(st))
		if err != nil || len(again) != len(st) {
			t.Fatalf("state does not round-trip: %v -> %v, %v", st, again, err)
		}
		for k, v := range st {
			if again[k] != v {
				t.Fatalf("key %v: %q became %q", k, v, again[k])
			}
		}
	})
}

func TestSyncPosTokens(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want syncPos
		bad  bool
	}{
		{in: "", want: syncPos{}},
		{in: "s1_2", want: syncPos{1, 2, 0}}, // tokens of the two-part form stay valid
		{in: "s1_2_3", want: syncPos{1, 2, 3}},
		{in: "s1", bad: true},
		{in: "s1_2_3_4", bad: true},
		{in: "s1_-2", bad: true},
		{in: "sx_1", bad: true},
	} {
		got, err := parseSyncPos(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
			t.Errorf("parseSyncPos(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// TestRateLimitFlag: rate limits are on unless --rate-limit=false, and a
// burst of sends past them is refused with 429 M_LIMIT_EXCEEDED.
func TestRateLimitFlag(t *testing.T) {
	on, err := parseFlags(nil, io.Discard)
	if err != nil || !on.RateLimit {
		t.Fatalf("default: %v %v", on.RateLimit, err)
	}
	off, err := parseFlags([]string{"--rate-limit=false"}, io.Discard)
	if err != nil || off.RateLimit {
		t.Fatalf("--rate-limit=false: %v %v", off.RateLimit, err)
	}
	dir := t.TempDir()
	cfg := &Config{ServerName: "rl.test", Listen: "127.0.0.1:0", DB: dir + "/hs.db", KeyPath: dir + "/k", OpenRegistration: "true", RateLimit: true}
	hs, err := New(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	if err := hs.Listen(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	hs.Serve(errc)
	defer hs.Shutdown(t.Context())
	alice := register(t, hs.ClientURL(), "alice")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{}, &room)
	// The 200 sends go at once (not one after the other), so that the
	// bucket (50, refilled at 10/s) cannot refill between them on a slow
	// machine.
	var limited atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if code, _ := alice.do("PUT", "/rooms/"+room.RoomID+"/send/m.room.message/"+strconv.Itoa(i), map[string]string{"body": "x"}, nil); code == 429 {
				limited.Add(1)
			}
		})
	}
	wg.Wait()
	if limited.Load() == 0 {
		t.Fatalf("200 sends at once were all taken")
	}
}
