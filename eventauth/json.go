package eventauth

import (
	"bytes"

	"github.com/mxkit/mxkit/internal/jsonraw"
)

// The rules read a few content fields with jsonraw, in place. The event
// package has already checked that the bytes are JSON; the readers are
// still safe on any input: malformed JSON reads as "absent" or "not the
// expected kind", never as a panic. They allocate only to turn keys and
// strings into Go strings.

// objIter walks the members of a JSON object.
type objIter struct{ o jsonraw.Object }

// newObjIter starts walking obj; ok is false when obj is not an object.
func newObjIter(obj []byte) (objIter, bool) {
	o := jsonraw.Members(obj)
	return objIter{o}, !o.Malformed()
}

// next returns the next member: its raw key (without quotes), whether the
// key holds escapes, and its raw value.
func (it *objIter) next() (key []byte, escaped bool, val []byte, ok bool) {
	if !it.o.Next() {
		return nil, false, nil, false
	}
	return it.o.Key, it.o.KeyEscaped, it.o.Value, true
}

// malformed reports whether the walk stopped at something that is not
// JSON rather than at the closing brace.
func (it *objIter) malformed() bool { return it.o.Malformed() }

// keyString returns the key as a Go string.
func keyString(key []byte, escaped bool) (string, bool) {
	if !escaped {
		return string(key), true
	}
	return unescape(key)
}

// field returns the raw value of the member name of the object obj. When
// the key occurs more than once the last one wins, as most JSON decoders
// (and the reference server) read it. A malformed object has no members.
func field(obj []byte, name string) ([]byte, bool) {
	it := jsonraw.Members(obj)
	var found []byte
	var has bool
	for it.Next() {
		if jsonraw.KeyIs(&it, name) {
			found, has = it.Value, true
		}
	}
	if it.Malformed() {
		return nil, false
	}
	return found, has
}

// rareKey is a key the rules look for on most events that usually lacks
// it, with its quoted form for fieldRare.
type rareKey struct {
	name   string
	quoted []byte
}

func newRareKey(name string) rareKey { return rareKey{name, []byte(`"` + name + `"`)} }

var (
	keyFederate         = newRareKey("m.federate")
	keyAuthorisedVia    = newRareKey("join_authorised_via_users_server")
	keyThirdPartyInvite = newRareKey("third_party_invite")
)

// fieldRare is field for a key that is usually absent. An object without
// a backslash has no escaped key, so it can hold the key only where its
// quoted name occurs in the bytes; a memory search tells that faster than
// walking the members. Otherwise, or when the name occurs, it walks.
func fieldRare(obj []byte, k rareKey) ([]byte, bool) {
	if bytes.IndexByte(obj, '\\') < 0 && !bytes.Contains(obj, k.quoted) {
		return nil, false
	}
	return field(obj, k.name)
}

// pathRare is path whose first key is usually absent (see fieldRare).
func pathRare(obj []byte, first rareKey, names ...string) ([]byte, bool) {
	v, ok := fieldRare(obj, first)
	if !ok {
		return nil, false
	}
	return path(v, names...)
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
func stringValue(v []byte) (string, bool) { return jsonraw.Unquote(v) }

// stringIs reports whether the raw value v is a JSON string equal to s,
// without allocating.
func stringIs(v []byte, s string) bool { return jsonraw.StringIs(v, s) }

// arrayEach calls fn on each element of a JSON array; it returns false if
// v is not a well-formed array or fn returns false.
func arrayEach(v []byte, fn func(elem []byte) bool) bool {
	if !isArray(v) {
		return false
	}
	it := jsonraw.Elements(v)
	for it.Next() {
		if !fn(it.Elem) {
			return false
		}
	}
	return !it.Malformed()
}

// unescape decodes the inside of a JSON string. Lone surrogates become
// U+FFFD, as encoding/json does.
func unescape(s []byte) (string, bool) {
	out, ok := jsonraw.Unescape(make([]byte, 0, len(s)), s)
	if !ok {
		return "", false
	}
	return string(out), true
}
