package redact

import (
	"encoding/binary"
	"math/bits"
)

// The scanner below only finds where values end. It is not a validator:
// when validating, every value it skips is also given to canonicaljson,
// which judges it. It must never read out of bounds or loop without end,
// whatever the input.

// structural marks the bytes that matter when skipping over an object or
// array.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// endsScalar marks the bytes that end a number or literal.
var endsScalar = [256]bool{
	',': true, ':': true, '}': true, ']': true, '{': true, '[': true, '"': true,
	' ': true, '\t': true, '\n': true, '\r': true,
}

func skipWS(raw []byte, i int) int {
	for i < len(raw) {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the offset just after the string whose opening quote
// is at raw[i], and whether it holds a backslash escape. It looks at eight
// bytes at a time for a quote or a backslash: event strings are mostly
// short, and a call to bytes.IndexByte per string costs more than it saves.
func skipString(raw []byte, i int, path string) (end int, esc bool, err error) {
	j := i + 1
	for {
		for j+8 <= len(raw) {
			x := binary.LittleEndian.Uint64(raw[j:])
			if m := zeroBytes(x^quotes) | zeroBytes(x^backslashes); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(raw) && raw[j] != '"' && raw[j] != '\\' {
			j++
		}
		if j >= len(raw) {
			return 0, false, syntaxError(i, "unterminated string", path)
		}
		if raw[j] == '"' {
			return j + 1, esc, nil
		}
		esc = true
		j += 2 // the backslash and the byte it escapes, perhaps a quote
	}
}

const (
	ones        = 0x0101010101010101
	highs       = 0x8080808080808080
	quotes      = '"' * ones
	backslashes = '\\' * ones
)

// zeroBytes has the high bit set in the lowest byte of x that is zero (and
// perhaps in higher bytes too, never in lower ones).
func zeroBytes(x uint64) uint64 { return (x - ones) &^ x & highs }

// skipValue returns the offset just after the value that starts at raw[i],
// and how deeply objects and arrays nest in it (0 for a scalar, 1 for a
// flat object or array).
func skipValue(raw []byte, i int, path string) (end, depth int, err error) {
	if i >= len(raw) {
		return 0, 0, syntaxError(i, "unexpected end of input, expected a value", path)
	}
	switch raw[i] {
	case '"':
		end, _, err = skipString(raw, i, path)
		return end, 0, err
	case '{', '[':
		d := 0
		for j := i; j < len(raw); {
			c := raw[j]
			if !structural[c] {
				j++
				continue
			}
			switch c {
			case '"':
				if j, _, err = skipString(raw, j, path); err != nil {
					return 0, 0, err
				}
				continue
			case '{', '[':
				d++
				if d > depth {
					depth = d
				}
			default:
				d--
				if d == 0 {
					return j + 1, depth, nil
				}
			}
			j++
		}
		return 0, 0, syntaxError(i, "unexpected end of input in an object or array", path)
	}
	j := i
	for j < len(raw) && !endsScalar[raw[j]] {
		j++
	}
	if j == i {
		return 0, 0, syntaxError(i, "expected a value", path)
	}
	return j, 0, nil
}
