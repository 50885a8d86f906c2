package redact

import "github.com/mxkit/mxkit/internal/jsonraw"

// Values and strings are skipped with jsonraw, which only finds where they
// end; the functions here say where and why it could not. The scan is not
// a validator: when validating, every value it skips is also given to
// canonicaljson, which judges it. It must never read out of bounds or loop
// without end, whatever the input. (The hot callers call jsonraw
// themselves and come here only for the error.)

// skipValue returns the offset just after the value that starts at raw[i],
// and how deeply objects and arrays nest in it (0 for a scalar, 1 for a
// flat object or array).
func skipValue(raw []byte, i int, path string) (end, depth int, err error) {
	end, depth, ok := jsonraw.ValueEnd(raw, i)
	if !ok {
		return 0, 0, valueError(raw, i, end, path)
	}
	return end, depth, nil
}

// valueError is the error of a value at raw[i] that jsonraw.ValueEnd
// could not find the end of; at is where it stopped: the quote of a string
// left open, or i.
func valueError(raw []byte, i, at int, path string) error {
	switch {
	case i >= len(raw):
		return syntaxError(i, "unexpected end of input, expected a value", path)
	case raw[at] == '"':
		return syntaxError(at, "unterminated string", path)
	case raw[i] == '{' || raw[i] == '[':
		return syntaxError(i, "unexpected end of input in an object or array", path)
	}
	return syntaxError(i, "expected a value", path)
}

// The eight-bytes-at-a-time string scan of plainStringEnd (fast.go).
const (
	ones        = 0x0101010101010101
	highs       = 0x8080808080808080
	quotes      = '"' * ones
	backslashes = '\\' * ones
)

// zeroBytes has the high bit set in the lowest byte of x that is zero (and
// perhaps in higher bytes too, never in lower ones).
func zeroBytes(x uint64) uint64 { return (x - ones) &^ x & highs }
