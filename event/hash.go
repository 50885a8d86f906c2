package event

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	stdbase64 "encoding/base64"
	"fmt"
	"hash"
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
		var buf [sha256.Size + 1]byte
		claimed, ok := e.claimedContentHash(&buf)
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
	var buf [sha256.Size + 1]byte
	want, ok := e.claimedContentHash(&buf)
	if !ok {
		return false
	}
	got := e.ContentHash()
	return bytes.Equal(got[:], want)
}

// claimedContentHash decodes hashes.sha256 into buf (one byte more than a
// hash, so that a longer value is seen as such without allocating).
func (e *Event) claimedContentHash(buf *[sha256.Size + 1]byte) ([]byte, bool) {
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
	if n, ok := decodeFast(buf[:], body); ok {
		return buf[:n], n == sha256.Size
	}
	h, err := base64.Std.AppendDecode(buf[:0], body)
	if err != nil {
		h, err = base64.AppendDecodeLenient(buf[:0], body)
	}
	if err != nil || len(h) != sha256.Size {
		return nil, false
	}
	return h, true
}

// strictRaw decodes only unpadded standard base64 whose unused low bits
// are zero: the one form each byte string has.
var strictRaw = stdbase64.RawStdEncoding.Strict()

// decodeFast decodes src into dst when it is unpadded standard base64 in
// its one exact form (what servers write for hashes and signatures) and
// fits in dst; ok=false leaves the judgement to the general decoders.
// Every src it accepts, base64.Std decodes to the same bytes; it only
// avoids that decoder's allocation.
func decodeFast(dst, src []byte) (n int, ok bool) {
	if strictRaw.DecodedLen(len(src)) > len(dst) || bytes.ContainsAny(src, "\r\n=") {
		// (The standard library skips line breaks; base64.Std does not.)
		return 0, false
	}
	n, err := strictRaw.Decode(dst, src)
	return n, err == nil
}

// sumScratch holds the digests and buffers of sumShared.
type sumScratch struct {
	a, b       hash.Hash
	state, sum []byte
}

var sumPool = sync.Pool{New: func() any {
	return &sumScratch{a: sha256.New(), b: sha256.New(), state: make([]byte, 0, 128), sum: make([]byte, 0, sha256.Size)}
}}

// sumShared returns the SHA-256 of a and of b, hashing the bytes they
// start with in common once. The signed form of an event and the input
// of its content hash agree up to the hashes member when the redaction
// keeps the content whole (power levels, create, join rules), so the
// content, usually most of the event, is hashed once instead of twice.
func sumShared(a, b []byte) (ha, hb [sha256.Size]byte) {
	n := commonPrefix(a, b)
	n -= n % 64 // whole blocks: the state is then just the chaining value
	if n < 256 {
		return sha256.Sum256(a), sha256.Sum256(b)
	}
	s := sumPool.Get().(*sumScratch)
	s.a.Reset()
	s.a.Write(a[:n])
	var err error
	s.state, err = s.a.(encoding.BinaryAppender).AppendBinary(s.state[:0])
	if err == nil {
		err = s.b.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.state)
	}
	if err != nil {
		// Cannot happen with the standard library's SHA-256.
		sumPool.Put(s)
		return sha256.Sum256(a), sha256.Sum256(b)
	}
	s.a.Write(a[n:])
	s.b.Write(b[n:])
	s.sum = s.a.Sum(s.sum[:0])
	copy(ha[:], s.sum)
	s.sum = s.b.Sum(s.sum[:0])
	copy(hb[:], s.sum)
	sumPool.Put(s)
	return ha, hb
}

// commonPrefix returns the length of the longest common prefix of a and
// b, comparing 64 bytes at a time while they agree.
func commonPrefix(a, b []byte) int {
	m := min(len(a), len(b))
	i := 0
	for i+64 <= m && bytes.Equal(a[i:i+64], b[i:i+64]) {
		i += 64
	}
	for i < m && a[i] == b[i] {
		i++
	}
	return i
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
