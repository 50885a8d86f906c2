// Package canonicaljson encodes JSON as the Matrix specification's
// Canonical JSON, the byte form that is hashed and signed (specification,
// "Canonical JSON", with its "Grammar" and "Examples",
// content/appendices.md; how each room version applies it: "Room
// Versions", content/rooms/v6.md "Canonical JSON").
//
// Canonical JSON is the shortest UTF-8 encoding of a value: no
// insignificant whitespace, object keys sorted by Unicode code point of
// the unescaped key (which is the byte order of its UTF-8 encoding, not
// UTF-16 order), and only the escapes the grammar allows: \" \\ \b \f \n
// \r \t and \u00xx in lower-case hex for the other C0 control characters.
// Everything else, including DEL, U+2028, U+2029, astral characters and
// "/", is written as raw UTF-8.
//
// The package works on raw bytes in one pass, without building
// map[string]any: [Canonicalize] and [Append] re-encode a document,
// [AppendWithout] does the same while leaving out some top-level keys (for
// content hashes and signatures), [Valid] checks a document, [IsCanonical]
// tells whether a document is already byte-exact canonical, and [Marshal]
// encodes a Go value.
//
// # Numbers and modes
//
// Room versions 6 and later require numbers to be integers in
// [-(2^53)+1, 2^53-1]: that is [Strict], the zero Mode. A number is
// judged by its value, as the specification's example ({"a":-0,"b":1e10}
// gives {"a":0,"b":10000000000}) requires: 1e10, 1.0e1 and 10.0 are the
// integers 10000000000, 10 and 10, -0 is 0; 1.5, 1e-1 and integers out of
// the range are errors ([ErrNumber]). The reference server is stricter on
// input here: Python reads any number with a fraction or exponent as a
// float, and Synapse refuses floats in these room versions ("Bad JSON
// value: float"), 1e10 and 1.0 included. The specification's example is
// followed instead; the output is the same for what both accept.
//
// Room versions 1 to 5 do not enforce those rules and servers must accept
// what their events hold: that is [Lenient]. It writes numbers exactly as
// the reference server does (Synapse, through Python's json module and the
// canonicaljson package): an integer literal (no fraction, no exponent) is
// kept digit for digit whatever its size, with -0 written 0 (Python 3.11
// and later refuse literals of more than 4300 digits; this package does
// not); any other
// number is read as an IEEE 754 double and written as Python's repr of
// that double: the shortest digits that read back to it, in fixed
// notation with ".0" when integral if its decimal exponent is in [-4, 16)
// (1e10 → 10000000000.0, 1E-4 → 0.0001, -0.0 → -0.0), otherwise in
// scientific notation with a signed exponent of at least two digits (1e16
// → 1e+16, 0.00001 → 1e-05, 1.5e300 → 1.5e+300). A number too large for a
// double is an error, as Python refuses to encode infinity.
//
// # Errors
//
// Input is refused with an [*Error] that says what was wrong and at which
// byte offset. Its Unwrap gives one of [ErrSyntax] (not JSON, trailing
// data, a raw control character in a string), [ErrDuplicateKey] (two
// members whose keys are equal after unescaping: "a" and "\u0061" are the
// same key), [ErrInvalidUTF8] (bytes that are not UTF-8, and surrogate
// escapes that do not form a pair: neither stands for a character that
// UTF-8 can carry), [ErrNumber] and [ErrTooDeep] (nesting deeper than
// [MaxDepth]).
//
// encoding/json's Valid accepts some documents refused here: those with
// duplicate keys, invalid UTF-8, lone surrogate escapes, numbers outside
// the mode's rules, or nesting deeper than MaxDepth. Everything Valid
// refuses is refused here too.
package canonicaljson

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Mode selects the number rules.
type Mode uint8

const (
	// Strict applies the number rules of room versions 6 and later:
	// integers only, in [-(2^53)+1, 2^53-1]. An integral value written
	// with an exponent, a fraction of zeros or as -0 is written as the
	// plain integer; anything else is an error wrapping ErrNumber. Strict
	// is the zero Mode, so that forgetting to choose is safe.
	Strict Mode = iota
	// Lenient keeps numbers as room versions 1 to 5 allow them, written as
	// the reference server writes them (see the package documentation).
	Lenient
)

// String returns "strict" or "lenient".
func (m Mode) String() string {
	switch m {
	case Strict:
		return "strict"
	case Lenient:
		return "lenient"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// MaxDepth is the deepest nesting of objects and arrays accepted: a
// top-level object is at depth 1, an array inside it at depth 2.
//
// Events are at most 65536 bytes and real ones nest a handful of levels,
// so the limit costs no valid traffic. It is set well below the point
// where the reference server's JSON decoder (Python's json module, which
// recurses and fails at about 1000 levels) gives up, so that a document
// accepted here is one the reference server can also read. The scanner
// itself does not recurse: the limit bounds memory, not stack.
const MaxDepth = 512

// Canonicalize returns the canonical encoding of the JSON document raw (any
// JSON value), or an *Error if raw is not acceptable in mode.
func Canonicalize(raw []byte, mode Mode) ([]byte, error) {
	out, err := Append(make([]byte, 0, len(raw)), raw, mode)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Append appends the canonical encoding of the JSON document raw to dst and
// returns the extended buffer. On error dst is returned unextended (its
// spare capacity may have been written). Appending into a reused buffer
// does not allocate.
func Append(dst, raw []byte, mode Mode) ([]byte, error) {
	s := getState()
	out, err := s.run(dst, raw, mode, nil, false)
	putState(s)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendWithout canonicalizes raw, which must be a JSON object, leaving out
// the top-level members whose (unescaped) keys are in drop, and appends the
// result to dst. The dropped members are still checked: a document that
// is not acceptable as a whole is refused. This is what content hashes
// (without "unsigned", "signatures", "hashes") and signatures (without
// "signatures", "unsigned") are computed over, in one pass.
func AppendWithout(dst, raw []byte, mode Mode, drop ...string) ([]byte, error) {
	s := getState()
	out, err := s.run(dst, raw, mode, drop, true)
	putState(s)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// Valid checks raw by the same rules as Canonicalize, without returning
// the encoding. It returns nil or an *Error.
func Valid(raw []byte, mode Mode) error {
	s := getState()
	out, err := s.run(s.out[:0], raw, mode, nil, false)
	s.out = out[:0]
	putState(s)
	return err
}

// IsCanonical reports whether raw is acceptable in mode and already
// byte-exact canonical JSON.
func IsCanonical(raw []byte, mode Mode) bool {
	s := getState()
	out, err := s.run(s.out[:0], raw, mode, nil, false)
	ok := err == nil && string(out) == string(raw)
	s.out = out[:0]
	putState(s)
	return ok
}

// Marshal returns the canonical JSON encoding of v. v is first encoded by
// encoding/json (so struct tags, json.Marshaler and json.RawMessage work
// as usual), then canonicalized in mode: in Strict a float field holding a
// non-integral or out-of-range value is an error wrapping ErrNumber, as is
// an embedded json.RawMessage that breaks the rules.
func Marshal(v any, mode Mode) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonicalize(b, mode)
}

// Sentinel errors, wrapped by *Error.
var (
	// ErrSyntax: the input is not JSON (including trailing data after the
	// value and raw control characters in strings).
	ErrSyntax = errors.New("invalid JSON")
	// ErrDuplicateKey: an object has two members with the same key, once
	// escapes are decoded.
	ErrDuplicateKey = errors.New("duplicate object key")
	// ErrInvalidUTF8: a string holds bytes that are not UTF-8, or a
	// surrogate escape (\ud800-\udfff) that is not half of a pair.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrNumber: a number breaks the rules of the mode (a fraction or an
	// out-of-range integer in Strict, a value too large for a double in
	// Lenient).
	ErrNumber = errors.New("number not allowed")
	// ErrTooDeep: objects and arrays nest deeper than MaxDepth.
	ErrTooDeep = errors.New("nesting too deep")
)

// Error describes why a document was refused.
type Error struct {
	Offset int64  // byte offset in the input where the problem was found
	Err    error  // one of ErrSyntax, ErrDuplicateKey, ErrInvalidUTF8, ErrNumber, ErrTooDeep
	Msg    string // what was wrong, for people
}

// Error returns "canonicaljson: <Msg> at offset <Offset>".
func (e *Error) Error() string {
	return "canonicaljson: " + e.Msg + " at offset " + strconv.FormatInt(e.Offset, 10)
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func newError(off int, sentinel error, msg string) *Error {
	return &Error{Offset: int64(off), Err: sentinel, Msg: msg}
}
