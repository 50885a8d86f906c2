package redact

import "github.com/mxkit/mxkit/internal/jsonraw"

// The scanner below only finds where values end (with jsonraw) and says
// where and why it could not. It is not a validator: when validating,
// every value it skips is also given to canonicaljson, which judges it. It
// must never read out of bounds or loop without end, whatever the input.

// skipString returns the offset just after the string whose opening quote
// is at raw[i], and whether it holds a backslash escape.
func skipString(raw []byte, i int, path string) (end int, esc bool, err error) {
	end, esc, ok := jsonraw.StringEnd(raw, i)
	if !ok {
		return 0, false, syntaxError(i, "unterminated string", path)
	}
	return end, esc, nil
}

// skipValue returns the offset just after the value that starts at raw[i],
// and how deeply objects and arrays nest in it (0 for a scalar, 1 for a
// flat object or array).
func skipValue(raw []byte, i int, path string) (end, depth int, err error) {
	end, depth, ok := jsonraw.ValueEnd(raw, i)
	if ok {
		return end, depth, nil
	}
	// end is where jsonraw stopped: the quote of a string left open, or i.
	switch {
	case i >= len(raw):
		return 0, 0, syntaxError(i, "unexpected end of input, expected a value", path)
	case raw[end] == '"':
		return 0, 0, syntaxError(end, "unterminated string", path)
	case raw[i] == '{' || raw[i] == '[':
		return 0, 0, syntaxError(i, "unexpected end of input in an object or array", path)
	}
	return 0, 0, syntaxError(i, "expected a value", path)
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
