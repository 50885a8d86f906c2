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
	"unicode"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/event"
)

// Server side search (content/client-server-api/modules/search.md) on
// SQLite FTS5: the searched keys of m.room.message, m.room.name and
// m.room.topic are indexed in stream order, brought up to date before each
// search, and results are the events the user may see.

// searchSchema is added to the database on start (idempotent).
const searchSchema = `
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(value, event_id UNINDEXED, room_id UNINDEXED, key UNINDEXED, stream UNINDEXED, tokenize = 'unicode61');
CREATE TABLE IF NOT EXISTS search_position (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	stream INTEGER NOT NULL
);
`

// searchMaxHits bounds the matches ranked for one search.
const searchMaxHits = 1000

// searchIndex serialises index updates.
var searchIndexMu sync.Mutex

// indexSearch indexes the events stored since the last update.
func (c *Client) indexSearch(ctx context.Context) error {
	searchIndexMu.Lock()
	defer searchIndexMu.Unlock()
	return c.catchUpIndex(ctx, "search_position", `type IN ('m.room.message', 'm.room.name', 'm.room.topic')`,
		func(tx *sql.Tx, se *StoredEvent) error {
			for key, value := range searchValues(se.Event) {
				if _, err := tx.ExecContext(ctx, `INSERT INTO search_fts (value, event_id, room_id, key, stream) VALUES (?, ?, ?, ?, ?)`,
					value, se.Event.ID(), se.Event.RoomID(), key, se.Stream); err != nil {
					return err
				}
			}
			return nil
		})
}

// searchValues are the searched keys of an event ("The supported keys to
// search over"): content.body of m.room.message, content.name of
// m.room.name, and for m.room.topic content.topic and the text/plain body
// of content["m.topic"].
func searchValues(ev *event.Event) map[string]string {
	var c struct {
		Body   *string `json:"body"`
		Name   *string `json:"name"`
		Topic  *string `json:"topic"`
		MTopic *struct {
			Text []struct {
				Mimetype string `json:"mimetype"`
				Body     string `json:"body"`
			} `json:"m.text"`
		} `json:"m.topic"`
	}
	if json.Unmarshal(ev.Content(), &c) != nil {
		return nil
	}
	out := map[string]string{}
	switch ev.Type() {
	case "m.room.message":
		if c.Body != nil {
			out["content.body"] = *c.Body
		}
	case "m.room.name":
		if c.Name != nil {
			out["content.name"] = *c.Name
		}
	case "m.room.topic":
		var parts []string
		if c.Topic != nil {
			parts = append(parts, *c.Topic)
		}
		if c.MTopic != nil {
			for _, t := range c.MTopic.Text {
				if t.Mimetype == "" || t.Mimetype == "text/plain" {
					parts = append(parts, t.Body)
				}
			}
		}
		if len(parts) > 0 {
			out["content.topic"] = strings.Join(parts, "\n")
		}
	}
	return out
}

// searchWords splits a search term into words (letters and digits).
func searchWords(term string) []string {
	return strings.FieldsFunc(strings.ToLower(term), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// ftsQuery makes an FTS5 query that matches events holding every word as
// a word or the start of one; each word is quoted, so the term's own
// characters are never FTS5 syntax.
func ftsQuery(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"*`
	}
	return strings.Join(q, " ")
}

type searchHit struct {
	se   *StoredEvent
	rank float64
}

// SearchRoomEvents implements clientapi.Searcher.
func (c *Client) SearchRoomEvents(ctx context.Context, who clientapi.Identity, req clientapi.SearchRequest) (*clientapi.SearchRoomEvents, error) {
	if err := c.indexSearch(ctx); err != nil {
		return nil, err
	}
	words := searchWords(req.Term)
	res := &clientapi.SearchRoomEvents{Highlights: words}
	if len(words) == 0 {
		return res, nil
	}
	hits, err := c.searchHits(ctx, who, req, words)
	if err != nil {
		return nil, err
	}
	res.Count = len(hits)
	offset := 0
	if req.NextBatch != "" {
		if offset, err = strconv.Atoi(req.NextBatch); err != nil || offset < 0 {
			return nil, clientapi.InvalidParam("malformed next_batch")
		}
	}
	limit := 10
	if req.Filter.Limit != nil {
		limit = min(*req.Filter.Limit, 100)
	}
	page := hits[min(offset, len(hits)):min(offset+limit, len(hits))]
	if offset+limit < len(hits) {
		res.NextBatch = strconv.Itoa(offset + limit)
	}
	rooms := map[string]bool{}
	for _, h := range page {
		r := clientapi.SearchResult{Rank: h.rank, Result: clientEvent(h.se, who.UserID, who.DeviceID)}
		if req.Context != nil {
			if r.Context, err = c.searchContext(ctx, who, h.se, req.Context); err != nil {
				return nil, err
			}
		}
		res.Results = append(res.Results, r)
		rooms[h.se.Event.RoomID()] = true
		for _, g := range req.GroupBy {
			key := h.se.Event.RoomID()
			if g == "sender" {
				key = h.se.Event.Sender()
			}
			if res.Groups == nil {
				res.Groups = map[string]map[string]clientapi.SearchGroup{}
			}
			if res.Groups[g] == nil {
				res.Groups[g] = map[string]clientapi.SearchGroup{}
			}
			grp, ok := res.Groups[g][key]
			if !ok {
				grp.Order = len(res.Groups[g]) + 1
			}
			grp.Results = append(grp.Results, h.se.Event.ID())
			res.Groups[g][key] = grp
		}
	}
	if req.IncludeState {
		res.State = map[string]clientapi.EventList{}
		for roomID := range rooms {
			st, err := c.stateFor(ctx, who, roomID)
			if err != nil {
				return nil, err
			}
			evs, err := c.stateEvents(ctx, st, nil, who)
			if err != nil {
				return nil, err
			}
			res.State[roomID] = evs
		}
	}
	return res, nil
}

// searchHits finds, ranks and filters the matches the user may see.
func (c *Client) searchHits(ctx context.Context, who clientapi.Identity, req clientapi.SearchRequest, words []string) ([]searchHit, error) {
	keys := make([]any, 0, len(req.Keys)+2)
	keys = append(keys, ftsQuery(words))
	for _, k := range req.Keys {
		keys = append(keys, k)
	}
	order := "bm25(search_fts)"
	if req.OrderBy == "recent" {
		order = "stream DESC"
	}
	rows, err := c.db.query(ctx, `SELECT event_id, room_id, stream, bm25(search_fts) FROM search_fts WHERE search_fts MATCH ? AND key IN (`+
		placeholders(len(req.Keys))+`) ORDER BY `+order, keys...)
	if err != nil {
		return nil, err
	}
	type match struct {
		id, room string
		stream   int64
		rank     float64
	}
	var matches []match
	seen := map[string]bool{}
	visible := map[string]int64{}
	f := req.Filter
	for rows.Next() {
		var m match
		if err := rows.Scan(&m.id, &m.room, &m.stream, &m.rank); err != nil {
			rows.Close()
			return nil, err
		}
		if seen[m.id] || !inList(f.Rooms, f.NotRooms, m.room) {
			continue
		}
		until, ok := visible[m.room]
		if !ok {
			if until, err = c.visibleUntil(ctx, m.room, who.UserID); err != nil {
				rows.Close()
				return nil, err
			}
			visible[m.room] = until
		}
		if m.stream > until {
			continue
		}
		seen[m.id] = true
		matches = append(matches, m)
		if len(matches) == searchMaxHits {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids := make([]string, len(matches))
	for i, m := range matches {
		ids[i] = m.id
	}
	evs, err := c.rooms.load(ctx, ids)
	if err != nil {
		return nil, err
	}
	// Each candidate passes history visibility (the room's filter reads
	// the state at each event, in one pass per room).
	byRoom := map[string][]*StoredEvent{}
	for _, m := range matches {
		if se := evs[m.id]; se != nil {
			byRoom[m.room] = append(byRoom[m.room], se)
		}
	}
	visibleIDs := map[string]bool{}
	for roomID, list := range byRoom {
		hf, err := c.historyFilter(ctx, roomID, who.UserID)
		if err != nil {
			return nil, err
		}
		seen, err := hf.filter(ctx, list)
		if err != nil {
			return nil, err
		}
		for _, se := range seen {
			visibleIDs[se.Event.ID()] = true
		}
	}
	hits := make([]searchHit, 0, len(matches))
	for _, m := range matches {
		se := evs[m.id]
		if se == nil || !visibleIDs[m.id] || !inList(f.Types, f.NotTypes, se.Event.Type()) || !inList(f.Senders, f.NotSenders, se.Event.Sender()) {
			continue
		}
		// bm25 is lower for better matches; rank is higher for them.
		hits = append(hits, searchHit{se: se, rank: -m.rank})
	}
	if req.OrderBy != "recent" {
		slices.SortStableFunc(hits, func(a, b searchHit) int { return cmp.Compare(b.rank, a.rank) })
	}
	return hits, nil
}

// inList applies a filter's include list (nil: everything) and exclude
// list.
func inList(include, exclude []string, v string) bool {
	return (include == nil || slices.Contains(include, v)) && !slices.Contains(exclude, v)
}

// searchContext gives the events around a result that the user may see,
// and the senders' profiles when asked.
func (c *Client) searchContext(ctx context.Context, who clientapi.Identity, se *StoredEvent, sc *clientapi.SearchContext) (*clientapi.SearchResultContext, error) {
	roomID := se.Event.RoomID()
	until, err := c.visibleUntil(ctx, roomID, who.UserID)
	if err != nil {
		return nil, err
	}
	before, _, err := c.timeline(ctx, roomID, 0, se.Stream-1, sc.BeforeLimit, true)
	if err != nil {
		return nil, err
	}
	after, _, err := c.timeline(ctx, roomID, se.Stream, until, sc.AfterLimit, false)
	if err != nil {
		return nil, err
	}
	out := &clientapi.SearchResultContext{EventsBefore: clientapi.EventList{}, EventsAfter: clientapi.EventList{}}
	out.Start = "s" + strconv.FormatInt(se.Stream-1, 10)
	out.End = "s" + strconv.FormatInt(se.Stream, 10)
	senders := map[string]bool{se.Event.Sender(): true}
	// Newest first before the result, oldest first after it, as the
	// reference server gives them.
	for i := len(before) - 1; i >= 0; i-- {
		out.EventsBefore = append(out.EventsBefore, clientEvent(before[i], who.UserID, who.DeviceID))
		senders[before[i].Event.Sender()] = true
	}
	if len(before) > 0 {
		out.Start = "s" + strconv.FormatInt(before[0].Stream-1, 10)
	}
	for _, a := range after {
		out.EventsAfter = append(out.EventsAfter, clientEvent(a, who.UserID, who.DeviceID))
		senders[a.Event.Sender()] = true
	}
	if len(after) > 0 {
		out.End = "s" + strconv.FormatInt(after[len(after)-1].Stream, 10)
	}
	if sc.IncludeProfile {
		out.ProfileInfo = map[string]clientapi.SearchProfile{}
		for u := range senders {
			raw, err := c.currentContent(ctx, roomID, event.TypeMember, u)
			if err != nil {
				return nil, err
			}
			var p clientapi.SearchProfile
			if raw != nil {
				json.Unmarshal(raw, &p)
			}
			out.ProfileInfo[u] = p
		}
	}
	return out, nil
}
