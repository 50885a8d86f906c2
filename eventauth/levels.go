package eventauth

import (
	"math"
	"strconv"
)

// levelRules says which encodings of a power level value a room version
// accepts.
type levelRules struct {
	// strings: values may be JSON strings holding an integer, and a null
	// scalar reads as absent (room versions 1-9: "m.room.power_levels
	// events accept values as strings", content/rooms/fragments/
	// v1-stringy-power-levels.md). From v10 (IntegerPowerLevels) only JSON
	// integers are accepted.
	strings bool
	// floats: numbers with a fraction or exponent are truncated toward
	// zero (room versions 1-5, content/rooms/fragments/
	// v1-floaty-power-levels.md). The room versions have no field of their
	// own for this: it goes with the absence of strict canonical JSON,
	// which is what lets floats into events at all.
	floats bool
}

func rulesFor(strictJSON, integerOnly bool) levelRules {
	return levelRules{strings: !integerOnly, floats: !strictJSON}
}

// parseLevel reads one power level value. null reports a JSON null that
// the rules treat as absent; ok is false for a value that is not a power
// level in these rules.
func parseLevel(v []byte, r levelRules) (n int64, null, ok bool) {
	if len(v) == 0 {
		return 0, false, false
	}
	switch c := v[0]; {
	case c == 'n':
		if isNull(v) && r.strings {
			return 0, true, true
		}
		return 0, false, false
	case c == '"':
		if !r.strings {
			return 0, false, false
		}
		s, oks := stringValue(v)
		if !oks {
			return 0, false, false
		}
		n, ok = parseStringLevel(s)
		return n, false, ok
	case c == '-' || c >= '0' && c <= '9':
		n, ok = parseNumberLevel(v, r)
		return n, false, ok
	}
	return 0, false, false
}

// parseStringLevel parses the deprecated string form: optional leading and
// trailing whitespace, an optional sign, then one or more decimal digits
// (leading zeroes allowed). Values beyond the int64 range saturate.
func parseStringLevel(s string) (int64, bool) {
	i, j := 0, len(s)
	for i < j && isLevelSpace(s[i]) {
		i++
	}
	for j > i && isLevelSpace(s[j-1]) {
		j--
	}
	s = s[i:j]
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	return digits(s, neg)
}

func isLevelSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// digits converts a run of decimal digits, saturating at the int64 range.
func digits[S ~string | ~[]byte](s S, neg bool) (int64, bool) {
	var u uint64
	over := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if !over {
			if u > (math.MaxUint64-9)/10 {
				over = true
			} else {
				u = u*10 + uint64(c-'0')
			}
		}
	}
	if neg {
		if over || u > 1<<63 {
			return math.MinInt64, true
		}
		return -int64(u), true
	}
	if over || u > math.MaxInt64 {
		return math.MaxInt64, true
	}
	return int64(u), true
}

// parseNumberLevel reads a JSON number. Integers are taken as they are
// (saturating beyond int64, which only room versions without strict JSON
// can carry). A number with a fraction or exponent is truncated where
// floats are allowed and refused under strict canonical JSON.
func parseNumberLevel(v []byte, r levelRules) (int64, bool) {
	neg := v[0] == '-'
	d := v
	if neg {
		d = v[1:]
	}
	plain := len(d) > 0
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			plain = false
			break
		}
	}
	if plain {
		if len(d) > 1 && d[0] == '0' {
			return 0, false
		}
		return digits(d, neg)
	}
	// Strict canonical JSON has integers only; the event package refuses
	// any other number in those room versions, and so do the rules.
	if !jsonNumber(v) || !r.floats {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		// Out of the binary64 range: the spec rejects the event.
		return 0, false
	}
	f = math.Trunc(f)
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64, true
	case f <= math.MinInt64:
		return math.MinInt64, true
	}
	return int64(f), true
}

// jsonNumber checks the JSON number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(v []byte) bool {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	start := i
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == start || (v[start] == '0' && i-start > 1) {
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		s := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == s {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		s := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == s {
			return false
		}
	}
	return i == len(v)
}
