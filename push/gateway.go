package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// NotifyPath is the path of the Push Gateway's notify endpoint
// (content/push-gateway-api.md; data/api/push-gateway/push_notifier.yaml).
// A pusher's data.url is the full URL of this endpoint: "MUST be an HTTPS
// URL with a path of /_matrix/push/v1/notify" (POST /pushers/set).
const NotifyPath = "/_matrix/push/v1/notify"

// Notification is the notification of POST /_matrix/push/v1/notify.
// With the format "event_id_only" only EventID, RoomID, Counts and
// Devices are filled.
type Notification struct {
	EventID           string          `json:"event_id,omitempty"`
	RoomID            string          `json:"room_id,omitempty"`
	Type              string          `json:"type,omitempty"`
	Sender            string          `json:"sender,omitempty"`
	SenderDisplayName string          `json:"sender_display_name,omitempty"`
	RoomName          string          `json:"room_name,omitempty"`
	RoomAlias         string          `json:"room_alias,omitempty"`
	UserIsTarget      bool            `json:"user_is_target,omitempty"`
	Prio              string          `json:"prio,omitempty"` // "high" (default) or "low"
	Content           json.RawMessage `json:"content,omitempty"`
	Counts            *Counts         `json:"counts,omitempty"`
	Devices           []Device        `json:"devices"`
}

// Counts are the user's unacknowledged communications; zeros are left out.
type Counts struct {
	Unread      int `json:"unread,omitempty"`
	MissedCalls int `json:"missed_calls,omitempty"`
}

// Device is one pusher the notification is for.
type Device struct {
	AppID     string          `json:"app_id"`
	PushKey   string          `json:"pushkey"`
	PushKeyTS int64           `json:"pushkey_ts,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	Tweaks    map[string]any  `json:"tweaks,omitempty"`
}

// ErrGateway is wrapped by errors of a gateway that answered with a status
// other than 200; the homeserver "SHOULD retry for a reasonable amount of
// time using exponential backoff".
var ErrGateway = errors.New("push: gateway error")

// Gateway sends notifications to push gateways.
type Gateway struct {
	// HTTP makes the requests; nil: http.DefaultClient. Gateways are
	// outside the homeserver's trust: give it a client whose dialer
	// refuses private addresses, and a timeout.
	HTTP *http.Client
	// MaxResponse bounds the answer read (0: 64 KiB).
	MaxResponse int64
}

// Notify posts n to the gateway at notifyURL (a pusher's data.url) and
// returns the push keys the gateway rejected: the homeserver "must cease
// sending notification requests for these pushkeys and remove the
// associated pushers" (the answer's rejected). Plain http is accepted for gateways on a test
// network; pushers/set is where an embedder enforces HTTPS.
func (g *Gateway) Notify(ctx context.Context, notifyURL string, n *Notification) (rejected []string, err error) {
	u, err := url.Parse(notifyURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("push: pusher url %q is not an http(s) URL", notifyURL)
	}
	if n.Devices == nil {
		n.Devices = []Device{}
	}
	body, err := json.Marshal(map[string]*Notification{"notification": n})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := g.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	defer resp.Body.Close()
	limit := g.MaxResponse
	if limit <= 0 {
		limit = 64 << 10
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("push: reading the gateway's answer: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrGateway, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d: %s", ErrGateway, resp.StatusCode, strings.TrimSpace(string(b[:min(len(b), 200)])))
	}
	var r struct {
		Rejected []string `json:"rejected"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: answer is not the expected JSON: %v", ErrGateway, err)
	}
	return r.Rejected, nil
}
