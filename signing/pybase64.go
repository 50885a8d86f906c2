package signing

import (
	"errors"
	"fmt"
)

// The base64 of signatures and keys in other servers' JSON is decoded the
// way the reference server decodes it, not by the strict decoder of
// package base64: a signature that the reference server accepts and this
// package refused would split a room just as an ed25519 difference would.
//
// The reference server decodes with unpaddedbase64.decode_base64 (2.1):
// it appends as many "=" as the length asks (3 - (len+3) % 4), then calls
// Python's base64.b64decode with altchars "-_" and without validation,
// which is binascii.a2b_base64 in non-strict mode after mapping "-" to "+"
// and "_" to "/". So:
//
//   - both alphabets are accepted, even mixed in one string;
//   - padding may be present or absent, and the unused low bits of the
//     last character are ignored;
//   - characters outside both alphabets (spaces, line breaks, "!" ...) are
//     skipped;
//   - a non-ASCII character fails (Python cannot encode the string as
//     ASCII);
//   - a "=" that completes a group of four ends the data. What Python does
//     with alphabet characters after that point changed between versions
//     (up to 3.13 they are ignored; later versions go on decoding them),
//     so the reference server's answer depends on its Python: such input
//     is refused here, as ambiguous, rather than guessed;
//   - at the end, one data character too many ("number of data characters
//     cannot be 1 more than a multiple of 4") or a group left open
//     ("Incorrect padding") fails.

// errAmbiguousBase64 is the failure of input on which Python versions
// disagree.
var errAmbiguousBase64 = errors.New("base64 data after the padding that ends it (Python versions decode this differently)")

// pyBase64Value maps a byte to its 6-bit value in the standard or URL-safe
// alphabet, or 0xff.
var pyBase64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

// decodePythonBase64 appends the bytes that the reference server decodes
// from s to dst.
func decodePythonBase64(dst, s []byte) ([]byte, error) {
	for i, c := range s {
		if c >= 0x80 {
			return dst, fmt.Errorf("non-ASCII byte at offset %d", i)
		}
	}
	n := len(s)
	total := n + 3 - (n+3)%4 // with the padding decode_base64 appends
	quad, pads := 0, 0
	var left byte
	closed := false
	for i := 0; i < total; i++ {
		c := byte('=')
		if i < n {
			c = s[i]
		}
		if closed {
			if pyBase64Value[c] != 0xff {
				return dst, fmt.Errorf("%w, at offset %d", errAmbiguousBase64, i)
			}
			continue
		}
		if c == '=' {
			if quad >= 2 {
				pads++
				if quad+pads >= 4 {
					closed = true
				}
			}
			continue
		}
		v := pyBase64Value[c]
		if v == 0xff {
			continue // skipped, as Python's non-strict decoder does
		}
		pads = 0
		switch quad {
		case 0:
			left, quad = v, 1
		case 1:
			dst = append(dst, left<<2|v>>4)
			left, quad = v&0x0f, 2
		case 2:
			dst = append(dst, left<<4|v>>2)
			left, quad = v&0x03, 3
		default:
			dst = append(dst, left<<6|v)
			left, quad = 0, 0
		}
	}
	if !closed && quad == 1 {
		return dst, errors.New("the number of base64 characters is one more than a multiple of 4")
	}
	if !closed && quad != 0 {
		return dst, errors.New("incorrect padding")
	}
	return dst, nil
}
