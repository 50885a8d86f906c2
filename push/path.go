package push

import (
	"strings"

	"github.com/mxkit/mxkit/internal/jsonraw"
)

// SplitPath splits a dot-separated property path into its property names
// (appendices, "Dot-separated property paths"): a dot ends a name unless
// it is escaped as \., and \\ is one backslash; any other backslash is
// kept as it is, with the character after it.
func SplitPath(path string) []string {
	var parts []string
	for {
		name, rest, more := cutName(path)
		parts = append(parts, string(unescapeName(make([]byte, 0, len(name)), name)))
		if !more {
			return parts
		}
		path = rest
	}
}

// lookupKey returns the raw JSON value at the dot-separated path key,
// without splitting it into a slice first (the hot path of conditions).
func lookupKey(obj []byte, key string) ([]byte, bool) {
	v := obj
	var buf [64]byte
	for {
		name, rest, more := cutName(key)
		v = trimSpace(v)
		if len(v) == 0 || v[0] != '{' {
			return nil, false
		}
		var ok bool
		if strings.IndexByte(name, '\\') < 0 {
			v, ok = jsonraw.Field(v, name)
		} else {
			v, ok = jsonraw.Field(v, string(unescapeName(buf[:0], name)))
		}
		if !ok {
			return nil, false
		}
		if !more {
			return trimSpace(v), true
		}
		key = rest
	}
}

// cutName cuts the first property name off a path, at the first dot that
// is not escaped; the name keeps its escapes.
func cutName(path string) (name, rest string, more bool) {
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\':
			if i+1 < len(path) && (path[i+1] == '.' || path[i+1] == '\\') {
				i++
			}
		case '.':
			return path[:i], path[i+1:], true
		}
	}
	return path, "", false
}

// unescapeName appends name to dst with \. and \\ resolved.
func unescapeName(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '\\' && i+1 < len(name) && (name[i+1] == '.' || name[i+1] == '\\') {
			i++
			c = name[i]
		}
		dst = append(dst, c)
	}
	return dst
}

// lookup returns the raw JSON value at path in the object obj, false when
// a name on the way is absent or a value on the way is not an object.
func lookup(obj []byte, path []string) ([]byte, bool) {
	v := obj
	for _, name := range path {
		v = trimSpace(v)
		if len(v) == 0 || v[0] != '{' {
			return nil, false
		}
		var ok bool
		if v, ok = jsonraw.Field(v, name); !ok {
			return nil, false
		}
	}
	return trimSpace(v), true
}

func trimSpace(b []byte) []byte {
	i := jsonraw.SkipSpace(b, 0)
	j := len(b)
	for j > i && jsonraw.IsSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}
