package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/federation"
)

// Relationships between events (content/client-server-api/_index.md
// "Forming relationships between events"; modules/threading.md,
// event_replacements.md, reference_relations.md): every accepted event
// with content["m.relates_to"] {rel_type, event_id} is indexed in stream
// order, brought up to date before each read; the relations and threads
// endpoints read the index, and the events served to clients carry the
// aggregations of their children in unsigned["m.relations"]: m.thread
// (latest event, count, whether the user took part), m.reference (the
// children's IDs) and m.replace (the most recent valid edit).

// relationsSchema is added to the database on start (idempotent).
const relationsSchema = `
CREATE TABLE IF NOT EXISTS relations (
	event_id   TEXT PRIMARY KEY,
	relates_to TEXT NOT NULL,
	rel_type   TEXT NOT NULL,
	room_id    TEXT NOT NULL,
	type       TEXT NOT NULL,
	sender     TEXT NOT NULL,
	stream     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS relations_parent ON relations (relates_to, rel_type, stream);
CREATE INDEX IF NOT EXISTS relations_room ON relations (room_id, rel_type, stream);
CREATE TABLE IF NOT EXISTS relations_position (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	stream INTEGER NOT NULL
);
`

var _ clientapi.Relations = (*Client)(nil)

var relationsIndexMu sync.Mutex

// relatesTo reads content["m.relates_to"]; ok is false for an event
// without a relation (a reply's m.in_reply_to alone is none).
func relatesTo(ev *event.Event) (relType, parent string, ok bool) {
	var c struct {
		RelatesTo *struct {
			RelType string `json:"rel_type"`
			EventID string `json:"event_id"`
		} `json:"m.relates_to"`
	}
	if json.Unmarshal(ev.Content(), &c) != nil || c.RelatesTo == nil || c.RelatesTo.RelType == "" || c.RelatesTo.EventID == "" {
		return "", "", false
	}
	return c.RelatesTo.RelType, c.RelatesTo.EventID, true
}

// indexRelations indexes the relations stored since the last update.
func (c *Client) indexRelations(ctx context.Context) error {
	relationsIndexMu.Lock()
	defer relationsIndexMu.Unlock()
	return c.catchUpIndex(ctx, "relations_position", `instr(json, CAST('m.relates_to' AS BLOB)) > 0`,
		func(tx *sql.Tx, se *StoredEvent) error {
			relType, parent, ok := relatesTo(se.Event)
			if !ok {
				return nil
			}
			_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO relations (event_id, relates_to, rel_type, room_id, type, sender, stream) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				se.Event.ID(), parent, relType, se.Event.RoomID(), se.Event.Type(), se.Event.Sender(), se.Stream)
			return err
		})
}

// parseStreamToken reads an "s<N>" token.
func parseStreamToken(tok string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(tok, "s"), 10, 64)
	if err != nil || !strings.HasPrefix(tok, "s") {
		return 0, clientapi.InvalidParam("malformed pagination token")
	}
	return n, nil
}

// Relations implements clientapi.Relations.
func (c *Client) Relations(ctx context.Context, who clientapi.Identity, req clientapi.RelationsRequest) (*clientapi.RelationsResponse, error) {
	parent, err := c.Event(ctx, who, req.RoomID, req.EventID)
	if err != nil || parent == nil {
		return nil, cmp.Or(err, error(clientapi.NotFound("event not found")))
	}
	if err := c.indexRelations(ctx); err != nil {
		return nil, err
	}
	lo, hi := int64(-1<<62), int64(1<<62)
	if req.From != "" {
		n, err := parseStreamToken(req.From)
		if err != nil {
			return nil, err
		}
		if req.Forward {
			lo = n
		} else {
			hi = n
		}
	}
	if req.To != "" {
		n, err := parseStreamToken(req.To)
		if err != nil {
			return nil, err
		}
		if req.Forward {
			hi = n
		} else {
			lo = n
		}
	}
	depth := 1
	if req.Recurse {
		depth = clientapi.MaxRelationsDepth
	}
	// The children, level by level (with recurse, children of children).
	parents := []string{req.EventID}
	type child struct {
		id     string
		stream int64
	}
	var all []child
	seen := map[string]bool{req.EventID: true}
	for level := 0; level < depth && len(parents) > 0; level++ {
		q := `SELECT event_id, stream FROM relations WHERE room_id = ? AND relates_to IN (` + placeholders(len(parents)) + `)`
		args := []any{req.RoomID}
		for _, p := range parents {
			args = append(args, p)
		}
		if req.RelType != "" {
			q += ` AND rel_type = ?`
			args = append(args, req.RelType)
		}
		if req.EventType != "" {
			q += ` AND type = ?`
			args = append(args, req.EventType)
		}
		rows, err := c.db.query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		parents = nil
		for rows.Next() {
			var ch child
			if err := rows.Scan(&ch.id, &ch.stream); err != nil {
				rows.Close()
				return nil, err
			}
			if !seen[ch.id] {
				seen[ch.id] = true
				all = append(all, ch)
				parents = append(parents, ch.id)
			}
		}
		rows.Close()
	}
	slices.SortFunc(all, func(a, b child) int { return cmp.Compare(a.stream, b.stream) })
	if !req.Forward {
		slices.Reverse(all)
	}
	all = slices.DeleteFunc(all, func(ch child) bool {
		if req.Forward {
			return ch.stream <= lo || ch.stream > hi
		}
		return ch.stream >= hi || ch.stream <= lo
	})
	ids := make([]string, len(all))
	for i, ch := range all {
		ids[i] = ch.id
	}
	evs, err := c.visibleEvents(ctx, who, req.RoomID, ids)
	if err != nil {
		return nil, err
	}
	resp := &clientapi.RelationsResponse{}
	if req.Recurse {
		d := clientapi.MaxRelationsDepth
		resp.RecursionDepth = &d
	}
	if len(evs) > req.Limit {
		evs = evs[:req.Limit]
		resp.NextBatch = "s" + strconv.FormatInt(evs[len(evs)-1].Stream, 10)
	}
	if resp.Chunk, err = c.render(ctx, who, evs); err != nil {
		return nil, err
	}
	return resp, nil
}

// visibleEvents loads the events of ids (in that order) the user may see.
func (c *Client) visibleEvents(ctx context.Context, who clientapi.Identity, roomID string, ids []string) ([]*StoredEvent, error) {
	loaded, err := c.rooms.load(ctx, ids)
	if err != nil {
		return nil, err
	}
	var list []*StoredEvent
	for _, id := range ids {
		if se := loaded[id]; se != nil && se.Status == federation.Accepted {
			list = append(list, se)
		}
	}
	hf, err := c.historyFilter(ctx, roomID, who.UserID)
	if err != nil {
		return nil, err
	}
	return hf.filter(ctx, list)
}

// Threads implements clientapi.Relations: thread roots by their latest
// reply, newest first; the token is that reply's position.
func (c *Client) Threads(ctx context.Context, who clientapi.Identity, req clientapi.ThreadsRequest) (*clientapi.ThreadsResponse, error) {
	if until, err := c.readableUntil(ctx, req.RoomID, who.UserID); err != nil {
		return nil, err
	} else if until < 0 {
		return nil, c.forbiddenRoom()
	}
	if err := c.indexRelations(ctx); err != nil {
		return nil, err
	}
	before := int64(1 << 62)
	if req.From != "" {
		n, err := parseStreamToken(req.From)
		if err != nil {
			return nil, err
		}
		before = n
	}
	q := `SELECT relates_to, max(stream) AS latest FROM relations WHERE room_id = ? AND rel_type = 'm.thread' GROUP BY relates_to HAVING latest < ?`
	args := []any{req.RoomID, before}
	if req.Participated {
		q = `SELECT r.relates_to, max(r.stream) AS latest FROM relations r WHERE r.room_id = ? AND r.rel_type = 'm.thread' GROUP BY r.relates_to
			HAVING latest < ? AND (max(r.sender = ?) = 1 OR EXISTS (SELECT 1 FROM events e WHERE e.event_id = r.relates_to AND e.sender = ?))`
		args = append(args, who.UserID, who.UserID)
	}
	q += ` ORDER BY latest DESC`
	rows, err := c.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var ids []string
	latest := map[string]int64{}
	for rows.Next() {
		var id string
		var l int64
		if err := rows.Scan(&id, &l); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
		latest[id] = l
	}
	rows.Close()
	roots, err := c.visibleEvents(ctx, who, req.RoomID, ids)
	if err != nil {
		return nil, err
	}
	resp := &clientapi.ThreadsResponse{}
	if len(roots) > req.Limit {
		roots = roots[:req.Limit]
		resp.NextBatch = "s" + strconv.FormatInt(latest[roots[len(roots)-1].Event.ID()], 10)
	}
	if resp.Chunk, err = c.render(ctx, who, roots); err != nil {
		return nil, err
	}
	return resp, nil
}

// render gives events in the client format, with the aggregations of their
// children that the user may see.
func (c *Client) render(ctx context.Context, who clientapi.Identity, evs []*StoredEvent) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(evs))
	if len(evs) == 0 {
		return out, nil
	}
	aggs, err := c.aggregations(ctx, who, evs, 0)
	if err != nil {
		return nil, err
	}
	extras, err := c.unsignedState(ctx, who, evs)
	if err != nil {
		return nil, err
	}
	for i, se := range evs {
		out = append(out, clientEventWith(se, who.UserID, who.DeviceID, aggs[se.Event.ID()], extras[i]))
	}
	return out, nil
}

// unsignedState gives the unsigned fields that come from the room state
// around each event (content/client-server-api/_index.md "Room event
// format"): for a state event, prev_content, prev_sender and
// replaces_state of the event it replaced; for every event, membership,
// the requesting user's membership at it (v1.11).
func (c *Client) unsignedState(ctx context.Context, who clientapi.Identity, evs []*StoredEvent) ([]map[string]any, error) {
	out := make([]map[string]any, len(evs))
	var need []string // events whose content or membership is read
	type pending struct {
		i                 int
		replaced, memberE string
	}
	var todo []pending
	for i, se := range evs {
		p := pending{i: i}
		if se.After != 0 {
			after, err := c.rooms.Group(ctx, se.After)
			if err != nil {
				return nil, err
			}
			p.memberE = after[stateKey{Type: event.TypeMember, StateKey: who.UserID}]
		}
		if k, ok := se.Event.StateKey(); ok {
			if before, err := c.stateBeforeEvent(ctx, se); err != nil {
				return nil, err
			} else if before != nil {
				p.replaced = before[stateKey{Type: se.Event.Type(), StateKey: k}]
			}
		}
		for _, id := range []string{p.replaced, p.memberE} {
			if id != "" {
				need = append(need, id)
			}
		}
		todo = append(todo, p)
	}
	loaded, err := c.rooms.load(ctx, need)
	if err != nil {
		return nil, err
	}
	for _, p := range todo {
		m := map[string]any{}
		if e := loaded[p.memberE]; e != nil {
			m["membership"] = e.Event.Membership()
		}
		if e := loaded[p.replaced]; e != nil {
			m["prev_content"] = json.RawMessage(e.Event.Content())
			m["prev_sender"] = e.Event.Sender()
			m["replaces_state"] = e.Event.ID()
		}
		if len(m) > 0 {
			out[p.i] = m
		}
	}
	return out, nil
}

// stateBeforeEvent is the state after an event's first prev event (nil
// when unknown).
func (c *Client) stateBeforeEvent(ctx context.Context, se *StoredEvent) (map[stateKey]string, error) {
	prevs := se.Event.PrevEventIDs()
	if len(prevs) == 0 {
		return nil, nil
	}
	var g int64
	if err := c.db.queryRow(ctx, `SELECT state_after FROM events WHERE event_id = ?`, prevs[0]).Scan(&g); err != nil || g == 0 {
		return nil, nil
	}
	return c.rooms.Group(ctx, g)
}

// aggregations computes unsigned["m.relations"] for each event that has
// children. depth guards the recursion of a thread's latest event.
func (c *Client) aggregations(ctx context.Context, who clientapi.Identity, evs []*StoredEvent, depth int) (map[string]json.RawMessage, error) {
	if err := c.indexRelations(ctx); err != nil {
		return nil, err
	}
	ids := make([]any, 0, len(evs))
	byID := map[string]*StoredEvent{}
	for _, se := range evs {
		ids = append(ids, se.Event.ID())
		byID[se.Event.ID()] = se
	}
	rows, err := c.db.query(ctx, `SELECT relates_to, event_id, rel_type, sender, stream FROM relations
		WHERE relates_to IN (`+placeholders(len(ids))+`) AND rel_type IN ('m.thread', 'm.reference', 'm.replace') ORDER BY stream`, ids...)
	if err != nil {
		return nil, err
	}
	type rel struct {
		parent, id, relType, sender string
		stream                      int64
	}
	var rels []rel
	var childIDs []string
	for rows.Next() {
		var r rel
		if err := rows.Scan(&r.parent, &r.id, &r.relType, &r.sender, &r.stream); err != nil {
			rows.Close()
			return nil, err
		}
		rels = append(rels, r)
		childIDs = append(childIDs, r.id)
	}
	rows.Close()
	if len(rels) == 0 {
		return nil, nil
	}
	children, err := c.rooms.load(ctx, childIDs)
	if err != nil {
		return nil, err
	}
	// History visibility applies to children too, room by room.
	byRoom := map[string][]*StoredEvent{}
	for _, r := range rels {
		if ch := children[r.id]; ch != nil && ch.Status == federation.Accepted {
			byRoom[ch.Event.RoomID()] = append(byRoom[ch.Event.RoomID()], ch)
		}
	}
	visible := map[string]bool{}
	for roomID, list := range byRoom {
		hf, err := c.historyFilter(ctx, roomID, who.UserID)
		if err != nil {
			return nil, err
		}
		ok, err := hf.filter(ctx, list)
		if err != nil {
			return nil, err
		}
		for _, se := range ok {
			visible[se.Event.ID()] = true
		}
	}
	type thread struct {
		count        int
		latest       *StoredEvent
		participated bool
	}
	threads := map[string]*thread{}
	refs := map[string][]string{}
	edits := map[string]*StoredEvent{}
	for _, r := range rels {
		ch := children[r.id]
		if ch == nil || !visible[r.id] {
			continue
		}
		switch r.relType {
		case "m.thread":
			t := threads[r.parent]
			if t == nil {
				t = &thread{participated: byID[r.parent].Event.Sender() == who.UserID}
				threads[r.parent] = t
			}
			t.count++
			t.latest = ch // rows come in stream order
			t.participated = t.participated || r.sender == who.UserID
		case "m.reference":
			refs[r.parent] = append(refs[r.parent], r.id)
		case "m.replace":
			if validReplacement(byID[r.parent].Event, ch.Event) {
				if cur := edits[r.parent]; cur == nil || newerEdit(ch.Event, cur.Event) {
					edits[r.parent] = ch
				}
			}
		}
	}
	out := map[string]json.RawMessage{}
	for id := range byID {
		m := map[string]any{}
		if t := threads[id]; t != nil {
			latest := clientEvent(t.latest, who.UserID, who.DeviceID)
			if depth == 0 {
				// The latest event's own children are aggregated too.
				sub, err := c.aggregations(ctx, who, []*StoredEvent{t.latest}, depth+1)
				if err != nil {
					return nil, err
				}
				latest = clientEventWith(t.latest, who.UserID, who.DeviceID, sub[t.latest.Event.ID()], nil)
			}
			m["m.thread"] = map[string]any{"latest_event": latest, "count": t.count, "current_user_participated": t.participated}
		}
		if r := refs[id]; len(r) > 0 {
			chunk := make([]map[string]string, len(r))
			for i, x := range r {
				chunk[i] = map[string]string{"event_id": x}
			}
			m["m.reference"] = map[string]any{"chunk": chunk}
		}
		if e := edits[id]; e != nil {
			m["m.replace"] = clientEvent(e, who.UserID, who.DeviceID)
		}
		if len(m) > 0 {
			out[id], _ = json.Marshal(m)
		}
	}
	return out, nil
}

// validReplacement applies "Validity of replacement events"
// (event_replacements.md): the same room, sender and type, neither a
// state event, the replacement with m.new_content, the original not
// itself a replacement.
func validReplacement(orig, repl *event.Event) bool {
	_, oState := orig.StateKey()
	_, rState := repl.StateKey()
	if orig.RoomID() != repl.RoomID() || orig.Sender() != repl.Sender() || orig.Type() != repl.Type() || oState || rState {
		return false
	}
	if rt, _, ok := relatesTo(orig); ok && rt == "m.replace" {
		return false
	}
	var c struct {
		NewContent json.RawMessage `json:"m.new_content"`
	}
	return json.Unmarshal(repl.Content(), &c) == nil && len(c.NewContent) > 0 && c.NewContent[0] == '{'
}

// newerEdit: the most recent replacement by origin_server_ts, ties by the
// lexicographically largest event ID.
func newerEdit(a, b *event.Event) bool {
	if a.OriginServerTS() != b.OriginServerTS() {
		return a.OriginServerTS() > b.OriginServerTS()
	}
	return a.ID() > b.ID()
}
