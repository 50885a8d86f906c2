package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/signing"
)

// fedParts is the federation side: the server (handler, membership flows),
// the client, the key ring and the outbound queues.
type fedParts struct {
	hs      *Homeserver
	server  *federation.Server
	client  *federation.Client
	handler http.Handler
	out     *outbound
}

func (f *fedParts) stop() { f.out.close() }

// newFederation assembles federation on the homeserver's storage.
func newFederation(hs *Homeserver) (*fedParts, error) {
	resolver := &federation.Resolver{Static: hs.cfg.Peers, AllowPrivate: hs.cfg.AllowPrivateAddresses}
	if hs.cfg.AllowPrivateAddresses {
		hs.log.Warn("FEDERATION MAY REACH LOOPBACK AND PRIVATE ADDRESSES (--allow-private-addresses): any server name, chosen by whoever sends an event or a request, can make this server send requests into its own network; use it only on a test or lab network")
	}
	// Peers named with --peer are dialled as given; discovery of others
	// stays on the public network unless --allow-private-addresses.
	var tlsCfg *tls.Config
	if hs.cfg.FederationCA != "" {
		data, err := os.ReadFile(hs.cfg.FederationCA)
		if err != nil {
			return nil, fmt.Errorf("--federation-ca: %w", err)
		}
		pool, err := federation.TrustedRoots(data)
		if err != nil {
			return nil, fmt.Errorf("--federation-ca %s: %w", hs.cfg.FederationCA, err)
		}
		tlsCfg = &tls.Config{RootCAs: pool}
		resolver.TLSConfig = tlsCfg
	}
	var transport http.RoundTripper = federation.NewTransport(resolver, tlsCfg, false)
	if plain := plainPeers(hs.cfg); len(plain) > 0 {
		transport = &peerTransport{plain: plain, plainRT: federation.NewTransport(resolver, nil, true), tls: transport}
	}
	client := &federation.Client{ServerName: hs.cfg.ServerName, Key: hs.key, Transport: transport}
	keys := &federation.FetchingKeyRing{
		Client: &http.Client{Transport: transport, Timeout: 30 * time.Second},
		Store:  &keyStore{db: hs.db},
	}
	// Our own key is answered without a request to ourselves (our own
	// name need not resolve to us).
	keys.SetLocal(hs.cfg.ServerName, map[signing.KeyID]ed25519.PublicKey{hs.key.ID: hs.key.Public()}, nil)
	f := &fedParts{hs: hs, client: client}
	keyMux := http.NewServeMux()
	keyMux.Handle("/_matrix/key/v2/server", federation.ServerKeysHandler(hs.cfg.ServerName, hs.key, nil, 0))
	keyMux.Handle("/_matrix/key/v2/server/", federation.ServerKeysHandler(hs.cfg.ServerName, hs.key, nil, 0))
	f.server = &federation.Server{
		ServerName: hs.cfg.ServerName,
		Key:        hs.key,
		Keys:       keys,
		Rooms:      hs.rooms,
		Client:     client,
		Invites:    &invites{hs: hs},
		Queries:    &queries{hs: hs},
		KeyHandler: keyMux,
		Software:   federation.ServerVersion{Name: "mxkit example homeserver", Version: "0"},
		OnEvent:    f.onEvent,
		EDUs:       &edus{hs: hs},
		Outside:    outsideRooms{hs: hs},
		OpenID:     hs.openid,
		Directory:  directory{hs.cli},
		Devices:    fedDevices{hs},
	}
	f.handler = f.server
	f.out = newOutbound(hs, client)
	hs.rooms.outbound = f.out.enqueue
	if err := f.out.restore(context.Background()); err != nil {
		return nil, fmt.Errorf("outbound queue: %w", err)
	}
	hs.cli.join = f.join
	hs.cli.e2ee.Remote = e2eeRemote{f}
	hs.acct.remote = newRemoteProfiles(client)
	hs.data.sendEDU = func(ctx context.Context, roomID string, edu federation.EDU) {
		if servers := hs.rooms.serversIn(ctx, roomID, nil); len(servers) > 0 {
			f.out.enqueueEDU(edu, servers)
		}
	}
	hs.cli.fed = f
	return f, nil
}

// plainPeers are the servers reached over plain HTTP: the --peer servers
// on loopback, when this server's own federation is plain HTTP and no CA
// was given (two instances on one machine, the tests). Every other server
// is reached over HTTPS, also when the federation listener is plain
// behind a reverse proxy that terminates TLS.
func plainPeers(c *Config) map[string]bool {
	if c.federationTLS() || c.FederationCA != "" {
		return nil
	}
	out := map[string]bool{}
	for name, addr := range c.Peers {
		if host, _, _ := net.SplitHostPort(addr); isLoopback(host) {
			out[name] = true
		}
	}
	return out
}

// peerTransport sends the requests to the plain peers over plainRT and
// the others over tls.
type peerTransport struct {
	plain        map[string]bool
	plainRT, tls http.RoundTripper
}

// RoundTrip implements http.RoundTripper; the URL's host is a server name.
func (p *peerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.plain[r.URL.Host] {
		return p.plainRT.RoundTrip(r)
	}
	return p.tls.RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of both transports.
func (p *peerTransport) CloseIdleConnections() {
	for _, rt := range []http.RoundTripper{p.plainRT, p.tls} {
		if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

// onEvent is called for every event stored from federation. The
// membership events accepted through the handshakes (send_join,
// send_leave, invites) are passed on to the room's other servers; an
// event that came in a transaction is passed on too, which the servers
// that already have it ignore.
func (f *fedParts) onEvent(ctx context.Context, ne federation.NewEvent) {
	if ne.Status != federation.Accepted || ne.Event.Type() != event.TypeMember {
		return
	}
	servers, err := f.server.RoomServers(ctx, ne.Event.RoomID())
	if err != nil {
		return
	}
	origin := serverOf(ne.Event.Sender())
	var to []string
	for _, s := range servers {
		if s != origin {
			to = append(to, s)
		}
	}
	if len(to) > 0 {
		f.out.enqueue(ne.Event, to)
	}
}

// join joins a local user to a room this server is not in.
func (f *fedParts) join(ctx context.Context, who clientapi.Identity, roomID string, via []string) error {
	if len(via) == 0 {
		return clientapi.NotFound("no server to join " + roomID + " through")
	}
	content := map[string]any{"membership": "join"}
	if dn := f.hs.cli.displayName(ctx, who.UserID); dn != "" {
		content["displayname"] = dn
	}
	res, err := f.server.Join(ctx, via, roomID, who.UserID, content)
	if err != nil {
		f.hs.log.Warn("remote join failed", "room", roomID, "via", via, "err", err)
		var me *federation.Error
		if errors.As(err, &me) {
			return me
		}
		return clientapi.NewError(http.StatusBadGateway, "M_UNKNOWN", "joining through "+strings.Join(via, ", ")+": "+remoteFailure(err))
	}
	f.hs.log.Info("joined a remote room", "room", roomID, "user", who.UserID, "via", res.Server)
	// The history before the join, for the user's first /messages back
	// (what the room's history visibility lets this server see).
	f.backfill(ctx, res.Server, roomID, res.Event.PrevEventIDs(), backfillAtJoin)
	f.hs.cli.dropRemoteInvite(ctx, roomID, who.UserID)
	f.hs.cli.dropRemoteKnock(ctx, roomID, who.UserID)
	return nil
}

// remoteFailure is what a client is told of a failed request to another
// server. The details (the addresses discovery found, and which of them
// the address policy refused) stay in the log: a client must not learn
// the internal addresses a server name resolves to, nor use the server to
// probe them.
func remoteFailure(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, federation.ErrForbiddenAddress):
		return "refused: the server's address is not one this server connects to"
	case errors.Is(err, federation.ErrNoAddress):
		return "no address found for the server"
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded):
		return "the server could not be reached"
	}
	return err.Error()
}

// invite invites a user of another server.
func (f *fedParts) invite(ctx context.Context, roomID, sender, target string) error {
	ev, err := f.server.Invite(ctx, roomID, sender, target)
	if err != nil {
		var me *federation.Error
		if errors.As(err, &me) {
			return me
		}
		f.hs.log.Warn("remote invite failed", "room", roomID, "target", target, "err", err)
		return clientapi.Forbidden("inviting " + target + ": " + remoteFailure(err))
	}
	servers, err := f.server.RoomServers(ctx, roomID)
	if err == nil && len(servers) > 0 {
		f.out.enqueue(ev, servers)
	}
	return nil
}

// leaveRemote rejects an invite to a room this server is not in.
func (f *fedParts) leaveRemote(ctx context.Context, roomID, userID string, via []string) error {
	leave, err := f.server.Leave(ctx, via, roomID, userID)
	if err != nil {
		f.hs.log.Warn("remote leave failed; the invite is rejected here only", "room", roomID, "err", err)
		if leave, err = f.outOfBandLeave(ctx, roomID, userID); err != nil {
			f.hs.log.Warn("no out-of-band leave for a rejected invite", "room", roomID, "err", err)
		}
	}
	return f.hs.cli.endRemoteInvite(ctx, roomID, userID, leave)
}

// outbound sends new events to other servers: one queue per destination,
// delivered in order, in transactions of up to 50 PDUs, retried with
// backoff. The queue of local events is also in the database (written in
// the transaction that stores the event, deleted once delivered), so what
// a stop or a crash interrupts is sent after the next start.
type outbound struct {
	hs     *Homeserver
	client *federation.Client
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	queues map[string]*destQueue
	wg     sync.WaitGroup
	// held stops delivery while set (tests use it to make forks).
	held atomic.Bool
}

// hold stops sending until release; events keep being queued.
func (o *outbound) hold() { o.held.Store(true) }

// release resumes sending.
func (o *outbound) release() {
	o.held.Store(false)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, q := range o.queues {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

type destQueue struct {
	mu      sync.Mutex
	pending []*event.Event
	edus    []federation.EDU
	wake    chan struct{}
}

func newOutbound(hs *Homeserver, client *federation.Client) *outbound {
	ctx, cancel := context.WithCancel(context.Background())
	return &outbound{hs: hs, client: client, ctx: ctx, cancel: cancel, queues: map[string]*destQueue{}}
}

func (o *outbound) enqueue(ev *event.Event, servers []string) {
	for _, s := range servers {
		o.add(s, func(q *destQueue) { q.pending = append(q.pending, ev) })
	}
}

// enqueueEDU queues an EDU (typing, receipts) for servers; EDUs are not
// stored, a stop drops them.
func (o *outbound) enqueueEDU(edu federation.EDU, servers []string) {
	for _, s := range servers {
		o.add(s, func(q *destQueue) {
			if len(q.edus) < 1000 {
				q.edus = append(q.edus, edu)
			}
		})
	}
}

func (o *outbound) add(dest string, f func(*destQueue)) {
	if dest == o.hs.cfg.ServerName || dest == "" {
		return
	}
	o.mu.Lock()
	q := o.queues[dest]
	if q == nil {
		q = &destQueue{wake: make(chan struct{}, 1)}
		o.queues[dest] = q
		o.wg.Add(1)
		go o.run(dest, q)
	}
	o.mu.Unlock()
	q.mu.Lock()
	f(q)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers one destination's queue until the server stops.
func (o *outbound) run(dest string, q *destQueue) {
	defer o.wg.Done()
	backoff := 200 * time.Millisecond
	for {
		q.mu.Lock()
		n := min(len(q.pending), 50)
		batch := q.pending[:n:n]
		ne := min(len(q.edus), 100)
		edus := q.edus[:ne:ne]
		q.mu.Unlock()
		if n+ne == 0 || o.held.Load() {
			select {
			case <-q.wake:
				continue
			case <-o.ctx.Done():
				return
			}
		}
		ctx, cancel := context.WithTimeout(o.ctx, 30*time.Second)
		_, err := o.client.SendPDUs(ctx, dest, batch, edus)
		cancel()
		if err != nil {
			o.hs.log.Warn("sending to a server failed; retrying", "dest", dest, "pdus", n, "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-o.ctx.Done():
				return
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = 200 * time.Millisecond
		if n > 0 {
			o.delivered(dest, batch)
		}
		q.mu.Lock()
		q.pending = q.pending[n:]
		q.edus = q.edus[ne:]
		q.mu.Unlock()
	}
}

// delivered removes delivered events from the stored queue.
func (o *outbound) delivered(dest string, batch []*event.Event) {
	err := o.hs.db.Tx(o.ctx, func(tx *sql.Tx) error {
		for _, ev := range batch {
			if _, err := tx.ExecContext(o.ctx, `DELETE FROM outbound_queue WHERE dest = ? AND event_id = ?`, dest, ev.ID()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && o.ctx.Err() == nil {
		o.hs.log.Warn("forgetting delivered events", "dest", dest, "err", err)
	}
}

// restore queues again the events the last run did not deliver.
func (o *outbound) restore(ctx context.Context) error {
	rows, err := o.hs.db.query(ctx, `SELECT dest, event_id FROM outbound_queue ORDER BY id`)
	if err != nil {
		return err
	}
	type item struct{ dest, id string }
	var items []item
	var ids []string
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.dest, &it.id); err != nil {
			rows.Close()
			return err
		}
		items = append(items, it)
		ids = append(ids, it.id)
	}
	rows.Close()
	if len(items) == 0 {
		return nil
	}
	evs, err := o.hs.rooms.load(ctx, ids)
	if err != nil {
		return err
	}
	for _, it := range items {
		if se := evs[it.id]; se != nil {
			o.enqueue(se.Event, []string{it.dest})
		}
	}
	o.hs.log.Info("queued the events not yet delivered", "events", len(items))
	return nil
}

// close stops the senders and waits for them.
func (o *outbound) close() {
	o.cancel()
	o.wg.Wait()
}

// keyStore keeps the server keys a FetchingKeyRing fetched in the
// database, as the signed objects the servers published.
type keyStore struct{ db *Store }

// LoadServerKeys implements federation.KeyStore.
func (k *keyStore) LoadServerKeys(ctx context.Context, names []string) (map[string][]*signing.ServerKeys, error) {
	out := map[string][]*signing.ServerKeys{}
	for _, name := range names {
		rows, err := k.db.query(ctx, `SELECT raw FROM server_key_objects WHERE server_name = ?`, name)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var raw []byte
			if err := rows.Scan(&raw); err != nil {
				rows.Close()
				return nil, err
			}
			sk, err := signing.ParseServerKeys(raw)
			if err != nil {
				continue // checked when stored; skip what no longer parses
			}
			out[name] = append(out[name], sk)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// StoreServerKeys implements federation.KeyStore.
func (k *keyStore) StoreServerKeys(ctx context.Context, keys []*signing.ServerKeys) error {
	return k.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, sk := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO server_key_objects (server_name, valid_until, raw) VALUES (?, ?, ?)`,
				sk.ServerName, sk.ValidUntilTS, sk.Raw); err != nil {
				return err
			}
		}
		return nil
	})
}

// invites takes invites of local users to rooms on other servers.
type invites struct{ hs *Homeserver }

// Invited implements federation.Invites: the invite is kept for the
// invitee's sync until it is answered.
func (i *invites) Invited(ctx context.Context, inv federation.Invite) error {
	target, _ := inv.Event.StateKey()
	if serverOf(target) != i.hs.cfg.ServerName {
		return clientapi.Forbidden("the invitee is not a user of this server")
	}
	var n int
	if err := i.hs.db.queryRow(ctx, `SELECT count(*) FROM users WHERE user_id = ?`, target).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return clientapi.NotFound("unknown user " + target)
	}
	state, _ := json.Marshal(inv.RoomState)
	err := i.hs.db.Tx(ctx, func(tx *sql.Tx) error {
		pos, err := nextPosition(ctx, tx, "account_data")
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO remote_invites (room_id, user_id, event_id, json, room_state, origin, stream) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			inv.Event.RoomID(), target, inv.Event.ID(), inv.Event.JSON(), state, inv.Origin, pos)
		if err != nil {
			return err
		}
		// An invite answers the user's knock, if any.
		_, err = tx.ExecContext(ctx, `DELETE FROM remote_knocks WHERE room_id = ? AND user_id = ?`, inv.Event.RoomID(), target)
		return err
	})
	if err == nil {
		i.hs.rooms.notify.bump(0)
	}
	return err
}

// ExchangeThirdPartyInvite implements federation.Invites.
func (i *invites) ExchangeThirdPartyInvite(ctx context.Context, origin, roomID string, ev json.RawMessage) error {
	return clientapi.Forbidden("third-party invites are not supported by this server")
}

// OnBind implements federation.Invites.
func (i *invites) OnBind(ctx context.Context, body json.RawMessage) error {
	return clientapi.Forbidden("third-party invites are not supported by this server")
}

// queries answers directory and profile queries about this server.
type queries struct{ hs *Homeserver }

// QueryDirectory implements federation.Queries.
func (q *queries) QueryDirectory(ctx context.Context, alias string) (*federation.DirectoryResponse, error) {
	roomID, servers, err := q.hs.cli.ResolveAlias(ctx, alias)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", federation.ErrNotFound, alias)
	}
	return &federation.DirectoryResponse{RoomID: roomID, Servers: servers}, nil
}

// QueryProfile implements federation.Queries.
func (q *queries) QueryProfile(ctx context.Context, userID, field string) (*federation.Profile, error) {
	p, err := q.hs.acct.Profile(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", federation.ErrNotFound, userID)
	}
	out := &federation.Profile{}
	if s, ok := p["displayname"].(string); ok && (field == "" || field == "displayname") {
		out.DisplayName = s
	}
	if s, ok := p["avatar_url"].(string); ok && (field == "" || field == "avatar_url") {
		out.AvatarURL = s
	}
	return out, nil
}

// Query implements federation.Queries: no other query types.
func (q *queries) Query(ctx context.Context, origin, queryType string, args url.Values) (json.RawMessage, error) {
	return nil, fmt.Errorf("%w: query type %s", federation.ErrNotFound, queryType)
}

// edus takes the typing notifications and read receipts of other
// servers' users (content/server-server-api.md, "Typing Notifications",
// "Receipts"); other EDUs are dropped.
type edus struct{ hs *Homeserver }

// HandleEDU implements federation.EDUHandler.
func (e *edus) HandleEDU(ctx context.Context, origin string, edu federation.EDU) error {
	switch edu.Type {
	case "m.direct_to_device", "m.device_list_update", "m.signing_key_update":
		return e.handleE2EEEDU(ctx, origin, edu)
	case "m.typing":
		var t struct {
			RoomID string `json:"room_id"`
			UserID string `json:"user_id"`
			Typing bool   `json:"typing"`
		}
		if err := json.Unmarshal(edu.Content, &t); err != nil || serverOf(t.UserID) != origin {
			return fmt.Errorf("m.typing from %s: bad content or user of another server", origin)
		}
		if !e.joined(ctx, t.RoomID, t.UserID) {
			return nil
		}
		e.hs.data.typing.set(t.RoomID, t.UserID, t.Typing, 30*time.Second, func() { e.hs.rooms.notify.bump(0); e.hs.data.typingChanged(t.RoomID) })
		e.hs.rooms.notify.bump(0)
		e.hs.data.typingChanged(t.RoomID)
	case "m.receipt":
		var rooms map[string]map[string]map[string]struct {
			EventIDs []string `json:"event_ids"`
			Data     struct {
				TS       int64  `json:"ts"`
				ThreadID string `json:"thread_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(edu.Content, &rooms); err != nil {
			return fmt.Errorf("m.receipt from %s: %w", origin, err)
		}
		for roomID, types := range rooms {
			for typ, users := range types {
				if typ != "m.read" {
					continue
				}
				for userID, r := range users {
					if serverOf(userID) != origin || len(r.EventIDs) == 0 || !e.joined(ctx, roomID, userID) {
						continue
					}
					who := clientapi.Identity{UserID: userID}
					if err := e.hs.data.storeReceipt(ctx, who, roomID, typ, r.EventIDs[0], r.Data.ThreadID, r.Data.TS); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func (e *edus) joined(ctx context.Context, roomID, userID string) bool {
	m, err := e.hs.cli.membership(ctx, roomID, userID)
	return err == nil && m == "join"
}
