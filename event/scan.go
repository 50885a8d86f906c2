package event

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mxkit/mxkit/internal/jsonraw"
)

// This file is the single pass over a PDU's bytes that Parse makes. It
// checks the JSON (syntax, UTF-8, duplicate keys at every level, nesting
// depth, and in strict versions the number rules), works out how long the
// canonical encoding of the event is without producing it, and records
// where each top-level value is, so that the hot fields can be read
// afterwards without a second parse and without building maps.

// maxNesting bounds how deeply objects and arrays may nest in an event.
// It matches the canonical JSON package's limit, so that every event Parse
// accepts can be canonicalized.
const maxNesting = 512

// maxSafeInt is 2^53-1, the canonical JSON integer bound.
const maxSafeInt = 1<<53 - 1

type kind uint8

const (
	kindString kind = iota + 1
	kindNumber
	kindObject
	kindArray
	kindTrue
	kindFalse
	kindNull
)

func (k kind) String() string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindTrue, kindFalse:
		return "a boolean"
	case kindNull:
		return "null"
	}
	return "nothing"
}

// span is a part of the input: [start, end).
type span struct{ start, end int32 }

// keySpan is an object key as it appears in the input, without quotes.
type keySpan struct {
	span
	escaped bool // contains a backslash escape: compare after decoding
}

// field is one top-level member of the event object.
type field struct {
	key     keySpan
	val     span // the whole value, quotes included for strings
	kind    kind
	escaped bool // a string value with escapes
	count   int  // the length of an array value
}

// scanError is a JSON-level rejection: the rule and the byte offset.
type scanError struct {
	rule   string
	offset int
	msg    string
}

// scanner holds the state of one pass. It lives on the caller's stack;
// the fixed arrays make small events free of allocations.
type scanner struct {
	data   []byte
	pos    int
	strict bool
	// canonLen is the length of the canonical encoding of what has been
	// scanned so far.
	canonLen int
	// inexact is set in lenient mode when a number's canonical form may
	// differ from its text (fraction, exponent, -0): the size is then
	// measured by canonicalizing.
	inexact bool
	// nonCanon is set when the input differs from its canonical encoding
	// in any way: whitespace, unsorted keys, an escape canonical JSON
	// writes otherwise, -0.
	nonCanon bool
	err      *scanError

	lastEscaped bool
	lastCount   int

	// The top-level members, in order: the first ones in a fixed array
	// (the scanner lives on the caller's stack), any beyond in more.
	// Slices of the scanner's own arrays are never kept in it, which
	// would make it escape to the heap.
	fieldsArr  [32]field
	nfields    int
	moreFields []field

	// keys is a stack of the keys of the objects being scanned, for the
	// check of duplicates, in the same two parts.
	keysArr  [128]keySpan
	nkeys    int
	moreKeys []keySpan

	// scratch buffers for decoding escaped keys.
	a, b []byte
}

func (s *scanner) fail(rule string, off int, format string, args ...any) {
	if s.err == nil {
		s.err = &scanError{rule: rule, offset: off, msg: fmt.Sprintf(format, args...)}
	}
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
			s.nonCanon = true
		default:
			return
		}
	}
}

// scanEvent scans data, which must be one JSON object, recording its
// top-level members (see field).
func (s *scanner) scanEvent(data []byte, strict bool) bool {
	s.data = data
	s.strict = strict
	s.skipWS()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		switch {
		case s.pos >= len(s.data):
			s.fail("json.syntax", s.pos, "empty input")
		case strings.IndexByte(`["-0123456789tfn`, s.data[s.pos]) >= 0:
			s.fail("json.not_object", s.pos, "an event must be a JSON object")
		default:
			s.fail("json.syntax", s.pos, "unexpected character %q", s.data[s.pos])
		}
		return false
	}
	if !s.object(1, true) {
		return false
	}
	s.skipWS()
	if s.pos != len(s.data) {
		s.fail("json.syntax", s.pos, "unexpected data after the event object")
		return false
	}
	return true
}

// value scans one value and reports its kind. s.lastEscaped and
// s.lastCount describe the value just scanned when it is a string (it has
// escapes) or an array (its length).
func (s *scanner) value(depth int) (kind, bool) {
	if s.pos >= len(s.data) {
		s.fail("json.syntax", s.pos, "unexpected end of input")
		return 0, false
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return kindObject, s.object(depth+1, false)
	case c == '[':
		n, ok := s.array(depth + 1)
		s.lastCount = n
		return kindArray, ok
	case c == '"':
		esc, ok := s.str()
		s.lastEscaped = esc
		return kindString, ok
	case c == '-' || c >= '0' && c <= '9':
		return kindNumber, s.number()
	case c == 't':
		return kindTrue, s.literal("true")
	case c == 'f':
		return kindFalse, s.literal("false")
	case c == 'n':
		return kindNull, s.literal("null")
	default:
		s.fail("json.syntax", s.pos, "unexpected character %q", c)
		return 0, false
	}
}

func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		s.fail("json.syntax", s.pos, "invalid literal")
		return false
	}
	s.pos += len(lit)
	s.canonLen += len(lit)
	return true
}

func (s *scanner) object(depth int, top bool) bool {
	if depth > maxNesting {
		s.fail("json.depth", s.pos, "nested more than %d levels", maxNesting)
		return false
	}
	s.pos++ // '{'
	s.canonLen += 2
	base := s.nkeys
	sorted := true
	n := 0
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return true
	}
	for {
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			s.fail("json.syntax", s.pos, "expected an object key")
			return false
		}
		keyStart := s.pos
		esc, ok := s.str()
		if !ok {
			return false
		}
		k := keySpan{span{int32(keyStart + 1), int32(s.pos - 1)}, esc}
		if n > 0 && sorted {
			c := s.compareKeys(s.key(s.nkeys-1), k)
			if c == 0 {
				s.fail("json.duplicate_key", keyStart, "duplicate key %s", s.data[keyStart:s.pos])
				return false
			}
			if c > 0 {
				sorted = false
			}
		}
		s.pushKey(k)
		n++
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			s.fail("json.syntax", s.pos, "expected ':' after an object key")
			return false
		}
		s.pos++
		s.canonLen++ // ':'
		s.skipWS()
		valStart := s.pos
		kd, ok := s.value(depth)
		if !ok {
			return false
		}
		if top {
			f := field{key: k, val: span{int32(valStart), int32(s.pos)}, kind: kd}
			switch kd {
			case kindString:
				f.escaped = s.lastEscaped
			case kindArray:
				f.count = s.lastCount
			}
			if s.nfields < len(s.fieldsArr) {
				s.fieldsArr[s.nfields] = f
			} else {
				s.moreFields = append(s.moreFields, f)
			}
			s.nfields++
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			s.fail("json.syntax", s.pos, "unexpected end of input in an object")
			return false
		}
		if s.data[s.pos] == ',' {
			s.pos++
			s.canonLen++
			continue
		}
		if s.data[s.pos] == '}' {
			s.pos++
			break
		}
		s.fail("json.syntax", s.pos, "expected ',' or '}' in an object")
		return false
	}
	if !sorted {
		s.nonCanon = true
		if k, dup := s.findDuplicate(base); dup {
			s.fail("json.duplicate_key", int(k.start)-1, "duplicate key \"%s\"", s.data[k.start:k.end])
			return false
		}
	}
	s.popKeys(base)
	return true
}

func (s *scanner) key(i int) keySpan {
	if i < len(s.keysArr) {
		return s.keysArr[i]
	}
	return s.moreKeys[i-len(s.keysArr)]
}

func (s *scanner) pushKey(k keySpan) {
	if s.nkeys < len(s.keysArr) {
		s.keysArr[s.nkeys] = k
	} else {
		s.moreKeys = append(s.moreKeys, k)
	}
	s.nkeys++
}

func (s *scanner) popKeys(n int) {
	s.nkeys = n
	if n <= len(s.keysArr) {
		s.moreKeys = s.moreKeys[:0]
	} else {
		s.moreKeys = s.moreKeys[:n-len(s.keysArr)]
	}
}

// field returns the i-th top-level member.
func (s *scanner) field(i int) *field {
	if i < len(s.fieldsArr) {
		return &s.fieldsArr[i]
	}
	return &s.moreFields[i-len(s.fieldsArr)]
}

// findDuplicate checks the keys of one object from the stack index base
// on, which are not in sorted order, for two that are equal once decoded.
// Canonical senders never get here.
func (s *scanner) findDuplicate(base int) (keySpan, bool) {
	seen := make(map[string]struct{}, s.nkeys-base)
	for i := base; i < s.nkeys; i++ {
		k := s.key(i)
		name := s.data[k.start:k.end]
		if k.escaped {
			name = appendUnescaped(nil, name)
		}
		if _, dup := seen[string(name)]; dup {
			return k, true
		}
		seen[string(name)] = struct{}{}
	}
	return keySpan{}, false
}

// compareKeys orders two keys by their decoded bytes, which for UTF-8 is
// the code point order canonical JSON sorts by.
func (s *scanner) compareKeys(x, y keySpan) int {
	xb := s.data[x.start:x.end]
	yb := s.data[y.start:y.end]
	if x.escaped {
		s.a = appendUnescaped(s.a[:0], xb)
		xb = s.a
	}
	if y.escaped {
		s.b = appendUnescaped(s.b[:0], yb)
		yb = s.b
	}
	return bytes.Compare(xb, yb)
}

// array scans an array and returns its length.
func (s *scanner) array(depth int) (int, bool) {
	if depth > maxNesting {
		s.fail("json.depth", s.pos, "nested more than %d levels", maxNesting)
		return 0, false
	}
	s.pos++ // '['
	s.canonLen += 2
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return 0, true
	}
	n := 0
	for {
		s.skipWS()
		if _, ok := s.value(depth); !ok {
			return 0, false
		}
		n++
		s.skipWS()
		if s.pos >= len(s.data) {
			s.fail("json.syntax", s.pos, "unexpected end of input in an array")
			return 0, false
		}
		if s.data[s.pos] == ',' {
			s.pos++
			s.canonLen++
			continue
		}
		if s.data[s.pos] == ']' {
			s.pos++
			return n, true
		}
		s.fail("json.syntax", s.pos, "expected ',' or ']' in an array")
		return 0, false
	}
}

// str scans a string starting at its opening quote and reports whether
// it contains escapes. It adds the length of the canonical encoding.
func (s *scanner) str() (escaped bool, ok bool) {
	start := s.pos
	s.pos++
	n := 2 // the quotes
	d := s.data
	for {
		// The common case: printable ASCII with nothing to look at,
		// eight bytes at a time, then byte by byte up to what needs a look.
		i := s.pos
		for i+8 <= len(d) {
			x := binary.LittleEndian.Uint64(d[i:])
			q := x ^ 0x2222222222222222 // '"' becomes 0
			b := x ^ 0x5c5c5c5c5c5c5c5c // '\\' becomes 0
			m := (x-0x2020202020202020)&^x | (q-0x0101010101010101)&^q | (b-0x0101010101010101)&^b | x
			if m&0x8080808080808080 != 0 {
				break
			}
			i += 8
		}
		for i < len(d) {
			c := d[i]
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				break
			}
			i++
		}
		n += i - s.pos
		s.pos = i
		if s.pos >= len(d) {
			s.fail("json.syntax", start, "unterminated string")
			return false, false
		}
		c := d[s.pos]
		switch {
		case c == '"':
			s.pos++
			s.canonLen += n
			return escaped, true
		case c < 0x20:
			s.fail("json.syntax", s.pos, "control character %#02x in a string", c)
			return false, false
		case c >= 0x80:
			r, size := utf8.DecodeRune(d[s.pos:])
			if r == utf8.RuneError && size <= 1 {
				s.fail("json.utf8", s.pos, "invalid UTF-8")
				return false, false
			}
			s.pos += size
			n += size
		default: // backslash
			escaped = true
			if s.pos+1 >= len(d) {
				s.fail("json.syntax", s.pos, "unterminated escape")
				return false, false
			}
			switch d[s.pos+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				n += 2
				s.pos += 2
			case '/':
				n++
				s.pos += 2
				s.nonCanon = true
			case 'u':
				r, ok := jsonraw.Hex4(d, s.pos+2)
				if !ok {
					s.fail("json.syntax", s.pos, "invalid \\u escape")
					return false, false
				}
				adv := 6
				if r >= 0xD800 && r < 0xDC00 {
					lo, ok := rune(0), false
					if s.pos+11 < len(d) && d[s.pos+6] == '\\' && d[s.pos+7] == 'u' {
						lo, ok = jsonraw.Hex4(d, s.pos+8)
					}
					if !ok || lo < 0xDC00 || lo >= 0xE000 {
						s.fail("json.utf8", s.pos, "unpaired UTF-16 surrogate in a \\u escape")
						return false, false
					}
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					adv = 12
				} else if r >= 0xDC00 && r < 0xE000 {
					s.fail("json.utf8", s.pos, "unpaired UTF-16 surrogate in a \\u escape")
					return false, false
				}
				n += canonRuneLen(r)
				if !canonicalUEscape(r, d[s.pos+2:s.pos+6]) {
					s.nonCanon = true
				}
				s.pos += adv
			default:
				s.fail("json.syntax", s.pos, "invalid escape \\%c", d[s.pos+1])
				return false, false
			}
		}
	}
}

// canonRuneLen is how many bytes canonical JSON spends on r inside a string.
func canonRuneLen(r rune) int {
	switch {
	case r == '"' || r == '\\' || r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20:
		return 6 // \u00XX
	default:
		return utf8.RuneLen(r)
	}
}

// canonicalUEscape reports whether canonical JSON writes r as this very
// \u escape: only control characters without a short escape, in
// lower-case hex.
func canonicalUEscape(r rune, hex []byte) bool {
	if canonRuneLen(r) != 6 {
		return false
	}
	for _, c := range hex {
		if c >= 'A' && c <= 'F' {
			return false
		}
	}
	return true
}

// number scans a JSON number. In strict mode only integers within
// ±(2^53-1) are accepted; a fraction or an exponent is a float, which
// room versions 6 and later do not allow in events (the reference server
// parses such a number as a float and refuses the event, even when its
// value is integral).
func (s *scanner) number() bool {
	d := s.data
	start := s.pos
	i := s.pos
	neg := false
	if d[i] == '-' {
		neg = true
		i++
	}
	if i >= len(d) || d[i] < '0' || d[i] > '9' {
		s.fail("json.syntax", start, "invalid number")
		return false
	}
	intStart := i
	if d[i] == '0' {
		i++
	} else {
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	intEnd := i
	float := false
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.fail("json.syntax", start, "invalid number")
			return false
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		float = true
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.fail("json.syntax", start, "invalid number")
			return false
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		float = true
	}
	s.pos = i
	zero := intEnd-intStart == 1 && d[intStart] == '0'
	if s.strict {
		if float {
			s.fail("json.float", start, "%s is not an integer; room versions 6 and later allow integers only", d[start:i])
			return false
		}
		if !intInRange(d[intStart:intEnd]) {
			s.fail("json.number", start, "%s is outside the canonical integer range ±(2^53-1)", d[start:i])
			return false
		}
		if neg && zero {
			s.canonLen++ // -0 is written 0
			s.nonCanon = true
		} else {
			s.canonLen += i - start
		}
		return true
	}
	if float || neg && zero {
		s.inexact = true
	}
	s.canonLen += i - start
	return true
}

// intInRange reports whether the decimal digits (no sign, no leading
// zeros) are at most 2^53-1.
func intInRange(digits []byte) bool {
	const maxDigits = "9007199254740991"
	if len(digits) != len(maxDigits) {
		return len(digits) < len(maxDigits)
	}
	return string(digits) <= maxDigits
}
