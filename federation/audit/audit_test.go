package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/federation/audit"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
)

// tamper rewrites the bodies of the answers to requests whose path
// contains path: a server (or a network) that lies.
type tamper struct {
	next    http.RoundTripper
	path    string
	rewrite func(t *testing.T, body []byte) []byte
	t       *testing.T
	done    bool
}

func (tp *tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := tp.next.RoundTrip(r)
	if err != nil || !strings.Contains(r.URL.Path, tp.path) {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	nb := tp.rewrite(tp.t, body)
	tp.done = tp.done || !bytes.Equal(nb, body)
	resp.Body = io.NopCloser(bytes.NewReader(nb))
	resp.ContentLength = int64(len(nb))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// room is a room of alpha.example that bob of beta.example joined, with a
// message from alice as its latest event.
type room struct {
	alpha, beta *federation.Server
	transport   http.RoundTripper
	id          string
	msg         *event.Event
}

func newAuditedRoom(t *testing.T) *room {
	t.Helper()
	ctx := context.Background()
	hss, transport, stop := servers("alpha.example", "beta.example")
	t.Cleanup(stop)
	r := &room{alpha: hss[0], beta: hss[1], transport: transport}
	r.id = newRoom(ctx, r.alpha, "@alice:alpha.example")
	if _, err := r.beta.Join(ctx, []string{"alpha.example"}, r.id, "@bob:beta.example", nil); err != nil {
		t.Fatal(err)
	}
	var err error
	r.msg, err = r.alpha.CreateEvent(ctx, roomversion.V12, event.Builder{Type: "m.room.message", Sender: "@alice:alpha.example", RoomID: r.id, Content: []byte(`{"msgtype":"m.text","body":"hello"}`)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// audit runs the auditor of beta against alpha, through tp when not nil.
func (r *room) audit(t *testing.T, latest string, tp *tamper) *audit.Report {
	t.Helper()
	c := r.beta.Client
	if tp != nil {
		tp.next, tp.t = r.transport, t
		c = &federation.Client{ServerName: c.ServerName, Key: c.Key, Transport: tp}
	}
	rep, err := (&audit.Auditor{Client: c, Keys: r.beta.Keys}).Room(context.Background(), "alpha.example", roomversion.V12, r.id, latest)
	if err != nil {
		t.Fatal(err)
	}
	if tp != nil && !tp.done {
		t.Fatalf("nothing was tampered with on %s", tp.path)
	}
	return rep
}

func wantOne(t *testing.T, rep *audit.Report, id, check string) {
	t.Helper()
	if len(rep.Findings) != 1 || rep.Findings[0].EventID != id || rep.Findings[0].Check != check {
		t.Errorf("findings %v, want one %q on %s", rep.Findings, check, id)
	}
}

func TestHonestRoom(t *testing.T) {
	r := newAuditedRoom(t)
	rep := r.audit(t, r.msg.ID(), nil)
	if rep.Events != 7 || rep.Partial != 0 || len(rep.Findings) != 0 {
		t.Errorf("report %+v, want 7 events, none partial, no findings", rep)
	}
}

// A server that changes an event's content after signing it: the content
// hash no longer matches (the event ID, a hash of the redacted event,
// does not change for a message).
func TestTamperedContent(t *testing.T) {
	r := newAuditedRoom(t)
	rep := r.audit(t, r.msg.ID(), &tamper{path: "/backfill/", rewrite: func(t *testing.T, b []byte) []byte {
		return bytes.Replace(b, []byte(`"body":"hello"`), []byte(`"body":"HELLO"`), 1)
	}})
	wantOne(t, rep, r.msg.ID(), audit.CheckSignatures)
}

// A server whose claimed state before the latest event lacks the topic.
func TestTamperedState(t *testing.T) {
	r := newAuditedRoom(t)
	rep := r.audit(t, r.msg.ID(), &tamper{path: "/state_ids/", rewrite: func(t *testing.T, b []byte) []byte {
		var ids federation.StateIDs
		if err := json.Unmarshal(b, &ids); err != nil || len(ids.PDUIDs) < 2 {
			t.Fatalf("state_ids answer %s: %v", b, err)
		}
		ids.PDUIDs = ids.PDUIDs[1:]
		out, _ := json.Marshal(ids)
		return out
	}})
	wantOne(t, rep, r.msg.ID(), audit.CheckState)
}

// A server that stored (and serves) an event its sender was not allowed
// to send, correctly signed by the server: a topic change by a user who
// never joined.
func TestForgedAuth(t *testing.T) {
	ctx := context.Background()
	r := newAuditedRoom(t)
	store := r.alpha.Rooms.(*federation.MemoryRoomStore)
	ext, err := store.ForwardExtremities(ctx, r.id)
	if err != nil || len(ext) != 1 {
		t.Fatalf("extremities %v, %v", ext, err)
	}
	prev, err := store.Events(ctx, ext)
	if err != nil {
		t.Fatal(err)
	}
	states, err := store.StateAfter(ctx, ext)
	if err != nil {
		t.Fatal(err)
	}
	before := states[0]
	pl, err := store.Events(ctx, []string{before[stateres.StateKey{Type: "m.room.power_levels"}]})
	if err != nil {
		t.Fatal(err)
	}
	empty := ""
	bad, err := (&event.Builder{Type: "m.room.topic", StateKey: &empty, Sender: "@mallory:alpha.example", RoomID: r.id,
		Content: []byte(`{"topic":"forged"}`), PrevEvents: []*event.Event{prev[0].Event}, AuthEvents: []*event.Event{pl[0].Event}}).Build(roomversion.V12, r.alpha.ServerName, r.alpha.Key)
	if err != nil {
		t.Fatal(err)
	}
	after := maps.Clone(before)
	after[stateres.StateKey{Type: "m.room.topic"}] = bad.ID()
	if err := store.StoreEvents(ctx, r.id, []federation.NewEvent{{Event: bad, Status: federation.Accepted, StateAfter: after}}); err != nil {
		t.Fatal(err)
	}
	rep := r.audit(t, bad.ID(), nil)
	wantOne(t, rep, bad.ID(), audit.CheckAuthEvents)
	if rep.Events != 8 {
		t.Errorf("%d events checked, want 8", rep.Events)
	}
}

// An event after the forged one is checked against the state a correct
// server has: the forged topic is not in it, so the server's claimed
// state (which has it) is a finding too.
func TestForgedStateCarriesOver(t *testing.T) {
	ctx := context.Background()
	r := newAuditedRoom(t)
	store := r.alpha.Rooms.(*federation.MemoryRoomStore)
	ext, _ := store.ForwardExtremities(ctx, r.id)
	prev, _ := store.Events(ctx, ext)
	states, _ := store.StateAfter(ctx, ext)
	before := states[0]
	// The forged event claims the old topic as its auth event for a
	// sender without membership.
	var auth []*event.Event
	for _, k := range []stateres.StateKey{{Type: "m.room.power_levels"}} {
		got, _ := store.Events(ctx, []string{before[k]})
		auth = append(auth, got[0].Event)
	}
	empty := ""
	bad, err := (&event.Builder{Type: "m.room.topic", StateKey: &empty, Sender: "@mallory:alpha.example", RoomID: r.id,
		Content: []byte(`{"topic":"forged"}`), PrevEvents: []*event.Event{prev[0].Event}, AuthEvents: auth}).Build(roomversion.V12, r.alpha.ServerName, r.alpha.Key)
	if err != nil {
		t.Fatal(err)
	}
	after := maps.Clone(before)
	after[stateres.StateKey{Type: "m.room.topic"}] = bad.ID()
	if err := store.StoreEvents(ctx, r.id, []federation.NewEvent{{Event: bad, Status: federation.Accepted, StateAfter: after}}); err != nil {
		t.Fatal(err)
	}
	next, err := r.alpha.CreateEvent(ctx, roomversion.V12, event.Builder{Type: "m.room.message", Sender: "@alice:alpha.example", RoomID: r.id, Content: []byte(`{"msgtype":"m.text","body":"after"}`)})
	if err != nil {
		t.Fatal(err)
	}
	rep := r.audit(t, next.ID(), nil)
	var checks []string
	for _, f := range rep.Findings {
		checks = append(checks, f.EventID+" "+f.Check)
	}
	want := []string{bad.ID() + " " + audit.CheckAuthEvents, next.ID() + " " + audit.CheckState}
	if !slices.Equal(checks, want) {
		t.Errorf("findings %v, want %v", rep.Findings, want)
	}
}

// A server that does not serve the event asked for: the audit cannot run.
func TestUnknownEvent(t *testing.T) {
	r := newAuditedRoom(t)
	_, err := (&audit.Auditor{Client: r.beta.Client, Keys: r.beta.Keys}).Room(context.Background(), "alpha.example", roomversion.V12, r.id, "$nosuchevent")
	if err == nil {
		t.Fatal("no error for an unknown event")
	}
	if _, err := (&audit.Auditor{}).Room(context.Background(), "alpha.example", roomversion.V12, r.id, r.msg.ID()); err == nil {
		t.Fatal("no error without a client")
	}
}
