package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/internal/mediahdr"
	"github.com/mxkit/mxkit/internal/mxerr"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// Client limits, used when the Client fields are zero.
const (
	DefaultTimeout         = 60 * time.Second
	DefaultMaxResponseSize = 64 << 20
)

// Client makes requests to other homeservers: every endpoint of
// content/server-server-api.md except the key endpoints (see the key ring
// for those), signed with X-Matrix request authentication ("Request
// Authentication").
//
// Requests go to the URL "matrix-federation://<server name><path>", which
// the Transport resolves (NewTransport with a Resolver does it by "Resolving
// server names"). A non-2xx answer is returned as an *Error carrying the
// remote errcode. Responses larger than MaxResponseSize fail.
type Client struct {
	// ServerName is our own server name, the origin of requests.
	ServerName string
	// Key signs requests.
	Key *signing.SigningKey
	// Transport carries the requests; see NewTransport.
	Transport http.RoundTripper
	// Timeout bounds each request (0: DefaultTimeout); a deadline of the
	// context given to a method applies as well.
	Timeout time.Duration
	// MaxResponseSize bounds response bodies (0: DefaultMaxResponseSize).
	MaxResponseSize int64
}

// ErrResponse is wrapped by the errors of responses that are not what the
// specification says they must be (bad JSON, wrong shapes, events that do
// not parse or are not what was asked for).
var ErrResponse = errors.New("federation: malformed response")

func badResponse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrResponse, fmt.Sprintf(format, args...))
}

// request performs one signed request and returns the response body of a 2xx
// answer; other answers give an *Error.
func (c *Client) request(ctx context.Context, method, dest, path string, query url.Values, body any) ([]byte, http.Header, error) {
	var content []byte
	if body != nil {
		var err error
		if raw, ok := body.(json.RawMessage); ok {
			content = raw
		} else if content, err = json.Marshal(body); err != nil {
			return nil, nil, err
		}
	} else if method == http.MethodPut || method == http.MethodPost {
		// "All POST and PUT endpoints require the requesting server to
		// supply a request body containing a (potentially empty) JSON
		// object" (API standards).
		content = []byte("{}")
	}
	uri := path
	if len(query) > 0 {
		uri += "?" + query.Encode()
	}
	auth, err := SignRequest(method, uri, c.ServerName, dest, content, c.Key)
	if err != nil {
		return nil, nil, err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u, err := url.Parse("matrix-federation://" + dest + uri)
	if err != nil {
		return nil, nil, fmt.Errorf("federation: bad destination %q: %w", dest, err)
	}
	var rd io.Reader
	if content != nil {
		rd = bytes.NewReader(content)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err == nil {
		req.URL = u
	}
	if err != nil {
		return nil, nil, err
	}
	req.Host = dest
	req.Header.Set("Authorization", auth)
	if content != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rt := c.Transport
	if rt == nil {
		return nil, nil, errors.New("federation: Client has no Transport")
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	limit := c.MaxResponseSize
	if limit <= 0 {
		limit = DefaultMaxResponseSize
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("federation: response from %s over %d bytes", dest, limit)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp.Header, mxerr.FromResponse(resp.StatusCode, data, resp.Header)
	}
	return data, resp.Header, nil
}

func (c *Client) getJSON(ctx context.Context, method, dest, path string, query url.Values, body, out any) error {
	data, _, err := c.request(ctx, method, dest, path, query, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrResponse, method, path, err)
	}
	return nil
}

func esc(s string) string { return url.PathEscape(s) }

// parsePDUs parses the PDUs of a response in room version v.
func parsePDUs(v roomversion.Version, raws []json.RawMessage, what string) ([]*event.Event, error) {
	out := make([]*event.Event, 0, len(raws))
	for i, r := range raws {
		e, err := event.Parse(v, r)
		if err != nil {
			return nil, fmt.Errorf("%w: %s[%d]: %w", ErrResponse, what, i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Transaction is the body of PUT /send/{txnId} (content/server-server-api.md,
// "Transactions").
type Transaction struct {
	Origin         string            `json:"origin"`
	OriginServerTS int64             `json:"origin_server_ts"`
	PDUs           []json.RawMessage `json:"pdus"`
	EDUs           []EDU             `json:"edus,omitempty"`
}

// EDU is an ephemeral data unit: its type and its content.
type EDU struct {
	Type    string          `json:"edu_type"`
	Content json.RawMessage `json:"content"`
}

// PDUResult is the outcome for one PDU of a transaction: Error is empty when
// it was processed without error.
type PDUResult struct {
	Error string `json:"error,omitempty"`
}

// SendTransaction sends a transaction (PUT /_matrix/federation/v1/send/{txnId})
// and returns the result per PDU event ID. At most 50 PDUs and 100 EDUs may be
// sent at once.
func (c *Client) SendTransaction(ctx context.Context, dest, txnID string, txn Transaction) (map[string]PDUResult, error) {
	if len(txn.PDUs) > MaxTransactionPDUs || len(txn.EDUs) > MaxTransactionEDUs {
		return nil, fmt.Errorf("federation: transaction of %d PDUs and %d EDUs is over the limits of %d and %d", len(txn.PDUs), len(txn.EDUs), MaxTransactionPDUs, MaxTransactionEDUs)
	}
	if txn.Origin == "" {
		txn.Origin = c.ServerName
	}
	if txn.OriginServerTS == 0 {
		txn.OriginServerTS = time.Now().UnixMilli()
	}
	if txn.PDUs == nil {
		txn.PDUs = []json.RawMessage{}
	}
	var out struct {
		PDUs map[string]PDUResult `json:"pdus"`
	}
	err := c.getJSON(ctx, http.MethodPut, dest, "/_matrix/federation/v1/send/"+esc(txnID), nil, txn, &out)
	return out.PDUs, err
}

// SendPDUs sends events in one transaction with a new transaction ID.
func (c *Client) SendPDUs(ctx context.Context, dest string, events []*event.Event, edus []EDU) (map[string]PDUResult, error) {
	pdus := make([]json.RawMessage, len(events))
	for i, e := range events {
		pdus[i] = e.JSON()
	}
	return c.SendTransaction(ctx, dest, newTxnID(), Transaction{PDUs: pdus, EDUs: edus})
}

type transactionBody struct {
	Origin         string            `json:"origin"`
	OriginServerTS int64             `json:"origin_server_ts"`
	PDUs           []json.RawMessage `json:"pdus"`
}

// Event fetches one event (GET /_matrix/federation/v1/event/{eventId}) and
// parses it in room version v, the version of the room the caller expects it
// in. The event must have the ID asked for.
func (c *Client) Event(ctx context.Context, dest string, v roomversion.Version, eventID string) (*event.Event, error) {
	var t transactionBody
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/event/"+esc(eventID), nil, nil, &t); err != nil {
		return nil, err
	}
	if len(t.PDUs) != 1 {
		return nil, badResponse("event: %d PDUs, want 1", len(t.PDUs))
	}
	e, err := event.Parse(v, t.PDUs[0])
	if err != nil {
		return nil, fmt.Errorf("%w: event: %w", ErrResponse, err)
	}
	if e.ID() != eventID {
		return nil, badResponse("event: got %s, asked for %s", e.ID(), eventID)
	}
	return e, nil
}

// StateResponse is the answer of GET /state: the room state before an event
// and the auth chain of that state.
type StateResponse struct {
	State     []*event.Event
	AuthChain []*event.Event
}

// State fetches the state of a room at (before) an event
// (GET /_matrix/federation/v1/state/{roomId}?event_id=).
func (c *Client) State(ctx context.Context, dest string, v roomversion.Version, roomID, eventID string) (*StateResponse, error) {
	var raw struct {
		PDUs      []json.RawMessage `json:"pdus"`
		AuthChain []json.RawMessage `json:"auth_chain"`
	}
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/state/"+esc(roomID), url.Values{"event_id": {eventID}}, nil, &raw); err != nil {
		return nil, err
	}
	st, err := parsePDUs(v, raw.PDUs, "pdus")
	if err != nil {
		return nil, err
	}
	ac, err := parsePDUs(v, raw.AuthChain, "auth_chain")
	if err != nil {
		return nil, err
	}
	return &StateResponse{State: st, AuthChain: ac}, nil
}

// StateIDs is the answer of GET /state_ids.
type StateIDs struct {
	PDUIDs       []string `json:"pdu_ids"`
	AuthChainIDs []string `json:"auth_chain_ids"`
}

// StateIDs fetches the IDs of the state of a room before an event and of its
// auth chain (GET /_matrix/federation/v1/state_ids/{roomId}?event_id=).
func (c *Client) StateIDs(ctx context.Context, dest, roomID, eventID string) (*StateIDs, error) {
	var out StateIDs
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/state_ids/"+esc(roomID), url.Values{"event_id": {eventID}}, nil, &out); err != nil {
		return nil, err
	}
	if out.PDUIDs == nil || out.AuthChainIDs == nil {
		return nil, badResponse("state_ids: pdu_ids and auth_chain_ids are required")
	}
	return &out, nil
}

// EventAuth fetches the auth chain of an event
// (GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}).
func (c *Client) EventAuth(ctx context.Context, dest string, v roomversion.Version, roomID, eventID string) ([]*event.Event, error) {
	var raw struct {
		AuthChain []json.RawMessage `json:"auth_chain"`
	}
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/event_auth/"+esc(roomID)+"/"+esc(eventID), nil, nil, &raw); err != nil {
		return nil, err
	}
	return parsePDUs(v, raw.AuthChain, "auth_chain")
}

// Backfill fetches up to limit events preceding (and including) the events
// from (GET /_matrix/federation/v1/backfill/{roomId}?v=&limit=).
func (c *Client) Backfill(ctx context.Context, dest string, v roomversion.Version, roomID string, from []string, limit int) ([]*event.Event, error) {
	var t transactionBody
	q := url.Values{"v": from, "limit": {strconv.Itoa(limit)}}
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/backfill/"+esc(roomID), q, nil, &t); err != nil {
		return nil, err
	}
	return parsePDUs(v, t.PDUs, "pdus")
}

// MissingEventsRequest is the body of POST /get_missing_events.
type MissingEventsRequest struct {
	EarliestEvents []string `json:"earliest_events"`
	LatestEvents   []string `json:"latest_events"`
	Limit          int      `json:"limit,omitempty"`
	MinDepth       int64    `json:"min_depth,omitempty"`
}

// GetMissingEvents fetches the events between earliest and latest
// (POST /_matrix/federation/v1/get_missing_events/{roomId}).
func (c *Client) GetMissingEvents(ctx context.Context, dest string, v roomversion.Version, roomID string, req MissingEventsRequest) ([]*event.Event, error) {
	var raw struct {
		Events []json.RawMessage `json:"events"`
	}
	if req.EarliestEvents == nil {
		req.EarliestEvents = []string{}
	}
	if err := c.getJSON(ctx, http.MethodPost, dest, "/_matrix/federation/v1/get_missing_events/"+esc(roomID), nil, req, &raw); err != nil {
		return nil, err
	}
	return parsePDUs(v, raw.Events, "events")
}

// TimestampEvent is the answer of GET /timestamp_to_event.
type TimestampEvent struct {
	EventID        string `json:"event_id"`
	OriginServerTS int64  `json:"origin_server_ts"`
}

// TimestampToEvent finds the event closest to ts in direction dir ("f" or
// "b") (GET /_matrix/federation/v1/timestamp_to_event/{roomId}).
func (c *Client) TimestampToEvent(ctx context.Context, dest, roomID string, ts int64, dir string) (*TimestampEvent, error) {
	var out TimestampEvent
	q := url.Values{"ts": {strconv.FormatInt(ts, 10)}, "dir": {dir}}
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/timestamp_to_event/"+esc(roomID), q, nil, &out); err != nil {
		return nil, err
	}
	if out.EventID == "" {
		return nil, badResponse("timestamp_to_event: no event_id")
	}
	return &out, nil
}

// Template is the answer of make_join, make_leave and make_knock: the room
// version and the unsigned event template.
type Template struct {
	RoomVersion roomversion.Version
	// Event is the template as the resident server sent it.
	Event json.RawMessage
}

func (c *Client) makeMembership(ctx context.Context, dest, endpoint, roomID, userID string, vers []string, defaultVersion string) (*Template, error) {
	var raw struct {
		RoomVersion *string         `json:"room_version"`
		Event       json.RawMessage `json:"event"`
	}
	var q url.Values
	if len(vers) > 0 {
		q = url.Values{"ver": vers}
	}
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/"+endpoint+"/"+esc(roomID)+"/"+esc(userID), q, nil, &raw); err != nil {
		return nil, err
	}
	id := defaultVersion
	if raw.RoomVersion != nil {
		id = *raw.RoomVersion
	}
	v, ok := roomversion.Lookup(id)
	if !ok {
		return nil, badResponse("%s: unknown room version %q", endpoint, id)
	}
	if len(vers) > 0 && !contains(vers, v.ID) {
		return nil, badResponse("%s: room version %q was not offered", endpoint, v.ID)
	}
	if len(raw.Event) == 0 || raw.Event[0] != '{' {
		return nil, badResponse("%s: event template is not an object", endpoint)
	}
	return &Template{RoomVersion: v, Event: raw.Event}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MakeJoin asks a resident server for a join template
// (GET /_matrix/federation/v1/make_join/{roomId}/{userId}?ver=...). vers are
// the room versions we support; a room of another version gives 400
// M_INCOMPATIBLE_ROOM_VERSION.
func (c *Client) MakeJoin(ctx context.Context, dest, roomID, userID string, vers []string) (*Template, error) {
	// A response without room_version is a room of version 1 or 2
	// (joins-v1.yaml); the spec's default for ver is ["1"].
	return c.makeMembership(ctx, dest, "make_join", roomID, userID, vers, "1")
}

// MakeLeave asks a resident server for a leave template
// (GET /_matrix/federation/v1/make_leave/{roomId}/{userId}).
func (c *Client) MakeLeave(ctx context.Context, dest, roomID, userID string) (*Template, error) {
	return c.makeMembership(ctx, dest, "make_leave", roomID, userID, nil, "1")
}

// MakeKnock asks a resident server for a knock template
// (GET /_matrix/federation/v1/make_knock/{roomId}/{userId}?ver=...).
func (c *Client) MakeKnock(ctx context.Context, dest, roomID, userID string, vers []string) (*Template, error) {
	return c.makeMembership(ctx, dest, "make_knock", roomID, userID, vers, "7")
}

// SendJoinResponse is the answer of PUT /v2/send_join.
type SendJoinResponse struct {
	Origin string
	// State is the room state before the join event, AuthChain the auth
	// chain of the state and of the join event.
	State, AuthChain []*event.Event
	// Event is the join event as signed by the resident server, when it
	// sent one (room versions with restricted joins), else nil.
	Event          *event.Event
	MembersOmitted bool
	ServersInRoom  []string
}

// SendJoin submits a signed join event (PUT /_matrix/federation/v2/send_join/
// {roomId}/{eventId}). omitMembers asks for partial state.
func (c *Client) SendJoin(ctx context.Context, dest string, ev *event.Event, omitMembers bool) (*SendJoinResponse, error) {
	var raw struct {
		Origin         string            `json:"origin"`
		State          []json.RawMessage `json:"state"`
		AuthChain      []json.RawMessage `json:"auth_chain"`
		Event          json.RawMessage   `json:"event"`
		MembersOmitted bool              `json:"members_omitted"`
		ServersInRoom  []string          `json:"servers_in_room"`
	}
	var q url.Values
	if omitMembers {
		q = url.Values{"omit_members": {"true"}}
	}
	path := "/_matrix/federation/v2/send_join/" + esc(ev.RoomID()) + "/" + esc(ev.ID())
	if err := c.getJSON(ctx, http.MethodPut, dest, path, q, json.RawMessage(ev.JSON()), &raw); err != nil {
		return nil, err
	}
	v := ev.Version()
	out := &SendJoinResponse{Origin: raw.Origin, MembersOmitted: raw.MembersOmitted, ServersInRoom: raw.ServersInRoom}
	var err error
	if out.State, err = parsePDUs(v, raw.State, "state"); err != nil {
		return nil, err
	}
	if out.AuthChain, err = parsePDUs(v, raw.AuthChain, "auth_chain"); err != nil {
		return nil, err
	}
	if len(raw.Event) > 0 && string(raw.Event) != "null" {
		if out.Event, err = event.Parse(v, raw.Event); err != nil {
			return nil, fmt.Errorf("%w: event: %w", ErrResponse, err)
		}
		if out.Event.ID() != ev.ID() {
			return nil, badResponse("send_join: event %s is not the join sent (%s)", out.Event.ID(), ev.ID())
		}
	}
	return out, nil
}

// SendLeave submits a signed leave event (PUT /_matrix/federation/v2/
// send_leave/{roomId}/{eventId}).
func (c *Client) SendLeave(ctx context.Context, dest string, ev *event.Event) error {
	path := "/_matrix/federation/v2/send_leave/" + esc(ev.RoomID()) + "/" + esc(ev.ID())
	var out map[string]json.RawMessage
	return c.getJSON(ctx, http.MethodPut, dest, path, nil, json.RawMessage(ev.JSON()), &out)
}

// SendKnock submits a signed knock event (PUT /_matrix/federation/v1/
// send_knock/{roomId}/{eventId}) and returns knock_room_state, the stripped
// state events the resident server shares with the knocking user.
func (c *Client) SendKnock(ctx context.Context, dest string, ev *event.Event) ([]json.RawMessage, error) {
	path := "/_matrix/federation/v1/send_knock/" + esc(ev.RoomID()) + "/" + esc(ev.ID())
	var out struct {
		KnockRoomState []json.RawMessage `json:"knock_room_state"`
	}
	if err := c.getJSON(ctx, http.MethodPut, dest, path, nil, json.RawMessage(ev.JSON()), &out); err != nil {
		return nil, err
	}
	if out.KnockRoomState == nil {
		return nil, badResponse("send_knock: knock_room_state is required")
	}
	return out.KnockRoomState, nil
}

// Invite asks the invitee's server to sign an invite (PUT /_matrix/federation/
// v2/invite/{roomId}/{eventId}) and returns the event it signed, after
// checking that it is the event sent (same ID).
func (c *Client) Invite(ctx context.Context, dest string, ev *event.Event, inviteRoomState []json.RawMessage) (*event.Event, error) {
	body := struct {
		RoomVersion     string            `json:"room_version"`
		Event           json.RawMessage   `json:"event"`
		InviteRoomState []json.RawMessage `json:"invite_room_state"`
	}{ev.Version().ID, ev.JSON(), inviteRoomState}
	if body.InviteRoomState == nil {
		body.InviteRoomState = []json.RawMessage{}
	}
	var out struct {
		Event json.RawMessage `json:"event"`
	}
	path := "/_matrix/federation/v2/invite/" + esc(ev.RoomID()) + "/" + esc(ev.ID())
	if err := c.getJSON(ctx, http.MethodPut, dest, path, nil, body, &out); err != nil {
		return nil, err
	}
	signed, err := event.Parse(ev.Version(), out.Event)
	if err != nil {
		return nil, fmt.Errorf("%w: invite event: %w", ErrResponse, err)
	}
	if signed.ID() != ev.ID() {
		return nil, badResponse("invite: signed event %s is not the event sent (%s)", signed.ID(), ev.ID())
	}
	return signed, nil
}

// ExchangeThirdPartyInvite asks a resident server to authorise an invite made
// from a third-party invite (PUT /_matrix/federation/v1/
// exchange_third_party_invite/{roomId}); ev is the m.room.member event, as
// JSON.
func (c *Client) ExchangeThirdPartyInvite(ctx context.Context, dest, roomID string, ev json.RawMessage) error {
	var out map[string]json.RawMessage
	return c.getJSON(ctx, http.MethodPut, dest, "/_matrix/federation/v1/exchange_third_party_invite/"+esc(roomID), nil, ev, &out)
}

// PublicRoomsRequest is the filter of the published room directory.
type PublicRoomsRequest struct {
	Limit                int             `json:"limit,omitempty"`
	Since                string          `json:"since,omitempty"`
	IncludeAllNetworks   bool            `json:"include_all_networks,omitempty"`
	ThirdPartyInstanceID string          `json:"third_party_instance_id,omitempty"`
	Filter               json.RawMessage `json:"filter,omitempty"`
}

// PublicRoomsResponse is a page of the published room directory. Chunk
// entries are kept as JSON (PublishedRoomsChunk of the specification).
type PublicRoomsResponse struct {
	Chunk                  []json.RawMessage `json:"chunk"`
	NextBatch              string            `json:"next_batch,omitempty"`
	PrevBatch              string            `json:"prev_batch,omitempty"`
	TotalRoomCountEstimate int64             `json:"total_room_count_estimate,omitempty"`
}

// PublicRooms reads the published room directory (GET
// /_matrix/federation/v1/publicRooms). The filter of req is not sent: use
// PublicRoomsFilter.
func (c *Client) PublicRooms(ctx context.Context, dest string, req PublicRoomsRequest) (*PublicRoomsResponse, error) {
	q := url.Values{}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.Since != "" {
		q.Set("since", req.Since)
	}
	if req.IncludeAllNetworks {
		q.Set("include_all_networks", "true")
	}
	if req.ThirdPartyInstanceID != "" {
		q.Set("third_party_instance_id", req.ThirdPartyInstanceID)
	}
	var out PublicRoomsResponse
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/publicRooms", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PublicRoomsFilter reads the published room directory with a filter (POST
// /_matrix/federation/v1/publicRooms).
func (c *Client) PublicRoomsFilter(ctx context.Context, dest string, req PublicRoomsRequest) (*PublicRoomsResponse, error) {
	var out PublicRoomsResponse
	if err := c.getJSON(ctx, http.MethodPost, dest, "/_matrix/federation/v1/publicRooms", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// HierarchyResponse is the answer of GET /hierarchy; rooms are kept as JSON.
type HierarchyResponse struct {
	Room                 json.RawMessage   `json:"room"`
	Children             []json.RawMessage `json:"children"`
	InaccessibleChildren []string          `json:"inaccessible_children"`
}

// Hierarchy reads a space's children (GET /_matrix/federation/v1/hierarchy/{roomId}).
func (c *Client) Hierarchy(ctx context.Context, dest, roomID string, suggestedOnly bool) (*HierarchyResponse, error) {
	q := url.Values{}
	if suggestedOnly {
		q.Set("suggested_only", "true")
	}
	var out HierarchyResponse
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/hierarchy/"+esc(roomID), q, nil, &out); err != nil {
		return nil, err
	}
	if len(out.Room) == 0 {
		return nil, badResponse("hierarchy: room is required")
	}
	return &out, nil
}

// DirectoryResponse is the answer of GET /query/directory.
type DirectoryResponse struct {
	RoomID  string   `json:"room_id"`
	Servers []string `json:"servers"`
}

// QueryDirectory resolves a room alias (GET /_matrix/federation/v1/query/directory).
func (c *Client) QueryDirectory(ctx context.Context, dest, alias string) (*DirectoryResponse, error) {
	var out DirectoryResponse
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/query/directory", url.Values{"room_alias": {alias}}, nil, &out); err != nil {
		return nil, err
	}
	if out.RoomID == "" {
		return nil, badResponse("query/directory: room_id is required")
	}
	return &out, nil
}

// Profile is the answer of GET /query/profile.
type Profile struct {
	DisplayName string `json:"displayname,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// QueryProfile reads a user's profile (GET /_matrix/federation/v1/query/profile);
// field, when not "", asks for "displayname" or "avatar_url" only.
func (c *Client) QueryProfile(ctx context.Context, dest, userID, field string) (*Profile, error) {
	q := url.Values{"user_id": {userID}}
	if field != "" {
		q.Set("field", field)
	}
	var out Profile
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/query/profile", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Query makes a generic query (GET /_matrix/federation/v1/query/{queryType}).
func (c *Client) Query(ctx context.Context, dest, queryType string, args url.Values) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/query/"+esc(queryType), args, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// UserDevices is the answer of GET /user/devices/{userId}.
type UserDevices struct {
	UserID         string            `json:"user_id"`
	StreamID       int64             `json:"stream_id"`
	Devices        []json.RawMessage `json:"devices"`
	MasterKey      json.RawMessage   `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage   `json:"self_signing_key,omitempty"`
}

// UserDevices reads a user's devices (GET /_matrix/federation/v1/user/devices/{userId}).
func (c *Client) UserDevices(ctx context.Context, dest, userID string) (*UserDevices, error) {
	var out UserDevices
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/user/devices/"+esc(userID), nil, nil, &out); err != nil {
		return nil, err
	}
	if out.UserID != userID {
		return nil, badResponse("user/devices: user_id %q, asked for %q", out.UserID, userID)
	}
	return &out, nil
}

// KeysQueryResponse is the answer of POST /user/keys/query; keys are kept as
// JSON.
type KeysQueryResponse struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys,omitempty"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys,omitempty"`
}

// QueryKeys reads device keys (POST /_matrix/federation/v1/user/keys/query):
// deviceKeys maps user IDs to device IDs (an empty list: all devices).
func (c *Client) QueryKeys(ctx context.Context, dest string, deviceKeys map[string][]string) (*KeysQueryResponse, error) {
	var out KeysQueryResponse
	body := map[string]any{"device_keys": deviceKeys}
	if err := c.getJSON(ctx, http.MethodPost, dest, "/_matrix/federation/v1/user/keys/query", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ClaimKeys claims one-time keys (POST /_matrix/federation/v1/user/keys/claim):
// oneTimeKeys maps user ID to device ID to algorithm. The answer maps user ID
// to device ID to key ID to key.
func (c *Client) ClaimKeys(ctx context.Context, dest string, oneTimeKeys map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	var out struct {
		OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
	}
	body := map[string]any{"one_time_keys": oneTimeKeys}
	if err := c.getJSON(ctx, http.MethodPost, dest, "/_matrix/federation/v1/user/keys/claim", nil, body, &out); err != nil {
		return nil, err
	}
	return out.OneTimeKeys, nil
}

// Media is downloaded content.
type Media struct {
	ContentType string
	// Body is the content; Location is set instead when the server
	// redirects to a URL for it.
	Body     []byte
	Location string
	// FileName is the file name of the content part's
	// Content-Disposition ("" for none).
	FileName string
	// Metadata is the JSON part of the response (currently {}).
	Metadata json.RawMessage
}

// DownloadMedia downloads media (GET /_matrix/federation/v1/media/download/
// {mediaId}); the answer is multipart/mixed with a JSON part and the content
// (or a Location header) in the second part.
func (c *Client) DownloadMedia(ctx context.Context, dest, mediaID string) (*Media, error) {
	return c.media(ctx, dest, "/_matrix/federation/v1/media/download/"+esc(mediaID), nil)
}

// Thumbnail downloads a thumbnail (GET /_matrix/federation/v1/media/thumbnail/
// {mediaId}?width=&height=&method=).
func (c *Client) Thumbnail(ctx context.Context, dest, mediaID string, width, height int, method string) (*Media, error) {
	q := url.Values{"width": {strconv.Itoa(width)}, "height": {strconv.Itoa(height)}}
	if method != "" {
		q.Set("method", method)
	}
	return c.media(ctx, dest, "/_matrix/federation/v1/media/thumbnail/"+esc(mediaID), q)
}

func (c *Client) media(ctx context.Context, dest, path string, q url.Values) (*Media, error) {
	data, hdr, err := c.request(ctx, http.MethodGet, dest, path, q, nil)
	if err != nil {
		return nil, err
	}
	return ParseMediaResponse(hdr.Get("Content-Type"), data)
}

// ParseMediaResponse reads the multipart/mixed answer of the federation
// media endpoints (data/api/server-server/content_repository.yaml): a
// first part of JSON metadata, then a part with the content (its
// Content-Type, and its file name from Content-Disposition) or with a
// Location header. Parts after the second are ignored. Anything else is
// an error wrapping ErrResponse.
func ParseMediaResponse(contentType string, body []byte) (*Media, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, badResponse("media: Content-Type %q is not multipart", contentType)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	meta, err := mr.NextRawPart()
	if err != nil {
		return nil, badResponse("media: metadata part: %v", err)
	}
	m := &Media{}
	if m.Metadata, err = io.ReadAll(meta); err != nil || !json.Valid(m.Metadata) {
		return nil, badResponse("media: metadata part is not JSON")
	}
	// NextRawPart: the content is kept as sent (NextPart would undo a
	// quoted-printable transfer encoding, which the spec does not use).
	part, err := mr.NextRawPart()
	if err != nil {
		return nil, badResponse("media: content part: %v", err)
	}
	if loc := part.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, badResponse("media: Location %q is not an http(s) URL", loc)
		}
		m.Location = loc
		return m, nil
	}
	m.ContentType = part.Header.Get("Content-Type")
	m.FileName = mediahdr.Filename(part.Header.Get("Content-Disposition"))
	if m.Body, err = io.ReadAll(part); err != nil {
		return nil, badResponse("media: content part: %v", err)
	}
	return m, nil
}

// ServerVersion is the answer of GET /version.
type ServerVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Version asks for the server's implementation name and version
// (GET /_matrix/federation/v1/version).
func (c *Client) Version(ctx context.Context, dest string) (*ServerVersion, error) {
	var out struct {
		Server ServerVersion `json:"server"`
	}
	if err := c.getJSON(ctx, http.MethodGet, dest, "/_matrix/federation/v1/version", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out.Server, nil
}
