// Command homeserver is a small Matrix homeserver assembled from mxkit:
// the client-server API (package clientapi) and federation (package
// federation) wired to a storage layer on one embedded SQLite file.
//
// It is an example of putting the library together, and what the
// library is tested against with real client libraries (matrix-js-sdk,
// matrix-nio, mautrix-go) and with a second instance over federation.
//
//	go run ./examples/homeserver
//	go run ./examples/homeserver --server-name a.localhost:8008 --federation-listen 127.0.0.1:8448
//
// Point a client at http://127.0.0.1:8008 and register (registration is
// open on loopback). Everything is kept in --db (users, devices, access
// tokens, rooms, every event with its state and status, sync positions,
// keys and transactions); an answer is sent only after its transaction
// is committed, so stopping the server (even with SIGKILL) loses nothing
// that was acknowledged.
//
// Media (uploads, thumbnails, media fetched from other servers) is kept
// in --media-dir, files and a SQLite index (package media).
//
// Application services (bridges, bots) are registered with --appservice
// FILE (repeatable; package appservice): their as_tokens act as users of
// their namespaces, and the events they are interested in are pushed to
// them in stored, retried transactions.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// Config is the command line.
type Config struct {
	ServerName       string
	Listen           string
	FederationListen string
	DB               string
	KeyPath          string
	OpenRegistration string // "auto" (on for loopback), "true", "false"
	TLSCert, TLSKey  string
	Peers            map[string]string // server name -> host:port
	LogLevel         slog.Level
	// AppServices are the application service registration files.
	AppServices []string
	// RateLimit turns on clientapi's rate limits (DefaultRateLimits).
	RateLimit bool
	// Support is served at /.well-known/matrix/support (nil: 404).
	Support *clientapi.Support
	// AppServiceMinBackoff is the wait after a failed transaction to an
	// application service (0: the library's default, 2 s); tests shorten it.
	AppServiceMinBackoff time.Duration
	// FederationTLSCert and FederationTLSKey serve the federation listener
	// over TLS on their own, leaving the client API as --tls-cert says
	// (plain HTTP behind a reverse proxy, usually).
	FederationTLSCert, FederationTLSKey string
	// FederationCA is a PEM file of certificates trusted, besides the
	// system's roots, for outbound federation (a private CA, a
	// self-signed peer).
	FederationCA string
	// AllowPrivateAddresses lets federation reach servers on loopback and
	// private addresses (federation.Resolver.AllowPrivate).
	AllowPrivateAddresses bool
	// DefaultRoomVersion is the version of new rooms whose creator names
	// none ("": the library's default).
	DefaultRoomVersion string
	// MediaDir holds uploaded and cached media ("": a "media" directory
	// beside the database); MaxUploadSize bounds uploads and remote media.
	MediaDir      string
	MaxUploadSize int64
	// AccessTokenLifetime is the lifetime of the access tokens issued
	// with a refresh token (0: 5 minutes; negative: refresh tokens are
	// not issued, and every access token lives until logout).
	AccessTokenLifetime time.Duration
	// ServerAdmins are the user IDs allowed the server administration
	// endpoints (lock, suspend, whois of other users).
	ServerAdmins []string
	// RegistrationTokens is a file of registration tokens; when set,
	// registration needs one (m.login.registration_token).
	RegistrationTokens string
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// registrationFlag is --open-registration: a boolean flag (given alone
// it means true) that also takes auto.
type registrationFlag struct{ v *string }

func (r registrationFlag) String() string {
	if r.v == nil {
		return ""
	}
	return *r.v
}

func (r registrationFlag) Set(s string) error {
	switch s {
	case "auto", "true", "false":
		*r.v = s
		return nil
	}
	return fmt.Errorf("want true, false or auto, got %q", s)
}

// IsBoolFlag makes a bare --open-registration mean true (package flag).
func (r registrationFlag) IsBoolFlag() bool { return true }

type peerFlag map[string]string

func (p peerFlag) String() string { return "" }
func (p peerFlag) Set(s string) error {
	name, addr, ok := strings.Cut(s, "=")
	if !ok || name == "" || addr == "" {
		return fmt.Errorf("want NAME=HOST:PORT, got %q", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("peer %s: address %q: %v", name, addr, err)
	}
	p[name] = addr
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{Peers: map[string]string{}, OpenRegistration: "auto"}
	fs := flag.NewFlagSet("homeserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.ServerName, "server-name", "localhost:8008", "the server name (the domain of user and room IDs)")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8008", "address of the client API")
	fs.StringVar(&c.FederationListen, "federation-listen", "", "address of the federation API (default: off)")
	fs.StringVar(&c.DB, "db", "./homeserver.db", "the SQLite database file, created on first start")
	fs.StringVar(&c.KeyPath, "key", "./signing.key", "the signing key file, generated on first start")
	fs.Var(registrationFlag{&c.OpenRegistration}, "open-registration", "allow anyone to register: alone or =true, =false, or =auto (on when listening on loopback; the default)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM); with --tls-key, both APIs serve HTTPS")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&c.FederationTLSCert, "federation-tls-cert", "", "TLS certificate file (PEM) of the federation listener alone (overrides --tls-cert there)")
	fs.StringVar(&c.FederationTLSKey, "federation-tls-key", "", "TLS private key file (PEM) of the federation listener")
	fs.StringVar(&c.FederationCA, "federation-ca", "", "PEM file of CA or server certificates trusted for outbound federation, besides the system's roots")
	fs.BoolVar(&c.AllowPrivateAddresses, "allow-private-addresses", false, "let federation reach loopback and private addresses (test and lab networks only)")
	fs.StringVar(&c.DefaultRoomVersion, "default-room-version", roomversion.Default().ID, "the room version of new rooms whose creator names none")
	fs.Var(peerFlag(c.Peers), "peer", "NAME=HOST:PORT: reach the server NAME at this address instead of discovering it (repeatable)")
	fs.Var((*listFlag)(&c.AppServices), "appservice", "PATH: an application service registration file (YAML; repeatable)")
	fs.StringVar(&c.MediaDir, "media-dir", "", "directory of uploaded and cached media (default: \"media\" beside --db)")
	fs.Int64Var(&c.MaxUploadSize, "max-upload-size", 50<<20, "largest upload, and largest remote media fetched, in bytes")
	tokenLifetime := fs.Duration("access-token-lifetime", defaultAccessTokenLifetime, "lifetime of the access tokens of clients that ask for a refresh token (0: issue no refresh tokens)")
	fs.Var((*listFlag)(&c.ServerAdmins), "server-admin", "USER_ID: a server administrator, who may lock, suspend and look up users (repeatable)")
	fs.StringVar(&c.RegistrationTokens, "registration-tokens", "", "PATH: a file of registration tokens, one per line (TOKEN or TOKEN USES_ALLOWED); registration then requires one")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.RateLimit, "rate-limit", true, "limit how fast each user and address may make requests (429 M_LIMIT_EXCEEDED); --rate-limit=false turns it off")
	supportPage := fs.String("support-page", "", "URL of the server's support page, for /.well-known/matrix/support")
	var adminContacts listFlag
	fs.Var(&adminContacts, "admin-contact", "USER_ID or EMAIL: an administrator to contact, for /.well-known/matrix/support (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		if err := (registrationFlag{new(string)}).Set(fs.Arg(0)); err == nil {
			return nil, fmt.Errorf("unexpected argument %q (--open-registration takes its value after '=': --open-registration=%s)", fs.Arg(0), fs.Arg(0))
		}
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.AccessTokenLifetime = *tokenLifetime; c.AccessTokenLifetime <= 0 {
		c.AccessTokenLifetime = -1
	}
	if err := checkServerAdmins(c.ServerAdmins, c.ServerName); err != nil {
		return nil, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("--log-level: %v", err)
	}
	if err := clientapi.ValidServerName(c.ServerName); err != nil {
		return nil, fmt.Errorf("--server-name %q: %v", c.ServerName, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if (c.FederationTLSCert == "") != (c.FederationTLSKey == "") {
		return nil, errors.New("--federation-tls-cert and --federation-tls-key go together")
	}
	for _, a := range []struct {
		flag, addr, hint string
		tls              bool
	}{
		{"--listen", c.Listen, "--tls-cert and --tls-key", c.TLSCert != ""},
		{"--federation-listen", c.FederationListen, "--federation-tls-cert and --federation-tls-key (or --tls-cert and --tls-key)", c.federationTLS()},
	} {
		if a.addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a.addr)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %v", a.flag, a.addr, err)
		}
		if !a.tls && !isLoopback(host) {
			return nil, fmt.Errorf("%s %s: plain HTTP is only allowed on loopback; give %s", a.flag, a.addr, a.hint)
		}
	}
	if *supportPage != "" || len(adminContacts) > 0 {
		c.Support = &clientapi.Support{SupportPage: *supportPage}
		for _, a := range adminContacts {
			contact := clientapi.SupportContact{Role: "m.role.admin", EmailAddress: a}
			if strings.HasPrefix(a, "@") {
				contact = clientapi.SupportContact{Role: "m.role.admin", MatrixID: a}
			}
			c.Support.Contacts = append(c.Support.Contacts, contact)
		}
		if err := c.Support.Validate(); err != nil {
			return nil, fmt.Errorf("--admin-contact: %v", err)
		}
	}
	if _, ok := roomversion.Standard().Lookup(c.DefaultRoomVersion); !ok {
		return nil, fmt.Errorf("--default-room-version: unknown room version %q", c.DefaultRoomVersion)
	}
	if c.MaxUploadSize <= 0 {
		return nil, fmt.Errorf("--max-upload-size: want a positive number of bytes, got %d", c.MaxUploadSize)
	}
	return c, nil
}

// federationTLS says whether the federation listener serves TLS.
func (c *Config) federationTLS() bool { return c.TLSCert != "" || c.FederationTLSCert != "" }

// federationCert is the certificate and key of the federation listener
// ("" when it serves plain HTTP).
func (c *Config) federationCert() (cert, key string) {
	if c.FederationTLSCert != "" {
		return c.FederationTLSCert, c.FederationTLSKey
	}
	return c.TLSCert, c.TLSKey
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadOrCreateKey reads the signing key, or generates and writes one.
func loadOrCreateKey(path string, log *slog.Logger) (*signing.SigningKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		k, err := signing.ParseKeyFile(data)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	k, err := signing.GenerateKey("a_" + randomString(4))
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if _, err := f.Write(k.MarshalKeyFile()); err != nil {
		f.Close()
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	log.Info("generated a signing key", "path", path, "key_id", k.ID)
	return k, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "homeserver:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = Run(ctx, cfg, log, func(hs *Homeserver) {
		fmt.Println(hs.ReadyLine())
	})
	if err != nil {
		log.Error("homeserver stopped", "err", err)
		os.Exit(1)
	}
}

// Run starts the homeserver and serves until ctx ends; ready is called
// once the listeners are open.
func Run(ctx context.Context, cfg *Config, log *slog.Logger, ready func(*Homeserver)) error {
	hs, err := New(cfg, log)
	if err != nil {
		return err
	}
	defer hs.Close()
	if err := hs.Listen(); err != nil {
		return err
	}
	if ready != nil {
		ready(hs)
	}
	errc := make(chan error, 2)
	hs.Serve(errc)
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	return err
}
