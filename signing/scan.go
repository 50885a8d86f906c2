package signing

import (
	"unicode/utf8"

	"github.com/mxkit/mxkit/internal/jsonraw"
)

// The functions here read canonical JSON, as canonicaljson writes it: no
// whitespace, valid, keys unique and sorted, with jsonraw. They never
// index out of range on other input; they just give meaningless answers.

// member is one member of a JSON object.
type member struct {
	key   []byte // the key as written, without the quotes (escapes kept)
	esc   bool   // key holds an escape
	value []byte // the value as written
	start int    // offset of the key's opening quote in the object
	end   int    // offset just after the value
}

// members calls fn for each member of the canonical JSON object obj until
// fn returns false.
func members(obj []byte, fn func(m member) bool) {
	it := jsonraw.Members(obj)
	for it.Next() {
		if !fn(member{key: it.Key, esc: it.KeyEscaped, value: it.Value, start: it.Start, end: it.End}) {
			return
		}
	}
}

// keyIs reports whether the key is s.
func (m *member) keyIs(s string) bool { return jsonraw.Equal(m.key, m.esc, s) }

// compareKey compares the key with s by code point, the order of
// canonical JSON.
func (m *member) compareKey(s string) int { return jsonraw.Compare(m.key, m.esc, s) }

// keyText returns the text of the key (escapes resolved).
func (m *member) keyText() string {
	if !m.esc {
		return string(m.key)
	}
	if u, ok := jsonraw.Unescape(make([]byte, 0, len(m.key)), m.key); ok {
		return string(u)
	}
	return string(m.key)
}

// stringValue returns the text of a JSON string value, or ok=false when
// the value is not a string. Without escapes it is a subslice of v.
func stringValue(v []byte) ([]byte, bool) {
	s, esc, ok := jsonraw.String(v)
	if !ok || !esc {
		return s, ok
	}
	if u, ok := jsonraw.Unescape(make([]byte, 0, len(s)), s); ok {
		return u, true
	}
	return s, true
}

// validName reports whether an entity name or key ID given by the caller
// can be written into canonical JSON.
func validName(s string) bool {
	return s != "" && utf8.ValidString(s)
}
