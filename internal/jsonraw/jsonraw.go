// Package jsonraw reads JSON in place: it finds where values begin and
// end, walks the members of an object and the elements of an array as raw
// spans of the input, and reads, compares and unescapes strings. It is
// what the event, signing, redact and eventauth packages use to pick a few
// fields out of JSON that a validator (canonicaljson, or the event
// package's scanner) has accepted or is about to judge, without decoding
// the whole document.
//
// It is not a validator. The grammar it follows is JSON's (RFC 8259, and
// the canonical JSON of the Matrix specification, content/appendices.md,
// "Canonical JSON", which is a subset of it), but it checks only what it
// must to find the end of a value: on malformed input its answers are
// meaningless, yet it never panics, never reads out of bounds and never
// loops without end, and where it cannot go on it says so (ok=false). So
// a caller that may meet unvalidated bytes can use it safely and read
// "ok=false" as "absent".
//
// Nothing here allocates, except Unquote, which returns a Go string, and
// Unescape and AppendString, which append to a slice the caller gives.
package jsonraw

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// IsSpace reports whether c is JSON whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the offset of the first byte at or after b[i] that is
// not JSON whitespace (len(b) if there is none).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

const (
	ones        = 0x0101010101010101
	highs       = 0x8080808080808080
	quotes      = '"' * ones
	backslashes = '\\' * ones
)

// zeroBytes has the high bit set in the lowest byte of x that is zero (and
// perhaps in higher bytes too, never in lower ones).
func zeroBytes(x uint64) uint64 { return (x - ones) &^ x & highs }

// StringEnd returns the offset just after the string whose opening quote
// is at b[i], and whether the string holds a backslash escape. ok is false
// when the string is not terminated. It does not check what the string
// holds (control characters, escapes, UTF-8).
//
// It looks at eight bytes at a time for a quote or a backslash: strings in
// events are mostly short, and a call to bytes.IndexByte per string costs
// more than it saves.
func StringEnd(b []byte, i int) (end int, escaped, ok bool) {
	j := i + 1
	for {
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			if m := zeroBytes(x^quotes) | zeroBytes(x^backslashes); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(b) && b[j] != '"' && b[j] != '\\' {
			j++
		}
		if j >= len(b) {
			return len(b), false, false
		}
		if b[j] == '"' {
			return j + 1, escaped, true
		}
		escaped = true
		j += 2 // the backslash and the byte it escapes, perhaps a quote
	}
}

// structural marks the bytes that matter when skipping over an object or
// array.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// endsScalar marks the bytes that end a number or literal.
var endsScalar = [256]bool{
	',': true, ':': true, '}': true, ']': true, '{': true, '[': true, '"': true,
	' ': true, '\t': true, '\n': true, '\r': true,
}

// EndsScalar reports whether c ends a number or literal: a delimiter,
// whitespace, or the start of another token.
func EndsScalar(c byte) bool { return endsScalar[c] }

// ValueEnd returns the offset just after the value that starts at b[i]
// (no whitespace before it), and how deeply objects and arrays nest in it:
// 0 for a string, number or literal, 1 for a flat object or array.
//
// Brackets are counted, not matched, and a number or literal is whatever
// runs up to the next delimiter: the value is found, not checked.
//
// ok is false when no value can be found. Then end is where reading
// failed: the opening quote of a string that is not terminated, or else i
// (nothing at i, a byte that cannot start a value, or an object or array
// that is not closed).
func ValueEnd(b []byte, i int) (end, depth int, ok bool) {
	if i >= len(b) {
		return i, 0, false
	}
	switch b[i] {
	case '"':
		end, _, ok := StringEnd(b, i)
		if !ok {
			return i, 0, false
		}
		return end, 0, true
	case '{', '[':
		d := 0
		for j := i; j < len(b); {
			c := b[j]
			if !structural[c] {
				j++
				continue
			}
			switch c {
			case '"':
				e, _, ok := StringEnd(b, j)
				if !ok {
					return j, 0, false
				}
				j = e
				continue
			case '{', '[':
				d++
				if d > depth {
					depth = d
				}
			default:
				d--
				if d == 0 {
					return j + 1, depth, true
				}
			}
			j++
		}
		return i, 0, false
	}
	j := i
	for j < len(b) && !endsScalar[b[j]] {
		j++
	}
	if j == i {
		return i, 0, false
	}
	return j, 0, true
}

// Object walks the members of a JSON object. Start it with Members, then
// call Next until it returns false:
//
//	it := jsonraw.Members(obj)
//	for it.Next() {
//		// it.Key, it.Value ...
//	}
//	if it.Malformed() { ... }
type Object struct {
	// Key is the current member's key as written, without its quotes
	// (escapes are not resolved; see KeyEscaped).
	Key []byte
	// KeyEscaped is true when Key holds a backslash escape.
	KeyEscaped bool
	// Value is the current member's value as written.
	Value []byte
	// Start is the offset in the object of the key's opening quote,
	// ValueStart that of the value, End the offset just after the value.
	Start, ValueStart, End int

	b     []byte
	i     int
	state uint8
}

const (
	objFirst = iota // before the first member
	objMore         // after a member
	objDone         // the closing brace was read
	objBad          // malformed
)

// Members starts walking the object obj, which may have whitespace
// around it. If obj does not start with '{', the walk yields nothing and
// Malformed reports true.
func Members(obj []byte) Object {
	i := SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return Object{state: objBad}
	}
	return Object{b: obj, i: i + 1}
}

// Next moves to the next member and reports whether there is one. It
// returns false at the closing brace, and where the object is malformed
// (see Malformed).
func (o *Object) Next() bool {
	b := o.b
	i := SkipSpace(b, o.i)
	switch o.state {
	case objFirst:
		if i < len(b) && b[i] == '}' {
			o.state, o.i = objDone, i+1
			return false
		}
	case objMore:
		if i < len(b) && b[i] == '}' {
			o.state, o.i = objDone, i+1
			return false
		}
		if i >= len(b) || b[i] != ',' {
			o.state = objBad
			return false
		}
		i = SkipSpace(b, i+1)
	default:
		return false
	}
	if i >= len(b) || b[i] != '"' {
		o.state = objBad
		return false
	}
	kend, esc, ok := StringEnd(b, i)
	if !ok {
		o.state = objBad
		return false
	}
	c := SkipSpace(b, kend)
	if c >= len(b) || b[c] != ':' {
		o.state = objBad
		return false
	}
	vs := SkipSpace(b, c+1)
	ve, _, ok := ValueEnd(b, vs)
	if !ok {
		o.state = objBad
		return false
	}
	// Slices of o.b assigned to o itself: escape analysis lets o.b stay
	// where the caller has it (b[...] here would make it leak).
	o.Key = o.b[i+1 : kend-1]
	o.Value = o.b[vs:ve]
	o.KeyEscaped = esc
	o.Start, o.ValueStart, o.End = i, vs, ve
	o.i, o.state = ve, objMore
	return true
}

// Malformed reports whether the walk stopped at something that is not
// JSON rather than at the closing brace (or has not reached it yet).
func (o *Object) Malformed() bool { return o.state == objBad }

// Rest returns the offset just after the closing brace, once Next has
// returned false on a well-formed object.
func (o *Object) Rest() int { return o.i }

// Array walks the elements of a JSON array: start it with Elements, then
// call Next until it returns false.
type Array struct {
	// Elem is the current element as written; Start and End are its
	// offsets in the array.
	Elem       []byte
	Start, End int

	b     []byte
	i     int
	state uint8
}

// Elements starts walking the array arr, which may have whitespace around
// it. If arr does not start with '[', the walk yields nothing and Malformed
// reports true.
func Elements(arr []byte) Array {
	i := SkipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return Array{state: objBad}
	}
	return Array{b: arr, i: i + 1}
}

// Next moves to the next element and reports whether there is one.
func (a *Array) Next() bool {
	b := a.b
	i := SkipSpace(b, a.i)
	switch a.state {
	case objFirst:
		if i < len(b) && b[i] == ']' {
			a.state, a.i = objDone, i+1
			return false
		}
	case objMore:
		if i < len(b) && b[i] == ']' {
			a.state, a.i = objDone, i+1
			return false
		}
		if i >= len(b) || b[i] != ',' {
			a.state = objBad
			return false
		}
		i = SkipSpace(b, i+1)
	default:
		return false
	}
	e, _, ok := ValueEnd(b, i)
	if !ok {
		a.state = objBad
		return false
	}
	a.Elem = a.b[i:e] // a.b, not b: see Object.Next
	a.Start, a.End = i, e
	a.i, a.state = e, objMore
	return true
}

// Malformed reports whether the walk stopped at something that is not
// JSON rather than at the closing bracket.
func (a *Array) Malformed() bool { return a.state == objBad }

// Field returns the value of the first member of obj whose key is name.
// On JSON a validator accepts there is only one (the Matrix specification
// and canonicaljson refuse duplicate keys); a caller that must read
// unvalidated input as encoding/json does, where the last duplicate wins,
// walks Members itself.
func Field(obj []byte, name string) ([]byte, bool) {
	it := Members(obj)
	for it.Next() {
		if KeyIs(&it, name) {
			return it.Value, true
		}
	}
	return nil, false
}

// KeyIs reports whether the current key of o is name.
func KeyIs(o *Object, name string) bool {
	return Equal(o.Key, o.KeyEscaped, name)
}

// String returns the inside of the JSON string v (between its quotes,
// escapes as written) and whether it holds escapes; ok is false when v is
// not a string.
func String(v []byte) (inner []byte, escaped, ok bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false, false
	}
	inner = v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' {
			return inner, true, true
		}
	}
	return inner, false, true
}

// Unquote returns the text of the JSON string v, escapes resolved; ok is
// false when v is not a string or holds an invalid escape.
func Unquote(v []byte) (string, bool) {
	inner, esc, ok := String(v)
	if !ok {
		return "", false
	}
	if !esc {
		return string(inner), true
	}
	u, ok := Unescape(make([]byte, 0, len(inner)), inner)
	if !ok {
		return "", false
	}
	return string(u), true
}

// StringIs reports whether v is a JSON string whose text is s.
func StringIs(v []byte, s string) bool {
	inner, esc, ok := String(v)
	if !ok {
		return false
	}
	return Equal(inner, esc, s)
}

// Unescape appends the text of the inside of a JSON string s (without its
// quotes) to dst, escapes resolved. A "\u" escape of a lone UTF-16
// surrogate becomes U+FFFD, as encoding/json decodes it (a validator
// refuses it). ok is false at an invalid escape; then dst holds part of
// the text.
func Unescape(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		var buf [utf8.UTFMax]byte
		n, next, ok := unescapeOne(s, i, &buf)
		if !ok {
			return dst, false
		}
		dst = append(dst, buf[:n]...)
		i = next
	}
	return dst, true
}

// unescapeOne decodes the escape at s[i] == '\\' into buf and returns how
// many bytes it wrote and the offset after the escape.
func unescapeOne(s []byte, i int, buf *[utf8.UTFMax]byte) (n, next int, ok bool) {
	if i+1 >= len(s) {
		return 0, i, false
	}
	var c byte
	switch s[i+1] {
	case '"', '\\', '/':
		c = s[i+1]
	case 'b':
		c = '\b'
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'u':
		r, ok := Hex4(s, i+2)
		if !ok {
			return 0, i, false
		}
		next = i + 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(0), false
			if next+1 < len(s) && s[next] == '\\' && s[next+1] == 'u' {
				r2, ok = Hex4(s, next+2)
			}
			if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
				return utf8.EncodeRune(buf[:], d), next + 6, true
			}
			r = utf8.RuneError
		}
		return utf8.EncodeRune(buf[:], r), next, true
	default:
		return 0, i, false
	}
	buf[0] = c
	return 1, i + 2, true
}

// Hex4 reads the four hexadecimal digits of a "\u" escape at s[i:i+4].
func Hex4(s []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
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

// Compare compares the text of the inside of a JSON string s (escapes
// resolved when escaped is true) with t, byte by byte, which for UTF-8 is
// the order of code points, the order of keys in canonical JSON. It
// returns -1, 0 or +1. From an invalid escape on, s compares as written.
// It does not allocate.
func Compare(s []byte, escaped bool, t string) int {
	if !escaped {
		return compareBytes(s, t)
	}
	c, _ := compareText(s, t)
	return c
}

// Equal reports whether the inside of a JSON string s (escapes resolved
// when escaped is true) is t. An invalid escape is never equal. It does
// not allocate.
func Equal(s []byte, escaped bool, t string) bool {
	if !escaped {
		return string(s) == t
	}
	c, ok := compareText(s, t)
	return ok && c == 0
}

// compareText is Compare on an escaped s; ok is false when s holds an
// invalid escape.
func compareText(s []byte, t string) (c int, ok bool) {
	var buf [utf8.UTFMax]byte
	ok = true
	k := 0 // offset in t
	for i := 0; i < len(s); {
		var chunk []byte
		if s[i] != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			chunk, i = s[i:j], j
		} else if n, next, good := unescapeOne(s, i, &buf); good {
			chunk, i = buf[:n], next
		} else {
			chunk, i, ok = s[i:], len(s), false
		}
		rest := t[k:]
		if len(chunk) > len(rest) {
			if c := compareBytes(chunk[:len(rest)], rest); c != 0 {
				return c, ok
			}
			return 1, ok
		}
		if c := compareBytes(chunk, rest[:len(chunk)]); c != 0 {
			return c, ok
		}
		k += len(chunk)
	}
	if k < len(t) {
		return -1, ok
	}
	return 0, ok
}

func compareBytes(a []byte, b string) int {
	switch s := string(a); {
	case s < b:
		return -1
	case s > b:
		return 1
	}
	return 0
}

// AppendString appends s as a canonical JSON string (content/appendices.md,
// "Canonical JSON": the short escapes where JSON has them, "\u00XX" for
// other control characters, everything else as it is). Bytes of s that
// are not UTF-8 are written as they are too: a validator refuses the
// result, so a caller checks s first or lets the validator say.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c >= 0x20:
			dst = append(dst, c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	return append(dst, '"')
}
