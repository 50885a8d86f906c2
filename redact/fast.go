package redact

import (
	"bytes"
	"encoding/binary"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/internal/jsonraw"
)

// appendValue writes the kept value raw[s:e] as canonical JSON.
//
// Most of what an event keeps (IDs, hashes, signatures, small integers) is
// already canonical: ASCII strings without escapes, integers of at most 15
// digits, objects whose keys are already in order. Such a value is checked
// and then copied whole by copyCanonical, which gives up at the first
// thing outside that subset (an escape, a non-ASCII byte, a fraction, keys
// out of order or equal, deep nesting); the value is then encoded by
// canonicaljson, which judges it in full. Both ways give the same bytes
// for the values the subset holds, in either mode: every value of the
// subset is valid and canonical in Strict and in Lenient alike.
//
// The value's field name, path.name, is only made for an error.
func (w *walker) appendValue(out []byte, s, e int, path, name string) ([]byte, error) {
	if w.canonical {
		return append(out, w.raw[s:e]...), nil
	}
	if o, end, ok := copyCanonical(out, w.raw[s:e], 0, 0); ok && end == e-s {
		return o, nil
	}
	return w.encode(out, s, e, path, name)
}

// encode writes raw[s:e] through canonicaljson.
func (w *walker) encode(out []byte, s, e int, path, name string) ([]byte, error) {
	n := len(out)
	o, err := canonicaljson.Append(out[:n], w.raw[s:e], w.mode)
	if err != nil {
		field := path
		if name != "" {
			field = joinPath(path, []byte(name))
		}
		return out[:n], wrapAt(err, s, field)
	}
	return o, nil
}

// copyValue writes the kept value at raw[s] as canonical JSON and returns
// the offset after it, like appendValue for a value whose end is not yet
// known.
//
// base is the depth of the object holding the value (1 for the event), for
// the check of nesting; 0 skips it.
func (w *walker) copyValue(out []byte, s, base int, path, name string) ([]byte, int, error) {
	n := len(out)
	if w.canonical {
		// Canonical input: found, not checked (its depth was checked
		// when it was made canonical).
		if end, _, ok := jsonraw.ValueEnd(w.raw, s); ok {
			return append(out, w.raw[s:end]...), end, nil
		}
	}
	if o, end, ok := copyCanonical(out, w.raw, s, 0); ok {
		return o, end, nil
	}
	e, depth, err := skipValue(w.raw, s, path)
	if err != nil {
		return out[:n], 0, fieldOf(err, path, []byte(name))
	}
	if base > 0 && base+depth > canonicaljson.MaxDepth {
		return out[:n], 0, tooDeep(s, joinPath(path, []byte(name)))
	}
	o, err := w.encode(out[:n], s, e, path, name)
	return o, e, err
}

// maxCopyDepth bounds the recursion of plainEnd; deeper values go to
// canonicaljson, which does not recurse.
const maxCopyDepth = 16

// copyCanonical appends the value at v[i] to out if it lies in the subset
// described at appendValue, and returns the offset after it. ok=false
// means "not in the subset", not "invalid". The value is checked first
// and then copied in one piece, or without its whitespace if it has some.
func copyCanonical(out, v []byte, i, depth int) (_ []byte, end int, ok bool) {
	end, ws, ok := plainEnd(v, i, depth)
	if !ok {
		return out, 0, false
	}
	if !ws {
		return append(out, v[i:end]...), end, true
	}
	return appendStripped(out, v[i:end]), end, true
}

// plainEnd returns the end of the value at v[i] if it is in the subset,
// and whether it holds whitespace between tokens.
func plainEnd(v []byte, i, depth int) (end int, ws, ok bool) {
	if i >= len(v) {
		return 0, false, false
	}
	switch c := v[i]; {
	case c == '"':
		end, ok := plainStringEnd(v, i)
		return end, false, ok
	case c == '{':
		if depth >= maxCopyDepth {
			return 0, false, false
		}
		j := jsonraw.SkipSpace(v, i+1)
		ws = j != i+1
		if j < len(v) && v[j] == '}' {
			return j + 1, ws, true
		}
		var prev []byte
		for first := true; ; first = false {
			if j >= len(v) || v[j] != '"' {
				return 0, false, false
			}
			ke, ok := plainStringEnd(v, j)
			if !ok {
				return 0, false, false
			}
			key := v[j+1 : ke-1]
			if !first && bytes.Compare(prev, key) >= 0 {
				return 0, false, false
			}
			prev = key
			j = jsonraw.SkipSpace(v, ke)
			ws = ws || j != ke
			if j >= len(v) || v[j] != ':' {
				return 0, false, false
			}
			vs := jsonraw.SkipSpace(v, j+1)
			ws = ws || vs != j+1
			ve, vws, ok := plainEnd(v, vs, depth+1)
			if !ok {
				return 0, false, false
			}
			j = jsonraw.SkipSpace(v, ve)
			ws = ws || vws || j != ve
			if j >= len(v) {
				return 0, false, false
			}
			switch v[j] {
			case ',':
				k := jsonraw.SkipSpace(v, j+1)
				ws = ws || k != j+1
				j = k
			case '}':
				return j + 1, ws, true
			default:
				return 0, false, false
			}
		}
	case c == '[':
		if depth >= maxCopyDepth {
			return 0, false, false
		}
		j := jsonraw.SkipSpace(v, i+1)
		ws = j != i+1
		if j < len(v) && v[j] == ']' {
			return j + 1, ws, true
		}
		for {
			ve, vws, ok := plainEnd(v, j, depth+1)
			if !ok {
				return 0, false, false
			}
			j = jsonraw.SkipSpace(v, ve)
			ws = ws || vws || j != ve
			if j >= len(v) {
				return 0, false, false
			}
			switch v[j] {
			case ',':
				k := jsonraw.SkipSpace(v, j+1)
				ws = ws || k != j+1
				j = k
			case ']':
				return j + 1, ws, true
			default:
				return 0, false, false
			}
		}
	case c == 't':
		return literalEnd(v, i, "true")
	case c == 'f':
		return literalEnd(v, i, "false")
	case c == 'n':
		return literalEnd(v, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		end := plainIntEnd(v, i)
		return end, false, end >= 0
	}
	return 0, false, false
}

// appendStripped appends v, a value in the subset, without the whitespace
// between its tokens. Its strings hold no escapes, so a string ends at the
// next quote.
func appendStripped(out, v []byte) []byte {
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && !stripStop[v[j]] {
			j++
		}
		out = append(out, v[i:j]...)
		if j == len(v) {
			break
		}
		if v[j] != '"' {
			i = j + 1
			continue
		}
		n := bytes.IndexByte(v[j+1:], '"') + 2
		out = append(out, v[j:j+n]...)
		i = j + n
	}
	return out
}

var stripStop = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '"': true}

func literalEnd(v []byte, i int, word string) (int, bool, bool) {
	end := i + len(word)
	if end > len(v) || string(v[i:end]) != word || end < len(v) && !jsonraw.EndsScalar(v[end]) {
		return 0, false, false
	}
	return end, false, true
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
	case j < len(v) && !jsonraw.EndsScalar(v[j]): // a fraction or an exponent
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
