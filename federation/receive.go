package federation

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/internal/jsonraw"
	"github.com/mxkit/mxkit/internal/mxerr"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

// Transaction limits (content/server-server-api.md, "Transactions").
const (
	MaxTransactionPDUs = 50
	MaxTransactionEDUs = 100
)

// Defaults of the Receiver's bounds.
const (
	// DefaultMissingEventsLimit is the limit asked of get_missing_events.
	DefaultMissingEventsLimit = 10
	// DefaultMaxFetch bounds how many events one PDU may make the
	// receiver fetch to fill a gap (auth events, state at a missing prev
	// event).
	DefaultMaxFetch = 500
	// txnCacheSize is how many transaction results are remembered for
	// deduplication.
	txnCacheSize = 4096
)

// EDUHandler receives the EDUs of transactions, by type (m.typing,
// m.presence, m.receipt, m.device_list_update, m.signing_key_update,
// m.direct_to_device, or others). It is called after the server ACLs have
// been applied to room-scoped EDUs. EDUs have no result: an error is dropped.
type EDUHandler interface {
	HandleEDU(ctx context.Context, origin string, edu EDU) error
}

// MemoryEDUs is an EDUHandler that records what it receives.
type MemoryEDUs struct {
	mu   sync.Mutex
	EDUs []ReceivedEDU
}

// ReceivedEDU is an EDU and the server it came from.
type ReceivedEDU struct {
	Origin string
	EDU    EDU
}

// HandleEDU implements EDUHandler.
func (m *MemoryEDUs) HandleEDU(ctx context.Context, origin string, edu EDU) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.EDUs = append(m.EDUs, ReceivedEDU{origin, edu})
	return nil
}

// Received returns a copy of what was received.
func (m *MemoryEDUs) Received() []ReceivedEDU {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.EDUs)
}

// Receiver is the receive pipeline of PUT /send/{txnId}: it checks each PDU
// as content/server-server-api.md, "Checks performed on receipt of a PDU",
// says, stores it with its status and the state after it, and hands the EDUs
// to the embedder.
//
// For each PDU, in order:
//
//  1. its room's version comes from the store (a PDU for a room the server
//     does not know is ignored and has no result, as the reference server
//     does); the server ACL of the room must allow the origin; the PDU must
//     be valid in the format of the room version (event.Parse);
//  2. and 3. the signatures and the content hash, for the whole transaction
//     at once (event.Verifier.VerifyAll, spread over the cores): a bad
//     signature drops the PDU; a bad hash replaces it with its redacted form;
//  4. the authorization rules against its own auth events (fetched from the
//     origin with event_auth when the store lacks them);
//  5. against the state before it: the states after its prev events,
//     resolved with stateres. Missing prev events are fetched with
//     get_missing_events and, failing that, the state before each missing
//     one with state_ids (events fetched one by one with /event), within
//     MaxFetch;
//  6. against the current state of the room (the state across its forward
//     extremities): failing this soft-fails the event.
//
// A PDU that fails 4 or 5 is stored as Rejected. Each PDU gets its own result;
// one bad PDU never fails the transaction. Results carry an error for PDUs
// that were dropped or rejected; an accepted, redacted or soft-failed PDU has
// an empty result (the sender must not learn that its event was soft-failed).
// Transaction IDs are deduplicated per origin: a repeated transaction gets the
// first one's results without being processed again.
type Receiver struct {
	// ServerName is our own server name.
	ServerName string
	// Store holds the rooms.
	Store RoomStore
	// Keys gives the public keys that verify events.
	Keys signing.KeyRing
	// Client fetches missing events from the origin; nil: no fetching,
	// a PDU whose prev or auth events are unknown is refused.
	Client *Client
	// EDUs receives EDUs; nil drops them.
	EDUs EDUHandler
	// OnEvent, when set, is called for each event stored (from /send and
	// from filling gaps), after it is stored.
	OnEvent func(ctx context.Context, e NewEvent)
	// MissingEventsLimit is the limit asked of get_missing_events
	// (0: DefaultMissingEventsLimit); MaxFetch bounds the events fetched
	// for one PDU (0: DefaultMaxFetch).
	MissingEventsLimit, MaxFetch int
	// Now is the time for key validity; nil: time.Now.
	Now func() time.Time
	// Outside takes the PDUs of rooms the Store does not know that
	// concern the embedder (see OutsideRooms); nil drops them.
	Outside OutsideRooms

	mu       sync.Mutex
	txns     map[txnKey]*txnEntry
	txnOrder []txnKey
	rooms    map[string]*sync.Mutex
}

type txnKey struct{ origin, id string }

type txnEntry struct {
	done    chan struct{}
	results map[string]PDUResult
	err     error
}

// TransactionResponse is the answer of PUT /send.
type TransactionResponse struct {
	PDUs map[string]PDUResult `json:"pdus"`
}

// Receive processes the transaction txnID of origin, whose body is the JSON
// of PUT /send/{txnId}. The error is an *Error for a body that is not a
// transaction or is over the limits (400); results are per PDU event ID.
func (r *Receiver) Receive(ctx context.Context, origin, txnID string, body []byte) (map[string]PDUResult, error) {
	key := txnKey{origin, txnID}
	r.mu.Lock()
	if r.txns == nil {
		r.txns = map[txnKey]*txnEntry{}
	}
	if e := r.txns[key]; e != nil {
		r.mu.Unlock()
		select {
		case <-e.done:
			return e.results, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e := &txnEntry{done: make(chan struct{})}
	r.txns[key] = e
	r.txnOrder = append(r.txnOrder, key)
	if len(r.txnOrder) > txnCacheSize {
		delete(r.txns, r.txnOrder[0])
		r.txnOrder = r.txnOrder[1:]
	}
	r.mu.Unlock()
	e.results, e.err = r.receive(ctx, origin, body)
	var me *Error
	if e.err != nil && !errors.As(e.err, &me) {
		// A failure that is not the request's fault (storage, context):
		// forget the transaction so that the retry is processed.
		r.mu.Lock()
		delete(r.txns, key)
		r.mu.Unlock()
	}
	close(e.done)
	return e.results, e.err
}

type txnBody struct {
	PDUs []json.RawMessage
	EDUs []json.RawMessage
}

// splitTransaction checks a transaction body and splits out its PDUs and EDUs
// without decoding them: a transaction is up to 50 PDUs of up to 64 KiB, and
// each is parsed on its own later. The origin in the body is not used: the
// authenticated origin is (as the reference server does).
func splitTransaction(body []byte) (txnBody, error) {
	var t txnBody
	if !json.Valid(body) {
		return t, mxerr.New(http.StatusBadRequest, mxerr.BadJSON, "transaction is not JSON")
	}
	var pdus, edus, ts []byte
	// A repeated key: the last one counts, as encoding/json reads it.
	it := jsonraw.Members(body)
	for it.Next() {
		switch {
		case jsonraw.KeyIs(&it, "pdus"):
			pdus = it.Value
		case jsonraw.KeyIs(&it, "edus"):
			edus = it.Value
		case jsonraw.KeyIs(&it, "origin_server_ts"):
			ts = it.Value
		}
	}
	if it.Malformed() {
		return t, mxerr.New(http.StatusBadRequest, mxerr.BadJSON, "transaction is not a JSON object")
	}
	if pdus == nil {
		return t, mxerr.New(http.StatusBadRequest, mxerr.BadJSON, "pdus is required")
	}
	if ts == nil || ts[0] == '"' || ts[0] == '{' || ts[0] == '[' || ts[0] == 'n' || ts[0] == 't' || ts[0] == 'f' {
		return t, mxerr.New(http.StatusBadRequest, mxerr.BadJSON, "origin_server_ts is required, an integer")
	}
	t.PDUs = []json.RawMessage{}
	var ok bool
	if t.PDUs, ok = appendElements(t.PDUs, pdus); !ok {
		return t, mxerr.New(http.StatusBadRequest, mxerr.BadJSON, "pdus is not an array")
	}
	if edus != nil && string(edus) != "null" {
		if t.EDUs, ok = appendElements(t.EDUs, edus); !ok {
			return t, mxerr.New(http.StatusBadRequest, mxerr.BadJSON, "edus is not an array")
		}
	}
	return t, nil
}

// appendElements appends the elements of the JSON array arr to dst; ok is
// false when arr is not an array.
func appendElements(dst []json.RawMessage, arr []byte) ([]json.RawMessage, bool) {
	it := jsonraw.Elements(arr)
	for it.Next() {
		dst = append(dst, it.Elem)
	}
	return dst, !it.Malformed()
}

// OutsideRooms takes the PDUs of rooms this server is not in. A server
// that is in no room still has a stake in one where a local user holds an
// invite: the inviting server sends it the leave that withdraws the invite
// (a kick of the invited user), which the invitee's clients must see
// (content/client-server-api/_index.md, "Syncing": the room goes to the
// leave section). The Receiver parses such a PDU in the version Version
// gives, checks its signatures and hashes, that origin is the sender's
// server, and that it is a membership event of a local user; then Take
// decides.
type OutsideRooms interface {
	// Version returns the version of a room this server is not in, with
	// ok false when the embedder has no stake in the room (the PDU is
	// then dropped, as any PDU of an unknown room).
	Version(ctx context.Context, roomID string) (v roomversion.Version, ok bool)
	// Take is given the checked event; an error is the PDU's result.
	Take(ctx context.Context, origin string, ev *event.Event) error
}

// pdu is one PDU of a transaction on its way through the checks.
type pdu struct {
	roomID string
	v      roomversion.Version
	ev     *event.Event
	id     string
	err    string
	// outside: the room is not in the Store; the event goes to Outside.
	outside bool
	// altIDs are more IDs the result is given under, for a PDU whose
	// room version is not known (unknownRoomPDU).
	altIDs []string
}

// unknownRoomPDU is the result of a PDU of a room whose version cannot be
// had (a room this server is not in, usually). The event ID depends on the
// room version, which only the room knows, so the result is given under
// the ID the PDU has in each room version this library knows (at most a
// few distinct ones): whichever the sender computed is among them. The
// reference server gives such a PDU no result at all, which leaves the
// sender without an answer for it.
func unknownRoomPDU(roomID string, raw json.RawMessage, err error) *pdu {
	var ids []string
	for _, v := range roomversion.Standard().Known() {
		if id, err := event.EventID(v, raw); err == nil && id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	msg := "cannot read the room's version"
	if errors.Is(err, ErrUnknownRoom) {
		msg = "unknown room " + truncate(roomID)
	}
	return &pdu{roomID: roomID, id: ids[0], altIDs: ids[1:], err: msg}
}

func (r *Receiver) receive(ctx context.Context, origin string, body []byte) (map[string]PDUResult, error) {
	t, err := splitTransaction(body)
	if err != nil {
		return nil, err
	}
	// The reference server refuses an oversized transaction as a whole
	// with a 400.
	if len(t.PDUs) > MaxTransactionPDUs {
		return nil, mxerr.New(http.StatusBadRequest, mxerr.BadJSON, fmt.Sprintf("transaction has %d PDUs, at most %d allowed", len(t.PDUs), MaxTransactionPDUs))
	}
	if len(t.EDUs) > MaxTransactionEDUs {
		return nil, mxerr.New(http.StatusBadRequest, mxerr.BadJSON, fmt.Sprintf("transaction has %d EDUs, at most %d allowed", len(t.EDUs), MaxTransactionEDUs))
	}
	results := make(map[string]PDUResult, len(t.PDUs))
	pdus := make([]*pdu, 0, len(t.PDUs))
	acls := map[string]*ServerACL{}
	for _, raw := range t.PDUs {
		p := r.preparePDU(ctx, origin, raw, acls)
		if p == nil {
			continue
		}
		pdus = append(pdus, p)
	}
	// Steps 2 and 3 for the whole transaction in one batch.
	var batch []*event.Event
	for _, p := range pdus {
		if p.ev != nil {
			batch = append(batch, p.ev)
		}
	}
	if len(batch) > 0 {
		vr := &event.Verifier{KeyRing: r.Keys, Now: r.Now}
		res := vr.VerifyAll(ctx, batch)
		i := 0
		for _, p := range pdus {
			if p.ev == nil {
				continue
			}
			switch res[i].Verdict {
			case event.Invalid:
				p.err = "signature check failed: " + res[i].Err.Error()
				p.ev = nil
			case event.Redact:
				p.ev = res[i].Redacted
			}
			i++
		}
	}
	for _, p := range pdus {
		if p.ev != nil && p.outside {
			if err := r.takeOutside(ctx, origin, p.ev); err != nil {
				p.err = err.Error()
			}
		} else if p.ev != nil {
			if err := r.process(ctx, origin, p.ev, 0); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				p.err = err.Error()
			}
		}
		results[p.id] = PDUResult{Error: p.err}
		for _, id := range p.altIDs {
			results[id] = PDUResult{Error: p.err}
		}
	}
	r.handleEDUs(ctx, origin, t.EDUs, acls)
	return results, nil
}

// preparePDU finds the room version, applies the ACL and parses the PDU. It
// returns nil for a PDU that cannot be named (no room known, no ID).
func (r *Receiver) preparePDU(ctx context.Context, origin string, raw json.RawMessage, acls map[string]*ServerACL) *pdu {
	roomID, ok := topLevelString(raw, "room_id")
	if !ok || roomID == "" {
		return nil
	}
	outside := false
	v, err := r.Store.RoomVersion(ctx, roomID)
	if err != nil {
		if r.Outside == nil {
			return unknownRoomPDU(roomID, raw, err)
		}
		var ok bool
		if v, ok = r.Outside.Version(ctx, roomID); !ok {
			return unknownRoomPDU(roomID, raw, err)
		}
		outside = true
	}
	p := &pdu{roomID: roomID, v: v, outside: outside}
	ev, perr := event.Parse(v, raw)
	if perr != nil {
		id, err := event.EventID(v, raw)
		if err != nil || id == "" {
			return nil
		}
		p.id, p.err = id, "invalid event: "+perr.Error()
		return p
	}
	p.id = ev.ID()
	if outside {
		// No state here: no ACL to apply.
		p.ev = ev
		return p
	}
	acl, err := r.roomACL(ctx, roomID, acls)
	if err != nil {
		p.err = "cannot read the room's server ACL"
		return p
	}
	if acl != nil && !acl.Allowed(origin) {
		p.err = "server is denied by the room's server ACL"
		return p
	}
	p.ev = ev
	return p
}

func (r *Receiver) roomACL(ctx context.Context, roomID string, cache map[string]*ServerACL) (*ServerACL, error) {
	if acl, ok := cache[roomID]; ok {
		return acl, nil
	}
	acl, err := currentACL(ctx, r.Store, roomID)
	if err != nil {
		return nil, err
	}
	cache[roomID] = acl
	return acl, nil
}

// roomLock serialises the processing of one room's events.
func (r *Receiver) roomLock(roomID string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rooms == nil {
		r.rooms = map[string]*sync.Mutex{}
	}
	m := r.rooms[roomID]
	if m == nil {
		m = &sync.Mutex{}
		r.rooms[roomID] = m
	}
	return m
}

// process runs checks 4 to 6 on a PDU whose signatures and hash have been
// checked, and stores it. level counts the nesting of gap filling.
func (r *Receiver) process(ctx context.Context, origin string, ev *event.Event, level int) error {
	mu := r.roomLock(ev.RoomID())
	mu.Lock()
	defer mu.Unlock()
	return r.processLocked(ctx, origin, ev, level)
}

func (r *Receiver) processLocked(ctx context.Context, origin string, ev *event.Event, level int) error {
	return r.check(ctx, origin, ev, level, false)
}

// check runs the checks of a PDU ("Checks performed on receipt of a PDU")
// and stores it. historical is backfill's mode: the event is older than
// the room's forward extremities, so a gap before it is filled with the
// state the origin gives (/state_ids) rather than get_missing_events, the
// current state is no concern (no soft failure), and it is stored as
// Historical, told to OnEvent neither.
func (r *Receiver) check(ctx context.Context, origin string, ev *event.Event, level int, historical bool) error {
	known, outlier, err := r.known(ctx, ev.ID())
	if err != nil {
		return err
	}
	if known && !(historical && outlier) {
		return nil // seen before (an outlier becomes history when backfilled)
	}
	budget := r.MaxFetch
	if budget <= 0 {
		budget = DefaultMaxFetch
	}
	// State before the event, filling gaps when prev events are missing.
	stateLevel := level
	if historical {
		stateLevel = 1 // no get_missing_events: the gap is older history
	}
	before, err := r.stateBefore(ctx, origin, ev, stateLevel, &budget)
	if err != nil {
		return err
	}
	// Step 4: its own auth events.
	authEvs, err := r.authEvents(ctx, origin, ev, &budget)
	if err != nil {
		return err
	}
	ne := NewEvent{Event: ev, Status: Accepted}
	v := ev.Version()
	var rejection error
	if err := eventauth.Check(v, ev, authEvs.events, authEvs.rejected); err != nil {
		rejection = fmt.Errorf("rejected: auth events: %w", err)
	} else if state, err := loadState(ctx, r.Store, v, ev, before); err != nil {
		return err
	} else if err := eventauth.Allowed(v, ev, state); err != nil {
		// Step 5.
		rejection = fmt.Errorf("rejected: state before the event: %w", err)
	} else if historical {
		// Not checked against the current state: it is not news.
	} else if soft, err := r.softFails(ctx, ev, before); err != nil {
		return err
	} else if soft {
		ne.Status = SoftFailed
	}
	if rejection != nil {
		ne.Status = Rejected
	}
	ne.StateAfter = stateAfter(before, ev, ne.Status != Rejected)
	ne.Historical = historical
	if err := r.Store.StoreEvents(ctx, ev.RoomID(), []NewEvent{ne}); err != nil {
		return err
	}
	if r.OnEvent != nil && !historical {
		r.OnEvent(ctx, ne)
	}
	return rejection
}

// softFails is step 6: the event against the room's current state. When the
// event's prev events are the forward extremities, the current state is the
// state before the event and step 5 has answered.
func (r *Receiver) softFails(ctx context.Context, ev *event.Event, before stateres.StateMap) (bool, error) {
	extrem, err := r.Store.ForwardExtremities(ctx, ev.RoomID())
	if err != nil {
		return false, err
	}
	if sameSet(extrem, ev.PrevEventIDs()) {
		return false, nil
	}
	current, err := resolveAt(ctx, r.Store, ev.Version(), extrem)
	if err != nil {
		return false, err
	}
	state, err := loadState(ctx, r.Store, ev.Version(), ev, current)
	if err != nil {
		return false, err
	}
	return eventauth.Allowed(ev.Version(), ev, state) != nil, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// stateAfter is before with ev applied when it is a state event that counts.
// The map is before itself when nothing changes (stored state maps are never
// modified), so that a message does not copy the room state.
func stateAfter(before stateres.StateMap, ev *event.Event, apply bool) stateres.StateMap {
	sk, ok := ev.StateKey()
	if before != nil && (!ok || !apply) {
		return before
	}
	after := maps.Clone(before)
	if after == nil {
		after = stateres.StateMap{}
	}
	if ok && apply {
		after[stateres.StateKey{Type: ev.Type(), StateKey: sk}] = ev.ID()
	}
	return after
}

// resolveAt resolves the states after the given events.
func resolveAt(ctx context.Context, store RoomStore, v roomversion.Version, ids []string) (stateres.StateMap, error) {
	states, err := store.StateAfter(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, s := range states {
		if s == nil {
			return nil, fmt.Errorf("federation: state after %s is not known", ids[i])
		}
	}
	if len(states) == 1 {
		return states[0], nil
	}
	return stateres.Resolve(ctx, v, states, store, nil)
}

// currentState is the resolved state across the room's forward extremities.
func currentState(ctx context.Context, store RoomStore, roomID string) (roomversion.Version, stateres.StateMap, []string, error) {
	v, err := store.RoomVersion(ctx, roomID)
	if err != nil {
		return v, nil, nil, err
	}
	extrem, err := store.ForwardExtremities(ctx, roomID)
	if err != nil {
		return v, nil, nil, err
	}
	st, err := resolveAt(ctx, store, v, extrem)
	return v, st, extrem, err
}

// currentACL returns the server ACL of the room's current state, nil when
// the room has none.
func currentACL(ctx context.Context, store RoomStore, roomID string) (*ServerACL, error) {
	_, st, _, err := currentState(ctx, store, roomID)
	if err != nil {
		return nil, err
	}
	id, ok := st[stateres.StateKey{Type: "m.room.server_acl"}]
	if !ok {
		return nil, nil
	}
	evs, err := store.Events(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if evs[0].Event == nil {
		return nil, fmt.Errorf("federation: server ACL event %s not in the store", id)
	}
	acl := ParseServerACL(evs[0].Event.Content())
	return &acl, nil
}

// loadState loads the entries of state that the authorization of ev reads
// (its auth events selection) as an eventauth state.
func loadState(ctx context.Context, store EventStore, v roomversion.Version, ev *event.Event, state stateres.StateMap) (eventauth.StateMap, error) {
	keys, err := authKeys(v, ev)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(keys))
	kk := make([]eventauth.StateKey, 0, len(keys))
	for _, k := range keys {
		if id, ok := state[k]; ok {
			ids = append(ids, id)
			kk = append(kk, k)
		}
	}
	evs, err := store.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(eventauth.StateMap, len(ids))
	for i, s := range evs {
		if s.Event == nil {
			return nil, fmt.Errorf("federation: state event %s not in the store", ids[i])
		}
		out[kk[i]] = s.Event
	}
	return out, nil
}

type authSet struct {
	events   []*event.Event
	rejected func(string) bool
}

// authEvents loads ev's auth events, fetching the missing ones (with their
// auth chain) from origin.
func (r *Receiver) authEvents(ctx context.Context, origin string, ev *event.Event, budget *int) (authSet, error) {
	ids := authEventIDs(ev)
	st, err := r.Store.Events(ctx, ids)
	if err != nil {
		return authSet{}, err
	}
	missing := false
	for _, s := range st {
		if s.Event == nil {
			missing = true
		}
	}
	if missing {
		if r.Client == nil {
			return authSet{}, errors.New("auth events are missing")
		}
		chain, err := r.Client.EventAuth(ctx, origin, ev.Version(), ev.RoomID(), ev.ID())
		if err != nil {
			return authSet{}, fmt.Errorf("auth events are missing and event_auth failed: %w", err)
		}
		if len(chain) > *budget {
			return authSet{}, fmt.Errorf("auth chain of %d events is over the fetch limit", len(chain))
		}
		*budget -= len(chain)
		if err := r.storeOutliers(ctx, chain); err != nil {
			return authSet{}, err
		}
		if st, err = r.Store.Events(ctx, ids); err != nil {
			return authSet{}, err
		}
	}
	set := authSet{rejected: func(string) bool { return false }}
	rej := map[string]bool{}
	for i, s := range st {
		if s.Event == nil {
			return authSet{}, fmt.Errorf("auth event %s is missing", ids[i])
		}
		set.events = append(set.events, s.Event)
		if s.Rejected {
			rej[s.Event.ID()] = true
		}
	}
	if len(rej) > 0 {
		set.rejected = func(id string) bool { return rej[id] }
	}
	return set, nil
}

// storeOutliers verifies fetched events, checks each against its own auth
// events (in depth order, so that auth events come first) and stores them as
// outliers, or as rejected when their auth fails. Events with a bad signature
// are dropped.
func (r *Receiver) storeOutliers(ctx context.Context, evs []*event.Event) error {
	vr := &event.Verifier{KeyRing: r.Keys, Now: r.Now}
	res := vr.VerifyAll(ctx, evs)
	var good []*event.Event
	for i, e := range evs {
		switch res[i].Verdict {
		case event.Valid:
			good = append(good, e)
		case event.Redact:
			good = append(good, res[i].Redacted)
		}
	}
	sort.SliceStable(good, func(i, j int) bool { return good[i].Depth() < good[j].Depth() })
	byID := map[string]*event.Event{}
	for _, e := range good {
		byID[e.ID()] = e
	}
	var done []NewEvent
	for _, e := range good {
		ids := authEventIDs(e)
		st, err := r.Store.Events(ctx, ids)
		if err != nil {
			return err
		}
		auth := make([]*event.Event, 0, len(ids))
		rej := map[string]bool{}
		ok := true
		for i, s := range st {
			switch {
			case s.Event != nil:
				auth = append(auth, s.Event)
				if s.Rejected {
					rej[ids[i]] = true
				}
			case byID[ids[i]] != nil:
				auth = append(auth, byID[ids[i]])
			default:
				ok = false
			}
		}
		for _, d := range done {
			if d.Status == Rejected {
				rej[d.Event.ID()] = true
			}
		}
		status := Outlier
		if !ok || eventauth.Check(e.Version(), e, auth, func(id string) bool { return rej[id] }) != nil {
			status = Rejected
		}
		ne := NewEvent{Event: e, Status: status}
		if err := r.Store.StoreEvents(ctx, e.RoomID(), []NewEvent{ne}); err != nil {
			return err
		}
		done = append(done, ne)
	}
	return nil
}

// stateBefore computes the state before ev from the states after its prev
// events, filling gaps: get_missing_events first (at the first level only),
// then state_ids at each prev event still missing.
func (r *Receiver) stateBefore(ctx context.Context, origin string, ev *event.Event, level int, budget *int) (stateres.StateMap, error) {
	prevs := ev.PrevEventIDs()
	if len(prevs) == 0 {
		return stateres.StateMap{}, nil
	}
	states, err := r.Store.StateAfter(ctx, prevs)
	if err != nil {
		return nil, err
	}
	if hasNil(states) && r.Client != nil && level == 0 {
		if err := r.fetchMissing(ctx, origin, ev, budget); err != nil {
			return nil, err
		}
		if states, err = r.Store.StateAfter(ctx, prevs); err != nil {
			return nil, err
		}
	}
	for i, s := range states {
		if s != nil {
			continue
		}
		if r.Client == nil {
			return nil, fmt.Errorf("prev event %s is missing", prevs[i])
		}
		s, err := r.stateAtMissing(ctx, origin, ev, prevs[i], budget)
		if err != nil {
			return nil, fmt.Errorf("prev event %s is missing and its state could not be fetched: %w", prevs[i], err)
		}
		states[i] = s
	}
	if len(states) == 1 {
		return states[0], nil
	}
	return stateres.Resolve(ctx, ev.Version(), states, r.Store, nil)
}

func hasNil(states []stateres.StateMap) bool {
	for _, s := range states {
		if s == nil {
			return true
		}
	}
	return false
}

// fetchMissing asks origin for the events between our forward extremities and
// ev, and processes them oldest first.
func (r *Receiver) fetchMissing(ctx context.Context, origin string, ev *event.Event, budget *int) error {
	extrem, err := r.Store.ForwardExtremities(ctx, ev.RoomID())
	if err != nil {
		return err
	}
	limit := r.MissingEventsLimit
	if limit <= 0 {
		limit = DefaultMissingEventsLimit
	}
	limit = min(limit, *budget)
	if limit <= 0 {
		return nil
	}
	evs, err := r.Client.GetMissingEvents(ctx, origin, ev.Version(), ev.RoomID(), MissingEventsRequest{
		EarliestEvents: extrem, LatestEvents: []string{ev.ID()}, Limit: limit,
	})
	if err != nil {
		// Not fatal: the state_ids path follows.
		return nil
	}
	if len(evs) > limit {
		evs = evs[:limit]
	}
	*budget -= len(evs)
	vr := &event.Verifier{KeyRing: r.Keys, Now: r.Now}
	res := vr.VerifyAll(ctx, evs)
	var good []*event.Event
	for i, e := range evs {
		if e.RoomID() != ev.RoomID() || e.ID() == ev.ID() {
			continue
		}
		switch res[i].Verdict {
		case event.Valid:
			good = append(good, e)
		case event.Redact:
			good = append(good, res[i].Redacted)
		}
	}
	sort.SliceStable(good, func(i, j int) bool { return good[i].Depth() < good[j].Depth() })
	for _, e := range good {
		// Their own failures are theirs: a rejected missing event is
		// stored as rejected and the PDU goes on.
		if err := r.processLocked(ctx, origin, e, 1); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// stateAtMissing fetches the state after the missing event prev: the state
// before it (state_ids) plus prev itself, fetching the events not stored.
func (r *Receiver) stateAtMissing(ctx context.Context, origin string, ev *event.Event, prev string, budget *int) (stateres.StateMap, error) {
	ids, err := r.Client.StateIDs(ctx, origin, ev.RoomID(), prev)
	if err != nil {
		return nil, err
	}
	want := append(append(append([]string{}, ids.AuthChainIDs...), ids.PDUIDs...), prev)
	st, err := r.Store.Events(ctx, want)
	if err != nil {
		return nil, err
	}
	var fetched []*event.Event
	seen := map[string]bool{}
	for i, s := range st {
		id := want[i]
		if s.Event != nil || seen[id] {
			continue
		}
		seen[id] = true
		if *budget <= 0 {
			return nil, errors.New("over the fetch limit")
		}
		*budget--
		e, err := r.Client.Event(ctx, origin, ev.Version(), id)
		if err != nil {
			return nil, err
		}
		fetched = append(fetched, e)
	}
	if err := r.storeOutliers(ctx, fetched); err != nil {
		return nil, err
	}
	st, err = r.Store.Events(ctx, append(slices.Clone(ids.PDUIDs), prev))
	if err != nil {
		return nil, err
	}
	state := stateres.StateMap{}
	for i, s := range st {
		if s.Event == nil {
			return nil, fmt.Errorf("event %s could not be fetched", append(ids.PDUIDs, prev)[i])
		}
		if s.Rejected {
			continue
		}
		sk, ok := s.Event.StateKey()
		if s.Event.RoomID() != ev.RoomID() || !ok && i < len(ids.PDUIDs) {
			return nil, fmt.Errorf("state_ids lists %s, not a state event of the room", s.Event.ID())
		}
		if !ok {
			continue // prev itself, a message
		}
		state[stateres.StateKey{Type: s.Event.Type(), StateKey: sk}] = s.Event.ID()
	}
	return state, nil
}

// handleEDUs parses EDUs, applies the ACLs to the room-scoped ones (m.typing
// by its room_id, m.receipt per room) and hands them to the embedder.
func (r *Receiver) handleEDUs(ctx context.Context, origin string, raws []json.RawMessage, acls map[string]*ServerACL) {
	if r.EDUs == nil {
		return
	}
	denied := func(roomID string) bool {
		if _, err := r.Store.RoomVersion(ctx, roomID); err != nil {
			return false
		}
		acl, err := r.roomACL(ctx, roomID, acls)
		return err != nil || (acl != nil && !acl.Allowed(origin))
	}
	for _, raw := range raws {
		var edu EDU
		if json.Unmarshal(raw, &edu) != nil || edu.Type == "" {
			continue
		}
		switch edu.Type {
		case "m.typing":
			var c struct {
				RoomID string `json:"room_id"`
				UserID string `json:"user_id"`
			}
			// "Receiving servers should verify that the user is in the
			// room, and is a user belonging to the sending server"
			// ("Typing Notifications"); membership is the embedder's
			// to check.
			if json.Unmarshal(edu.Content, &c) != nil || serverOf(c.UserID) != origin || denied(c.RoomID) {
				continue
			}
		case "m.device_list_update", "m.signing_key_update":
			// Updates about another server's users are refused, as the
			// reference server refuses them.
			var c struct {
				UserID string `json:"user_id"`
			}
			if json.Unmarshal(edu.Content, &c) != nil || serverOf(c.UserID) != origin {
				continue
			}
		case "m.presence":
			var c struct {
				Push []json.RawMessage `json:"push"`
			}
			if json.Unmarshal(edu.Content, &c) != nil {
				continue
			}
			kept := c.Push[:0]
			for _, p := range c.Push {
				var u struct {
					UserID string `json:"user_id"`
				}
				if json.Unmarshal(p, &u) == nil && serverOf(u.UserID) == origin {
					kept = append(kept, p)
				}
			}
			if len(kept) == 0 {
				continue
			}
			edu.Content, _ = json.Marshal(map[string]any{"push": kept})
		case "m.receipt":
			var c map[string]json.RawMessage
			if json.Unmarshal(edu.Content, &c) != nil {
				continue
			}
			n := len(c)
			for room := range c {
				if denied(room) {
					delete(c, room)
				}
			}
			if len(c) == 0 {
				continue
			}
			if len(c) != n {
				edu.Content, _ = json.Marshal(c)
			}
		}
		r.EDUs.HandleEDU(ctx, origin, edu)
	}
}

func newTxnID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// authKeys is the auth events selection of ev plus the create event, which
// the rules read in every room version (from room version 12 it is not among
// the auth events, its ID being the room ID, but the rules still need it).
func authKeys(v roomversion.Version, ev *event.Event) ([]eventauth.StateKey, error) {
	keys, err := eventauth.Needed(v, ev)
	if err != nil {
		return nil, err
	}
	create := eventauth.StateKey{Type: event.TypeCreate}
	if !slices.Contains(keys, create) {
		keys = append(keys, create)
	}
	return keys, nil
}

// authEventIDs is the IDs of the events ev's authorization reads: its
// auth_events and, in room versions whose room ID is the create event's
// hash (12), the create event, which is not listed.
func authEventIDs(ev *event.Event) []string {
	ids := ev.AuthEventIDs()
	if ev.Version().Event.RoomID == roomversion.RoomIDCreateHash && ev.Type() != event.TypeCreate {
		if rid := ev.RoomID(); len(rid) > 1 {
			create := "$" + rid[1:]
			if !slices.Contains(ids, create) {
				ids = append(slices.Clone(ids), create)
			}
		}
	}
	return ids
}

// takeOutside checks an event of a room this server is not in before
// Outside takes it: only a membership event of a local user, sent by a
// user of the origin server (whose signature VerifyAll has checked), and
// never a redacted one (its content is what matters).
func (r *Receiver) takeOutside(ctx context.Context, origin string, ev *event.Event) error {
	target, isState := ev.StateKey()
	switch {
	case ev.Type() != event.TypeMember || !isState:
		return errors.New("not a membership event, and this server is not in the room")
	case serverOf(target) != r.ServerName:
		return errors.New("not a membership of a user of this server, and this server is not in the room")
	case serverOf(ev.Sender()) != origin:
		return errors.New("the sender is not a user of the origin server")
	}
	return r.Outside.Take(ctx, origin, ev)
}

// Backfill fetches up to limit events of roomID that precede the events
// from (the server-server API's "Backfilling and retrieving missing
// events": GET /backfill) from dest, and stores the ones that pass the
// checks of a received PDU, oldest first, as Historical events: a server
// that joins a room late reads its earlier history this way. Each event's
// signatures and hashes are verified (a redacted copy is kept for a wrong
// content hash, as on receipt), its auth events fetched when missing, and
// the state before it computed from its prev events, or asked of dest
// (/state_ids) when they are older than what we have. It returns the
// events stored, in the order stored; events that fail are left out (an
// event of another room, a forged one).
func (r *Receiver) Backfill(ctx context.Context, dest, roomID string, from []string, limit int) ([]*event.Event, error) {
	if r.Client == nil {
		return nil, errors.New("federation: Backfill needs a Client")
	}
	v, err := r.Store.RoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	got, err := r.Client.Backfill(ctx, dest, v, roomID, from, limit)
	if err != nil {
		return nil, err
	}
	var evs []*event.Event
	for _, ev := range got {
		if ev.RoomID() == roomID {
			evs = append(evs, ev)
		}
	}
	if len(evs) == 0 {
		return nil, nil
	}
	vr := &event.Verifier{KeyRing: r.Keys, Now: r.Now}
	res := vr.VerifyAll(ctx, evs)
	var ok []*event.Event
	for i, ev := range evs {
		switch res[i].Verdict {
		case event.Valid:
			ok = append(ok, ev)
		case event.Redact:
			ok = append(ok, res[i].Redacted)
		}
	}
	// Oldest first: by depth, then by the order prev events require.
	slices.SortStableFunc(ok, func(a, b *event.Event) int { return cmp.Compare(a.Depth(), b.Depth()) })
	mu := r.roomLock(roomID)
	mu.Lock()
	defer mu.Unlock()
	var stored []*event.Event
	for _, ev := range ok {
		if known, outlier, err := r.known(ctx, ev.ID()); err != nil {
			return stored, err
		} else if known && !outlier {
			continue // in the room's history already
		}
		if err := r.check(ctx, dest, ev, 0, true); err != nil {
			if ctx.Err() != nil {
				return stored, ctx.Err()
			}
			continue // rejected (stored as such) or not checkable: not history to show
		}
		stored = append(stored, ev)
	}
	return stored, nil
}

// known reports whether an event is stored, and whether as an outlier
// (stored without a state after it: an auth or state event received with
// a join, or a prev event fetched to compute a state).
func (r *Receiver) known(ctx context.Context, id string) (known, outlier bool, err error) {
	st, err := r.Store.Events(ctx, []string{id})
	if err != nil || st[0].Event == nil {
		return false, false, err
	}
	states, err := r.Store.StateAfter(ctx, []string{id})
	if err != nil {
		return false, false, err
	}
	return true, states[0] == nil, nil
}
