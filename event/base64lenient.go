package event

import "errors"

// decodeLenientBase64 decodes base64 the way the reference server decodes
// the base64 in events (unpaddedbase64.decode_base64, then Python's
// non-validating base64 decoder with "-_" as alternative characters), so
// that a content hash it accepts is accepted here too:
//
//   - it pads the input with "=" to a multiple of four, counting every
//     byte of the input;
//   - both alphabets are accepted, mixed too;
//   - characters outside them are skipped;
//   - a non-ASCII byte fails;
//   - "=" that completes a group of four ends the data; alphabet
//     characters after it are refused, since Python versions differ on
//     them (the signing package decides the same for signatures);
//   - a last group of one character, or a group left open, fails.
func decodeLenientBase64(dst, s []byte) ([]byte, error) {
	n := len(s)
	total := n + 3 - (n+3)%4
	var acc uint32
	quad, pads := 0, 0
	closed := false
	for i := 0; i < total; i++ {
		c := byte('=')
		if i < n {
			c = s[i]
		}
		if c >= 0x80 {
			return dst, errors.New("non-ASCII byte in base64")
		}
		v := lenientValue(c)
		if closed {
			if v >= 0 {
				return dst, errors.New("base64 data after the padding that ends it")
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
		if v < 0 {
			continue
		}
		pads = 0
		acc = acc<<6 | uint32(v)
		quad++
		switch quad {
		case 2:
			dst = append(dst, byte(acc>>4))
			acc &= 0x0f
		case 3:
			dst = append(dst, byte(acc>>2))
			acc &= 0x03
		case 4:
			dst = append(dst, byte(acc))
			acc, quad = 0, 0
		}
	}
	if !closed && quad == 1 {
		return dst, errors.New("base64 of one character more than a multiple of four")
	}
	if !closed && quad != 0 {
		return dst, errors.New("incorrect base64 padding")
	}
	return dst, nil
}

func lenientValue(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+' || c == '-':
		return 62
	case c == '/' || c == '_':
		return 63
	}
	return -1
}
