package content

import "encoding/json"

// Typing is the m.typing EDU of a room, as clients receive it.
type Typing struct {
	UserIDs []string `json:"user_ids"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Typing) EventType() string { return "m.typing" }

// Receipts is the m.receipt EDU as clients receive it: event ID, then
// receipt type (m.read, m.read.private), then user ID.
type Receipts map[string]map[string]map[string]Receipt

// EventType implements Content.
func (Receipts) EventType() string { return "m.receipt" }

// Receipt is one user's receipt of an event.
type Receipt struct {
	TS int64 `json:"ts"`
	// ThreadID is the thread the receipt is for, or "main".
	ThreadID string `json:"thread_id,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// Presence is the m.presence event as clients receive it.
type Presence struct {
	Presence        string `json:"presence"`
	AvatarURL       string `json:"avatar_url,omitempty"`
	DisplayName     string `json:"displayname,omitempty"`
	LastActiveAgo   int64  `json:"last_active_ago,omitempty"`
	CurrentlyActive *bool  `json:"currently_active,omitempty"`
	StatusMsg       string `json:"status_msg,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Presence) EventType() string { return "m.presence" }
