package event

import (
	"bytes"
	"strconv"
	"sync"
	"unsafe"

	"github.com/mxkit/mxkit/roomversion"
)

// Limits from the specification (content/client-server-api/_index.md,
// "Size limits", and the PDU schemas of content/rooms).
const (
	// MaxEventSize is the largest a PDU may be, as canonical JSON with its
	// signatures.
	MaxEventSize = 65536
	// MaxIDSize bounds sender, room_id, state_key, type and event_id, in bytes.
	MaxIDSize = 255
	// MaxPrevEvents bounds prev_events.
	MaxPrevEvents = 20
	// MaxAuthEvents bounds auth_events.
	MaxAuthEvents = 10
)

// Event types the package itself looks into.
const (
	TypeCreate    = "m.room.create"
	TypeMember    = "m.room.member"
	TypeRedaction = "m.room.redaction"
)

// Event is a PDU that has been parsed and validated for its room version.
// It is immutable: it keeps the bytes it was parsed from and the fields
// every consumer reads, decoded once. An Event is safe for concurrent use.
//
// Slices returned by its methods (JSON, Content, PrevEventIDs, …) share
// the event's memory and must not be modified.
type Event struct {
	v   roomversion.Version
	raw []byte

	sender     string
	typ        string
	roomID     string
	hasRoomID  bool
	stateKey   string
	isState    bool
	redacts    string
	membership string
	content    span
	depth      int64
	ts         int64

	prev, auth []string
	// prevHashes and authHashes hold the reference hashes of the event
	// format of room versions 1 and 2 (the object of each pair, raw).
	prevHashes, authHashes []span

	hashes     span // the hashes object
	signatures span // the signatures object
	unsigned   span // the unsigned object, if any

	// The whole members (from the key's opening quote to the end of the
	// value) that hashing leaves out, for the fast path over canonical
	// bytes.
	hashesMember, signaturesMember, unsignedMember span
	// extraID is the event_id of an event parsed with a given ID in a
	// room version whose IDs are hashes: hashed without it.
	extraID   span
	canonical bool // raw is byte-exact canonical JSON
	canonLen  int
	givenID   bool

	id         string
	refOnce    sync.Once
	refHash    [32]byte
	refHashErr error
}

// Parse parses and validates a PDU (federation format) for room version
// v: the JSON itself (duplicate keys are refused in every version; strict
// canonical JSON numbers from version 6), the size limits, and the fields
// of the version's event format with their types. An invalid event gives
// a *ValidationError.
//
// For room versions 1 and 2 the event ID is the event's own event_id. For
// later versions it is computed from the reference hash when ID is first
// called; such events must not carry an event_id.
//
// Parse copies raw; the caller may reuse it.
func Parse(v roomversion.Version, raw []byte) (*Event, error) {
	return parse(v, raw, "", false)
}

// ParseWithID is Parse, but takes the event ID as given instead of
// computing it: for stored events whose ID is known, and for test inputs
// that carry readable IDs. A top-level "event_id" key is allowed in raw
// for any room version; for versions whose IDs are hashes it is left out
// when the event's hashes are computed.
func ParseWithID(v roomversion.Version, raw []byte, eventID string) (*Event, error) {
	if eventID == "" {
		return nil, invalid("event_id", "event_id.missing", "no event ID given")
	}
	if len(eventID) > MaxIDSize {
		return nil, invalid("event_id", "event_id.size", "%d bytes, over the limit of %d", len(eventID), MaxIDSize)
	}
	if eventID[0] != '$' {
		return nil, invalid("event_id", "event_id.format", "%q does not start with '$'", eventID)
	}
	return parse(v, raw, eventID, true)
}

func parse(v roomversion.Version, input []byte, givenID string, withID bool) (*Event, error) {
	var s scanner
	if !s.scanEvent(input, v.Event.StrictCanonicalJSON) {
		return nil, invalid("", s.err.rule, "%s at offset %d", s.err.msg, s.err.offset)
	}
	size := s.canonLen
	if s.inexact {
		n, err := lenientCanonicalSize(input)
		if err != nil {
			return nil, err
		}
		size = n
	}
	if size > MaxEventSize {
		return nil, invalid("", "size.event", "canonical JSON is %d bytes, over the limit of %d", size, MaxEventSize)
	}

	e := &Event{v: v, canonLen: size}
	e.raw = append(make([]byte, 0, len(input)), input...)
	e.canonical = !s.inexact && !s.nonCanon

	var got fieldSet
	for i := range s.nfields {
		f := s.field(i)
		if id, ok := lookupField(e.keyName(f.key)); ok {
			got[id] = f
		}
	}
	if err := e.fill(&got, givenID, withID); err != nil {
		return nil, err
	}
	return e, nil
}

type fieldID uint8

const (
	fType fieldID = iota
	fSender
	fRoomID
	fStateKey
	fEventID
	fContent
	fDepth
	fOriginServerTS
	fPrevEvents
	fAuthEvents
	fHashes
	fSignatures
	fUnsigned
	fRedacts
	numFields
)

// lookupField maps a top-level key to the field it is, if it is one the
// package reads.
func lookupField(name string) (fieldID, bool) {
	switch name {
	case "type":
		return fType, true
	case "sender":
		return fSender, true
	case "room_id":
		return fRoomID, true
	case "state_key":
		return fStateKey, true
	case "event_id":
		return fEventID, true
	case "content":
		return fContent, true
	case "depth":
		return fDepth, true
	case "origin_server_ts":
		return fOriginServerTS, true
	case "prev_events":
		return fPrevEvents, true
	case "auth_events":
		return fAuthEvents, true
	case "hashes":
		return fHashes, true
	case "signatures":
		return fSignatures, true
	case "unsigned":
		return fUnsigned, true
	case "redacts":
		return fRedacts, true
	}
	return 0, false
}

var fieldNames = [numFields]string{
	"type", "sender", "room_id", "state_key", "event_id", "content", "depth",
	"origin_server_ts", "prev_events", "auth_events", "hashes", "signatures",
	"unsigned", "redacts",
}

type fieldSet [numFields]*field

// member is the span of a whole object member: key, colon and value.
func member(f *field) span { return span{f.key.start - 1, f.val.end} }

// keyName returns a top-level key as a string without allocating when it
// has no escapes (the map lookup with string(b) does not allocate).
func (e *Event) keyName(k keySpan) string {
	b := e.raw[k.start:k.end]
	if k.escaped {
		return string(appendUnescaped(nil, b))
	}
	return e.view(b)
}

// view returns b, which lies in e.raw, as a string sharing its memory.
// This is safe because e.raw is never written after parsing and lives as
// long as the strings do.
func (e *Event) view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// stringValue decodes a string value (quotes included in sp).
func (e *Event) stringValue(f *field) string {
	body := e.raw[f.val.start+1 : f.val.end-1]
	if f.escaped {
		return string(appendUnescaped(nil, body))
	}
	return e.view(body)
}

func (e *Event) fill(got *fieldSet, givenID string, withID bool) error {
	v := e.v
	need := func(id fieldID, k kind) (*field, error) {
		f := got[id]
		if f == nil {
			return nil, invalid(fieldNames[id], fieldNames[id]+".missing", "required field is missing")
		}
		if f.kind != k {
			return nil, invalid(fieldNames[id], fieldNames[id]+".type", "must be %s, not %s", k, f.kind)
		}
		return f, nil
	}
	optional := func(id fieldID, k kind) (*field, error) {
		f := got[id]
		if f != nil && f.kind != k {
			return nil, invalid(fieldNames[id], fieldNames[id]+".type", "must be %s, not %s", k, f.kind)
		}
		return f, nil
	}
	idString := func(id fieldID, f *field, sigil byte, needServer bool) (string, error) {
		name := fieldNames[id]
		s := e.stringValue(f)
		if len(s) > MaxIDSize {
			return "", invalid(name, name+".size", "%d bytes, over the limit of %d", len(s), MaxIDSize)
		}
		if sigil != 0 && (s == "" || s[0] != sigil) {
			return "", invalid(name, name+".format", "%q does not start with %q", s, sigil)
		}
		if needServer && serverOf(s) == "" {
			return "", invalid(name, name+".format", "%q has no server name after ':'", s)
		}
		return s, nil
	}

	// type
	f, err := need(fType, kindString)
	if err != nil {
		return err
	}
	e.typ = e.stringValue(f)
	if len(e.typ) > MaxIDSize {
		return invalid("type", "type.size", "%d bytes, over the limit of %d", len(e.typ), MaxIDSize)
	}

	// state_key
	if f, err = optional(fStateKey, kindString); err != nil {
		return err
	}
	if f != nil {
		e.isState = true
		e.stateKey = e.stringValue(f)
		if len(e.stateKey) > MaxIDSize {
			return invalid("state_key", "state_key.size", "%d bytes, over the limit of %d", len(e.stateKey), MaxIDSize)
		}
	}

	// sender: a user ID; its server is the one that must sign.
	if f, err = need(fSender, kindString); err != nil {
		return err
	}
	if e.sender, err = idString(fSender, f, '@', true); err != nil {
		return err
	}

	// room_id: required, except on a room version 12 create event, whose
	// room ID is its own hash. A create event that carries one anyway is
	// left to the authorization rules, which reject it (content/rooms/v12.md,
	// rule 1.2), so that the rejection names that rule.
	createHashRoom := v.Event.RoomID == roomversion.RoomIDCreateHash && e.typ == TypeCreate && e.isState && e.stateKey == ""
	if createHashRoom {
		f, err = optional(fRoomID, kindString)
	} else {
		f, err = need(fRoomID, kindString)
	}
	if err != nil {
		return err
	}
	if f != nil {
		if e.roomID, err = idString(fRoomID, f, '!', false); err != nil {
			return err
		}
		e.hasRoomID = true
	}

	// event_id
	f = got[fEventID]
	switch {
	case withID:
		e.id = givenID
		e.givenID = true
		if f != nil && v.Event.Format != roomversion.EventFormatV1 {
			e.extraID = f.val // hashed without it
			e.canonical = false
		}
		if f != nil && v.Event.Format == roomversion.EventFormatV1 {
			if f.kind != kindString {
				return invalid("event_id", "event_id.type", "must be a string, not %s", f.kind)
			}
		}
	case v.Event.Format == roomversion.EventFormatV1:
		if f, err = need(fEventID, kindString); err != nil {
			return err
		}
		if e.id, err = idString(fEventID, f, '$', true); err != nil {
			return err
		}
		e.givenID = true
	default:
		if f != nil {
			return invalid("event_id", "event_id.unexpected", "room version %s events carry no event_id; the ID is the reference hash", v.ID)
		}
	}

	// content
	if f, err = need(fContent, kindObject); err != nil {
		return err
	}
	e.content = f.val

	// depth
	if f, err = need(fDepth, kindNumber); err != nil {
		return err
	}
	d, ok := parseInt(e.raw[f.val.start:f.val.end])
	if !ok {
		return invalid("depth", "depth.type", "%s is not an integer", e.raw[f.val.start:f.val.end])
	}
	if d.overflow || d.n < 0 || d.n > v.MaxDepth() {
		return invalid("depth", "depth.range", "%s is outside 0..%d", e.raw[f.val.start:f.val.end], v.MaxDepth())
	}
	e.depth = d.n

	// origin_server_ts
	if f, err = need(fOriginServerTS, kindNumber); err != nil {
		return err
	}
	if d, ok = parseInt(e.raw[f.val.start:f.val.end]); !ok {
		return invalid("origin_server_ts", "origin_server_ts.type", "%s is not an integer", e.raw[f.val.start:f.val.end])
	}
	if d.overflow {
		return invalid("origin_server_ts", "origin_server_ts.range", "%s does not fit in 64 bits", e.raw[f.val.start:f.val.end])
	}
	e.ts = d.n

	// prev_events, auth_events
	pf, err := need(fPrevEvents, kindArray)
	if err != nil {
		return err
	}
	af, err := need(fAuthEvents, kindArray)
	if err != nil {
		return err
	}
	if err := e.references(pf, af); err != nil {
		return err
	}

	// hashes: the schemas require it, but an event without a usable one
	// is not dropped; it fails the content hash check and is then used in
	// its redacted form ("Checks performed on receipt of a PDU", step 3).
	// The reference server treats a missing or malformed hashes exactly
	// so, and a dropped state event would split the room's state from
	// theirs.
	if f = got[fHashes]; f != nil {
		e.hashesMember = member(f)
		if f.kind == kindObject {
			e.hashes = f.val
		}
	}
	if f, err = need(fSignatures, kindObject); err != nil {
		return err
	}
	e.signatures, e.signaturesMember = f.val, member(f)
	// unsigned is covered by neither hashes nor signatures and any server
	// on the way may change it; one that is not an object is ignored, as
	// the reference server replaces it, rather than a reason to drop the
	// event.
	if f = got[fUnsigned]; f != nil {
		e.unsignedMember = member(f)
		if f.kind == kindObject {
			e.unsigned = f.val
		}
	}

	// redacts: top-level up to version 10, in content from 11.
	if !v.Event.RedactsInContent {
		if f, err = optional(fRedacts, kindString); err != nil {
			return err
		}
		if f != nil {
			e.redacts = e.stringValue(f)
		}
	} else if e.typ == TypeRedaction {
		e.redacts = e.contentString("redacts")
	}
	if e.typ == TypeMember {
		e.membership = e.contentString("membership")
	}
	return nil
}

// references decodes prev_events and auth_events in the shape of the
// room version's event format, into one backing array.
func (e *Event) references(pf, af *field) error {
	v1 := e.v.Event.Format == roomversion.EventFormatV1
	np, na := pf.count, af.count
	if np > MaxPrevEvents {
		return invalid("prev_events", "prev_events.count", "%d events, over the limit of %d", np, MaxPrevEvents)
	}
	if na > MaxAuthEvents {
		return invalid("auth_events", "auth_events.count", "%d events, over the limit of %d", na, MaxAuthEvents)
	}
	ids := make([]string, np+na)
	var hashes []span
	if v1 {
		hashes = make([]span, np+na)
	}
	decode := func(name string, list span, out []string, hs []span) error {
		i := 0
		var err error
		eachElem(e.raw, list, func(el span) bool {
			var idSpan span
			if v1 {
				// [event_id, {"sha256": ...}]
				parts := [3]span{}
				n := 0
				if e.raw[el.start] == '[' {
					eachElem(e.raw, el, func(p span) bool {
						if n < len(parts) {
							parts[n] = p
						}
						n++
						return true
					})
				}
				if e.raw[el.start] != '[' || n != 2 || e.raw[parts[0].start] != '"' || e.raw[parts[1].start] != '{' {
					err = invalid(name, name+".format", "entry %d must be [event_id, {\"sha256\": hash}] in room version %s", i, e.v.ID)
					return false
				}
				idSpan, hs[i] = parts[0], parts[1]
			} else {
				if e.raw[el.start] != '"' {
					err = invalid(name, name+".format", "entry %d must be an event ID string in room version %s", i, e.v.ID)
					return false
				}
				idSpan = el
			}
			body := e.raw[idSpan.start+1 : idSpan.end-1]
			var id string
			if bytes.IndexByte(body, '\\') >= 0 {
				id = string(appendUnescaped(nil, body))
			} else {
				id = e.view(body)
			}
			if len(id) > MaxIDSize {
				err = invalid(name, name+".size", "entry %d is %d bytes, over the limit of %d", i, len(id), MaxIDSize)
				return false
			}
			if id == "" || id[0] != '$' {
				err = invalid(name, name+".format", "entry %d, %q, does not start with '$'", i, id)
				return false
			}
			out[i] = id
			i++
			return true
		})
		return err
	}
	if err := decode("prev_events", pf.val, ids[:np], hashes[:min(np, len(hashes))]); err != nil {
		return err
	}
	if err := decode("auth_events", af.val, ids[np:], hashes[min(np, len(hashes)):]); err != nil {
		return err
	}
	e.prev = ids[:np:np]
	e.auth = ids[np:]
	if v1 {
		e.prevHashes = hashes[:np:np]
		e.authHashes = hashes[np:]
	}
	return nil
}

// contentString returns content[key] when it is a string, else "".
func (e *Event) contentString(key string) string {
	val, ok := lookupKey(e.raw, e.content, key)
	if !ok || e.raw[val.start] != '"' {
		return ""
	}
	body := e.raw[val.start+1 : val.end-1]
	if bytes.IndexByte(body, '\\') >= 0 {
		return string(appendUnescaped(nil, body))
	}
	return e.view(body)
}

type parsedInt struct {
	n        int64
	overflow bool
}

// parseInt reads a JSON number that must be written as an integer.
func parseInt(b []byte) (parsedInt, bool) {
	if bytes.ContainsAny(b, ".eE") {
		return parsedInt{}, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return parsedInt{overflow: true}, true
	}
	return parsedInt{n: n}, true
}

// serverOf returns the server name of an identifier "<sigil>local:server",
// or "" when it has none.
func serverOf(id string) string {
	for i := 1; i < len(id); i++ {
		if id[i] == ':' {
			return id[i+1:]
		}
	}
	return ""
}

// Version returns the room version the event was parsed for.
func (e *Event) Version() roomversion.Version { return e.v }

// RoomID returns the event's room ID. For the create event of a room
// version whose room IDs are create-event hashes (12), it is "!" and the
// event's own reference hash.
func (e *Event) RoomID() string {
	if e.v.Event.RoomID == roomversion.RoomIDCreateHash && e.typ == TypeCreate && e.isState && e.stateKey == "" {
		id := e.ID()
		if id == "" {
			return ""
		}
		return "!" + id[1:]
	}
	return e.roomID
}

// RoomIDField returns the event's room_id key as it was sent, and whether
// it was present. It differs from RoomID only for room version 12 create
// events, which must not carry one.
func (e *Event) RoomIDField() (string, bool) { return e.roomID, e.hasRoomID }

// Sender returns the user ID of the sender.
func (e *Event) Sender() string { return e.sender }

// SenderServer returns the server name of the sender's user ID.
func (e *Event) SenderServer() string { return serverOf(e.sender) }

// Type returns the event type.
func (e *Event) Type() string { return e.typ }

// StateKey returns the state key; ok is false for an event that is not a
// state event (it has no state_key at all; "" is a valid state key).
func (e *Event) StateKey() (stateKey string, ok bool) { return e.stateKey, e.isState }

// IsState reports whether the event has a state_key.
func (e *Event) IsState() bool { return e.isState }

// Content returns the content object as raw JSON.
func (e *Event) Content() []byte { return e.raw[e.content.start:e.content.end:e.content.end] }

// Depth returns the depth.
func (e *Event) Depth() int64 { return e.depth }

// OriginServerTS returns origin_server_ts, milliseconds since the epoch.
func (e *Event) OriginServerTS() int64 { return e.ts }

// PrevEventIDs returns the IDs in prev_events.
func (e *Event) PrevEventIDs() []string { return e.prev }

// AuthEventIDs returns the IDs in auth_events.
func (e *Event) AuthEventIDs() []string { return e.auth }

// Redacts returns the ID of the event an m.room.redaction redacts: the
// top-level redacts in room versions 1 to 10, content.redacts from 11
// (roomversion EventRules.RedactsInContent). "" when absent.
func (e *Event) Redacts() string { return e.redacts }

// Membership returns content.membership of an m.room.member event, and ""
// for other events or when it is absent or not a string.
func (e *Event) Membership() string { return e.membership }

// JSON returns the bytes the event was parsed from.
func (e *Event) JSON() []byte { return e.raw[:len(e.raw):len(e.raw)] }

// Hashes returns the hashes object as raw JSON, or nil when the event has
// none (or one that is not an object).
func (e *Event) Hashes() []byte {
	if e.hashes.end == 0 {
		return nil
	}
	return e.raw[e.hashes.start:e.hashes.end:e.hashes.end]
}

// Signatures returns the signatures object as raw JSON.
func (e *Event) Signatures() []byte {
	return e.raw[e.signatures.start:e.signatures.end:e.signatures.end]
}

// Unsigned returns the unsigned object as raw JSON, or nil when absent or
// not an object.
func (e *Event) Unsigned() []byte {
	if e.unsigned.end == 0 {
		return nil
	}
	return e.raw[e.unsigned.start:e.unsigned.end:e.unsigned.end]
}

// Reference is an entry of prev_events or auth_events in the event format
// of room versions 1 and 2: an event ID and the referenced event's hashes.
type Reference struct {
	EventID string
	// Hashes is the hashes object as raw JSON, such as {"sha256":"…"}.
	Hashes []byte
}

// PrevEvents returns prev_events with their hashes. In room versions
// whose events name their parents by ID only, Hashes is nil.
func (e *Event) PrevEvents() []Reference { return e.refs(e.prev, e.prevHashes) }

// AuthEvents returns auth_events with their hashes, like PrevEvents.
func (e *Event) AuthEvents() []Reference { return e.refs(e.auth, e.authHashes) }

func (e *Event) refs(ids []string, hs []span) []Reference {
	out := make([]Reference, len(ids))
	for i, id := range ids {
		out[i].EventID = id
		if hs != nil {
			out[i].Hashes = e.raw[hs[i].start:hs[i].end:hs[i].end]
		}
	}
	return out
}

// ContentField returns the value of the top-level key of the content
// object as raw JSON, without decoding the rest of the content.
func (e *Event) ContentField(key string) ([]byte, bool) {
	val, ok := lookupKey(e.raw, e.content, key)
	if !ok {
		return nil, false
	}
	return e.raw[val.start:val.end:val.end], true
}
