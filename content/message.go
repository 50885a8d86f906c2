package content

import "encoding/json"

// Message msgtypes (content/client-server-api/_index.md, "m.room.message
// msgtypes").
const (
	MsgText     = "m.text"
	MsgEmote    = "m.emote"
	MsgNotice   = "m.notice"
	MsgImage    = "m.image"
	MsgFile     = "m.file"
	MsgAudio    = "m.audio"
	MsgVideo    = "m.video"
	MsgLocation = "m.location"
)

// FormatHTML is the one format of formatted_body the specification defines.
const FormatHTML = "org.matrix.custom.html"

// Message is m.room.message, every msgtype in one struct: the fields a
// msgtype does not use stay empty and are omitted.
type Message struct {
	MsgType string `json:"msgtype"`
	Body    string `json:"body"`

	// Format and FormattedBody: text, emote, notice, and media captions.
	Format        string `json:"format,omitempty"`
	FormattedBody string `json:"formatted_body,omitempty"`

	// URL and File are the media of image, file, audio and video: URL
	// for unencrypted media, File for encrypted (end-to-end encryption
	// module, "Sending encrypted attachments").
	URL      string         `json:"url,omitempty"`
	File     *EncryptedFile `json:"file,omitempty"`
	Filename string         `json:"filename,omitempty"`
	Info     *MediaInfo     `json:"info,omitempty"`
	GeoURI   string         `json:"geo_uri,omitempty"`

	// RelatesTo is the relation (reply, thread, edit).
	RelatesTo *RelatesTo `json:"m.relates_to,omitempty"`
	// NewContent is the replacement content of an edit (rel_type m.replace).
	NewContent *Message `json:"m.new_content,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Message) EventType() string { return "m.room.message" }

// MediaInfo is the info of an image, file, audio, video or location
// message, and of m.room.avatar.
type MediaInfo struct {
	MimeType      string         `json:"mimetype,omitempty"`
	Size          int64          `json:"size,omitempty"`
	W             int64          `json:"w,omitempty"`
	H             int64          `json:"h,omitempty"`
	Duration      int64          `json:"duration,omitempty"`
	IsAnimated    *bool          `json:"is_animated,omitempty"`
	ThumbnailURL  string         `json:"thumbnail_url,omitempty"`
	ThumbnailFile *EncryptedFile `json:"thumbnail_file,omitempty"`
	ThumbnailInfo *MediaInfo     `json:"thumbnail_info,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EncryptedFile is an encrypted attachment (end-to-end encryption module,
// "Extensions to m.room.message msgtypes").
type EncryptedFile struct {
	URL    string            `json:"url"`
	Key    JWK               `json:"key"`
	IV     string            `json:"iv"`
	Hashes map[string]string `json:"hashes"`
	V      string            `json:"v"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// JWK is the key of an EncryptedFile.
type JWK struct {
	Kty    string   `json:"kty"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	K      string   `json:"k"`
	Ext    bool     `json:"ext"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// Relation types (the modules "Event annotations and reactions",
// "Threading", "Event replacements"; references from "Forming
// relationships between events").
const (
	RelAnnotation = "m.annotation"
	RelThread     = "m.thread"
	RelReplace    = "m.replace"
	RelReference  = "m.reference"
)

// RelatesTo is m.relates_to: a relation of rel_type to event_id, and a
// reply's m.in_reply_to (which a thread also carries as its fallback).
type RelatesTo struct {
	RelType string `json:"rel_type,omitempty"`
	EventID string `json:"event_id,omitempty"`
	// Key is an annotation's key (the reaction).
	Key string `json:"key,omitempty"`
	// InReplyTo is the event a reply answers.
	InReplyTo *InReplyTo `json:"m.in_reply_to,omitempty"`
	// IsFallingBack marks a thread event whose InReplyTo is only the
	// fallback for clients without threads.
	IsFallingBack bool `json:"is_falling_back,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// InReplyTo names the event a reply answers.
type InReplyTo struct {
	EventID string `json:"event_id"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// Reply returns the relation of a reply to eventID.
func Reply(eventID string) *RelatesTo {
	return &RelatesTo{InReplyTo: &InReplyTo{EventID: eventID}}
}

// Thread returns the relation of an event in the thread rooted at root;
// latest is the latest event of the thread, the reply fallback.
func Thread(root, latest string) *RelatesTo {
	return &RelatesTo{RelType: RelThread, EventID: root, IsFallingBack: true, InReplyTo: &InReplyTo{EventID: latest}}
}

// Edit returns a message replacing eventID with newContent. Body is the
// fallback for clients without edits ("* " and the new body).
func Edit(eventID string, newContent Message) Message {
	m := newContent
	m.Body = "* " + newContent.Body
	if m.FormattedBody != "" {
		m.FormattedBody = "* " + newContent.FormattedBody
	}
	m.RelatesTo = &RelatesTo{RelType: RelReplace, EventID: eventID}
	m.NewContent = &newContent
	return m
}

// Reaction is m.reaction: an annotation of an event.
type Reaction struct {
	RelatesTo RelatesTo `json:"m.relates_to"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Reaction) EventType() string { return "m.reaction" }

// React returns a reaction with key (usually an emoji) to eventID.
func React(eventID, key string) Reaction {
	return Reaction{RelatesTo: RelatesTo{RelType: RelAnnotation, EventID: eventID, Key: key}}
}

// Redaction is m.room.redaction. Redacts is in the content from room
// version 11 and top-level before; NewBuilder sets event.Builder.Redacts,
// which puts it where the room version wants it.
type Redaction struct {
	Redacts string `json:"redacts,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Extra holds the fields of the JSON object this type does not name,
	// kept on a round trip.
	Extra map[string]json.RawMessage `json:"-"`
}

// EventType implements Content.
func (Redaction) EventType() string { return "m.room.redaction" }
