// Package base64 implements the unpadded Base64 encodings of the Matrix
// specification (appendices, "Unpadded Base64" and "URL-safe unpadded
// Base64"): RFC 4648 base64 with the standard or URL-safe alphabet and no
// "=" padding.
//
// Encoding never writes padding. Decoding accepts input with or without
// padding, as the appendix says implementations SHOULD, and rejects
// everything else with an error that names the offending byte: characters
// outside the alphabet (including whitespace and line breaks, which the
// standard library would skip), misplaced or excess padding, and lengths
// that no encoding can produce.
//
// One leniency is deliberate: the unused low bits of the last character
// need not be zero. The reference homeserver decodes with Python's base64
// module, which ignores those bits, so a signature whose encoding sets them
// verifies there; rejecting it here would make two servers disagree about
// the same event.
//
// AppendDecodeLenient is a separate decoder that reads base64 exactly as
// the reference homeserver does (both alphabets, characters outside them
// skipped, padding inferred). It is for another server's hashes,
// signatures and keys, where refusing what the reference server accepts
// would split a room; Std and URL stay strict.
package base64

import (
	stdbase64 "encoding/base64"
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every decoding error, for errors.Is.
var ErrInvalid = errors.New("base64: invalid input")

// Error describes where and why decoding failed.
type Error struct {
	Offset int    // byte offset in the input
	Reason string // what was wrong there
}

func (e *Error) Error() string {
	return fmt.Sprintf("base64: %s at offset %d", e.Reason, e.Offset)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// Encoding is one of the two unpadded alphabets. Use Std or URL.
type Encoding struct {
	raw  *stdbase64.Encoding
	name string
	// valid[c] is true when byte c belongs to the alphabet.
	valid [256]bool
}

func newEncoding(name, alphabet string) *Encoding {
	e := &Encoding{raw: stdbase64.NewEncoding(alphabet).WithPadding(stdbase64.NoPadding), name: name}
	for i := 0; i < len(alphabet); i++ {
		e.valid[alphabet[i]] = true
	}
	return e
}

var (
	// Std is unpadded Base64 with the standard alphabet (A-Z a-z 0-9 + /),
	// used for hashes, signatures, keys and room version 3 event IDs.
	Std = newEncoding("standard", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
	// URL is unpadded Base64 with the URL-safe alphabet (- and _ in place of
	// + and /), used for event IDs from room version 4 and room IDs from
	// room version 12.
	URL = newEncoding("URL-safe", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
)

// EncodedLen is the length of the unpadded encoding of n bytes.
func (e *Encoding) EncodedLen(n int) int { return e.raw.EncodedLen(n) }

// EncodeToString returns the unpadded encoding of src.
func (e *Encoding) EncodeToString(src []byte) string { return e.raw.EncodeToString(src) }

// AppendEncode appends the unpadded encoding of src to dst.
func (e *Encoding) AppendEncode(dst, src []byte) []byte { return e.raw.AppendEncode(dst, src) }

// DecodeString decodes s, which may be padded or unpadded.
func (e *Encoding) DecodeString(s string) ([]byte, error) {
	n, err := check(e, s)
	if err != nil {
		return nil, err
	}
	out := make([]byte, e.raw.DecodedLen(n))
	m, err := e.raw.Decode(out, []byte(s[:n]))
	if err != nil { // unreachable after check; kept so no input can panic
		return nil, &Error{Offset: 0, Reason: err.Error()}
	}
	return out[:m], nil
}

// AppendDecode appends the decoding of src, which may be padded or
// unpadded, to dst.
func (e *Encoding) AppendDecode(dst, src []byte) ([]byte, error) {
	n, err := check(e, src)
	if err != nil {
		return dst, err
	}
	return e.raw.AppendDecode(dst, src[:n])
}

// check validates s and returns the length of its data part (without
// padding). It is generic so that []byte input is checked in place: a
// string conversion would copy it to the heap, because the error path's
// fmt call makes it escape.
func check[T string | []byte](e *Encoding, s T) (int, error) {
	n := len(s)
	pad := 0
	for n > 0 && s[n-1] == '=' {
		n--
		pad++
	}
	for i := 0; i < n; i++ {
		if !e.valid[s[i]] {
			if s[i] == '=' {
				return 0, &Error{Offset: i, Reason: "padding before the end"}
			}
			return 0, &Error{Offset: i, Reason: fmt.Sprintf("byte %q is not in the %s alphabet", s[i], e.name)}
		}
	}
	switch n % 4 {
	case 1:
		return 0, &Error{Offset: n - 1, Reason: fmt.Sprintf("length %d cannot be produced by any encoding", n)}
	case 0:
		if pad != 0 {
			return 0, &Error{Offset: n, Reason: "padding after a complete group"}
		}
	default:
		// n%4 is 2 or 3: unpadded, or padded up to a multiple of 4.
		if pad != 0 && (n+pad)%4 != 0 {
			return 0, &Error{Offset: n, Reason: fmt.Sprintf("%d padding characters where %d are needed", pad, 4-n%4)}
		}
	}
	return n, nil
}

// EncodeToString encodes src with the standard alphabet, unpadded.
func EncodeToString(src []byte) string { return Std.EncodeToString(src) }

// DecodeString decodes padded or unpadded standard-alphabet input.
func DecodeString(s string) ([]byte, error) { return Std.DecodeString(s) }
