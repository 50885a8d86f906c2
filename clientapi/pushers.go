package clientapi

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mxkit/mxkit/push"
)

// Pusher is a pusher of GET /pushers and POST /pushers/set
// (content/client-server-api/modules/push.md "Push Notifications";
// data/api/client-server/pusher.yaml). Data is kept whole: the server
// forwards it, less url, to the push gateway.
type Pusher struct {
	PushKey           string          `json:"pushkey"`
	Kind              string          `json:"kind"`
	AppID             string          `json:"app_id"`
	AppDisplayName    string          `json:"app_display_name"`
	DeviceDisplayName string          `json:"device_display_name"`
	ProfileTag        string          `json:"profile_tag,omitempty"`
	Lang              string          `json:"lang"`
	Data              json.RawMessage `json:"data"`
}

// URL returns data.url, the gateway's notify endpoint.
func (p *Pusher) URL() string {
	var d struct {
		URL string `json:"url"`
	}
	json.Unmarshal(p.Data, &d)
	return d.URL
}

// Pushers stores a user's pushers. Optional: without it GET /pushers
// answers an empty list and POST /pushers/set 404 M_UNRECOGNIZED.
type Pushers interface {
	Pushers(ctx context.Context, userID string) ([]Pusher, error)
	// SetPusher adds or replaces the user's pusher of (app_id, pushkey);
	// unless appendPusher, the pushers of other users with the same
	// app_id and pushkey are removed ("append").
	SetPusher(ctx context.Context, userID string, p Pusher, appendPusher bool) error
	// DeletePusher removes the user's pusher of (app_id, pushkey); none is
	// no error.
	DeletePusher(ctx context.Context, userID, appID, pushKey string) error
}

// Notification is one entry of GET /notifications.
type Notification struct {
	Actions    []any           `json:"actions"`
	Event      json.RawMessage `json:"event"`
	ProfileTag string          `json:"profile_tag,omitempty"`
	Read       bool            `json:"read"`
	RoomID     string          `json:"room_id"`
	TS         int64           `json:"ts"`
}

// NotificationsRequest is GET /notifications, parsed.
type NotificationsRequest struct {
	From  string // a next_token of an earlier answer, "" for the newest
	Limit int
	// OnlyHighlight is only=highlight.
	OnlyHighlight bool
}

// Notifications lists the events a user was notified of, newest first.
// Optional: without it GET /notifications answers an empty list.
type Notifications interface {
	Notifications(ctx context.Context, who Identity, req NotificationsRequest) (list []Notification, nextToken string, err error)
}

// Pusher limits of data/api/client-server/pusher.yaml.
const (
	MaxPushKeyBytes = 512
	MaxAppIDChars   = 64
)

func (c *call) getPushers() (any, error) {
	list := []Pusher{}
	if c.s.Pushers != nil {
		got, err := c.s.Pushers.Pushers(c.ctx, c.who.UserID)
		if err != nil {
			return nil, err
		}
		list = append(list, got...)
	}
	return map[string][]Pusher{"pushers": list}, nil
}

type setPusherBody struct {
	PushKey           *string         `json:"pushkey"`
	Kind              *string         `json:"kind"`
	AppID             *string         `json:"app_id"`
	AppDisplayName    *string         `json:"app_display_name"`
	DeviceDisplayName *string         `json:"device_display_name"`
	ProfileTag        string          `json:"profile_tag"`
	Lang              *string         `json:"lang"`
	Data              json.RawMessage `json:"data"`
	Append            bool            `json:"append"`
}

// setPusher implements POST /pushers/set: kind null deletes the pusher of
// (app_id, pushkey); kind "http" adds or replaces one. The "email" kind
// needs a mail service this adapter does not have (400 M_INVALID_PARAM).
func (c *call) setPusher() (any, error) {
	if err := need(c.s.Pushers != nil); err != nil {
		return nil, err
	}
	raw, err := c.object(false)
	if err != nil {
		return nil, err
	}
	var b setPusherBody
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	// kind is required but may be null: present-and-null deletes.
	var present map[string]json.RawMessage
	json.Unmarshal(raw, &present)
	if _, ok := present["kind"]; !ok {
		return nil, MissingParam("kind is required")
	}
	if b.AppID == nil || b.PushKey == nil {
		return nil, MissingParam("app_id and pushkey are required")
	}
	if len(*b.PushKey) > MaxPushKeyBytes || *b.PushKey == "" {
		return nil, InvalidParam("pushkey must be 1 to 512 bytes")
	}
	if n := utf8.RuneCountInString(*b.AppID); n > MaxAppIDChars || n == 0 {
		return nil, InvalidParam("app_id must be 1 to 64 characters")
	}
	if b.Kind == nil {
		return struct{}{}, c.s.Pushers.DeletePusher(c.ctx, c.who.UserID, *b.AppID, *b.PushKey)
	}
	var missing []string
	for name, v := range map[string]*string{"app_display_name": b.AppDisplayName, "device_display_name": b.DeviceDisplayName, "lang": b.Lang} {
		if v == nil {
			missing = append(missing, name)
		}
	}
	if len(b.Data) == 0 || string(b.Data) == "null" {
		missing = append(missing, "data")
	}
	if len(missing) > 0 {
		return nil, MissingParam("missing parameters: " + strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	if !isObject(b.Data) {
		return nil, BadJSON("data must be an object")
	}
	switch *b.Kind {
	case "http":
		if err := checkPusherURL(b.Data); err != nil {
			return nil, err
		}
	case "email":
		return nil, InvalidParam("email pushers are not supported by this server")
	default:
		return nil, InvalidParam("unknown pusher kind " + quote(*b.Kind))
	}
	p := Pusher{PushKey: *b.PushKey, Kind: *b.Kind, AppID: *b.AppID, AppDisplayName: *b.AppDisplayName,
		DeviceDisplayName: *b.DeviceDisplayName, ProfileTag: b.ProfileTag, Lang: *b.Lang, Data: b.Data}
	return struct{}{}, c.s.Pushers.SetPusher(c.ctx, c.who.UserID, p, b.Append)
}

// checkPusherURL checks data.url of an http pusher: "MUST be an HTTPS URL
// with a path of /_matrix/push/v1/notify". Plain http is accepted for a
// gateway on loopback only (tests, a gateway beside the server); the
// reference server accepts it everywhere.
func checkPusherURL(data json.RawMessage) error {
	var d struct {
		URL *string `json:"url"`
	}
	if json.Unmarshal(data, &d) != nil || d.URL == nil {
		return MissingParam("data.url is required for http pushers")
	}
	u, err := url.Parse(*d.URL)
	if err != nil || u.Host == "" {
		return InvalidParam("data.url is not a URL")
	}
	if u.Path != push.NotifyPath {
		return InvalidParam("data.url must have the path " + push.NotifyPath)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return InvalidParam("data.url must be an HTTPS URL")
}

func (c *call) notifications() (any, error) {
	limit, err := c.limit(20, 100)
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	req := NotificationsRequest{From: q.Get("from"), Limit: limit}
	// Any other value of only filters nothing, as in the reference
	// server (the spec defines highlight alone).
	req.OnlyHighlight = q.Get("only") == "highlight"
	out := map[string]any{"notifications": []Notification{}}
	if c.s.Notifications == nil {
		return out, nil
	}
	list, next, err := c.s.Notifications.Notifications(c.ctx, c.who, req)
	if err != nil {
		return nil, err
	}
	if list != nil {
		out["notifications"] = list
	}
	if next != "" {
		out["next_token"] = next
	}
	return out, nil
}

// MemoryPushers is a Pushers in memory, for tests and examples.
type MemoryPushers struct {
	mu     sync.Mutex
	byUser map[string][]Pusher
}

// Pushers implements Pushers.
func (m *MemoryPushers) Pushers(_ context.Context, userID string) ([]Pusher, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.byUser[userID]), nil
}

// SetPusher implements Pushers.
func (m *MemoryPushers) SetPusher(_ context.Context, userID string, p Pusher, appendPusher bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byUser == nil {
		m.byUser = map[string][]Pusher{}
	}
	same := func(q Pusher) bool { return q.AppID == p.AppID && q.PushKey == p.PushKey }
	if !appendPusher {
		for u, list := range m.byUser {
			if u != userID {
				m.byUser[u] = slices.DeleteFunc(list, same)
			}
		}
	}
	list := m.byUser[userID]
	if i := slices.IndexFunc(list, same); i >= 0 {
		list[i] = p
	} else {
		m.byUser[userID] = append(list, p)
	}
	return nil
}

// DeletePusher implements Pushers.
func (m *MemoryPushers) DeletePusher(_ context.Context, userID, appID, pushKey string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byUser[userID] = slices.DeleteFunc(m.byUser[userID], func(q Pusher) bool { return q.AppID == appID && q.PushKey == pushKey })
	return nil
}
