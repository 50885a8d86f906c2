package main

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/mxkit/mxkit/appservice"
	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/examples/homeserver/e2ee"
	"github.com/mxkit/mxkit/examples/homeserver/media"
	"github.com/mxkit/mxkit/examples/homeserver/pushing"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/push"
	"github.com/mxkit/mxkit/signing"
)

// Homeserver is the assembled server.
type Homeserver struct {
	cfg   *Config
	log   *slog.Logger
	key   *signing.SigningKey
	db    *Store
	rooms *Rooms
	acct  *Accounts
	data  *Data
	cli   *Client
	fed   *fedParts // nil without --federation-listen
	as    *asParts  // nil without --appservice
	push  *pushing.Service
	// openid issues OpenID tokens and answers federation userinfo.
	openid *clientapi.MemoryOpenID
	// loginTokens are the m.login.token tokens of login/get_token.
	loginTokens *clientapi.MemoryLoginTokens
	// regTokens are the tokens of --registration-tokens (nil: none).
	regTokens *regTokens
	// stopPush ends the push worker; pushDone is closed when it has.
	stopPush func()
	pushDone chan struct{}
	media    *media.Store

	clientLn, fedLn   net.Listener
	clientSrv, fedSrv *http.Server
	// stopRequests ends the contexts of the requests in flight (long
	// polls) when the server shuts down.
	stopRequests context.CancelFunc
}

// New opens the database and key and assembles the handlers.
func New(cfg *Config, log *slog.Logger) (*Homeserver, error) {
	// Registrations first: a bad file changes nothing on disk.
	var asReg *appservice.Registry
	if len(cfg.AppServices) > 0 {
		var err error
		if asReg, err = appservice.LoadRegistry(cfg.ServerName, cfg.AppServices...); err != nil {
			return nil, err
		}
	}
	var regTokens *regTokens
	if cfg.RegistrationTokens != "" {
		var err error
		if regTokens, err = loadRegistrationTokens(cfg.RegistrationTokens); err != nil {
			return nil, err
		}
	}
	key, err := loadOrCreateKey(cfg.KeyPath, log)
	if err != nil {
		return nil, err
	}
	db, err := OpenStore(cfg.DB)
	if err != nil {
		return nil, err
	}
	hs := &Homeserver{cfg: cfg, log: log, key: key, db: db}
	if regTokens != nil {
		regTokens.db = db
		hs.regTokens = regTokens
	}
	hs.rooms = newRooms(cfg.ServerName, key, db, log)
	hs.acct = &Accounts{name: cfg.ServerName, db: db, accessTokenLifetime: cfg.AccessTokenLifetime, admins: map[string]bool{}}
	for _, id := range cfg.ServerAdmins {
		hs.acct.admins[id] = true
	}
	typing := &typingState{}
	hs.data = &Data{db: db, notify: hs.rooms.notify, typing: typing}
	hs.cli = &Client{name: cfg.ServerName, rooms: hs.rooms, db: db, log: log, typing: typing,
		presence: &Presence{db: db, notify: hs.rooms.notify}}
	if asReg != nil {
		if hs.as, err = newAppServices(hs, asReg); err != nil {
			db.Close()
			return nil, err
		}
		hs.acct.as = hs.as
		hs.cli.as = hs.as
		hs.data.as = hs.as
	}
	// Gateways on this machine are reached only when the client API is
	// on loopback (a test or a single-machine setup).
	clientHost, _, _ := net.SplitHostPort(cfg.Listen)
	hs.push = &pushing.Service{W: db.w, R: db.r, Source: pushSource{hs}, Log: log,
		Gateway: &push.Gateway{HTTP: pushing.GatewayClient(isLoopback(clientHost))}}
	hs.cli.push = hs.push
	hs.cli.e2ee = &e2ee.Store{W: db.w, R: db.r, Notify: func() { hs.rooms.notify.bump(0) },
		Local: func(userID string) bool { return serverOf(userID) == cfg.ServerName },
		Next:  func(ctx context.Context, tx *sql.Tx) (int64, error) { return nextPosition(ctx, tx, "account_data") },
		SyncPosition: func(tok string) (int64, error) {
			p, err := parseSyncPos(tok)
			return p.ad, err
		},
		EventPosition: func(tok string) (int64, error) {
			p, err := parseSyncPos(tok)
			return p.ev, err
		}}
	hs.acct.profileChanged = func(ctx context.Context, who clientapi.Identity) {
		hs.cli.propagateProfile(ctx, who, hs.acct.Profile)
	}
	hs.openid = &clientapi.MemoryOpenID{}
	hs.loginTokens = &clientapi.MemoryLoginTokens{}
	if hs.media, err = openMedia(cfg); err != nil {
		db.Close()
		return nil, err
	}
	if cfg.FederationListen != "" || len(cfg.Peers) > 0 {
		if hs.fed, err = newFederation(hs); err != nil {
			hs.media.Close()
			db.Close()
			return nil, err
		}
		hs.fed.server.Media = hs.media
		hs.media.SetRemote(hs.fed.client)
	}
	return hs, nil
}

func (hs *Homeserver) openRegistration() bool {
	switch hs.cfg.OpenRegistration {
	case "true":
		return true
	case "false":
		return false
	}
	host, _, _ := net.SplitHostPort(hs.cfg.Listen)
	return isLoopback(host)
}

// ClientHandler is the client-server API.
func (hs *Homeserver) ClientHandler() http.Handler {
	s := &clientapi.Server{
		ServerName:        hs.cfg.ServerName,
		AllowRegistration: hs.openRegistration(),
		Tokens:            hs.acct,
		Accounts:          hs.acct,
		Registration:      hs.acct,
		Profile:           hs.acct,
		Rooms:             hs.cli,
		Sender:            hs.cli,
		Reader:            hs.cli,
		Syncer:            hs.cli,
		Directory:         hs.cli,
		Filters:           hs.data,
		AccountData:       hs.data,
		Ephemeral:         hs.data,
		Presence:          hs.cli.presence,
		Transactions:      hs.data,
		PushRules:         hs.push,
		Pushers:           hs.push,
		Notifications:     hs.push,
		Searcher:          hs.cli,
		Upgrader:          hs.cli,
		Reports:           hs.cli,
		Timestamps:        hs.cli,
		Summaries:         hs.cli,
		PublishedRooms:    hs.cli,
		Spaces:            hs.cli,
		Relations:         hs.cli,
		AccountManager:    hs.cli,
		MutualRooms:       hs.cli,
		Keys:              hs.cli.e2ee,
		Devices:           hs.cli,
		ToDevice:          hs.cli.e2ee,
		KeyBackup:         e2ee.Backup{W: hs.db.w, R: hs.db.r},
		CrossSigning:      hs.cli.e2ee,
		LoginTokens:       hs.loginTokens,
		EventRooms:        hs.cli,
		Refresher:         hs.acct,
		Whois:             hs.acct,
		AccountModeration: hs.acct,
		UserDirectory:     hs.cli,
		OpenID:            hs.openid,
		Support:           hs.cfg.Support,
		Media:             hs.media,
		URLPreviews:       hs.media,
		MaxUploadSize:     hs.cfg.MaxUploadSize,
		ThirdParty:        asBackend{hs},
		AppServices:       asBackend{hs},
	}
	if hs.regTokens != nil {
		// Registration needs a token; --open-registration=false still
		// closes it.
		s.RegistrationTokens = hs.regTokens
		s.AllowRegistration = hs.cfg.OpenRegistration != "false"
	}
	// Rooms created without a room_version get --default-room-version.
	s.DefaultRoomVersion = hs.cfg.DefaultRoomVersion
	if hs.cfg.RateLimit {
		s.RateLimit = clientapi.DefaultRateLimits()
	}
	if hs.clientLn != nil {
		s.BaseURL = hs.ClientURL()
	}
	return hs.logRequests("client", withConnection(s))
}

// logRequests logs each request at debug level, and failures at info.
func (hs *Homeserver) logRequests(api string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		lvl := slog.LevelDebug
		if sw.status >= 500 {
			lvl = slog.LevelWarn
		}
		path := r.URL.Path
		hs.log.Log(r.Context(), lvl, "request", "api", api, "method", r.Method, "path", path, "status", sw.status, "duration", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Listen opens the listeners.
func (hs *Homeserver) Listen() error {
	var err error
	if hs.clientLn, err = net.Listen("tcp", hs.cfg.Listen); err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if hs.cfg.FederationListen != "" && hs.fedLn == nil {
		if hs.fedLn, err = net.Listen("tcp", hs.cfg.FederationListen); err != nil {
			hs.clientLn.Close()
			return fmt.Errorf("--federation-listen: %w", err)
		}
	}
	return nil
}

func (hs *Homeserver) scheme() string {
	if hs.cfg.TLSCert != "" {
		return "https"
	}
	return "http"
}

func (hs *Homeserver) fedScheme() string {
	if hs.cfg.federationTLS() {
		return "https"
	}
	return "http"
}

// ClientURL is the base URL of the client API.
func (hs *Homeserver) ClientURL() string {
	return hs.scheme() + "://" + hs.clientLn.Addr().String()
}

// FederationAddr is the federation listener's address, "" when off.
func (hs *Homeserver) FederationAddr() string {
	if hs.fedLn == nil {
		return ""
	}
	return hs.fedLn.Addr().String()
}

// ReadyLine is the line printed when the server is ready.
func (hs *Homeserver) ReadyLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mxkit homeserver ready: client %s", hs.ClientURL())
	if hs.fedLn != nil {
		fmt.Fprintf(&b, " federation %s://%s", hs.fedScheme(), hs.FederationAddr())
	}
	fmt.Fprintf(&b, " server_name=%s db=%s key_id=%s", hs.cfg.ServerName, hs.cfg.DB, hs.key.ID)
	return b.String()
}

// Timeouts of the client-server API's http.Server. The write timeout runs
// from the end of the request headers to the end of the answer, so it must
// exceed clientapi's longest /sync wait (MaxSyncTimeout, 5 minutes).
const (
	clientReadTimeout  = 2 * time.Minute
	clientWriteTimeout = 6 * time.Minute
)

// Serve serves both APIs in the background; errors go to errc.
func (hs *Homeserver) Serve(errc chan<- error) {
	clientTLS, err := loadTLS(hs.cfg.TLSCert, hs.cfg.TLSKey)
	if err != nil {
		errc <- err
		return
	}
	fedTLS, err := loadTLS(hs.cfg.federationCert())
	if err != nil {
		errc <- err
		return
	}
	serve := func(srv *http.Server, ln net.Listener, tlsCfg *tls.Config) {
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}
	errLog := slog.NewLogLogger(hs.log.Handler(), slog.LevelDebug)
	base, cancel := context.WithCancel(context.Background())
	hs.stopRequests = cancel
	baseCtx := func(net.Listener) context.Context { return base }
	// Timeouts: a request (headers and body) must arrive within
	// clientReadTimeout (net/http stops reading once the body is in, so a
	// /sync long poll is not cut by it); the answer may take the longest
	// /sync timeout and a margin; an idle connection is closed.
	hs.clientSrv = &http.Server{Handler: hs.ClientHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: clientReadTimeout,
		WriteTimeout: clientWriteTimeout, IdleTimeout: federation.DefaultIdleTimeout, ErrorLog: errLog, BaseContext: baseCtx}
	go serve(hs.clientSrv, hs.clientLn, clientTLS)
	if hs.as != nil {
		hs.as.start()
	}
	pctx, stop := context.WithCancel(context.Background())
	hs.stopPush, hs.pushDone = stop, make(chan struct{})
	go func() { defer close(hs.pushDone); hs.push.Run(pctx) }()
	if hs.fedLn != nil && hs.fed != nil {
		hs.fedSrv = federation.ConfigureHTTPServer(&http.Server{Handler: hs.logRequests("federation", hs.fed.handler), ErrorLog: errLog, BaseContext: baseCtx})
		go serve(hs.fedSrv, hs.fedLn, fedTLS)
	}
	hs.log.Info("serving", "client", hs.ClientURL(), "federation", hs.FederationAddr(), "server_name", hs.cfg.ServerName, "open_registration", hs.openRegistration())
}

// loadTLS reads a certificate and key ("": nil, plain HTTP).
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

// Shutdown stops the HTTP servers, letting requests in flight finish.
func (hs *Homeserver) Shutdown(ctx context.Context) {
	if hs.stopRequests != nil {
		// Long polls would hold the shutdown for their whole timeout;
		// other requests finish their work (a cancelled context does
		// not roll back a committed transaction).
		go func() {
			select {
			case <-time.After(500 * time.Millisecond):
			case <-ctx.Done():
			}
			hs.stopRequests()
		}()
	}
	for _, s := range []*http.Server{hs.clientSrv, hs.fedSrv} {
		if s != nil {
			s.Shutdown(ctx)
		}
	}
	if hs.fed != nil {
		hs.fed.stop()
	}
	if hs.as != nil {
		hs.as.stop()
	}
	if hs.stopPush != nil {
		hs.stopPush()
		<-hs.pushDone
	}
}

// Close closes the databases.
func (hs *Homeserver) Close() error {
	hs.media.Close()
	return hs.db.Close()
}

// openMedia opens the content repository of --media-dir.
func openMedia(cfg *Config) (*media.Store, error) {
	dir := cfg.MediaDir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(cfg.DB), "media")
	}
	return media.Open(media.Config{Dir: dir, ServerName: cfg.ServerName, MaxSize: cfg.MaxUploadSize})
}
