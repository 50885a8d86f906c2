package federation

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

// homeserver is one server built from the library for the end-to-end tests:
// the federation Server on an httptest server bound to 127.0.0.1, reaching
// the others through a Resolver whose static map points server names at
// their loopback addresses, with a FetchingKeyRing fetching keys over HTTP.
type homeserver struct {
	name  string
	key   *signing.SigningKey
	srv   *Server
	store *MemoryRoomStore
	ring  *FetchingKeyRing
	keys  *MemoryKeyStore
	http  *httptest.Server
}

// newNetwork starts one homeserver per name.
func newNetwork(t *testing.T, names ...string) []*homeserver {
	t.Helper()
	static := map[string]string{}
	var hss []*homeserver
	for _, n := range names {
		ts := httptest.NewUnstartedServer(nil)
		static[n] = ts.Listener.Addr().String()
		hss = append(hss, &homeserver{name: n, http: ts})
	}
	resolver := &Resolver{Static: static}
	transport := NewTransport(resolver, nil, true)
	for _, hs := range hss {
		key, err := signing.GenerateKey("k1")
		if err != nil {
			t.Fatal(err)
		}
		hs.key = key
		hs.store = NewMemoryRoomStore()
		hs.keys = &MemoryKeyStore{}
		hs.ring = &FetchingKeyRing{Client: &http.Client{Transport: transport}, Store: hs.keys}
		client := &Client{ServerName: hs.name, Key: key, Transport: transport}
		hs.srv = &Server{
			ServerName: hs.name, Key: key, Keys: hs.ring, Rooms: hs.store, Client: client,
			KeyHandler: ServerKeysHandler(hs.name, key, nil, 0),
			Invites:    &MemoryInvites{},
		}
		hs.http.Config.Handler = hs.srv
		hs.http.Start()
		t.Cleanup(hs.http.Close)
	}
	return hss
}

func strp(s string) *string { return &s }

// createRoom makes a public room on hs with creator as its only member.
func createRoom(t *testing.T, hs *homeserver, v roomversion.Version, creator string, roomID string) string {
	t.Helper()
	ctx := context.Background()
	createContent := `{}`
	if !v.Auth.CreatorInContent {
		createContent = `{"room_version":"` + v.ID + `"}`
	} else {
		createContent = `{"creator":"` + creator + `","room_version":"` + v.ID + `"}`
	}
	if v.Event.RoomID == roomversion.RoomIDCreateHash {
		roomID = ""
	}
	create, err := hs.srv.CreateEvent(ctx, v, event.Builder{Type: event.TypeCreate, StateKey: strp(""), Sender: creator, RoomID: roomID, Content: []byte(createContent)})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	roomID = create.RoomID()
	users := `{"` + creator + `":100}`
	if v.Auth.PrivilegedCreators {
		users = `{}`
	}
	for _, b := range []event.Builder{
		{Type: event.TypeMember, StateKey: strp(creator), Content: []byte(`{"membership":"join"}`)},
		{Type: "m.room.power_levels", StateKey: strp(""), Content: []byte(`{"users":` + users + `,"users_default":0,"state_default":50,"events_default":0,"ban":50,"kick":50,"redact":50,"invite":0}`)},
		{Type: "m.room.join_rules", StateKey: strp(""), Content: []byte(`{"join_rule":"public"}`)},
		{Type: "m.room.topic", StateKey: strp(""), Content: []byte(`{"topic":"first"}`)},
	} {
		b.Sender, b.RoomID = creator, roomID
		if _, err := hs.srv.CreateEvent(ctx, v, b); err != nil {
			t.Fatalf("%s: %v", b.Type, err)
		}
	}
	return roomID
}

// send builds an event of hs, stores it and sends it to the room's other
// servers, failing the test when a server reports an error.
func send(t *testing.T, hs *homeserver, v roomversion.Version, b event.Builder) *event.Event {
	t.Helper()
	ev, err := hs.srv.CreateEvent(context.Background(), v, b)
	if err != nil {
		t.Fatalf("%s: build %s: %v", hs.name, b.Type, err)
	}
	sendBuilt(t, hs, ev)
	return ev
}

func sendBuilt(t *testing.T, hs *homeserver, evs ...*event.Event) {
	t.Helper()
	ctx := context.Background()
	servers, err := hs.srv.RoomServers(ctx, evs[0].RoomID())
	if err != nil {
		t.Fatal(err)
	}
	for _, dest := range servers {
		res, err := hs.srv.Client.SendPDUs(ctx, dest, evs, nil)
		if err != nil {
			t.Fatalf("%s -> %s: %v", hs.name, dest, err)
		}
		for _, e := range evs {
			r, ok := res[e.ID()]
			if !ok || r.Error != "" {
				t.Fatalf("%s -> %s: %s: result %+v (present %v)", hs.name, dest, e.ID(), r, ok)
			}
		}
	}
}

func currentOf(t *testing.T, hs *homeserver, roomID string) stateres.StateMap {
	t.Helper()
	_, st, _, err := currentState(context.Background(), hs.store, roomID)
	if err != nil {
		t.Fatalf("%s: current state: %v", hs.name, err)
	}
	return st
}

func statusOf(t *testing.T, hs *homeserver, id string) (Status, bool) {
	t.Helper()
	return hs.store.Status(id)
}

func TestEndToEnd(t *testing.T) {
	for _, v := range []roomversion.Version{roomversion.V10, roomversion.V11, roomversion.V12} {
		t.Run("v"+v.ID, func(t *testing.T) { testEndToEnd(t, v) })
	}
}

func testEndToEnd(t *testing.T, v roomversion.Version) {
	ctx := context.Background()
	hss := newNetwork(t, "alpha.test", "beta.test")
	a, b := hss[0], hss[1]
	alice, bob := "@alice:alpha.test", "@bob:beta.test"

	roomID := createRoom(t, a, v, alice, "!room:alpha.test")

	// beta joins through alpha: make_join, send_join, the checks of the
	// state and auth chain; the keys of alpha are fetched on the way.
	res, err := b.srv.Join(ctx, []string{"alpha.test"}, roomID, bob, nil)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if res.Server != "alpha.test" || !contains(res.ServersInRoom, "beta.test") || !contains(res.ServersInRoom, "alpha.test") {
		t.Errorf("join result: server %q, servers in room %v", res.Server, res.ServersInRoom)
	}
	// The keys were fetched over HTTP during the handshake: beta's store
	// holds alpha's published keys, alpha's holds beta's.
	for _, c := range []struct{ by, of *homeserver }{{b, a}, {a, b}} {
		got, err := c.by.keys.LoadServerKeys(ctx, []string{c.of.name})
		if err != nil || len(got[c.of.name]) == 0 || !got[c.of.name][0].VerifyKeys[c.of.key.ID].Equal(c.of.key.Public()) {
			t.Fatalf("%s did not fetch %s's keys: %v %v", c.by.name, c.of.name, got, err)
		}
	}
	if st, ok := statusOf(t, a, res.Event.ID()); !ok || st != Accepted {
		t.Fatalf("alpha has bob's join as %v (present %v)", st, ok)
	}
	if got := currentOf(t, a, roomID); !maps.Equal(got, currentOf(t, b, roomID)) {
		t.Fatalf("states differ after the join:\nalpha %v\nbeta  %v", got, currentOf(t, b, roomID))
	}

	// Both send messages through /send and see each other's.
	m1 := send(t, a, v, event.Builder{Type: "m.room.message", Sender: alice, RoomID: roomID, Content: []byte(`{"msgtype":"m.text","body":"hello from alpha"}`)})
	m2 := send(t, b, v, event.Builder{Type: "m.room.message", Sender: bob, RoomID: roomID, Content: []byte(`{"msgtype":"m.text","body":"hello from beta"}`)})
	for _, c := range []struct {
		hs *homeserver
		ev *event.Event
	}{{b, m1}, {a, m2}} {
		if st, ok := statusOf(t, c.hs, c.ev.ID()); !ok || st != Accepted {
			t.Errorf("%s has %s as %v (present %v)", c.hs.name, c.ev.ID(), st, ok)
		}
	}

	// A forged PDU (beta's key ID, another private key) is dropped.
	forger, _ := signing.GenerateKey(string(b.key.ID.Version()))
	fake, err := (&event.Builder{Type: "m.room.message", Sender: bob, RoomID: roomID, Content: []byte(`{"body":"forged"}`), PrevEvents: []*event.Event{m2}, AuthEvents: authOf(t, b, m2)}).Build(v, "beta.test", forger)
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.srv.Client.SendPDUs(ctx, "alpha.test", []*event.Event{fake}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := out[fake.ID()]; !strings.Contains(r.Error, "signature") {
		t.Errorf("forged PDU: result %+v, want a signature error", r)
	}
	if _, ok := statusOf(t, a, fake.ID()); ok {
		t.Errorf("alpha stored the forged PDU")
	}

	// A tampered PDU (content changed after signing: the signature of the
	// redacted form holds, the content hash does not) is stored redacted.
	good, err := (&event.Builder{Type: "m.room.message", Sender: bob, RoomID: roomID, Content: []byte(`{"body":"original"}`), PrevEvents: []*event.Event{m2}, AuthEvents: authOf(t, b, m2)}).Build(v, "beta.test", b.key)
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(strings.Replace(string(good.JSON()), `"original"`, `"tampered"`, 1))
	out, err = b.srv.Client.SendTransaction(ctx, "alpha.test", "tamper-1", Transaction{PDUs: []json.RawMessage{tampered}})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := out[good.ID()]; !ok || r.Error != "" {
		t.Errorf("tampered PDU: result %+v (present %v), want accepted redacted", r, ok)
	}
	if got := storedEvent(t, a, good.ID()); got == nil || string(got.Content()) != "{}" {
		t.Errorf("tampered PDU stored as %v, want its redacted form", got)
	}

	// Concurrent topics: both build on the same state, then exchange.
	t1, err := a.srv.CreateEvent(ctx, v, event.Builder{Type: "m.room.topic", StateKey: strp(""), Sender: alice, RoomID: roomID, Content: []byte(`{"topic":"alpha's"}`)})
	if err != nil {
		t.Fatal(err)
	}
	// Bob needs the power to set the topic: alice gives it first.
	_ = t1
	promote(t, a, b, v, roomID, alice, bob)
	ta, err := a.srv.CreateEvent(ctx, v, event.Builder{Type: "m.room.topic", StateKey: strp(""), Sender: alice, RoomID: roomID, Content: []byte(`{"topic":"alpha's topic"}`)})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.srv.CreateEvent(ctx, v, event.Builder{Type: "m.room.topic", StateKey: strp(""), Sender: bob, RoomID: roomID, Content: []byte(`{"topic":"beta's topic"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(ta.PrevEventIDs(), tb.PrevEventIDs()) {
		t.Fatalf("the topics are not concurrent: prevs %v and %v", ta.PrevEventIDs(), tb.PrevEventIDs())
	}
	sendBuilt(t, a, ta)
	sendBuilt(t, b, tb)
	sa, sb := currentOf(t, a, roomID), currentOf(t, b, roomID)
	if !maps.Equal(sa, sb) {
		t.Fatalf("the concurrent topics resolved differently:\nalpha %v\nbeta  %v", sa, sb)
	}
	topicKey := stateres.StateKey{Type: "m.room.topic"}
	if w := sa[topicKey]; w != ta.ID() && w != tb.ID() {
		t.Errorf("resolved topic %s is neither of the concurrent ones", w)
	}
	// A message on top of both forks reaches beta, which resolves the
	// state before it from the two forks.
	after := send(t, a, v, event.Builder{Type: "m.room.message", Sender: alice, RoomID: roomID, Content: []byte(`{"body":"after the fork"}`)})
	if len(after.PrevEventIDs()) != 2 {
		t.Errorf("the message after the fork has prevs %v, want both topics", after.PrevEventIDs())
	}
	if st, _ := statusOf(t, b, after.ID()); st != Accepted {
		t.Errorf("beta has the merge as %v", st)
	}

	// Concurrent ban and topic: alice bans bob while bob sets the topic.
	ban, err := a.srv.CreateEvent(ctx, v, event.Builder{Type: event.TypeMember, StateKey: strp(bob), Sender: alice, RoomID: roomID, Content: []byte(`{"membership":"ban"}`)})
	if err != nil {
		t.Fatal(err)
	}
	evade, err := b.srv.CreateEvent(ctx, v, event.Builder{Type: "m.room.topic", StateKey: strp(""), Sender: bob, RoomID: roomID, Content: []byte(`{"topic":"evading"}`)})
	if err != nil {
		t.Fatal(err)
	}
	// beta is still a server of the room when the ban is sent (its state
	// has bob joined): send to it by hand.
	if r, err := a.srv.Client.SendPDUs(ctx, "beta.test", []*event.Event{ban}, nil); err != nil || r[ban.ID()].Error != "" {
		t.Fatalf("ban to beta: %v %v", r, err)
	}
	if r, err := b.srv.Client.SendPDUs(ctx, "alpha.test", []*event.Event{evade}, nil); err != nil || r[evade.ID()].Error != "" {
		t.Fatalf("evading topic to alpha: %v %v", r, err)
	}
	// alpha saw the ban first: the topic passes the state before it but
	// not the current state, so it is soft-failed.
	if st, _ := statusOf(t, a, evade.ID()); st != SoftFailed {
		t.Errorf("alpha has the evading topic as %v, want soft_failed", st)
	}
	// The two forks resolve to the same state on both servers. (The
	// current states may differ until beta sends an event on top of both
	// forks: alpha soft-failed the topic, so it is not one of alpha's
	// forward extremities, as "Soft failure" describes.)
	forks := []string{ban.ID(), evade.ID()}
	sa, err = resolveAt(ctx, a.store, v, forks)
	if err != nil {
		t.Fatal(err)
	}
	sb, err = resolveAt(ctx, b.store, v, forks)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(sa, sb) {
		t.Fatalf("ban and topic resolved differently:\nalpha %v\nbeta  %v", sa, sb)
	}
	if cb := currentOf(t, b, roomID); !maps.Equal(cb, sb) {
		t.Errorf("beta's current state is not the resolution of the forks")
	}
	if sa[stateres.StateKey{Type: event.TypeMember, StateKey: bob}] != ban.ID() {
		t.Errorf("bob is not banned in the resolved state")
	}
	if sa[topicKey] == evade.ID() {
		t.Errorf("the banned user's topic won")
	}
}

// promote has alice give bob power level 50 and sends it to beta.
func promote(t *testing.T, a, b *homeserver, v roomversion.Version, roomID, alice, bob string) {
	t.Helper()
	users := `{"` + alice + `":100,"` + bob + `":50}`
	if v.Auth.PrivilegedCreators {
		users = `{"` + bob + `":50}`
	}
	pl := send(t, a, v, event.Builder{Type: "m.room.power_levels", StateKey: strp(""), Sender: alice, RoomID: roomID,
		Content: []byte(`{"users":` + users + `,"users_default":0,"state_default":50,"events_default":0,"ban":50,"kick":50,"redact":50,"invite":0}`)})
	if st, _ := statusOf(t, b, pl.ID()); st != Accepted {
		t.Fatalf("beta has the power levels as %v", st)
	}
}

func storedEvent(t *testing.T, hs *homeserver, id string) *event.Event {
	t.Helper()
	evs, err := hs.store.Events(context.Background(), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	return evs[0].Event
}

// authOf returns the auth events of ev, from hs's store.
func authOf(t *testing.T, hs *homeserver, ev *event.Event) []*event.Event {
	t.Helper()
	evs, err := hs.store.Events(context.Background(), ev.AuthEventIDs())
	if err != nil {
		t.Fatal(err)
	}
	var out []*event.Event
	for _, e := range evs {
		out = append(out, e.Event)
	}
	return out
}

// TestEndToEndGapFilling: beta receives an event whose prev events it does
// not have, and fills the gap from alpha with get_missing_events, then, with
// the limit of get_missing_events too small for the gap, with state_ids at
// the event still missing.
func TestEndToEndGapFilling(t *testing.T) {
	ctx := context.Background()
	v := roomversion.V11
	hss := newNetwork(t, "alpha.test", "beta.test")
	a, b := hss[0], hss[1]
	alice, bob := "@alice:alpha.test", "@bob:beta.test"
	roomID := createRoom(t, a, v, alice, "!gap:alpha.test")
	if _, err := b.srv.Join(ctx, []string{"alpha.test"}, roomID, bob, nil); err != nil {
		t.Fatal(err)
	}
	msg := func(body string) *event.Event {
		e, err := a.srv.CreateEvent(ctx, v, event.Builder{Type: "m.room.message", Sender: alice, RoomID: roomID, Content: []byte(`{"body":"` + body + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	m1, m2 := msg("m1"), msg("m2")
	topic, err := a.srv.CreateEvent(ctx, v, event.Builder{Type: "m.room.topic", StateKey: strp(""), Sender: alice, RoomID: roomID, Content: []byte(`{"topic":"gap"}`)})
	if err != nil {
		t.Fatal(err)
	}
	m3 := msg("m3")
	sendBuilt(t, a, m3)
	for _, e := range []*event.Event{m1, m2, topic, m3} {
		if st, ok := statusOf(t, b, e.ID()); !ok || st != Accepted {
			t.Errorf("beta has %s as %v (present %v)", e.Content(), st, ok)
		}
	}
	if got := currentOf(t, b, roomID); got[stateres.StateKey{Type: "m.room.topic"}] != topic.ID() {
		t.Errorf("beta's topic after the gap is %s, want %s", got[stateres.StateKey{Type: "m.room.topic"}], topic.ID())
	}

	b.srv.Receiver().MissingEventsLimit = 1
	n1, n2 := msg("n1"), msg("n2")
	n3 := msg("n3")
	sendBuilt(t, a, n3)
	if st, _ := statusOf(t, b, n1.ID()); st != Outlier {
		t.Errorf("n1, fetched by /event for state_ids, is %v, want outlier", st)
	}
	for _, e := range []*event.Event{n2, n3} {
		if st, _ := statusOf(t, b, e.ID()); st != Accepted {
			t.Errorf("beta has %s as %v", e.Content(), st)
		}
	}
}

// TestEndToEndMemberships: invite (v2, signed by the invitee's server),
// rejecting it with make_leave/send_leave, and knocking, between two servers.
func TestEndToEndMemberships(t *testing.T) {
	for _, v := range []roomversion.Version{roomversion.V10, roomversion.V12} {
		t.Run("v"+v.ID, func(t *testing.T) {
			ctx := context.Background()
			hss := newNetwork(t, "alpha.test", "beta.test")
			a, b := hss[0], hss[1]
			alice, carol, dave := "@alice:alpha.test", "@carol:beta.test", "@dave:beta.test"
			roomID := createRoom(t, a, v, alice, "!m:alpha.test")

			inv, err := a.srv.Invite(ctx, roomID, alice, carol)
			if err != nil {
				t.Fatalf("invite: %v", err)
			}
			if err := a.srv.verifySignatureOf(ctx, inv, "beta.test"); err != nil {
				t.Errorf("stored invite lacks beta's signature: %v", err)
			}
			got := b.srv.Invites.(*MemoryInvites).Invites()
			if len(got) != 1 || got[0].Event.ID() != inv.ID() || got[0].Origin != "alpha.test" {
				t.Fatalf("beta's invites: %+v", got)
			}
			hasCreate := false
			for _, raw := range got[0].RoomState {
				if e, err := event.Parse(v, raw); err == nil && e.Type() == event.TypeCreate {
					hasCreate = true
				}
			}
			if !hasCreate {
				t.Errorf("invite_room_state has no create event")
			}

			// carol rejects the invite through alpha.
			leave, err := b.srv.Leave(ctx, []string{"alpha.test"}, roomID, carol)
			if err != nil {
				t.Fatalf("leave: %v", err)
			}
			if st, _ := statusOf(t, a, leave.ID()); st != Accepted {
				t.Errorf("alpha has carol's leave as %v", st)
			}
			if cur := currentOf(t, a, roomID); cur[stateres.StateKey{Type: event.TypeMember, StateKey: carol}] != leave.ID() {
				t.Errorf("carol's membership is not the leave")
			}

			// Knocking needs a knock join rule.
			if _, err := a.srv.CreateEvent(ctx, v, event.Builder{Type: "m.room.join_rules", StateKey: strp(""), Sender: alice, RoomID: roomID, Content: []byte(`{"join_rule":"knock"}`)}); err != nil {
				t.Fatal(err)
			}
			knock, state, err := b.srv.Knock(ctx, []string{"alpha.test"}, roomID, dave, "let me in")
			if err != nil {
				t.Fatalf("knock: %v", err)
			}
			if st, _ := statusOf(t, a, knock.ID()); st != Accepted {
				t.Errorf("alpha has the knock as %v", st)
			}
			types := map[string]bool{}
			for _, e := range state {
				types[e.Type()] = true
			}
			if !types[event.TypeCreate] || !types["m.room.join_rules"] {
				t.Errorf("knock_room_state types %v", types)
			}
			// A join through a server that does not know the room fails
			// with the handshake error.
			if _, err := b.srv.Join(ctx, []string{"alpha.test"}, "!nowhere:alpha.test", dave, nil); !errors.Is(err, ErrHandshake) {
				t.Errorf("join of an unknown room: %v", err)
			}
		})
	}
}

// TestEndToEndMissingAuthEvents: a PDU whose prev events are known but one of
// whose auth events is not makes the receiver fetch its auth chain with
// event_auth; the fetched event is stored as an outlier.
func TestEndToEndMissingAuthEvents(t *testing.T) {
	ctx := context.Background()
	v := roomversion.V10
	hss := newNetwork(t, "alpha.test", "beta.test")
	a, b := hss[0], hss[1]
	alice, bob := "@alice:alpha.test", "@bob:beta.test"
	roomID := createRoom(t, a, v, alice, "!auth:alpha.test")
	if _, err := b.srv.Join(ctx, []string{"alpha.test"}, roomID, bob, nil); err != nil {
		t.Fatal(err)
	}
	_, _, known, err := currentState(ctx, a.store, roomID)
	if err != nil {
		t.Fatal(err)
	}
	// New power levels that beta never receives as a PDU.
	pl, err := a.srv.CreateEvent(ctx, v, event.Builder{Type: "m.room.power_levels", StateKey: strp(""), Sender: alice, RoomID: roomID,
		Content: []byte(`{"users":{"@alice:alpha.test":100},"events_default":0,"state_default":50}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, st, _, err := currentState(ctx, a.store, roomID)
	if err != nil {
		t.Fatal(err)
	}
	// A message on the old extremity, authorised by the new power levels.
	msg, err := buildEvent(ctx, a.store, v, event.Builder{Type: "m.room.message", Sender: alice, RoomID: roomID, Content: []byte(`{"body":"x"}`)}, st, known, "alpha.test", a.key, true)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(msg.AuthEventIDs(), pl.ID()) {
		t.Fatalf("the message is not authorised by the new power levels")
	}
	// alpha has it (event_auth is asked about it).
	before, err := resolveAt(ctx, a.store, v, known)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.StoreEvents(ctx, roomID, []NewEvent{{Event: msg, Status: Accepted, StateAfter: before}}); err != nil {
		t.Fatal(err)
	}
	sendBuilt(t, a, msg)
	if s, _ := statusOf(t, b, pl.ID()); s != Outlier {
		t.Errorf("the power levels fetched with event_auth are %v, want outlier", s)
	}
	if s, _ := statusOf(t, b, msg.ID()); s != Accepted {
		t.Errorf("the message is %v, want accepted", s)
	}
}

// TestEndToEndRejoinAfterBan: beta's user is banned (beta receives the
// ban, which becomes its forward extremity), unbanned while beta is out of
// the room (beta never sees the unban) and joins again. The state from
// send_join arrives as outliers; the join must be beta's only forward
// extremity, or beta's next event cites the stale ban as a prev event.
func TestEndToEndRejoinAfterBan(t *testing.T) {
	for _, v := range []roomversion.Version{roomversion.V10, roomversion.V11, roomversion.V12} {
		t.Run("v"+v.ID, func(t *testing.T) {
			ctx := context.Background()
			hss := newNetwork(t, "alpha.test", "beta.test")
			a, b := hss[0], hss[1]
			alice, carol := "@alice:alpha.test", "@carol:beta.test"
			roomID := createRoom(t, a, v, alice, "!rb:alpha.test")
			if _, err := b.srv.Join(ctx, []string{"alpha.test"}, roomID, carol, nil); err != nil {
				t.Fatalf("join: %v", err)
			}
			ban, err := a.srv.CreateEvent(ctx, v, event.Builder{Type: event.TypeMember, StateKey: strp(carol), Sender: alice, RoomID: roomID, Content: []byte(`{"membership":"ban"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if res, err := a.srv.Client.SendPDUs(ctx, "beta.test", []*event.Event{ban}, nil); err != nil || res[ban.ID()].Error != "" {
				t.Fatalf("sending the ban: %v %+v", err, res)
			}
			if ext, _ := b.store.ForwardExtremities(ctx, roomID); !slices.Equal(ext, []string{ban.ID()}) {
				t.Fatalf("beta's extremities after the ban: %v", ext)
			}
			if _, err := a.srv.CreateEvent(ctx, v, event.Builder{Type: event.TypeMember, StateKey: strp(carol), Sender: alice, RoomID: roomID, Content: []byte(`{"membership":"leave"}`)}); err != nil {
				t.Fatal(err)
			}
			res, err := b.srv.Join(ctx, []string{"alpha.test"}, roomID, carol, nil)
			if err != nil {
				t.Fatalf("rejoin: %v", err)
			}
			if ext, _ := b.store.ForwardExtremities(ctx, roomID); !slices.Equal(ext, []string{res.Event.ID()}) {
				t.Fatalf("beta's extremities after the rejoin: %v, want only the join %s", ext, res.Event.ID())
			}
			msg := send(t, b, v, event.Builder{Type: "m.room.message", Sender: carol, RoomID: roomID, Content: []byte(`{"body":"back"}`)})
			if got := msg.PrevEventIDs(); !slices.Equal(got, []string{res.Event.ID()}) {
				t.Errorf("prev events of carol's message: %v", got)
			}
			if st, _ := statusOf(t, a, msg.ID()); st != Accepted {
				t.Errorf("alpha has carol's message as %v", st)
			}
		})
	}
}
