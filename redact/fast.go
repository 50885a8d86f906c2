package redact

import (
	"bytes"
	"encoding/binary"

	"github.com/mxkit/mxkit/canonicaljson"
)

// appendValue writes the kept value raw[s:e] as canonical JSON.
//
// Most of what an event keeps (IDs, hashes, signatures, small integers) is
// already canonical: ASCII strings without escapes, integers of at most 15
// digits, objects whose keys are already in order. Such a value is copied
// by copyCanonical, which checks it as it goes and gives up at the first
// thing outside that subset (an escape, a non-ASCII byte, a fraction, keys
// out of order or equal, deep nesting); the value is then encoded by
// canonicaljson, which judges it in full. Both ways give the same bytes
// for the values the subset holds, in either mode.
//
// The value's field name, path.name, is only made for an error.
func (w *walker) appendValue(out []byte, s, e int, path, name string) ([]byte, error) {
	v := w.raw[s:e]
	n := len(out)
	if o, end, ok := copyCanonical(out, v, 0, 0); ok && end == len(v) {
		return o, nil
	}
	o, err := canonicaljson.Append(out[:n], v, w.mode)
	if err != nil {
		field := path
		if name != "" {
			field = path + "." + name
		}
		return out[:n], wrapAt(err, s, field)
	}
	return o, nil
}

// maxCopyDepth bounds the recursion of copyCanonical; deeper values go to
// canonicaljson, which does not recurse.
const maxCopyDepth = 16

// copyCanonical appends the value at v[i] to out if it lies in the subset
// described at appendValue, without whitespace, and returns the offset
// after it. ok=false means "not in the subset", not "invalid".
func copyCanonical(out, v []byte, i, depth int) (_ []byte, end int, ok bool) {
	if i >= len(v) {
		return out, 0, false
	}
	switch c := v[i]; {
	case c == '"':
		end, ok := plainStringEnd(v, i)
		if !ok {
			return out, 0, false
		}
		return append(out, v[i:end]...), end, true
	case c == '{':
		if depth >= maxCopyDepth {
			return out, 0, false
		}
		out = append(out, '{')
		i = skipWS(v, i+1)
		if i < len(v) && v[i] == '}' {
			return append(out, '}'), i + 1, true
		}
		var prev []byte
		for first := true; ; first = false {
			if i >= len(v) || v[i] != '"' {
				return out, 0, false
			}
			ke, ok := plainStringEnd(v, i)
			if !ok {
				return out, 0, false
			}
			key := v[i+1 : ke-1]
			if !first && bytes.Compare(prev, key) >= 0 {
				return out, 0, false
			}
			prev = key
			out = append(out, v[i:ke]...)
			i = skipWS(v, ke)
			if i >= len(v) || v[i] != ':' {
				return out, 0, false
			}
			out = append(out, ':')
			if out, i, ok = copyCanonical(out, v, skipWS(v, i+1), depth+1); !ok {
				return out, 0, false
			}
			i = skipWS(v, i)
			if i >= len(v) {
				return out, 0, false
			}
			switch v[i] {
			case ',':
				out = append(out, ',')
				i = skipWS(v, i+1)
			case '}':
				return append(out, '}'), i + 1, true
			default:
				return out, 0, false
			}
		}
	case c == '[':
		if depth >= maxCopyDepth {
			return out, 0, false
		}
		out = append(out, '[')
		i = skipWS(v, i+1)
		if i < len(v) && v[i] == ']' {
			return append(out, ']'), i + 1, true
		}
		for {
			if out, i, ok = copyCanonical(out, v, i, depth+1); !ok {
				return out, 0, false
			}
			i = skipWS(v, i)
			if i >= len(v) {
				return out, 0, false
			}
			switch v[i] {
			case ',':
				out = append(out, ',')
				i = skipWS(v, i+1)
			case ']':
				return append(out, ']'), i + 1, true
			default:
				return out, 0, false
			}
		}
	case c == 't':
		return literal(out, v, i, "true")
	case c == 'f':
		return literal(out, v, i, "false")
	case c == 'n':
		return literal(out, v, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		end := plainIntEnd(v, i)
		if end < 0 {
			return out, 0, false
		}
		return append(out, v[i:end]...), end, true
	}
	return out, 0, false
}

func literal(out, v []byte, i int, word string) ([]byte, int, bool) {
	end := i + len(word)
	if end > len(v) || string(v[i:end]) != word || end < len(v) && !endsScalar[v[end]] {
		return out, 0, false
	}
	return append(out, word...), end, true
}

// plainIntEnd returns the end of the integer at v[i] when it is written
// canonically and is within [-(2^53)+1, 2^53-1] for sure: "0", or an
// optional minus sign and 1 to 15 digits without a leading zero. Else -1.
func plainIntEnd(v []byte, i int) int {
	j := i
	if v[j] == '-' {
		j++
	}
	start := j
	for j < len(v) && v[j] >= '0' && v[j] <= '9' {
		j++
	}
	digits := j - start
	switch {
	case digits == 0 || digits > 15:
		return -1
	case v[start] == '0' && (digits > 1 || start > i): // leading zero, or -0
		return -1
	case j < len(v) && !endsScalar[v[j]]: // a fraction or an exponent
		return -1
	}
	return j
}

// plainStringEnd returns the end of the string at v[i] (a quote) when it
// holds only printable ASCII without escapes, which is its canonical form.
func plainStringEnd(v []byte, i int) (int, bool) {
	j := i + 1
	for j+8 <= len(v) {
		x := binary.LittleEndian.Uint64(v[j:])
		// A byte below 0x20 or from 0x80 on, a quote or a backslash.
		if ((x-0x20*ones)|x)&highs|zeroBytes(x^quotes)|zeroBytes(x^backslashes) != 0 {
			break
		}
		j += 8
	}
	for ; j < len(v); j++ {
		switch c := v[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20 || c >= 0x80 || c == '\\':
			return 0, false
		}
	}
	return 0, false
}
