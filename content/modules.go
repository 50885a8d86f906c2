package content

import "encoding/json"

// SpaceChild is the content of m.space.child, whose state key is the
// child room's ID ("Spaces"). A child without via is not a child: the
// event is how a space removes one.
type SpaceChild struct {
	Via       []string `json:"via,omitempty"`
	Order     string   `json:"order,omitempty"`
	Suggested bool     `json:"suggested,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (SpaceChild) EventType() string { return "m.space.child" }

// SpaceParent is the content of m.space.parent, whose state key is the
// parent space's room ID ("Spaces").
type SpaceParent struct {
	Via       []string `json:"via,omitempty"`
	Canonical bool     `json:"canonical,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (SpaceParent) EventType() string { return "m.space.parent" }

// Sticker is the content of m.sticker ("Sticker Messages"): an image
// shown as is, with Body its description.
type Sticker struct {
	Body string     `json:"body"`
	Info *MediaInfo `json:"info,omitempty"`
	URL  string     `json:"url"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Sticker) EventType() string { return "m.sticker" }

// Encrypted is the content of m.room.encrypted (end-to-end encryption
// module, "m.room.encrypted"). Ciphertext is kept raw: a string for
// m.megolm.v1.aes-sha2, an object of ciphertexts by recipient key for
// m.olm.v1.curve25519-aes-sha2. Decryption is not this package's.
type Encrypted struct {
	Algorithm  string          `json:"algorithm"`
	Ciphertext json.RawMessage `json:"ciphertext"`
	SenderKey  string          `json:"sender_key,omitempty"`
	DeviceID   string          `json:"device_id,omitempty"`
	SessionID  string          `json:"session_id,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Encrypted) EventType() string { return "m.room.encrypted" }
