package event

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
)

// The hashes of content/server-server-api.md, "Calculating the content
// hash for an event" and "Calculating the reference hash for an event".

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 4*MaxEventSize {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// ContentHash returns the content hash of the event raw (a JSON object) in
// room version v: the SHA-256 of its canonical JSON without the unsigned,
// signatures and hashes keys. raw need not be a valid PDU, which lets a
// server hash an event it is building; it must be JSON that canonical
// JSON accepts in v's mode.
func ContentHash(v roomversion.Version, raw []byte) ([32]byte, error) {
	b := getBuf()
	defer putBuf(b)
	out, err := canonicaljson.AppendWithout((*b)[:0], raw, redact.Mode(v), "unsigned", "signatures", "hashes")
	*b = out[:0]
	if err != nil {
		return [32]byte{}, fmt.Errorf("event: content hash: %w", err)
	}
	return sha256.Sum256(out), nil
}

// ContentHashValid reports whether the hashes.sha256 of the event raw (a
// JSON object) is its content hash, decoded as the reference server
// decodes it; false when it is absent or not a string. The error is
// ContentHash's.
func ContentHashValid(v roomversion.Version, raw []byte) (bool, error) {
	h, err := ContentHash(v, raw)
	if err != nil {
		return false, err
	}
	var s scanner
	if !s.scanEvent(raw, false) {
		return false, nil
	}
	for i := range s.nfields {
		f := s.field(i)
		if f.kind != kindObject || string(appendUnescaped(nil, raw[f.key.start:f.key.end])) != "hashes" {
			continue
		}
		e := Event{raw: raw, hashes: f.val}
		claimed, ok := e.claimedContentHash()
		return ok && bytes.Equal(claimed, h[:]), nil
	}
	return false, nil
}

// ReferenceHash returns the reference hash of the event raw in room
// version v: the SHA-256 of the canonical JSON of the event redacted by
// v's rules, without its signatures and unsigned keys. It is the basis of
// the event IDs of room versions 3 and later and of the references of
// versions 1 and 2. Like ContentHash it works on any JSON object that the
// redaction algorithm accepts.
func ReferenceHash(v roomversion.Version, raw []byte) ([32]byte, error) {
	b := getBuf()
	defer putBuf(b)
	signed, err := appendSignedForm((*b)[:0], v, raw)
	*b = signed[:0]
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(signed), nil
}

// appendSignedForm appends the bytes that event signatures cover and the
// reference hash hashes: canonical(redact(raw) - signatures - unsigned).
// The whole of raw is checked in v's mode.
func appendSignedForm(dst []byte, v roomversion.Version, raw []byte) ([]byte, error) {
	tmp := getBuf()
	defer putBuf(tmp)
	stripped, err := canonicaljson.AppendWithout((*tmp)[:0], raw, redact.Mode(v), "signatures", "unsigned")
	*tmp = stripped[:0]
	if err != nil {
		return dst, fmt.Errorf("event: %w", err)
	}
	out, err := redact.AppendCanonical(dst, v, stripped)
	if err != nil {
		return dst, fmt.Errorf("event: %w", err)
	}
	return out, nil
}

// EventID returns the ID of the event raw in room version v: its own
// event_id in versions 1 and 2, otherwise "$" and the reference hash in
// the version's base64 alphabet (content/rooms/v3.md and v4.md, "Event
// IDs"). Like ReferenceHash it does not validate the event as a PDU.
func EventID(v roomversion.Version, raw []byte) (string, error) {
	if v.Event.EventID == roomversion.EventIDGiven {
		if err := canonicaljson.Valid(raw, redact.Mode(v)); err != nil {
			return "", fmt.Errorf("event: %w", err)
		}
		var s scanner
		if !s.scanEvent(raw, false) {
			return "", invalid("", s.err.rule, "%s at offset %d", s.err.msg, s.err.offset)
		}
		for i := range s.nfields {
			f := s.field(i)
			if string(appendUnescaped(nil, raw[f.key.start:f.key.end])) != "event_id" {
				continue
			}
			id, ok := stringAt(raw, f.val)
			if !ok {
				return "", invalid("event_id", "event_id.type", "must be a string, not %s", f.kind)
			}
			return id, nil
		}
		return "", invalid("event_id", "event_id.missing", "room version %s events carry their event_id", v.ID)
	}
	h, err := ReferenceHash(v, raw)
	if err != nil {
		return "", err
	}
	return hashID('$', v, h), nil
}

// hashID formats a reference hash as an ID with the given sigil.
func hashID(sigil byte, v roomversion.Version, h [32]byte) string {
	var buf [44]byte
	buf[0] = sigil
	enc := base64.URL
	if v.Event.EventID == roomversion.EventIDHashStd {
		enc = base64.Std
	}
	return string(enc.AppendEncode(buf[:1], h[:]))
}

// appendWithout appends the event's canonical JSON without unsigned,
// signatures, a given-ID event_id and, when dropHashes, hashes. When the
// event's bytes are canonical already this is copying the members in
// between; otherwise it canonicalizes.
func (e *Event) appendWithout(dst []byte, dropHashes bool) ([]byte, error) {
	if !e.canonical {
		drop := [4]string{"unsigned", "signatures", "hashes", "event_id"}
		names := drop[:2]
		if dropHashes {
			names = append(names, "hashes")
		}
		if e.extraID.end != 0 {
			names = append(names, "event_id")
		}
		return canonicaljson.AppendWithout(dst, e.raw, redact.Mode(e.v), names...)
	}
	// The members are in key order, so the dropped ones are too; the text
	// between two dropped members is a run of kept members with the commas
	// around it.
	var cut [3]span
	n := 0
	for _, m := range [...]struct {
		sp   span
		drop bool
	}{{e.hashesMember, dropHashes}, {e.signaturesMember, true}, {e.unsignedMember, true}} {
		if m.drop && m.sp.end != 0 {
			cut[n] = m.sp
			n++
		}
	}
	dst = append(dst, '{')
	pos := int32(1)
	first := true
	emit := func(seg []byte) {
		seg = bytes.TrimPrefix(seg, []byte{','})
		seg = bytes.TrimSuffix(seg, []byte{','})
		if len(seg) == 0 {
			return
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, seg...)
	}
	for _, c := range cut[:n] {
		emit(e.raw[pos:c.start])
		pos = c.end
	}
	emit(e.raw[pos : len(e.raw)-1])
	return append(dst, '}'), nil
}

// ContentHash returns the event's content hash (see the package function).
func (e *Event) ContentHash() [32]byte {
	b := getBuf()
	defer putBuf(b)
	out, err := e.appendWithout((*b)[:0], true)
	*b = out[:0]
	if err != nil {
		// Parse checked the JSON in this mode; this cannot happen.
		return [32]byte{}
	}
	return sha256.Sum256(out)
}

// ContentHashValid reports whether the event's hashes.sha256 is its
// content hash. It is false when hashes.sha256 is absent, not a string,
// or not base64.
func (e *Event) ContentHashValid() bool {
	want, ok := e.claimedContentHash()
	if !ok {
		return false
	}
	got := e.ContentHash()
	return bytes.Equal(got[:], want)
}

func (e *Event) claimedContentHash() ([]byte, bool) {
	if e.hashes.end == 0 {
		return nil, false
	}
	val, ok := lookupKey(e.raw, e.hashes, "sha256")
	if !ok || e.raw[val.start] != '"' {
		return nil, false
	}
	body := e.raw[val.start+1 : val.end-1]
	if bytes.IndexByte(body, '\\') >= 0 {
		body = appendUnescaped(nil, body)
	}
	h, err := base64.Std.AppendDecode(make([]byte, 0, 33), body)
	if err != nil {
		h, err = base64.AppendDecodeLenient(make([]byte, 0, 33), body)
	}
	if err != nil || len(h) != sha256.Size {
		return nil, false
	}
	return h, true
}

// appendSigned appends the form of the event that signatures cover and
// the reference hash hashes.
func (e *Event) appendSigned(dst []byte) ([]byte, error) {
	tmp := getBuf()
	defer putBuf(tmp)
	stripped, err := e.appendWithout((*tmp)[:0], false)
	*tmp = stripped[:0]
	if err != nil {
		return dst, fmt.Errorf("event: %w", err)
	}
	out, err := redact.AppendCanonical(dst, e.v, stripped)
	if err != nil {
		return dst, fmt.Errorf("event: %w", err)
	}
	return out, nil
}

// ReferenceHash returns the event's reference hash.
func (e *Event) ReferenceHash() ([32]byte, error) {
	e.computeRef()
	return e.refHash, e.refHashErr
}

func (e *Event) computeRef() {
	e.refOnce.Do(func() {
		b := getBuf()
		defer putBuf(b)
		out, err := e.appendSigned((*b)[:0])
		*b = out[:0]
		if err != nil {
			e.refHashErr = err
			return
		}
		e.refHash = sha256.Sum256(out)
		if !e.givenID {
			e.id = hashID('$', e.v, e.refHash)
		}
	})
}

// ID returns the event ID: in room versions 1 and 2 the event's own
// event_id; in later versions "$" and its reference hash in the version's
// base64 alphabet, computed on first use; for an event from ParseWithID,
// the ID given.
func (e *Event) ID() string {
	if e.givenID {
		return e.id
	}
	e.computeRef()
	return e.id
}
