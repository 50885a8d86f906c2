package clientapi

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Search is POST /search (content/client-server-api/modules/search.md,
// "Server Side Search"; data/api/client-server/search.yaml): full text
// search over the room_events category, the only one the spec defines.
// Optional: without a Searcher the endpoint answers 404 M_UNRECOGNIZED.
type Searcher interface {
	SearchRoomEvents(ctx context.Context, who Identity, req SearchRequest) (*SearchRoomEvents, error)
}

// SearchKeys are the keys the room_events category searches ("The
// supported keys to search over"); the default is all of them.
var SearchKeys = []string{"content.body", "content.name", "content.topic"}

// SearchRequest is the room_events category of a search, parsed and
// checked.
type SearchRequest struct {
	Term string
	// Keys are the keys to search, a subset of SearchKeys.
	Keys []string
	// Filter is the RoomEventFilter (rooms, not_rooms, types, not_types,
	// senders, not_senders, limit).
	Filter SearchFilter
	// OrderBy is "rank" (the default) or "recent".
	OrderBy string
	// Context asks for the events around each result (nil: none).
	Context *SearchContext
	// IncludeState asks for the current state of each room of the results.
	IncludeState bool
	// GroupBy lists "room_id" and/or "sender".
	GroupBy []string
	// NextBatch is the next_batch of an earlier answer, "" for the first
	// page.
	NextBatch string
}

// SearchFilter is the RoomEventFilter of a search.
type SearchFilter struct {
	Limit      *int     `json:"limit"`
	Rooms      []string `json:"rooms"`
	NotRooms   []string `json:"not_rooms"`
	Types      []string `json:"types"`
	NotTypes   []string `json:"not_types"`
	Senders    []string `json:"senders"`
	NotSenders []string `json:"not_senders"`
}

// SearchContext is event_context.
type SearchContext struct {
	BeforeLimit, AfterLimit int
	IncludeProfile          bool
}

// SearchRoomEvents is the room_events part of the answer.
type SearchRoomEvents struct {
	Count      int                               `json:"count"`
	Highlights []string                          `json:"highlights"`
	Results    []SearchResult                    `json:"results"`
	State      map[string]EventList              `json:"state,omitempty"`
	Groups     map[string]map[string]SearchGroup `json:"groups,omitempty"`
	NextBatch  string                            `json:"next_batch,omitempty"`
}

// SearchResult is one result.
type SearchResult struct {
	Rank    float64              `json:"rank"`
	Result  json.RawMessage      `json:"result"`
	Context *SearchResultContext `json:"context,omitempty"`
}

// SearchResultContext is the context of one result.
type SearchResultContext struct {
	Start        string                   `json:"start,omitempty"`
	End          string                   `json:"end,omitempty"`
	ProfileInfo  map[string]SearchProfile `json:"profile_info,omitempty"`
	EventsBefore EventList                `json:"events_before"`
	EventsAfter  EventList                `json:"events_after"`
}

// SearchProfile is a sender's profile in profile_info.
type SearchProfile struct {
	DisplayName string `json:"displayname,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// SearchGroup is one group of the results.
type SearchGroup struct {
	NextBatch string   `json:"next_batch,omitempty"`
	Order     int      `json:"order"`
	Results   []string `json:"results"`
}

// Search context limits: the spec's default of 5 each way, and a cap.
const (
	DefaultSearchContext = 5
	MaxSearchContext     = 100
)

type searchBody struct {
	SearchCategories *struct {
		RoomEvents *struct {
			SearchTerm   *string         `json:"search_term"`
			Keys         []string        `json:"keys"`
			Filter       json.RawMessage `json:"filter"`
			OrderBy      string          `json:"order_by"`
			EventContext *struct {
				BeforeLimit    *int `json:"before_limit"`
				AfterLimit     *int `json:"after_limit"`
				IncludeProfile bool `json:"include_profile"`
			} `json:"event_context"`
			IncludeState bool `json:"include_state"`
			Groupings    *struct {
				GroupBy []struct {
					Key string `json:"key"`
				} `json:"group_by"`
			} `json:"groupings"`
		} `json:"room_events"`
	} `json:"search_categories"`
}

func (c *call) search() (any, error) {
	if err := need(c.s.Searcher != nil); err != nil {
		return nil, err
	}
	var b searchBody
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.SearchCategories == nil {
		return nil, MissingParam("search_categories is required")
	}
	out := map[string]any{}
	re := b.SearchCategories.RoomEvents
	if re == nil {
		return map[string]any{"search_categories": out}, nil
	}
	if re.SearchTerm == nil {
		return nil, MissingParam("room_events.search_term is required")
	}
	req := SearchRequest{Term: *re.SearchTerm, Keys: re.Keys, OrderBy: re.OrderBy, IncludeState: re.IncludeState,
		NextBatch: c.r.URL.Query().Get("next_batch")}
	if len(req.Keys) == 0 {
		req.Keys = SearchKeys
	}
	for _, k := range req.Keys {
		if !slices.Contains(SearchKeys, k) {
			return nil, InvalidParam("keys: " + quote(k) + " is not one of content.body, content.name, content.topic")
		}
	}
	switch req.OrderBy {
	case "":
		req.OrderBy = "rank"
	case "rank", "recent":
	default:
		return nil, InvalidParam("order_by must be rank or recent")
	}
	if len(re.Filter) > 0 && string(re.Filter) != "null" {
		if !isObject(re.Filter) {
			return nil, BadJSON("filter must be an object")
		}
		if err := json.Unmarshal(re.Filter, &req.Filter); err != nil {
			return nil, BadJSON("filter is not a RoomEventFilter: " + err.Error())
		}
		if l := req.Filter.Limit; l != nil && *l < 0 {
			return nil, InvalidParam("filter.limit must not be negative")
		}
	}
	if ec := re.EventContext; ec != nil {
		sc := &SearchContext{BeforeLimit: DefaultSearchContext, AfterLimit: DefaultSearchContext, IncludeProfile: ec.IncludeProfile}
		for _, l := range []struct {
			v   *int
			dst *int
		}{{ec.BeforeLimit, &sc.BeforeLimit}, {ec.AfterLimit, &sc.AfterLimit}} {
			if l.v != nil {
				if *l.v < 0 {
					return nil, InvalidParam("event_context limits must not be negative")
				}
				*l.dst = min(*l.v, MaxSearchContext)
			}
		}
		req.Context = sc
	}
	if g := re.Groupings; g != nil {
		for _, k := range g.GroupBy {
			if k.Key != "room_id" && k.Key != "sender" {
				return nil, InvalidParam("group_by key must be room_id or sender")
			}
			if !slices.Contains(req.GroupBy, k.Key) {
				req.GroupBy = append(req.GroupBy, k.Key)
			}
		}
	}
	res, err := c.s.Searcher.SearchRoomEvents(c.ctx, c.who, req)
	if err != nil {
		return nil, err
	}
	if res.Results == nil {
		res.Results = []SearchResult{}
	}
	if res.Highlights == nil {
		res.Highlights = []string{}
	}
	out["room_events"] = res
	return map[string]any{"search_categories": out}, nil
}

// MemorySearch is a Searcher over events kept in memory, for tests and
// examples: a result is an event of a searched key whose text holds every
// word of the term (case aside); its rank is how often they occur. Rooms
// are visible to the users given by Allow.
type MemorySearch struct {
	mu     sync.Mutex
	events []memSearchEvent
	allow  map[string]map[string]bool // room -> users
}

type memSearchEvent struct {
	roomID, sender, typ string
	raw                 json.RawMessage
}

// Add indexes a client-format event.
func (m *MemorySearch) Add(ev json.RawMessage) error {
	var e struct {
		RoomID string `json:"room_id"`
		Sender string `json:"sender"`
		Type   string `json:"type"`
	}
	if err := json.Unmarshal(ev, &e); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, memSearchEvent{e.RoomID, e.Sender, e.Type, ev})
	return nil
}

// Allow lets userID search roomID.
func (m *MemorySearch) Allow(roomID, userID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.allow == nil {
		m.allow = map[string]map[string]bool{}
	}
	if m.allow[roomID] == nil {
		m.allow[roomID] = map[string]bool{}
	}
	m.allow[roomID][userID] = true
}

// SearchRoomEvents implements Searcher.
func (m *MemorySearch) SearchRoomEvents(_ context.Context, who Identity, req SearchRequest) (*SearchRoomEvents, error) {
	words := strings.Fields(strings.ToLower(req.Term))
	m.mu.Lock()
	defer m.mu.Unlock()
	type hit struct {
		ev   memSearchEvent
		rank float64
		pos  int
	}
	var hits []hit
	for i := len(m.events) - 1; i >= 0; i-- {
		ev := m.events[i]
		f := req.Filter
		if !m.allow[ev.roomID][who.UserID] || !inList(f.Rooms, f.NotRooms, ev.roomID) || !inList(f.Types, f.NotTypes, ev.typ) || !inList(f.Senders, f.NotSenders, ev.sender) {
			continue
		}
		var text strings.Builder
		for _, k := range req.Keys {
			if v, ok := memSearchValue(ev.raw, ev.typ, k); ok {
				text.WriteString(strings.ToLower(v) + " ")
			}
		}
		rank := 0
		for _, w := range words {
			n := strings.Count(text.String(), w)
			if n == 0 {
				rank = 0
				break
			}
			rank += n
		}
		if rank > 0 && len(words) > 0 {
			hits = append(hits, hit{ev, float64(rank), i})
		}
	}
	if req.OrderBy == "rank" {
		slices.SortStableFunc(hits, func(a, b hit) int { return cmp.Compare(b.rank, a.rank) })
	}
	offset, _ := strconv.Atoi(req.NextBatch)
	limit := 10
	if req.Filter.Limit != nil {
		limit = *req.Filter.Limit
	}
	res := &SearchRoomEvents{Count: len(hits), Highlights: words}
	for i := offset; i < len(hits) && i < offset+limit; i++ {
		res.Results = append(res.Results, SearchResult{Rank: hits[i].rank, Result: hits[i].ev.raw})
	}
	if offset+limit < len(hits) {
		res.NextBatch = strconv.Itoa(offset + limit)
	}
	return res, nil
}

// inList applies an include list (nil: everything) and an exclude list.
func inList(include, exclude []string, v string) bool {
	return (include == nil || slices.Contains(include, v)) && !slices.Contains(exclude, v)
}

// memSearchValue reads a searched key of an event of the type that key
// belongs to (content.body of m.room.message, content.name of m.room.name,
// content.topic of m.room.topic).
func memSearchValue(raw json.RawMessage, typ, key string) (string, bool) {
	want := map[string]string{"content.body": "m.room.message", "content.name": "m.room.name", "content.topic": "m.room.topic"}[key]
	if typ != want {
		return "", false
	}
	var e struct {
		Content map[string]any `json:"content"`
	}
	json.Unmarshal(raw, &e)
	s, ok := e.Content[strings.TrimPrefix(key, "content.")].(string)
	return s, ok
}
