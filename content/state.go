package content

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Membership values of m.room.member.
const (
	Join   = "join"
	Invite = "invite"
	Leave  = "leave"
	Ban    = "ban"
	Knock  = "knock"
)

// Member is m.room.member.
type Member struct {
	Membership       string            `json:"membership"`
	DisplayName      string            `json:"displayname,omitempty"`
	AvatarURL        string            `json:"avatar_url,omitempty"`
	Reason           string            `json:"reason,omitempty"`
	IsDirect         bool              `json:"is_direct,omitempty"`
	ThirdPartyInvite *ThirdPartyInvite `json:"third_party_invite,omitempty"`
	// JoinAuthorisedViaUsersServer is the user whose server authorised a
	// join to a restricted room (room versions 8 and later).
	JoinAuthorisedViaUsersServer string `json:"join_authorised_via_users_server,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Member) EventType() string { return "m.room.member" }

// ThirdPartyInvite is the third_party_invite of an m.room.member.
type ThirdPartyInvite struct {
	DisplayName string          `json:"display_name"`
	Signed      json.RawMessage `json:"signed"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// Level is a power level as written in the event: a JSON number, or in
// room versions 1 to 9 a string of one. It keeps the text exactly, so
// that no level is rounded or truncated; eventauth.PowerLevels is how the
// authorization rules read it.
type Level struct{ raw json.RawMessage }

// LevelOf returns the Level n.
func LevelOf(n int64) Level { return Level{json.RawMessage(strconv.FormatInt(n, 10))} }

// Int64 returns the level as an int64, and false when it is not an
// integer within int64 (a float or a huge level of an old room version).
func (l Level) Int64() (int64, bool) {
	s := bytes.Trim(l.raw, `"`)
	n, err := strconv.ParseInt(string(bytes.TrimSpace(s)), 10, 64)
	return n, err == nil
}

// String returns the level's JSON text.
func (l Level) String() string { return string(l.raw) }

// MarshalJSON writes the level as it was read.
func (l Level) MarshalJSON() ([]byte, error) {
	if len(l.raw) == 0 {
		return []byte("0"), nil
	}
	return l.raw, nil
}

// UnmarshalJSON accepts a JSON number or string.
func (l *Level) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '"' && b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return fmt.Errorf("content: power level %s is not a number or string", b)
	}
	l.raw = append(json.RawMessage(nil), b...)
	return nil
}

// PowerLevels is m.room.power_levels. A nil pointer is a field the event
// does not set, whose default the specification gives.
type PowerLevels struct {
	Ban           *Level           `json:"ban,omitempty"`
	Events        map[string]Level `json:"events,omitempty"`
	EventsDefault *Level           `json:"events_default,omitempty"`
	Invite        *Level           `json:"invite,omitempty"`
	Kick          *Level           `json:"kick,omitempty"`
	Redact        *Level           `json:"redact,omitempty"`
	StateDefault  *Level           `json:"state_default,omitempty"`
	Users         map[string]Level `json:"users,omitempty"`
	UsersDefault  *Level           `json:"users_default,omitempty"`
	Notifications map[string]Level `json:"notifications,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (PowerLevels) EventType() string { return "m.room.power_levels" }

// Create is m.room.create.
type Create struct {
	// Creator is the room's creator before room version 11.
	Creator     string `json:"creator,omitempty"`
	RoomVersion string `json:"room_version,omitempty"`
	// Federate is m.federate; nil means true.
	Federate    *bool        `json:"m.federate,omitempty"`
	Predecessor *Predecessor `json:"predecessor,omitempty"`
	Type        string       `json:"type,omitempty"`
	// AdditionalCreators are room version 12's creators besides the sender.
	AdditionalCreators []string `json:"additional_creators,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Create) EventType() string { return "m.room.create" }

// Predecessor is the room an upgraded room replaces.
type Predecessor struct {
	RoomID  string `json:"room_id"`
	EventID string `json:"event_id,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// JoinRules is m.room.join_rules.
type JoinRules struct {
	JoinRule string `json:"join_rule"`
	// Allow are the conditions of a restricted or knock_restricted room.
	Allow []AllowCondition `json:"allow,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (JoinRules) EventType() string { return "m.room.join_rules" }

// AllowCondition is one condition of JoinRules.Allow.
type AllowCondition struct {
	Type   string `json:"type"`
	RoomID string `json:"room_id,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// HistoryVisibility is m.room.history_visibility.
type HistoryVisibility struct {
	HistoryVisibility string `json:"history_visibility"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (HistoryVisibility) EventType() string { return "m.room.history_visibility" }

// Topic is m.room.topic.
type Topic struct {
	Topic string `json:"topic"`
	// MTopic is the topic in several mimetypes (m.topic).
	MTopic *TextBlock `json:"m.topic,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Topic) EventType() string { return "m.room.topic" }

// TextBlock is an m.text content block: a text in several mimetypes.
type TextBlock struct {
	Text []TextRepresentation `json:"m.text"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// TextRepresentation is one representation of a TextBlock.
type TextRepresentation struct {
	MimeType string `json:"mimetype,omitempty"`
	Body     string `json:"body"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// Name is m.room.name.
type Name struct {
	Name string `json:"name"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Name) EventType() string { return "m.room.name" }

// Avatar is m.room.avatar.
type Avatar struct {
	URL  string     `json:"url,omitempty"`
	Info *MediaInfo `json:"info,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Avatar) EventType() string { return "m.room.avatar" }

// CanonicalAlias is m.room.canonical_alias.
type CanonicalAlias struct {
	Alias      string   `json:"alias,omitempty"`
	AltAliases []string `json:"alt_aliases,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (CanonicalAlias) EventType() string { return "m.room.canonical_alias" }

// Encryption is m.room.encryption.
type Encryption struct {
	Algorithm          string `json:"algorithm"`
	RotationPeriodMs   int64  `json:"rotation_period_ms,omitempty"`
	RotationPeriodMsgs int64  `json:"rotation_period_msgs,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Encryption) EventType() string { return "m.room.encryption" }

// PinnedEvents is m.room.pinned_events.
type PinnedEvents struct {
	Pinned []string `json:"pinned"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (PinnedEvents) EventType() string { return "m.room.pinned_events" }

// Tombstone is m.room.tombstone.
type Tombstone struct {
	Body            string `json:"body"`
	ReplacementRoom string `json:"replacement_room"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Tombstone) EventType() string { return "m.room.tombstone" }

// ServerACL is m.room.server_acl. AllowIPLiterals nil means true.
type ServerACL struct {
	AllowIPLiterals *bool    `json:"allow_ip_literals,omitempty"`
	Allow           []string `json:"allow"`
	Deny            []string `json:"deny"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (ServerACL) EventType() string { return "m.room.server_acl" }

// GuestAccess is m.room.guest_access.
type GuestAccess struct {
	GuestAccess string `json:"guest_access"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (GuestAccess) EventType() string { return "m.room.guest_access" }
