//go:build unix

package interop

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxkit/mxkit/roomversion"
)

// wait is how long a check waits for federation to deliver.
const wait = 20 * time.Second

// env is the two servers and a user on each.
type env struct {
	mxkit, dendrite *server
	alice           *user // on mxkit
	bob             *user // on dendrite
	displayName     map[string]string
}

// TestDendrite federates the example homeserver with Dendrite on loopback
// and runs the flows of README.md for room versions 10 and 11, with the
// room created on each side in turn, then the restart flow over all those
// rooms at once.
func TestDendrite(t *testing.T) {
	if testing.Short() {
		t.Skip("the interop suite starts two servers; not in -short")
	}
	start := time.Now()
	bin := installDendrite(t)
	dir := t.TempDir()
	if d := os.Getenv("MXKIT_INTEROP_LOGS"); d != "" {
		// Keep the servers' data and logs for a look afterwards.
		dir = d
	}
	cert, key := writeCert(t, dir)
	hsBin := buildHomeserver(t, dir)
	e := &env{
		mxkit:    newMxkit(t, hsBin, filepath.Join(dir, "mxkit"), cert, key),
		dendrite: newDendrite(t, bin, filepath.Join(dir, "dendrite"), cert, key),
	}
	for _, s := range []*server{e.mxkit, e.dendrite} {
		t.Cleanup(func() {
			s.stop()
			if t.Failed() {
				t.Logf("last lines of the %s log (%s):\n%s", s.kind, s.logPath, s.logTail(60))
			}
		})
		s.start(t)
	}
	t.Logf("servers up after %v: mxkit %s, dendrite %s", time.Since(start).Round(time.Millisecond), e.mxkit.name, e.dendrite.name)
	e.alice = registerUser(t, e.mxkit, "alice", "Alice on mxkit")
	e.bob = registerUser(t, e.dendrite, "bob", "Bob on Dendrite")
	e.displayName = map[string]string{e.alice.id: "Alice on mxkit", e.bob.id: "Bob on Dendrite"}

	var rooms []*room
	var mu sync.Mutex
	t.Run("flows", func(t *testing.T) {
		// The four rooms side by side: their flows wait on federation, not
		// on the CPU, so they are not held to -parallel (GOMAXPROCS).
		var wg sync.WaitGroup
		for _, v := range []roomversion.Version{roomversion.V10, roomversion.V11} {
			for _, hostKind := range []string{"mxkit", "dendrite"} {
				wg.Go(func() {
					t.Run("v"+v.ID+"/"+hostKind+"-hosts", func(t *testing.T) {
						r := e.newRoom(v, hostKind)
						r.run(t)
						mu.Lock()
						rooms = append(rooms, r)
						mu.Unlock()
					})
				})
			}
		}
		wg.Wait()
	})
	if len(rooms) > 0 {
		t.Run("restart", func(t *testing.T) { e.restartFlow(t, rooms) })
	}
	checkDeviationsSeen(t)
	t.Logf("suite done in %v", time.Since(start).Round(time.Millisecond))
}

// room is one room of the flows: its version, which server hosts it (its
// creator's), and the user on each side.
type room struct {
	e              *env
	v              roomversion.Version
	host, joiner   *user
	id, alias      string
	hostMessageIDs []string
}

func (e *env) newRoom(v roomversion.Version, hostKind string) *room {
	r := &room{e: e, v: v, host: e.alice, joiner: e.bob}
	if hostKind == "dendrite" {
		r.host, r.joiner = e.bob, e.alice
	}
	return r
}

// check names a check of this room: its outcome goes through expect.
func (r *room) check(t *testing.T, what string, err error) bool {
	t.Helper()
	return expect(t, fmt.Sprintf("v%s/%s-hosts/%s", r.v.ID, r.host.srv.kind, what), err)
}

func (r *room) run(t *testing.T) {
	r.create(t)
	r.join(t)
	r.history(t)
	r.messages(t)
	r.topicAndPowerLevels(t)
	r.typingAndReceipts(t)
	r.profiles(t)
	r.aliasAndDirectory(t)
	r.redactions(t)
	r.memberships(t)
}

// create: the host's user creates a public, published room with an alias,
// and says something before anyone else joins.
func (r *room) create(t *testing.T) {
	t.Helper()
	local := fmt.Sprintf("interop-v%s-%s-%d", r.v.ID, r.host.srv.kind, time.Now().UnixNano()%1e6)
	var c struct {
		RoomID string `json:"room_id"`
	}
	r.host.must(t, "POST", "/createRoom", map[string]any{
		"preset": "public_chat", "visibility": "public", "room_version": r.v.ID,
		"room_alias_name": local, "name": "interop " + local, "topic": "first topic",
	}, &c)
	r.id = c.RoomID
	r.alias = "#" + local + ":" + r.host.srv.name
	r.hostMessageIDs = append(r.hostMessageIDs, r.host.send(t, r.id, "history before the join"))
}

// join: the joiner's server joins through the host (make_join, send_join).
func (r *room) join(t *testing.T) {
	t.Helper()
	if err := r.joiner.do("POST", "/join/"+esc(r.id)+"?server_name="+esc(r.host.srv.name), map[string]any{}, nil); err != nil {
		t.Fatalf("join of %s through %s: %v", r.joiner.id, r.host.srv.kind, err)
	}
	r.check(t, "join: the host sees the joiner joined", r.waitMembership(r.host, r.joiner.id, "join"))
}

func (r *room) waitMembership(seer *user, target, want string) error {
	return within(wait, func() error {
		m, err := seer.membershipSeen(r.id, target)
		if err != nil {
			return err
		}
		if m != want {
			return fmt.Errorf("%s sees %s as %q, want %q", seer.srv.kind, target, m, want)
		}
		return nil
	})
}

// history: events from before the join are visible to the joiner
// (history_visibility "shared", the public_chat preset's).
func (r *room) history(t *testing.T) {
	t.Helper()
	r.check(t, "history before the join in the joiner's /messages", within(wait, func() error {
		return hasEvent(r.joiner.messages(r.id))(r.hostMessageIDs[0], "history before the join")
	}))
}

// hasEvent looks for an event with a body in a list (or its error).
func hasEvent(evs []clientEvent, err error) func(id, body string) error {
	return func(id, body string) error {
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.EventID == id {
				if b := e.contentField("body"); b != body {
					return fmt.Errorf("event %s has body %q, want %q", id, b, body)
				}
				return nil
			}
		}
		return fmt.Errorf("event %s (%q) is not among %d events", id, body, len(evs))
	}
}

func (r *room) inSync(u *user, id, body string) error {
	s, err := u.initialSync()
	if err != nil {
		return err
	}
	jr, ok := s.Rooms.Join[r.id]
	if !ok {
		return fmt.Errorf("%s's sync has no joined room %s", u.id, r.id)
	}
	return hasEvent(jr.Timeline.Events, nil)(id, body)
}

// messages: each side's message reaches the other, in /sync and in
// /messages.
func (r *room) messages(t *testing.T) {
	t.Helper()
	for _, d := range []struct {
		name     string
		from, to *user
	}{{"host to joiner", r.host, r.joiner}, {"joiner to host", r.joiner, r.host}} {
		body := "message " + d.name
		id := d.from.send(t, r.id, body)
		r.check(t, "messages: "+d.name+" in /sync", within(wait, func() error { return r.inSync(d.to, id, body) }))
		r.check(t, "messages: "+d.name+" in /messages", within(wait, func() error { return hasEvent(d.to.messages(r.id))(id, body) }))
	}
}

// topicAndPowerLevels: the host changes the topic, raises the joiner to
// 50 (the state default of public_chat), and the joiner changes the topic.
func (r *room) topicAndPowerLevels(t *testing.T) {
	t.Helper()
	topicSeen := func(u *user, want string) error {
		return within(wait, func() error {
			c, err := u.stateContent(r.id, "m.room.topic", "")
			if err != nil {
				return err
			}
			if c["topic"] != want {
				return fmt.Errorf("%s sees topic %q, want %q", u.srv.kind, c["topic"], want)
			}
			return nil
		})
	}
	if _, err := r.host.setState(r.id, "m.room.topic", "", map[string]string{"topic": "topic by the host"}); err != nil {
		t.Fatal(err)
	}
	r.check(t, "topic: the host's topic seen by the joiner", topicSeen(r.joiner, "topic by the host"))
	pl, err := r.host.stateContent(r.id, "m.room.power_levels", "")
	if err != nil {
		t.Fatal(err)
	}
	users, _ := pl["users"].(map[string]any)
	if users == nil {
		users = map[string]any{}
	}
	users[r.joiner.id] = 50
	pl["users"] = users
	if _, err := r.host.setState(r.id, "m.room.power_levels", "", pl); err != nil {
		t.Fatal(err)
	}
	r.check(t, "power levels: the joiner's level seen by the joiner", within(wait, func() error {
		c, err := r.joiner.stateContent(r.id, "m.room.power_levels", "")
		if err != nil {
			return err
		}
		u, _ := c["users"].(map[string]any)
		if lvl, _ := u[r.joiner.id].(float64); lvl != 50 {
			return fmt.Errorf("joiner's power level %v", u[r.joiner.id])
		}
		return nil
	}))
	if _, err := r.joiner.setState(r.id, "m.room.topic", "", map[string]string{"topic": "topic by the joiner"}); err != nil {
		r.check(t, "power levels: the joiner may change the topic", err)
		return
	}
	r.check(t, "topic: the joiner's topic seen by the host", topicSeen(r.host, "topic by the joiner"))
}

// typingAndReceipts: typing notifications and read receipts cross, both
// ways (EDUs).
func (r *room) typingAndReceipts(t *testing.T) {
	t.Helper()
	for _, d := range []struct {
		name     string
		from, to *user
	}{{"joiner to host", r.joiner, r.host}, {"host to joiner", r.host, r.joiner}} {
		r.check(t, "typing: "+d.name, func() error {
			if err := d.from.do("PUT", roomPath(r.id)+"/typing/"+esc(d.from.id), map[string]any{"typing": true, "timeout": 30000}, nil); err != nil {
				return err
			}
			return within(wait, func() error {
				return r.ephemeral(d.to, "m.typing", func(c json.RawMessage) bool {
					var ty struct {
						UserIDs []string `json:"user_ids"`
					}
					json.Unmarshal(c, &ty)
					return slices.Contains(ty.UserIDs, d.from.id)
				})
			})
		}())
		target := d.to.send(t, r.id, "read me, "+d.name)
		r.check(t, "receipts: "+d.name, func() error {
			if err := within(wait, func() error { return r.inSync(d.from, target, "read me, "+d.name) }); err != nil {
				return err
			}
			if err := d.from.do("POST", roomPath(r.id)+"/receipt/m.read/"+esc(target), map[string]any{}, nil); err != nil {
				return err
			}
			return within(wait, func() error {
				return r.ephemeral(d.to, "m.receipt", func(c json.RawMessage) bool {
					var rc map[string]map[string]map[string]any
					json.Unmarshal(c, &rc)
					_, ok := rc[target]["m.read"][d.from.id]
					return ok
				})
			})
		}())
	}
}

func (r *room) ephemeral(u *user, typ string, match func(json.RawMessage) bool) error {
	s, err := u.initialSync()
	if err != nil {
		return err
	}
	var got []string
	for _, ev := range s.Rooms.Join[r.id].Ephemeral.Events {
		if ev.Type == typ && match(ev.Content) {
			return nil
		}
		got = append(got, ev.Type+" "+string(ev.Content))
	}
	return fmt.Errorf("%s's sync has no matching %s among ephemeral events %v", u.srv.kind, typ, got)
}

// profiles: each server answers for the other's user (federation profile
// query).
func (r *room) profiles(t *testing.T) {
	t.Helper()
	for _, d := range []struct {
		name       string
		asker, who *user
	}{{"the host's user asked on the joiner's server", r.joiner, r.host}, {"the joiner's user asked on the host's server", r.host, r.joiner}} {
		r.check(t, "profile: "+d.name, within(wait, func() error {
			var p struct {
				DisplayName string `json:"displayname"`
			}
			if err := d.asker.do("GET", "/profile/"+esc(d.who.id), nil, &p); err != nil {
				return err
			}
			if want := r.e.displayName[d.who.id]; p.DisplayName != want {
				return fmt.Errorf("display name %q, want %q", p.DisplayName, want)
			}
			return nil
		}))
	}
}

// aliasAndDirectory: the joiner's server resolves the host's alias and
// lists the host's public rooms (federation directory and publicRooms).
func (r *room) aliasAndDirectory(t *testing.T) {
	t.Helper()
	r.check(t, "alias: the joiner's server resolves the host's alias", func() error {
		var d struct {
			RoomID  string   `json:"room_id"`
			Servers []string `json:"servers"`
		}
		if err := r.joiner.do("GET", "/directory/room/"+esc(r.alias), nil, &d); err != nil {
			return err
		}
		if d.RoomID != r.id {
			return fmt.Errorf("alias %s resolves to %q, want %s", r.alias, d.RoomID, r.id)
		}
		return nil
	}())
	r.check(t, "public rooms: the joiner's server lists the host's published room", func() error {
		var pr struct {
			Chunk []struct {
				RoomID string `json:"room_id"`
			} `json:"chunk"`
		}
		if err := r.joiner.do("GET", "/publicRooms?limit=100&server="+esc(r.host.srv.name), nil, &pr); err != nil {
			return err
		}
		var ids []string
		for _, c := range pr.Chunk {
			if c.RoomID == r.id {
				return nil
			}
			ids = append(ids, c.RoomID)
		}
		return fmt.Errorf("room %s is not among the host's public rooms %v", r.id, ids)
	}())
}

// redactions: each user redacts a message of their own, with a reason;
// both servers must show it redacted, with the redaction in
// unsigned.redacted_because.
func (r *room) redactions(t *testing.T) {
	t.Helper()
	for _, by := range []*user{r.host, r.joiner} {
		other := r.joiner
		if by == r.joiner {
			other = r.host
		}
		body := "to be redacted by " + by.srv.kind
		target := by.send(t, r.id, body)
		if err := within(wait, func() error { return r.inSync(other, target, body) }); err != nil {
			r.check(t, "redaction: the message by "+by.srv.kind+" reaches "+other.srv.kind, err)
			continue
		}
		reason := "redacted by " + by.srv.kind
		var red struct {
			EventID string `json:"event_id"`
		}
		by.must(t, "PUT", roomPath(r.id)+"/redact/"+esc(target)+"/"+esc(fmt.Sprintf("red-%d", time.Now().UnixNano())), map[string]string{"reason": reason}, &red)
		for _, seer := range []*user{by, other} {
			var last *clientEvent
			applied := within(wait, func() error {
				ev, err := seer.event(r.id, target)
				if err != nil {
					return err
				}
				last = ev
				if ev.contentField("body") != "" {
					return fmt.Errorf("%s still shows the content %s", seer.srv.kind, ev.Content)
				}
				return nil
			})
			where := "redaction: by " + by.srv.kind + ", applied on " + seer.srv.kind
			if !r.check(t, where, applied) {
				continue
			}
			r.check(t, "redaction: by "+by.srv.kind+", unsigned.redacted_because on "+seer.srv.kind, func() error {
				rb := last.Unsigned.RedactedBecause
				if rb == nil {
					return fmt.Errorf("no unsigned.redacted_because")
				}
				if rb.EventID != red.EventID || rb.contentField("reason") != reason {
					return fmt.Errorf("redacted_because is %s with reason %q, want %s with %q", rb.EventID, rb.contentField("reason"), red.EventID, reason)
				}
				return nil
			}())
		}
	}
}

// memberships: kick, rejoin, ban (the rejoin is refused), unban, rejoin,
// and a message each way afterwards.
func (r *room) memberships(t *testing.T) {
	t.Helper()
	h, j := r.host, r.joiner
	leftSeenByJoiner := func() error {
		return within(wait, func() error {
			s, err := j.initialSync()
			if err != nil {
				return err
			}
			if _, ok := s.Rooms.Join[r.id]; ok {
				return fmt.Errorf("%s's sync still has the room joined", j.srv.kind)
			}
			return nil
		})
	}
	joinAgain := func(what string) bool {
		err := j.do("POST", "/join/"+esc(r.id)+"?server_name="+esc(h.srv.name), map[string]any{}, nil)
		if err == nil {
			err = r.waitMembership(h, j.id, "join")
		}
		return r.check(t, what, err)
	}
	h.must(t, "POST", roomPath(r.id)+"/kick", map[string]string{"user_id": j.id, "reason": "interop kick"}, nil)
	r.check(t, "kick: the host has the joiner left", r.waitMembership(h, j.id, "leave"))
	r.check(t, "kick: the joiner's server has the room left", leftSeenByJoiner())
	if !joinAgain("kick: the joiner joins again") {
		return
	}
	h.must(t, "POST", roomPath(r.id)+"/ban", map[string]string{"user_id": j.id, "reason": "interop ban"}, nil)
	r.check(t, "ban: the host has the joiner banned", r.waitMembership(h, j.id, "ban"))
	r.check(t, "ban: the joiner's server has the room left", leftSeenByJoiner())
	r.check(t, "ban: a join of the banned user is refused", func() error {
		if err := j.do("POST", "/join/"+esc(r.id)+"?server_name="+esc(h.srv.name), map[string]any{}, nil); err == nil {
			return fmt.Errorf("the banned user joined")
		}
		return nil
	}())
	h.must(t, "POST", roomPath(r.id)+"/unban", map[string]string{"user_id": j.id}, nil)
	r.check(t, "unban: the host has the joiner left", r.waitMembership(h, j.id, "leave"))
	if !joinAgain("unban: the joiner joins again") {
		return
	}
	// The joiner's next event must cite only the join as its prev event:
	// a stale extremity (the ban) would make the host refuse it.
	for _, d := range []struct {
		name     string
		from, to *user
	}{{"joiner to host", j, h}, {"host to joiner", h, j}} {
		body := "after the rejoin, " + d.name
		id := d.from.send(t, r.id, body)
		r.check(t, "rejoin: message "+d.name+" in /sync", within(wait, func() error { return r.inSync(d.to, id, body) }))
	}
}

// restartFlow: with Dendrite stopped, mxkit's user changes the topic and
// name of every room; then with mxkit stopped and Dendrite started,
// Dendrite's user changes them too (each side unaware of the other's
// change); then both run and the forks cross. Both servers must end with
// the same /state in every room.
func (e *env) restartFlow(t *testing.T, rooms []*room) {
	sort.Slice(rooms, func(i, j int) bool { return rooms[i].id < rooms[j].id })
	forks := map[string][]string{} // room -> the four state event IDs
	broken := map[string]bool{}    // rooms where a change was refused
	set := func(u *user, label string) {
		for _, r := range rooms {
			for _, s := range []struct{ typ, key, val string }{
				{"m.room.topic", "topic", "topic set on " + label},
				{"m.room.name", "name", "name set on " + label},
			} {
				id, err := u.setState(r.id, s.typ, "", map[string]string{s.key: s.val})
				if !r.check(t, "restart: "+s.typ+" set on "+label, err) {
					broken[r.id] = true
					continue
				}
				forks[r.id] = append(forks[r.id], id)
			}
		}
	}
	e.dendrite.stop()
	set(e.alice, "mxkit while Dendrite was stopped")
	e.mxkit.stop()
	e.dendrite.start(t)
	set(e.bob, "Dendrite while mxkit was stopped")
	e.mxkit.start(t)
	for _, r := range rooms {
		if broken[r.id] {
			continue
		}
		r.check(t, "restart: both servers have both forks", within(90*time.Second, func() error {
			for _, u := range []*user{e.alice, e.bob} {
				for _, id := range forks[r.id] {
					if _, err := u.event(r.id, id); err != nil {
						return fmt.Errorf("%s lacks %s: %v", u.srv.kind, id, err)
					}
				}
			}
			return nil
		}))
		r.check(t, "restart: identical /state on both servers", within(wait, func() error {
			a, err := e.alice.state(r.id)
			if err != nil {
				return err
			}
			b, err := e.bob.state(r.id)
			if err != nil {
				return err
			}
			if !maps.Equal(a, b) {
				return fmt.Errorf("the states differ:\n%s", stateDiff(a, b))
			}
			// The resolved topic and name are one of the forks' (the
			// algorithm picks which), not what was there before.
			for _, k := range []string{"m.room.topic|", "m.room.name|"} {
				if !slices.Contains(forks[r.id], a[k]) {
					return fmt.Errorf("the resolved %s is %s, none of the forks' %v", k, a[k], forks[r.id])
				}
			}
			return nil
		}))
	}
}

func stateDiff(a, b map[string]string) string {
	var out []string
	for k := range a {
		if a[k] != b[k] {
			out = append(out, fmt.Sprintf("%s: mxkit %s, dendrite %s", k, a[k], b[k]))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%s: mxkit none, dendrite %s", k, b[k]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
