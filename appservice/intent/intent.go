// Package intent is the application service's side of the client-server
// API, for bridges and bots (content/application-service-api.md,
// "Client-Server API Extensions": identity assertion, "Server admin
// style permissions", m.login.application_service): an AppService that
// receives the homeserver's transactions and hands each event to the
// handlers registered for its type, and an Intent per namespaced user
// that makes sure the user is registered and joined before it acts.
//
//	as := intent.New(reg, "https://matrix.example.org", "example.org")
//	as.On("m.room.message", func(ctx context.Context, ev *appservice.ClientEvent) error {
//		ghost, _ := as.Intent("@bridge_" + someone + ":example.org")
//		_, err := ghost.SendText(ctx, ev.RoomID, "hi")
//		return err
//	})
//	http.ListenAndServe(":29300", as)
//
// Events reach handlers in the client format with the content raw
// (appservice.ClientEvent); decode the content into the type you expect,
// usually a struct of package content.
//
// How much a bridge developer writes: the echo bot of Example_echoBot
// (join when invited, answer every m.text with a notice) is 27 lines of
// its own code between the example's markers. As a complete program, with
// its package clause, imports and main, reading the registration file,
// homeserver URL, server name and listen address from its arguments, it
// is 40 non-blank lines (43 with blank lines, gofmt'd). TestEchoBotSize
// keeps the example's part from growing past what fits in 60.
package intent

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/mxkit/mxkit/appservice"
	"github.com/mxkit/mxkit/client"
)

// Handler handles one event of a transaction. An error makes the
// homeserver send the whole transaction again later (so handlers should
// be idempotent, or return nil after logging).
type Handler func(ctx context.Context, ev *appservice.ClientEvent) error

// EphemeralHandler handles one ephemeral event (m.typing, m.receipt,
// m.presence) of a transaction, for a registration with
// receive_ephemeral.
type EphemeralHandler func(ctx context.Context, ev *appservice.EphemeralEvent) error

// AnyType registers a handler for every event type.
const AnyType = "*"

// AppService is one registered application service: an http.Handler for
// the homeserver's calls (appservice.Handler with the hs_token check and
// transaction deduplication) that dispatches events by type, and the
// factory of Intents. Register handlers before serving.
type AppService struct {
	Registration  *appservice.Registration
	HomeserverURL string
	ServerName    string
	// HTTP is the base transport of the Intents' clients; nil means
	// http.DefaultTransport.
	HTTP http.RoundTripper
	// IgnoreOwnEvents, set by New, drops events sent by the service's own
	// users (its sender and its namespace) before dispatch, so a bridge
	// does not echo itself.
	IgnoreOwnEvents bool
	// ThirdParty, when set, answers the homeserver's third-party network
	// lookups (GET /_matrix/app/v1/thirdparty/...) for the protocols of
	// the registration; nil answers them 404 M_UNRECOGNIZED.
	ThirdParty *appservice.ThirdParty

	handler *appservice.Handler

	mu        sync.Mutex
	handlers  map[string][]Handler
	ephemeral map[string][]EphemeralHandler
	intents   map[string]*Intent
}

// New returns an AppService for reg on the homeserver at homeserverURL
// (the client API) named serverName.
func New(reg *appservice.Registration, homeserverURL, serverName string) *AppService {
	a := &AppService{Registration: reg, HomeserverURL: strings.TrimSuffix(homeserverURL, "/"), ServerName: serverName,
		IgnoreOwnEvents: true, handlers: map[string][]Handler{}, ephemeral: map[string][]EphemeralHandler{}, intents: map[string]*Intent{}}
	a.handler = appservice.NewHandler(reg.HSToken, a)
	return a
}

// On registers h for events of eventType (AnyType: every event).
func (a *AppService) On(eventType string, h Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handlers[eventType] = append(a.handlers[eventType], h)
}

// OnEphemeral registers h for ephemeral events of eventType (AnyType:
// all).
func (a *AppService) OnEphemeral(eventType string, h EphemeralHandler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ephemeral[eventType] = append(a.ephemeral[eventType], h)
}

// ServeHTTP implements http.Handler: mount it at the root of the
// registration's url.
func (a *AppService) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// HandleTransaction implements appservice.Service: each event, in order,
// goes to the handlers of its type and then to those of AnyType; the
// first error stops the transaction (the homeserver will retry it).
func (a *AppService) HandleTransaction(ctx context.Context, txn *appservice.IncomingTransaction) error {
	for i := range txn.Events {
		ev := &txn.Events[i]
		if a.IgnoreOwnEvents && a.IsOwnUser(ev.Sender) {
			continue
		}
		for _, h := range a.handlersFor(ev.Type) {
			if err := h(ctx, ev); err != nil {
				return fmt.Errorf("intent: handling %s %s: %w", ev.Type, ev.EventID, err)
			}
		}
	}
	for i := range txn.Ephemeral {
		ev := &txn.Ephemeral[i]
		a.mu.Lock()
		hs := append(append([]EphemeralHandler(nil), a.ephemeral[ev.Type]...), a.ephemeral[AnyType]...)
		a.mu.Unlock()
		for _, h := range hs {
			if err := h(ctx, ev); err != nil {
				return fmt.Errorf("intent: handling ephemeral %s: %w", ev.Type, err)
			}
		}
	}
	return nil
}

func (a *AppService) handlersFor(eventType string) []Handler {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append(append([]Handler(nil), a.handlers[eventType]...), a.handlers[AnyType]...)
}

// IsOwnUser reports whether userID is the service's sender or in its user
// namespace on this server.
func (a *AppService) IsOwnUser(userID string) bool {
	return userID == a.Registration.SenderUserID(a.ServerName) ||
		strings.HasSuffix(userID, ":"+a.ServerName) && a.Registration.UserInNamespace(userID)
}

// Bot returns the Intent of the service's sender user (sender_localpart),
// which the homeserver creates itself.
func (a *AppService) Bot() *Intent {
	i, _ := a.intent(a.Registration.SenderUserID(a.ServerName), true)
	return i
}

// Intent returns the Intent acting as userID, which must be a user of
// this server in the service's user namespace.
func (a *AppService) Intent(userID string) (*Intent, error) {
	if !strings.HasSuffix(userID, ":"+a.ServerName) || !a.Registration.UserInNamespace(userID) {
		return nil, fmt.Errorf("intent: %s is not in the user namespace of %s", userID, a.Registration.ID)
	}
	return a.intent(userID, false)
}

func (a *AppService) intent(userID string, registered bool) (*Intent, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i := a.intents[userID]; i != nil {
		return i, nil
	}
	c := &client.Client{HomeserverURL: a.HomeserverURL, UserID: userID, HTTP: &http.Client{
		Transport: &appservice.Transport{Base: a.HTTP, ASToken: a.Registration.ASToken, UserID: userID}}}
	i := &Intent{Client: c, as: a, registered: registered, joined: map[string]bool{}}
	a.intents[userID] = i
	return i, nil
}

// Intent is a Client acting as one user of the service (identity
// assertion through the user_id parameter), with the Ensure steps a bridge
// needs before acting. Its methods are safe for concurrent use.
type Intent struct {
	*client.Client
	as *AppService

	mu         sync.Mutex
	registered bool
	joined     map[string]bool
}

// EnsureRegistered registers the user with m.login.application_service
// unless it exists (M_USER_IN_USE counts as done).
func (i *Intent) EnsureRegistered(ctx context.Context) error {
	i.mu.Lock()
	done := i.registered
	i.mu.Unlock()
	if done {
		return nil
	}
	localpart := strings.TrimPrefix(i.UserID[:strings.LastIndexByte(i.UserID, ':')], "@")
	// The registration is sent as the service itself, without user_id:
	// asserting a user that does not exist yet is refused (403) by
	// servers that check the asserted user, as Synapse and this module's
	// example homeserver do.
	reg := &client.Client{HomeserverURL: i.as.HomeserverURL, HTTP: &http.Client{
		Transport: &appservice.Transport{Base: i.as.HTTP, ASToken: i.as.Registration.ASToken}}}
	_, err := reg.RegisterAppServiceUser(ctx, localpart, true)
	if err != nil && !client.IsCode(err, client.CodeUserInUse) {
		return fmt.Errorf("intent: registering %s: %w", i.UserID, err)
	}
	i.mu.Lock()
	i.registered = true
	i.mu.Unlock()
	return nil
}

// EnsureJoined registers the user if needed and joins the room unless
// it is known to be joined. When the join is refused (an invite-only
// room), the service's bot invites the user, if it can, and the join is
// tried again.
func (i *Intent) EnsureJoined(ctx context.Context, roomID string) error {
	i.mu.Lock()
	done := i.joined[roomID]
	i.mu.Unlock()
	if done {
		return nil
	}
	if err := i.EnsureRegistered(ctx); err != nil {
		return err
	}
	_, err := i.JoinRoom(ctx, roomID, nil, "")
	if client.IsCode(err, client.CodeForbidden) {
		bot := i.as.Bot()
		if bot != i {
			if ierr := bot.Invite(ctx, roomID, i.UserID, ""); ierr == nil {
				_, err = i.JoinRoom(ctx, roomID, nil, "")
			}
		}
	}
	if err != nil {
		return fmt.Errorf("intent: %s joining %s: %w", i.UserID, roomID, err)
	}
	i.mu.Lock()
	i.joined[roomID] = true
	i.mu.Unlock()
	return nil
}

// SendText sends an m.text message after EnsureJoined.
func (i *Intent) SendText(ctx context.Context, roomID, text string) (string, error) {
	return i.SendEvent(ctx, roomID, "m.room.message", map[string]string{"msgtype": "m.text", "body": text}, "")
}

// SendNotice sends an m.notice message after EnsureJoined.
func (i *Intent) SendNotice(ctx context.Context, roomID, text string) (string, error) {
	return i.SendEvent(ctx, roomID, "m.room.message", map[string]string{"msgtype": "m.notice", "body": text}, "")
}

// SendEvent sends a message event after EnsureJoined.
func (i *Intent) SendEvent(ctx context.Context, roomID, eventType string, content any, txnID string) (string, error) {
	if err := i.EnsureJoined(ctx, roomID); err != nil {
		return "", err
	}
	return i.Client.SendEvent(ctx, roomID, eventType, content, txnID)
}

// SetDisplayName sets the user's display name after EnsureRegistered.
func (i *Intent) SetDisplayName(ctx context.Context, name string) error {
	if err := i.EnsureRegistered(ctx); err != nil {
		return err
	}
	return i.Client.SetDisplayName(ctx, name)
}

// SetAvatarURL sets the user's avatar after EnsureRegistered.
func (i *Intent) SetAvatarURL(ctx context.Context, mxc string) error {
	if err := i.EnsureRegistered(ctx); err != nil {
		return err
	}
	return i.Client.SetAvatarURL(ctx, mxc)
}
