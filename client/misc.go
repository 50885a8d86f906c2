package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Room aliases ("Room aliases", "Room directory").

// ResolveAlias maps an alias to its room ID and the servers that know
// the room.
func (c *Client) ResolveAlias(ctx context.Context, alias string) (roomID string, servers []string, err error) {
	var out struct {
		RoomID  string   `json:"room_id"`
		Servers []string `json:"servers"`
	}
	err = c.call(ctx, request{method: http.MethodGet, path: v3("directory", "room", alias)}, &out)
	return out.RoomID, out.Servers, err
}

// SetAlias maps alias to roomID.
func (c *Client) SetAlias(ctx context.Context, alias, roomID string) error {
	return c.call(ctx, request{method: http.MethodPut, path: v3("directory", "room", alias), body: map[string]string{"room_id": roomID}}, nil)
}

// DeleteAlias removes an alias.
func (c *Client) DeleteAlias(ctx context.Context, alias string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: v3("directory", "room", alias)}, nil)
}

// RoomAliases lists a room's local aliases.
func (c *Client) RoomAliases(ctx context.Context, roomID string) ([]string, error) {
	var out struct {
		Aliases []string `json:"aliases"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("rooms", roomID, "aliases")}, &out)
	return out.Aliases, err
}

// RoomVisibility returns "public" or "private": whether the room is in the
// published room directory.
func (c *Client) RoomVisibility(ctx context.Context, roomID string) (string, error) {
	var out struct {
		Visibility string `json:"visibility"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("directory", "list", "room", roomID)}, &out)
	return out.Visibility, err
}

// SetRoomVisibility publishes ("public") or unpublishes ("private") a room.
func (c *Client) SetRoomVisibility(ctx context.Context, roomID, visibility string) error {
	return c.call(ctx, request{method: http.MethodPut, path: v3("directory", "list", "room", roomID), body: map[string]string{"visibility": visibility}}, nil)
}

// PublicRoomsRequest is POST /publicRooms (GET when Filter and
// IncludeAllNetworks are unset and ThirdPartyInstanceID empty).
type PublicRoomsRequest struct {
	Server string `json:"-"`
	Limit  int    `json:"limit,omitempty"`
	Since  string `json:"since,omitempty"`
	Filter *struct {
		GenericSearchTerm string   `json:"generic_search_term,omitempty"`
		RoomTypes         []string `json:"room_types,omitempty"`
	} `json:"filter,omitempty"`
	IncludeAllNetworks   bool   `json:"include_all_networks,omitempty"`
	ThirdPartyInstanceID string `json:"third_party_instance_id,omitempty"`
}

// PublicRooms is the answer to /publicRooms.
type PublicRooms struct {
	Chunk                  []PublishedRoom `json:"chunk"`
	NextBatch              string          `json:"next_batch,omitempty"`
	PrevBatch              string          `json:"prev_batch,omitempty"`
	TotalRoomCountEstimate int             `json:"total_room_count_estimate,omitempty"`
}

// PublishedRoom is one room of the published room directory.
type PublishedRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	AvatarURL        string `json:"avatar_url,omitempty"`
	NumJoinedMembers int    `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	JoinRule         string `json:"join_rule,omitempty"`
	RoomType         string `json:"room_type,omitempty"`
}

// PublicRooms lists the published room directory.
func (c *Client) PublicRooms(ctx context.Context, req *PublicRoomsRequest) (*PublicRooms, error) {
	if req == nil {
		req = &PublicRoomsRequest{}
	}
	q := map[string][]string{}
	set(q, "server", req.Server)
	r := request{method: http.MethodPost, path: v3("publicRooms"), query: q, body: req}
	if req.Filter == nil && !req.IncludeAllNetworks && req.ThirdPartyInstanceID == "" {
		r.method, r.body = http.MethodGet, nil
		set(q, "since", req.Since)
		if req.Limit > 0 {
			q["limit"] = []string{strconv.Itoa(req.Limit)}
		}
	}
	var out PublicRooms
	err := c.call(ctx, r, &out)
	return &out, err
}

// Profiles ("Profiles").

// Profile is a user's profile; Fields holds every field, including
// displayname and avatar_url.
type Profile struct {
	DisplayName string
	AvatarURL   string
	Fields      map[string]json.RawMessage
}

// Profile returns a user's profile.
func (c *Client) Profile(ctx context.Context, userID string) (*Profile, error) {
	var fields map[string]json.RawMessage
	if err := c.call(ctx, request{method: http.MethodGet, path: v3("profile", userID)}, &fields); err != nil {
		return nil, err
	}
	p := &Profile{Fields: fields}
	json.Unmarshal(fields["displayname"], &p.DisplayName)
	json.Unmarshal(fields["avatar_url"], &p.AvatarURL)
	return p, nil
}

// DisplayName returns a user's display name.
func (c *Client) DisplayName(ctx context.Context, userID string) (string, error) {
	var out struct {
		DisplayName string `json:"displayname"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("profile", userID, "displayname")}, &out)
	return out.DisplayName, err
}

// SetDisplayName sets the client user's display name.
func (c *Client) SetDisplayName(ctx context.Context, name string) error {
	return c.call(ctx, request{method: http.MethodPut, path: v3("profile", c.UserID, "displayname"), body: map[string]string{"displayname": name}}, nil)
}

// AvatarURL returns a user's avatar (an mxc:// URI).
func (c *Client) AvatarURL(ctx context.Context, userID string) (string, error) {
	var out struct {
		AvatarURL string `json:"avatar_url"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("profile", userID, "avatar_url")}, &out)
	return out.AvatarURL, err
}

// SetAvatarURL sets the client user's avatar (an mxc:// URI).
func (c *Client) SetAvatarURL(ctx context.Context, mxc string) error {
	return c.call(ctx, request{method: http.MethodPut, path: v3("profile", c.UserID, "avatar_url"), body: map[string]string{"avatar_url": mxc}}, nil)
}

// Account data ("Client Config").

// AccountData reads the client user's global account data of dataType
// into out; roomID non-empty reads the room's.
func (c *Client) AccountData(ctx context.Context, roomID, dataType string, out any) error {
	return c.call(ctx, request{method: http.MethodGet, path: c.accountDataPath(roomID, dataType)}, out)
}

// SetAccountData sets the client user's account data (roomID "": global).
func (c *Client) SetAccountData(ctx context.Context, roomID, dataType string, content any) error {
	return c.call(ctx, request{method: http.MethodPut, path: c.accountDataPath(roomID, dataType), body: content}, nil)
}

func (c *Client) accountDataPath(roomID, dataType string) string {
	if roomID == "" {
		return v3("user", c.UserID, "account_data", dataType)
	}
	return v3("user", c.UserID, "rooms", roomID, "account_data", dataType)
}

// Tags returns a room's tags and their order (GET .../tags).
func (c *Client) Tags(ctx context.Context, roomID string) (map[string]json.RawMessage, error) {
	var out struct {
		Tags map[string]json.RawMessage `json:"tags"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("user", c.UserID, "rooms", roomID, "tags")}, &out)
	return out.Tags, err
}

// SetTag tags a room; order nil leaves the order out.
func (c *Client) SetTag(ctx context.Context, roomID, tag string, order *float64) error {
	body := map[string]any{}
	if order != nil {
		body["order"] = *order
	}
	return c.call(ctx, request{method: http.MethodPut, path: v3("user", c.UserID, "rooms", roomID, "tags", tag), body: body}, nil)
}

// DeleteTag removes a tag.
func (c *Client) DeleteTag(ctx context.Context, roomID, tag string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: v3("user", c.UserID, "rooms", roomID, "tags", tag)}, nil)
}

// Typing, receipts, read markers, presence.

// Typing tells the room the user is typing (for timeout) or stopped.
func (c *Client) Typing(ctx context.Context, roomID string, typing bool, timeout time.Duration) error {
	body := map[string]any{"typing": typing}
	if typing {
		body["timeout"] = timeout.Milliseconds()
	}
	return c.call(ctx, request{method: http.MethodPut, path: v3("rooms", roomID, "typing", c.UserID), body: body}, nil)
}

// Receipt sends a receipt (m.read, m.read.private); threadID "" is an
// unthreaded receipt.
func (c *Client) Receipt(ctx context.Context, roomID, receiptType, eventID, threadID string) error {
	body := map[string]string{}
	if threadID != "" {
		body["thread_id"] = threadID
	}
	return c.call(ctx, request{method: http.MethodPost, path: v3("rooms", roomID, "receipt", receiptType, eventID), body: body}, nil)
}

// ReadMarkers sets the fully-read marker and read receipts at once ("" leaves one out).
func (c *Client) ReadMarkers(ctx context.Context, roomID, fullyRead, read, readPrivate string) error {
	body := map[string]string{}
	for k, v := range map[string]string{"m.fully_read": fullyRead, "m.read": read, "m.read.private": readPrivate} {
		if v != "" {
			body[k] = v
		}
	}
	return c.call(ctx, request{method: http.MethodPost, path: v3("rooms", roomID, "read_markers"), body: body}, nil)
}

// Presence is the body of GET/PUT /presence/{userId}/status.
type Presence struct {
	Presence        string `json:"presence"` // online, offline, unavailable
	StatusMsg       string `json:"status_msg,omitempty"`
	LastActiveAgo   int64  `json:"last_active_ago,omitempty"`
	CurrentlyActive *bool  `json:"currently_active,omitempty"`
}

// Presence returns a user's presence.
func (c *Client) Presence(ctx context.Context, userID string) (*Presence, error) {
	var p Presence
	err := c.call(ctx, request{method: http.MethodGet, path: v3("presence", userID, "status")}, &p)
	return &p, err
}

// SetPresence sets the client user's presence.
func (c *Client) SetPresence(ctx context.Context, presence, statusMsg string) error {
	body := map[string]string{"presence": presence}
	if statusMsg != "" {
		body["status_msg"] = statusMsg
	}
	return c.call(ctx, request{method: http.MethodPut, path: v3("presence", c.UserID, "status"), body: body}, nil)
}

// UserSearchResult is one hit of the user directory.
type UserSearchResult struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// SearchUsers searches the user directory; limited says more were found.
func (c *Client) SearchUsers(ctx context.Context, term string, limit int) (results []UserSearchResult, limited bool, err error) {
	body := map[string]any{"search_term": term}
	if limit > 0 {
		body["limit"] = limit
	}
	var out struct {
		Results []UserSearchResult `json:"results"`
		Limited bool               `json:"limited"`
	}
	err = c.call(ctx, request{method: http.MethodPost, path: v3("user_directory", "search"), body: body}, &out)
	return out.Results, out.Limited, err
}

// Devices ("Device management").

// Device is one of the user's devices.
type Device struct {
	DeviceID    string `json:"device_id"`
	DisplayName string `json:"display_name,omitempty"`
	LastSeenIP  string `json:"last_seen_ip,omitempty"`
	LastSeenTS  int64  `json:"last_seen_ts,omitempty"`
}

// Devices lists the user's devices.
func (c *Client) Devices(ctx context.Context) ([]Device, error) {
	var out struct {
		Devices []Device `json:"devices"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: v3("devices")}, &out)
	return out.Devices, err
}

// Device returns one device.
func (c *Client) Device(ctx context.Context, deviceID string) (*Device, error) {
	var d Device
	err := c.call(ctx, request{method: http.MethodGet, path: v3("devices", deviceID)}, &d)
	return &d, err
}

// SetDeviceName renames a device.
func (c *Client) SetDeviceName(ctx context.Context, deviceID, name string) error {
	return c.call(ctx, request{method: http.MethodPut, path: v3("devices", deviceID), body: map[string]string{"display_name": name}}, nil)
}

// DeleteDevice deletes a device. The server asks for user-interactive
// authentication: call without auth, read the session with AsUIA, and call
// again with an auth dictionary (e.g. m.login.password with identifier,
// password and session).
func (c *Client) DeleteDevice(ctx context.Context, deviceID string, auth any) error {
	return c.call(ctx, request{method: http.MethodDelete, path: v3("devices", deviceID), body: authBody(auth, nil)}, nil)
}

// DeleteDevices deletes several devices (POST /delete_devices), with
// user-interactive authentication as DeleteDevice.
func (c *Client) DeleteDevices(ctx context.Context, deviceIDs []string, auth any) error {
	return c.call(ctx, request{method: http.MethodPost, path: v3("delete_devices"), body: authBody(auth, map[string]any{"devices": deviceIDs})}, nil)
}

func authBody(auth any, body map[string]any) map[string]any {
	if body == nil {
		body = map[string]any{}
	}
	if auth != nil {
		body["auth"] = auth
	}
	return body
}

// Push rules ("Push Rules: API"). Paths below /pushrules are given as
// segments, e.g. ("global", "override", ".m.rule.master", "enabled").

// PushRules returns GET /pushrules/ or, with segments, the rule set,
// rule or attribute they name, as raw JSON.
func (c *Client) PushRules(ctx context.Context, segments ...string) (json.RawMessage, error) {
	var out json.RawMessage
	p := v3("pushrules") + "/"
	if len(segments) > 0 {
		p = v3(append([]string{"pushrules"}, segments...)...)
	}
	err := c.call(ctx, request{method: http.MethodGet, path: p}, &out)
	return out, err
}

// PutPushRule creates or changes a rule (or with "enabled"/"actions" as
// the last segment, that attribute). before and after position a new rule.
func (c *Client) PutPushRule(ctx context.Context, body any, before, after string, segments ...string) error {
	q := map[string][]string{}
	set(q, "before", before)
	set(q, "after", after)
	return c.call(ctx, request{method: http.MethodPut, path: v3(append([]string{"pushrules"}, segments...)...), query: q, body: body}, nil)
}

// DeletePushRule deletes a user-defined rule.
func (c *Client) DeletePushRule(ctx context.Context, segments ...string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: v3(append([]string{"pushrules"}, segments...)...)}, nil)
}

// The start-up calls of end-to-end encryption capable clients; their
// bodies are left raw (this package does no encryption).

// UploadKeys sends POST /keys/upload and returns one_time_key_counts.
func (c *Client) UploadKeys(ctx context.Context, body json.RawMessage) (map[string]int, error) {
	var out struct {
		Counts map[string]int `json:"one_time_key_counts"`
	}
	err := c.call(ctx, request{method: http.MethodPost, path: v3("keys", "upload"), body: body}, &out)
	return out.Counts, err
}

// QueryKeys sends POST /keys/query.
func (c *Client) QueryKeys(ctx context.Context, body json.RawMessage) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.call(ctx, request{method: http.MethodPost, path: v3("keys", "query"), body: body}, &out)
	return out, err
}

// KeyChanges sends GET /keys/changes.
func (c *Client) KeyChanges(ctx context.Context, from, to string) (changed, left []string, err error) {
	var out struct {
		Changed []string `json:"changed"`
		Left    []string `json:"left"`
	}
	err = c.call(ctx, request{method: http.MethodGet, path: v3("keys", "changes"), query: map[string][]string{"from": {from}, "to": {to}}}, &out)
	return out.Changed, out.Left, err
}

// RoomKeysVersion returns the current key backup version (GET
// /room_keys/version); none is an Error with CodeNotFound.
func (c *Client) RoomKeysVersion(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.call(ctx, request{method: http.MethodGet, path: v3("room_keys", "version")}, &out)
	return out, err
}

// TURNServer returns GET /voip/turnServer ({} when none is configured).
func (c *Client) TURNServer(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.call(ctx, request{method: http.MethodGet, path: v3("voip", "turnServer")}, &out)
	return out, err
}

// ThirdPartyProtocols returns GET /thirdparty/protocols.
func (c *Client) ThirdPartyProtocols(ctx context.Context) (map[string]json.RawMessage, error) {
	var out map[string]json.RawMessage
	err := c.call(ctx, request{method: http.MethodGet, path: v3("thirdparty", "protocols")}, &out)
	return out, err
}
