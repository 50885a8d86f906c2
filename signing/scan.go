package signing

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// The functions here read canonical JSON, as canonicaljson writes it: no
// whitespace, valid, keys unique and sorted. That makes a reader of a few
// lines enough. They never index out of range on other input; they just
// give meaningless answers.

// member is one member of a JSON object.
type member struct {
	key   []byte // the key as written, without the quotes (escapes kept)
	value []byte // the value as written
	start int    // offset of the key's opening quote in the object
	end   int    // offset just after the value
}

// members calls fn for each member of the canonical JSON object obj until
// fn returns false.
func members(obj []byte, fn func(m member) bool) {
	if len(obj) < 2 || obj[0] != '{' {
		return
	}
	i := 1
	for i < len(obj) && obj[i] == '"' {
		start := i
		kend := skipString(obj, i)
		if kend >= len(obj) || obj[kend] != ':' {
			return
		}
		vend := skipValue(obj, kend+1)
		m := member{key: obj[start+1 : kend-1], value: obj[kend+1 : vend], start: start, end: vend}
		if !fn(m) {
			return
		}
		i = vend
		if i < len(obj) && obj[i] == ',' {
			i++
		}
	}
}

// skipString returns the offset just after the string starting at b[i].
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the offset just after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		return j
	}
}

// unquote returns the text of a JSON string's inside (escapes resolved).
// Canonical JSON uses only escapes that Go's string syntax shares.
func unquote(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	s, err := strconv.Unquote(`"` + string(raw) + `"`)
	if err != nil {
		return string(raw)
	}
	return s
}

// keyIs reports whether the key (as written) is s.
func keyIs(raw []byte, s string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == s
	}
	return unquote(raw) == s
}

// compareKey compares the key (as written) with s by code point, the
// order of canonical JSON.
func compareKey(raw []byte, s string) int {
	if bytes.IndexByte(raw, '\\') < 0 {
		return bytes.Compare(raw, []byte(s))
	}
	return bytes.Compare([]byte(unquote(raw)), []byte(s))
}

// stringValue returns the text of a JSON string value, or ok=false when
// the value is not a string. Without escapes it is a subslice of v.
func stringValue(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, true
	}
	return []byte(unquote(s)), true
}

// appendString appends s as a canonical JSON string. s must be valid
// UTF-8.
func appendString(dst []byte, s string) []byte {
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

// validName reports whether an entity name or key ID given by the caller
// can be written into canonical JSON.
func validName(s string) bool {
	return s != "" && utf8.ValidString(s)
}
