package eventauth

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON reader for the few content fields the rules look at. The
// event package has already checked that the bytes are JSON; the reader is
// still written so that any input is safe: malformed JSON reads as "absent"
// or "not the expected kind", never as a panic. It works on the raw bytes
// and allocates only to unescape strings that carry backslash escapes.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the closing quote of the string
// that starts at b[i] == '"', and whether it holds escapes.
func stringEnd(b []byte, i int) (end int, escaped, ok bool) {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, false, false
		}
		k := i + j
		// Count the backslashes before the quote: an odd number escapes it.
		n := 0
		for p := k - 1; p >= i && b[p] == '\\'; p-- {
			n++
		}
		if !escaped && bytes.IndexByte(b[i:k], '\\') >= 0 {
			escaped = true
		}
		if n%2 == 0 {
			return k + 1, escaped, true
		}
		i = k + 1
	}
}

// valueEnd returns the index just past the JSON value starting at b[i]
// (after any leading space).
func valueEnd(b []byte, i int) (int, bool) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := stringEnd(b, i)
		return end, ok
	case c == '{' || c == '[':
		// A stack of the open brackets, so that a closer must match.
		var small [64]byte
		stack := small[:0]
		for i < len(b) {
			switch b[i] {
			case '"':
				end, _, ok := stringEnd(b, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{':
				stack = append(stack, '}')
			case '[':
				stack = append(stack, ']')
			case '}', ']':
				if len(stack) == 0 || stack[len(stack)-1] != b[i] {
					return 0, false
				}
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	default:
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || isSpace(c) {
				break
			}
			j++
		}
		if j == i {
			return 0, false
		}
		return j, true
	}
}

// objIter walks the members of a JSON object.
type objIter struct {
	b    []byte
	i    int
	done bool
	bad  bool
}

// newObjIter starts walking obj; ok is false when obj is not an object.
func newObjIter(obj []byte) (objIter, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return objIter{done: true, bad: true}, false
	}
	return objIter{b: obj, i: i + 1}, true
}

// next returns the next member: its raw key (without quotes), whether the
// key holds escapes, and its raw value.
func (it *objIter) next() (key []byte, escaped bool, val []byte, ok bool) {
	if it.done {
		return nil, false, nil, false
	}
	b := it.b
	i := skipSpace(b, it.i)
	if i < len(b) && b[i] == '}' {
		it.done = true
		return nil, false, nil, false
	}
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		it.done, it.bad = true, true
		return nil, false, nil, false
	}
	kend, esc, okk := stringEnd(b, i)
	if !okk {
		it.done, it.bad = true, true
		return nil, false, nil, false
	}
	key = b[i+1 : kend-1]
	i = skipSpace(b, kend)
	if i >= len(b) || b[i] != ':' {
		it.done, it.bad = true, true
		return nil, false, nil, false
	}
	vstart := skipSpace(b, i+1)
	vend, okv := valueEnd(b, vstart)
	if !okv {
		it.done, it.bad = true, true
		return nil, false, nil, false
	}
	it.i = vend
	return key, esc, b[vstart:vend], true
}

// keyIs reports whether a raw key equals name, unescaping if needed.
func keyIs(key []byte, escaped bool, name string) bool {
	if !escaped {
		return string(key) == name
	}
	s, ok := unescape(key)
	return ok && s == name
}

// keyString returns the key as a Go string.
func keyString(key []byte, escaped bool) (string, bool) {
	if !escaped {
		return string(key), true
	}
	return unescape(key)
}

// field returns the raw value of the member name of the object obj. When
// the key occurs more than once the last one wins, as most JSON decoders
// (and the reference server) read it.
func field(obj []byte, name string) ([]byte, bool) {
	it, ok := newObjIter(obj)
	if !ok {
		return nil, false
	}
	var found []byte
	var has bool
	for {
		k, esc, v, ok := it.next()
		if !ok {
			break
		}
		if keyIs(k, esc, name) {
			found, has = v, true
		}
	}
	return found, has
}

// path follows nested object members.
func path(obj []byte, names ...string) ([]byte, bool) {
	v := obj
	for _, n := range names {
		var ok bool
		if v, ok = field(v, n); !ok {
			return nil, false
		}
	}
	return v, true
}

func isString(v []byte) bool { return len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' }
func isObject(v []byte) bool { return len(v) >= 2 && v[0] == '{' }
func isArray(v []byte) bool  { return len(v) >= 2 && v[0] == '[' }
func isNull(v []byte) bool   { return string(v) == "null" }

// stringValue returns the Go string of a raw JSON string value.
func stringValue(v []byte) (string, bool) {
	if !isString(v) {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	return unescape(inner)
}

// stringIs reports whether the raw value v is a JSON string equal to s,
// without allocating in the common unescaped case.
func stringIs(v []byte, s string) bool {
	if !isString(v) {
		return false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == s
	}
	u, ok := unescape(inner)
	return ok && u == s
}

// arrayEach calls fn on each element of a JSON array; it returns false if
// v is not a well-formed array or fn returns false.
func arrayEach(v []byte, fn func(elem []byte) bool) bool {
	if !isArray(v) {
		return false
	}
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == ']' {
		return true
	}
	for i < len(v) {
		end, ok := valueEnd(v, i)
		if !ok {
			return false
		}
		start := skipSpace(v, i)
		if !fn(v[start:end]) {
			return false
		}
		i = skipSpace(v, end)
		if i >= len(v) {
			return false
		}
		if v[i] == ']' {
			return true
		}
		if v[i] != ',' {
			return false
		}
		i++
	}
	return false
}

// unescape decodes the inside of a JSON string. Lone surrogates become
// U+FFFD, as encoding/json does.
func unescape(s []byte) (string, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		switch s[i+1] {
		case '"', '\\', '/':
			out = append(out, s[i+1])
			i += 2
		case 'b':
			out = append(out, '\b')
			i += 2
		case 'f':
			out = append(out, '\f')
			i += 2
		case 'n':
			out = append(out, '\n')
			i += 2
		case 'r':
			out = append(out, '\r')
			i += 2
		case 't':
			out = append(out, '\t')
			i += 2
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok2 := hex4(s, i+2); ok2 && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						out = utf8.AppendRune(out, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return string(out), true
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
