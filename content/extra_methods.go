// The UnmarshalJSON and MarshalJSON of every struct of the package, which
// keep the fields the struct does not name (extra.go). A new struct type
// gets an Extra field and the same two methods; TestEveryStructKeepsExtra
// fails until it has them.

package content

// UnmarshalJSON decodes a Typing and keeps the fields it does not name in Extra.
func (c *Typing) UnmarshalJSON(b []byte) error {
	type plain Typing
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Typing with the fields of Extra.
func (c Typing) MarshalJSON() ([]byte, error) {
	type plain Typing
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Receipt and keeps the fields it does not name in Extra.
func (c *Receipt) UnmarshalJSON(b []byte) error {
	type plain Receipt
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Receipt with the fields of Extra.
func (c Receipt) MarshalJSON() ([]byte, error) {
	type plain Receipt
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Presence and keeps the fields it does not name in Extra.
func (c *Presence) UnmarshalJSON(b []byte) error {
	type plain Presence
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Presence with the fields of Extra.
func (c Presence) MarshalJSON() ([]byte, error) {
	type plain Presence
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Message and keeps the fields it does not name in Extra.
func (c *Message) UnmarshalJSON(b []byte) error {
	type plain Message
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Message with the fields of Extra.
func (c Message) MarshalJSON() ([]byte, error) {
	type plain Message
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a MediaInfo and keeps the fields it does not name in Extra.
func (c *MediaInfo) UnmarshalJSON(b []byte) error {
	type plain MediaInfo
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a MediaInfo with the fields of Extra.
func (c MediaInfo) MarshalJSON() ([]byte, error) {
	type plain MediaInfo
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a EncryptedFile and keeps the fields it does not name in Extra.
func (c *EncryptedFile) UnmarshalJSON(b []byte) error {
	type plain EncryptedFile
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a EncryptedFile with the fields of Extra.
func (c EncryptedFile) MarshalJSON() ([]byte, error) {
	type plain EncryptedFile
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a JWK and keeps the fields it does not name in Extra.
func (c *JWK) UnmarshalJSON(b []byte) error {
	type plain JWK
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a JWK with the fields of Extra.
func (c JWK) MarshalJSON() ([]byte, error) {
	type plain JWK
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a RelatesTo and keeps the fields it does not name in Extra.
func (c *RelatesTo) UnmarshalJSON(b []byte) error {
	type plain RelatesTo
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a RelatesTo with the fields of Extra.
func (c RelatesTo) MarshalJSON() ([]byte, error) {
	type plain RelatesTo
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a InReplyTo and keeps the fields it does not name in Extra.
func (c *InReplyTo) UnmarshalJSON(b []byte) error {
	type plain InReplyTo
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a InReplyTo with the fields of Extra.
func (c InReplyTo) MarshalJSON() ([]byte, error) {
	type plain InReplyTo
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Reaction and keeps the fields it does not name in Extra.
func (c *Reaction) UnmarshalJSON(b []byte) error {
	type plain Reaction
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Reaction with the fields of Extra.
func (c Reaction) MarshalJSON() ([]byte, error) {
	type plain Reaction
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Redaction and keeps the fields it does not name in Extra.
func (c *Redaction) UnmarshalJSON(b []byte) error {
	type plain Redaction
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Redaction with the fields of Extra.
func (c Redaction) MarshalJSON() ([]byte, error) {
	type plain Redaction
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Member and keeps the fields it does not name in Extra.
func (c *Member) UnmarshalJSON(b []byte) error {
	type plain Member
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Member with the fields of Extra.
func (c Member) MarshalJSON() ([]byte, error) {
	type plain Member
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a ThirdPartyInvite and keeps the fields it does not name in Extra.
func (c *ThirdPartyInvite) UnmarshalJSON(b []byte) error {
	type plain ThirdPartyInvite
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a ThirdPartyInvite with the fields of Extra.
func (c ThirdPartyInvite) MarshalJSON() ([]byte, error) {
	type plain ThirdPartyInvite
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a PowerLevels and keeps the fields it does not name in Extra.
func (c *PowerLevels) UnmarshalJSON(b []byte) error {
	type plain PowerLevels
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a PowerLevels with the fields of Extra.
func (c PowerLevels) MarshalJSON() ([]byte, error) {
	type plain PowerLevels
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Create and keeps the fields it does not name in Extra.
func (c *Create) UnmarshalJSON(b []byte) error {
	type plain Create
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Create with the fields of Extra.
func (c Create) MarshalJSON() ([]byte, error) {
	type plain Create
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Predecessor and keeps the fields it does not name in Extra.
func (c *Predecessor) UnmarshalJSON(b []byte) error {
	type plain Predecessor
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Predecessor with the fields of Extra.
func (c Predecessor) MarshalJSON() ([]byte, error) {
	type plain Predecessor
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a JoinRules and keeps the fields it does not name in Extra.
func (c *JoinRules) UnmarshalJSON(b []byte) error {
	type plain JoinRules
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a JoinRules with the fields of Extra.
func (c JoinRules) MarshalJSON() ([]byte, error) {
	type plain JoinRules
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a AllowCondition and keeps the fields it does not name in Extra.
func (c *AllowCondition) UnmarshalJSON(b []byte) error {
	type plain AllowCondition
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a AllowCondition with the fields of Extra.
func (c AllowCondition) MarshalJSON() ([]byte, error) {
	type plain AllowCondition
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a HistoryVisibility and keeps the fields it does not name in Extra.
func (c *HistoryVisibility) UnmarshalJSON(b []byte) error {
	type plain HistoryVisibility
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a HistoryVisibility with the fields of Extra.
func (c HistoryVisibility) MarshalJSON() ([]byte, error) {
	type plain HistoryVisibility
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Topic and keeps the fields it does not name in Extra.
func (c *Topic) UnmarshalJSON(b []byte) error {
	type plain Topic
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Topic with the fields of Extra.
func (c Topic) MarshalJSON() ([]byte, error) {
	type plain Topic
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a TextBlock and keeps the fields it does not name in Extra.
func (c *TextBlock) UnmarshalJSON(b []byte) error {
	type plain TextBlock
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a TextBlock with the fields of Extra.
func (c TextBlock) MarshalJSON() ([]byte, error) {
	type plain TextBlock
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a TextRepresentation and keeps the fields it does not name in Extra.
func (c *TextRepresentation) UnmarshalJSON(b []byte) error {
	type plain TextRepresentation
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a TextRepresentation with the fields of Extra.
func (c TextRepresentation) MarshalJSON() ([]byte, error) {
	type plain TextRepresentation
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Name and keeps the fields it does not name in Extra.
func (c *Name) UnmarshalJSON(b []byte) error {
	type plain Name
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Name with the fields of Extra.
func (c Name) MarshalJSON() ([]byte, error) {
	type plain Name
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Avatar and keeps the fields it does not name in Extra.
func (c *Avatar) UnmarshalJSON(b []byte) error {
	type plain Avatar
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Avatar with the fields of Extra.
func (c Avatar) MarshalJSON() ([]byte, error) {
	type plain Avatar
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a CanonicalAlias and keeps the fields it does not name in Extra.
func (c *CanonicalAlias) UnmarshalJSON(b []byte) error {
	type plain CanonicalAlias
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a CanonicalAlias with the fields of Extra.
func (c CanonicalAlias) MarshalJSON() ([]byte, error) {
	type plain CanonicalAlias
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Encryption and keeps the fields it does not name in Extra.
func (c *Encryption) UnmarshalJSON(b []byte) error {
	type plain Encryption
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Encryption with the fields of Extra.
func (c Encryption) MarshalJSON() ([]byte, error) {
	type plain Encryption
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a PinnedEvents and keeps the fields it does not name in Extra.
func (c *PinnedEvents) UnmarshalJSON(b []byte) error {
	type plain PinnedEvents
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a PinnedEvents with the fields of Extra.
func (c PinnedEvents) MarshalJSON() ([]byte, error) {
	type plain PinnedEvents
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Tombstone and keeps the fields it does not name in Extra.
func (c *Tombstone) UnmarshalJSON(b []byte) error {
	type plain Tombstone
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Tombstone with the fields of Extra.
func (c Tombstone) MarshalJSON() ([]byte, error) {
	type plain Tombstone
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a ServerACL and keeps the fields it does not name in Extra.
func (c *ServerACL) UnmarshalJSON(b []byte) error {
	type plain ServerACL
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a ServerACL with the fields of Extra.
func (c ServerACL) MarshalJSON() ([]byte, error) {
	type plain ServerACL
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a GuestAccess and keeps the fields it does not name in Extra.
func (c *GuestAccess) UnmarshalJSON(b []byte) error {
	type plain GuestAccess
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a GuestAccess with the fields of Extra.
func (c GuestAccess) MarshalJSON() ([]byte, error) {
	type plain GuestAccess
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a SpaceChild and keeps the fields it does not name in Extra.
func (c *SpaceChild) UnmarshalJSON(b []byte) error {
	type plain SpaceChild
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a SpaceChild with the fields of Extra.
func (c SpaceChild) MarshalJSON() ([]byte, error) {
	type plain SpaceChild
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a SpaceParent and keeps the fields it does not name in Extra.
func (c *SpaceParent) UnmarshalJSON(b []byte) error {
	type plain SpaceParent
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a SpaceParent with the fields of Extra.
func (c SpaceParent) MarshalJSON() ([]byte, error) {
	type plain SpaceParent
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Sticker and keeps the fields it does not name in Extra.
func (c *Sticker) UnmarshalJSON(b []byte) error {
	type plain Sticker
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Sticker with the fields of Extra.
func (c Sticker) MarshalJSON() ([]byte, error) {
	type plain Sticker
	return encodeKeeping((*plain)(&c), c.Extra)
}

// UnmarshalJSON decodes a Encrypted and keeps the fields it does not name in Extra.
func (c *Encrypted) UnmarshalJSON(b []byte) error {
	type plain Encrypted
	return decodeKeeping(b, (*plain)(c), &c.Extra)
}

// MarshalJSON encodes a Encrypted with the fields of Extra.
func (c Encrypted) MarshalJSON() ([]byte, error) {
	type plain Encrypted
	return encodeKeeping((*plain)(&c), c.Extra)
}
