package event

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/internal/jsonraw"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// Signing outgoing events, content/server-server-api.md, "Adding hashes
// and signatures to outgoing events": the content hash goes into
// hashes.sha256, the event is redacted, the redacted form is signed as in
// "Signing JSON" (content/appendices.md), and the signature is copied back
// into the full event.

// Sign adds the content hash and server's signature by key to the event
// raw (a JSON object), as a server does to an event it sends, and returns
// the event as canonical JSON in v's mode. The hashes object is replaced
// by {"sha256": content hash}; signatures already present are kept (one by
// the same server and key ID is replaced); unsigned is kept and not
// signed.
//
// Sign does not validate raw as a PDU of v, so that any object can be
// hashed and signed the way an event is; use Builder to make events, and
// Parse to validate.
func Sign(v roomversion.Version, raw []byte, server string, key *signing.SigningKey) ([]byte, error) {
	if key == nil {
		return nil, errors.New("event: nil signing key")
	}
	mode := redact.Mode(v)
	canon, err := canonicaljson.Canonicalize(raw, mode)
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if canon[0] != '{' {
		return nil, errors.New("event: an event must be a JSON object")
	}
	h, err := ContentHash(v, canon)
	if err != nil {
		return nil, err
	}
	withHash := setMember(nil, canon, "hashes", appendHashes(nil, h))
	redacted, err := redact.AppendValidated(nil, v, withHash)
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	signedRedacted, err := signing.SignJSON(redacted, server, key, mode)
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	sigs, _ := getMember(signedRedacted, "signatures")
	return setMember(nil, withHash, "signatures", sigs), nil
}

// appendHashes appends {"sha256":"<unpadded base64>"}.
func appendHashes(dst []byte, h [32]byte) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(`{"sha256":""}`)+43)
	}
	dst = append(dst, `{"sha256":"`...)
	dst = base64.Std.AppendEncode(dst, h[:])
	return append(dst, `"}`...)
}

// getMember returns the value of key in the canonical JSON object obj.
func getMember(obj []byte, key string) ([]byte, bool) {
	val, ok := lookupKey(obj, span{0, int32(len(obj))}, key)
	if !ok {
		return nil, false
	}
	return obj[val.start:val.end], true
}

// setMember appends to dst the canonical JSON object obj with key set to
// the canonical value val, in key order, replacing any member with that
// key.
func setMember(dst, obj []byte, key string, val []byte) []byte {
	dst = append(dst, '{')
	first, done := true, false
	write := func(b ...[]byte) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		for _, p := range b {
			dst = append(dst, p...)
		}
	}
	writeNew := func() {
		write(jsonraw.AppendString(nil, key), []byte{':'}, val)
		done = true
	}
	var scratch []byte
	eachMember(obj, span{0, int32(len(obj))}, func(k keySpan, v span) bool {
		kb := obj[k.start:k.end]
		if k.escaped {
			scratch = appendUnescaped(scratch[:0], kb)
			kb = scratch
		}
		c := bytes.Compare(kb, []byte(key))
		if !done && c >= 0 {
			writeNew()
		}
		if c != 0 {
			write(obj[k.start-1 : v.end])
		}
		return true
	})
	if !done {
		writeNew()
	}
	return append(dst, '}')
}

// quote returns s as a canonical JSON string.
func quote(s string) []byte { return jsonraw.AppendString(make([]byte, 0, len(s)+8), s) }

// Builder describes a new event; Build makes it. The zero values of the
// optional fields are what most events want. eventauth.BuildFor fills
// the prev and auth events from a room's state and forward extremities,
// and package content gives typed values for Type and Content.
type Builder struct {
	Type string
	// StateKey makes a state event; nil for a message event.
	StateKey *string
	Sender   string
	// RoomID is the room. Leave it empty for the create event of a room
	// version whose room ID is the create event's hash (12).
	RoomID string
	// Content is a JSON object; nil means {}.
	Content []byte
	// Redacts, for an m.room.redaction, is the event redacted; Build puts
	// it where v wants it: top-level before room version 11, in content
	// from 11.
	Redacts string

	// PrevEvents and AuthEvents are the events this one follows and the
	// events that authorise it. Their depths give the depth, and in room
	// versions 1 and 2 their reference hashes go into the references.
	PrevEvents, AuthEvents []*Event
	// PrevRefs and AuthRefs name more events by reference, when the events
	// themselves are not at hand. Room versions 1 and 2 need their Hashes.
	// They come after PrevEvents and AuthEvents in the lists.
	PrevRefs, AuthRefs []Reference
	// PrevDepth is the greatest depth among the events of PrevRefs.
	PrevDepth int64

	// OriginServerTS is the timestamp in milliseconds; 0 means now.
	OriginServerTS int64
	// Unsigned is an optional JSON object sent with the event and covered
	// by neither its hashes nor its signatures.
	Unsigned []byte
}

// Build makes the event for room version v, signed by server with key:
// it fills the depth (one more than the deepest previous event, capped at
// v's limit), the references, in room versions 1 and 2 an event_id
// "$random:server", the content hash and the signature, and returns it
// parsed, so everything Parse checks has been checked. server should be
// the sender's server: that is whose signature receivers require.
func (b *Builder) Build(v roomversion.Version, server string, key *signing.SigningKey) (*Event, error) {
	if key == nil || len(key.Private) != ed25519.PrivateKeySize {
		return nil, errors.New("event: Build needs a signing key")
	}
	if server == "" {
		return nil, errors.New("event: Build needs the signing server's name")
	}
	mode := redact.Mode(v)
	v1 := v.Event.Format == roomversion.EventFormatV1

	content := []byte("{}")
	if b.Content != nil {
		c, err := canonicaljson.Canonicalize(b.Content, mode)
		if err != nil {
			return nil, fmt.Errorf("event: content: %w", err)
		}
		if c[0] != '{' {
			return nil, invalid("content", "content.type", "must be a JSON object")
		}
		content = c
	}
	if b.Redacts != "" && v.Event.RedactsInContent {
		content = setMember(nil, content, "redacts", quote(b.Redacts))
	}

	depth := int64(0)
	for _, p := range b.PrevEvents {
		depth = max(depth, p.Depth())
	}
	if len(b.PrevRefs) > 0 {
		depth = max(depth, b.PrevDepth)
	}
	if depth < v.MaxDepth() {
		depth++
	}

	ts := b.OriginServerTS
	if ts == 0 {
		ts = time.Now().UnixMilli()
	}

	refs := func(events []*Event, more []Reference) ([]byte, error) {
		out := make([]byte, 0, 2+(len(events)+len(more))*(len(`["",{"sha256":""}],`)+44+43))
		out = append(out, '[')
		n := 0
		add := func(id string, hashes []byte) error {
			if n > 0 {
				out = append(out, ',')
			}
			n++
			if !v1 {
				out = jsonraw.AppendString(out, id)
				return nil
			}
			if hashes == nil {
				return fmt.Errorf("event: room version %s references %s by hash, and none was given", v.ID, id)
			}
			h, err := canonicaljson.Canonicalize(hashes, mode)
			if err != nil {
				return fmt.Errorf("event: hashes of %s: %w", id, err)
			}
			out = append(out, '[')
			out = jsonraw.AppendString(out, id)
			out = append(out, ',')
			out = append(out, h...)
			out = append(out, ']')
			return nil
		}
		for _, e := range events {
			var hashes []byte
			if v1 {
				rh, err := e.ReferenceHash()
				if err != nil {
					return nil, err
				}
				hashes = appendHashes(nil, rh)
			}
			if err := add(e.ID(), hashes); err != nil {
				return nil, err
			}
		}
		for _, r := range more {
			if err := add(r.EventID, r.Hashes); err != nil {
				return nil, err
			}
		}
		return append(out, ']'), nil
	}
	prev, err := refs(b.PrevEvents, b.PrevRefs)
	if err != nil {
		return nil, err
	}
	auth, err := refs(b.AuthEvents, b.AuthRefs)
	if err != nil {
		return nil, err
	}

	// The members in key order; hashes, signatures and unsigned are
	// added as they become known. Without them the object is exactly what
	// the content hash covers.
	var eventID, redactsTop, roomID, stateKey []byte
	if v1 {
		id, err := newEventID(server)
		if err != nil {
			return nil, err
		}
		eventID = quote(id)
	}
	if b.Redacts != "" && !v.Event.RedactsInContent {
		redactsTop = quote(b.Redacts)
	}
	if b.RoomID != "" {
		roomID = quote(b.RoomID)
	}
	if b.StateKey != nil {
		stateKey = quote(*b.StateKey)
	}
	var unsigned []byte
	if b.Unsigned != nil {
		if unsigned, err = canonicaljson.Canonicalize(b.Unsigned, mode); err != nil {
			return nil, fmt.Errorf("event: unsigned: %w", err)
		}
	}
	members := [...]struct {
		key string
		val []byte
	}{
		{"auth_events", auth},
		{"content", content},
		{"depth", strconv.AppendInt(nil, depth, 10)},
		{"event_id", eventID},
		{"hashes", nil},
		{"origin_server_ts", strconv.AppendInt(nil, ts, 10)},
		{"prev_events", prev},
		{"redacts", redactsTop},
		{"room_id", roomID},
		{"sender", quote(b.Sender)},
		{"signatures", nil},
		{"state_key", stateKey},
		{"type", quote(b.Type)},
		{"unsigned", nil},
	}
	const hashesAt, signaturesAt, unsignedAt = 4, 10, 13
	size := 64
	for _, m := range members {
		size += len(m.key) + len(m.val) + 4
	}
	write := func(dst []byte) []byte {
		dst = append(dst, '{')
		first := true
		for _, m := range members {
			if m.val == nil {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, '"')
			dst = append(dst, m.key...)
			dst = append(dst, '"', ':')
			dst = append(dst, m.val...)
		}
		return append(dst, '}')
	}

	buf := getBuf()
	defer putBuf(buf)
	body := write((*buf)[:0])
	members[hashesAt].val = appendHashes(nil, sha256.Sum256(body))
	withHash := write(body[len(body):])
	signed, err := redact.AppendValidated(withHash[len(withHash):], v, withHash)
	*buf = signed[:0]
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	sig := ed25519.Sign(key.Private, signed)
	sigs := make([]byte, 0, 128+len(server)+len(key.ID))
	sigs = append(sigs, '{')
	sigs = jsonraw.AppendString(sigs, server)
	sigs = append(sigs, ':', '{')
	sigs = jsonraw.AppendString(sigs, string(key.ID))
	sigs = append(sigs, ':', '"')
	sigs = base64.Std.AppendEncode(sigs, sig)
	sigs = append(sigs, '"', '}', '}')
	members[signaturesAt].val = sigs
	members[unsignedAt].val = unsigned
	out := write(make([]byte, 0, size+len(sigs)+len(unsigned)+64))
	refHash := sha256.Sum256(signed)
	e, err := Parse(v, out)
	if err != nil {
		return nil, err
	}
	// The signed bytes are the reference hash's input: the ID comes free.
	e.refOnce.Do(func() {
		e.refHash = refHash
		if !e.givenID {
			e.id = hashID('$', v, e.refHash)
		}
	})
	return e, nil
}

// newEventID makes an event ID of room versions 1 and 2: "$", a random
// opaque part, ":" and the server name (content/rooms/fragments/v1-event-ids.md).
func newEventID(server string) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var r [18]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("event: making an event ID: %w", err)
	}
	id := make([]byte, 0, 20+len(server))
	id = append(id, '$')
	for _, c := range r {
		id = append(id, alphabet[int(c)%len(alphabet)])
	}
	id = append(id, ':')
	id = append(id, server...)
	return string(id), nil
}
