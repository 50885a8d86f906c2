package base64

import "fmt"

// lenientValue maps a byte to its 6-bit value in the standard or URL-safe
// alphabet, or 0xff.
var lenientValue = func() (t [256]byte) {
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

// AppendDecodeLenient appends to dst the bytes that the reference
// homeserver decodes from src, and is separate from the strict decoders on
// purpose: use Std or URL for what this library reads as the spec writes
// it, and AppendDecodeLenient only where another server's base64 (an
// event's content hash, a signature, a server's public key) must be read
// as the reference server reads it. A signature that the reference server
// accepts and this library refused would split a room just as an ed25519
// difference would.
//
// The reference server decodes with unpaddedbase64.decode_base64 (2.1): it
// appends as many "=" as the length asks (3 - (len+3) % 4), then calls
// Python's base64.b64decode with altchars "-_" and without validation,
// which is binascii.a2b_base64 in non-strict mode after mapping "-" to "+"
// and "_" to "/". So:
//
//   - both alphabets are accepted, even mixed in one string;
//   - padding may be present or absent, and the unused low bits of the
//     last character are ignored;
//   - characters outside both alphabets (spaces, line breaks, "!" ...) are
//     skipped;
//   - a non-ASCII byte fails (Python cannot encode the string as ASCII);
//   - a "=" that completes a group of four ends the data. What Python does
//     with alphabet characters after that point changed between versions
//     (up to 3.13 they are ignored; later versions go on decoding them),
//     so the reference server's answer depends on its Python: such input
//     is refused here, as ambiguous, rather than guessed;
//   - at the end, one data character too many ("number of data characters
//     cannot be 1 more than a multiple of 4") or a group left open
//     ("Incorrect padding") fails.
//
// Errors are *Error and wrap ErrInvalid. On error dst may hold part of the
// output.
func AppendDecodeLenient(dst, src []byte) ([]byte, error) {
	for i, c := range src {
		if c >= 0x80 {
			return dst, &Error{Offset: i, Reason: "non-ASCII byte"}
		}
	}
	n := len(src)
	total := n + 3 - (n+3)%4 // with the padding decode_base64 appends
	quad, pads := 0, 0
	var left byte
	closed := false
	for i := 0; i < total; i++ {
		c := byte('=')
		if i < n {
			c = src[i]
		}
		if closed {
			if lenientValue[c] != 0xff {
				return dst, &Error{Offset: i, Reason: "data after the padding that ends it (Python versions decode this differently)"}
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
		v := lenientValue[c]
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
		return dst, &Error{Offset: n, Reason: "the number of base64 characters is one more than a multiple of 4"}
	}
	if !closed && quad != 0 {
		return dst, &Error{Offset: n, Reason: fmt.Sprintf("incorrect padding (a group of %d characters left open)", quad)}
	}
	return dst, nil
}
