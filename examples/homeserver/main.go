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
	// AppServiceMinBackoff is the wait after a failed transaction to an
	// application service (0: the library's default, 2 s); tests shorten it.
	AppServiceMinBackoff time.Duration
	// MediaDir holds uploaded and cached media ("": a "media" directory
	// beside the database); MaxUploadSize bounds uploads and remote media.
	MediaDir      string
	MaxUploadSize int64
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

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
	c := &Config{Peers: map[string]string{}}
	fs := flag.NewFlagSet("homeserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.ServerName, "server-name", "localhost:8008", "the server name (the domain of user and room IDs)")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8008", "address of the client API")
	fs.StringVar(&c.FederationListen, "federation-listen", "", "address of the federation API (default: off)")
	fs.StringVar(&c.DB, "db", "./homeserver.db", "the SQLite database file, created on first start")
	fs.StringVar(&c.KeyPath, "key", "./signing.key", "the signing key file, generated on first start")
	fs.StringVar(&c.OpenRegistration, "open-registration", "auto", "allow anyone to register: true, false, or auto (on when listening on loopback)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM); with --tls-key, both APIs serve HTTPS")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.Var(peerFlag(c.Peers), "peer", "NAME=HOST:PORT: reach the server NAME at this address instead of discovering it (repeatable)")
	fs.Var((*listFlag)(&c.AppServices), "appservice", "PATH: an application service registration file (YAML; repeatable)")
	fs.StringVar(&c.MediaDir, "media-dir", "", "directory of uploaded and cached media (default: \"media\" beside --db)")
	fs.Int64Var(&c.MaxUploadSize, "max-upload-size", 50<<20, "largest upload, and largest remote media fetched, in bytes")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
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
	for _, a := range []struct{ flag, addr string }{{"--listen", c.Listen}, {"--federation-listen", c.FederationListen}} {
		if a.addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a.addr)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %v", a.flag, a.addr, err)
		}
		if c.TLSCert == "" && !isLoopback(host) {
			return nil, fmt.Errorf("%s %s: plain HTTP is only allowed on loopback; give --tls-cert and --tls-key", a.flag, a.addr)
		}
	}
	if c.MaxUploadSize <= 0 {
		return nil, fmt.Errorf("--max-upload-size: want a positive number of bytes, got %d", c.MaxUploadSize)
	}
	switch c.OpenRegistration {
	case "auto", "true", "false":
	default:
		return nil, fmt.Errorf("--open-registration: want true, false or auto, got %q", c.OpenRegistration)
	}
	return c, nil
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
