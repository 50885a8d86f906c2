package event

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
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

	fields    []field
	fieldsArr [24]field

	// keys is a stack of the keys of the objects being scanned, for the
	// duplicate check of objects whose keys are not in sorted order.
	keys    []keySpan
	keysArr [64]keySpan

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
// top-level members in s.fields.
func (s *scanner) scanEvent(data []byte, strict bool) bool {
	s.data = data
	s.strict = strict
	s.fields = s.fieldsArr[:0]
	s.keys = s.keysArr[:0]
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

// value scans one value and reports its kind.
func (s *scanner) value(depth int) (kind, bool) {
	if s.pos >= len(s.data) {
		s.fail("json.syntax", s.pos, "unexpected end of input")
		return 0, false
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return kindObject, s.object(depth+1, false)
	case c == '[':
		return kindArray, s.array(depth + 1)
	case c == '"':
		_, ok := s.str()
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
	base := len(s.keys)
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
			c := s.compareKeys(s.keys[len(s.keys)-1], k)
			if c == 0 {
				s.fail("json.duplicate_key", keyStart, "duplicate key %s", s.data[keyStart:s.pos])
				return false
			}
			if c > 0 {
				sorted = false
			}
		}
		s.keys = append(s.keys, k)
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
			if kd == kindString {
				f.escaped = bytes.IndexByte(s.data[valStart:s.pos], '\\') >= 0
			}
			s.fields = append(s.fields, f)
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
		if k, dup := s.findDuplicate(s.keys[base:]); dup {
			s.fail("json.duplicate_key", int(k.start)-1, "duplicate key \"%s\"", s.data[k.start:k.end])
			return false
		}
	}
	s.keys = s.keys[:base]
	return true
}

// findDuplicate checks keys (of one object, not in sorted order) for two
// that are equal after decoding. It sorts the slice in place, which is
// fine: the entries are popped after the object.
func (s *scanner) findDuplicate(keys []keySpan) (keySpan, bool) {
	slices.SortFunc(keys, s.compareKeys)
	for i := 1; i < len(keys); i++ {
		if s.compareKeys(keys[i-1], keys[i]) == 0 {
			return keys[i], true
		}
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

func (s *scanner) array(depth int) bool {
	if depth > maxNesting {
		s.fail("json.depth", s.pos, "nested more than %d levels", maxNesting)
		return false
	}
	s.pos++ // '['
	s.canonLen += 2
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return true
	}
	for {
		s.skipWS()
		if _, ok := s.value(depth); !ok {
			return false
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			s.fail("json.syntax", s.pos, "unexpected end of input in an array")
			return false
		}
		if s.data[s.pos] == ',' {
			s.pos++
			s.canonLen++
			continue
		}
		if s.data[s.pos] == ']' {
			s.pos++
			return true
		}
		s.fail("json.syntax", s.pos, "expected ',' or ']' in an array")
		return false
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
		// The common case: printable ASCII with nothing to look at.
		i := s.pos
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
				r, ok := hex4(d, s.pos+2)
				if !ok {
					s.fail("json.syntax", s.pos, "invalid \\u escape")
					return false, false
				}
				adv := 6
				if r >= 0xD800 && r < 0xDC00 {
					lo, ok := rune(0), false
					if s.pos+11 < len(d) && d[s.pos+6] == '\\' && d[s.pos+7] == 'u' {
						lo, ok = hex4(d, s.pos+8)
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

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
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

// appendUnescaped decodes the body of a JSON string (without quotes) that
// has already been validated by str.
func appendUnescaped(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			j := i + 1
			for j < len(b) && b[j] != '\\' {
				j++
			}
			dst = append(dst, b[i:j]...)
			i = j
			continue
		}
		switch b[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(b, i+2)
			if r >= 0xD800 && r < 0xDC00 && i+12 <= len(b) {
				lo, _ := hex4(b, i+8)
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, b[i+1])
		}
		i += 2
	}
	return dst
}
