package eventauth

import (
	"math"
	"math/big"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Level is a power level, compared exactly. Room versions 1-9 accept
// levels as strings of any length and versions 1-5 as JSON numbers of any
// size (content/rooms/fragments/v1-stringy-power-levels.md and
// v1-floaty-power-levels.md), and the reference server compares them as
// unbounded integers, so a Level holds an int64 for the values of that
// range (every level of room versions 10 and later, and nearly every level
// before) and an exact big integer for the others. The creators' level of
// room versions with privileged creators is infinite: above every finite
// level, however large.
//
// The zero Level is 0. Compare Levels with Cmp, not ==.
type Level struct {
	n int64    // the value; saturated at the int64 bounds when x is set
	x *big.Int // nil: n is exact; infMark: infinite; else the exact value, outside int64
}

// infMark marks the infinite level; it is never used as a number.
var infMark = new(big.Int)

// InfiniteLevel is the power level of a room's creators in room versions
// whose creators are privileged (v12).
var InfiniteLevel = Level{n: Infinite, x: infMark}

// LevelOf returns the Level n.
func LevelOf(n int64) Level { return Level{n: n} }

// levelBig returns the Level of an integer outside (or inside) the int64
// range; x is kept, not copied.
func levelBig(x *big.Int) Level {
	if x.IsInt64() {
		return Level{n: x.Int64()}
	}
	if x.Sign() < 0 {
		return Level{n: math.MinInt64, x: x}
	}
	return Level{n: math.MaxInt64, x: x}
}

// IsInfinite reports the creators' infinite level.
func (l Level) IsInfinite() bool { return l.x == infMark }

// Int64 returns the level as an int64: exact when it fits (see IsInt64),
// saturated at the int64 bounds otherwise, and Infinite for the infinite
// level.
func (l Level) Int64() int64 { return l.n }

// IsInt64 reports whether Int64 is the exact level (false for the infinite
// level and for integers outside the int64 range).
func (l Level) IsInt64() bool { return l.x == nil }

// Big returns the exact level as a new big.Int, or nil for the infinite
// level.
func (l Level) Big() *big.Int {
	switch l.x {
	case nil:
		return big.NewInt(l.n)
	case infMark:
		return nil
	}
	return new(big.Int).Set(l.x)
}

// Cmp compares l and o exactly: -1 when l < o, 0 when equal, +1 when l > o.
func (l Level) Cmp(o Level) int {
	if l.x == nil && o.x == nil {
		switch {
		case l.n < o.n:
			return -1
		case l.n > o.n:
			return 1
		}
		return 0
	}
	return l.cmpSlow(o)
}

// cmpSlow compares when either side is not an int64. A big value lies
// beyond the int64 range on the side of its sign, and the saturated n
// says which, so only two big values need big.Int.Cmp.
func (l Level) cmpSlow(o Level) int {
	li, oi := l.x == infMark, o.x == infMark
	switch {
	case li && oi:
		return 0
	case li:
		return 1
	case oi:
		return -1
	case l.x != nil && o.x != nil:
		return l.x.Cmp(o.x)
	case l.x != nil: // o is an int64
		if l.x.Sign() > 0 {
			return 1
		}
		return -1
	default: // l is an int64, o is big
		if o.x.Sign() > 0 {
			return -1
		}
		return 1
	}
}

// Less reports l < o.
func (l Level) Less(o Level) bool { return l.Cmp(o) < 0 }

// String returns the level in decimal, or "infinite (creator)".
func (l Level) String() string {
	switch l.x {
	case nil:
		return strconv.FormatInt(l.n, 10)
	case infMark:
		return "infinite (creator)"
	}
	return l.x.String()
}

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
func parseLevel(v []byte, r levelRules) (n Level, null, ok bool) {
	if len(v) == 0 {
		return Level{}, false, false
	}
	switch c := v[0]; {
	case c == 'n':
		if isNull(v) && r.strings {
			return Level{}, true, true
		}
		return Level{}, false, false
	case c == '"':
		if !r.strings {
			return Level{}, false, false
		}
		s, oks := stringValue(v)
		if !oks {
			return Level{}, false, false
		}
		n, ok = parseStringLevel(s)
		return n, false, ok
	case c == '-' || c >= '0' && c <= '9':
		n, ok = parseNumberLevel(v, r)
		return n, false, ok
	}
	return Level{}, false, false
}

// parseStringLevel parses the deprecated string form: optional leading and
// trailing whitespace, an optional sign, then one or more ASCII decimal
// digits (leading zeroes allowed), of any size.
//
// Whitespace is Unicode's White_Space: the ASCII tab, line feed, vertical
// tab, form feed, carriage return and space, and U+0085, U+00A0, U+1680,
// U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and U+3000. That is exactly
// what the reference server's integer conversion strips (Python's int(),
// which leaves out U+001C-U+001F although str.isspace counts them) and what
// ruma's trim strips. Digits are ASCII only and "_" separators are refused,
// as the specification's format (a base 10 integer like "100" or "000100")
// and ruma read it, where Python's int() would also take other scripts'
// decimal digits and "1_000".
func parseStringLevel(s string) (Level, bool) {
	i, j := 0, len(s)
	for i < j {
		c := s[i]
		if c < utf8.RuneSelf {
			if !isASCIISpace(c) {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += size
	}
	for j > i {
		c := s[j-1]
		if c < utf8.RuneSelf {
			if !isASCIISpace(c) {
				break
			}
			j--
			continue
		}
		r, size := utf8.DecodeLastRuneInString(s[i:j])
		if !unicode.IsSpace(r) {
			break
		}
		j -= size
	}
	s = s[i:j]
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return Level{}, false
	}
	return digits(s, neg)
}

// isASCIISpace is the ASCII part of Unicode's White_Space (U+001C-U+001F,
// the information separators, are not white space there).
func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// digits converts a run of ASCII decimal digits exactly; only a value
// beyond the int64 range allocates.
func digits[S ~string | ~[]byte](s S, neg bool) (Level, bool) {
	var u uint64
	over := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return Level{}, false
		}
		if !over {
			if u > (math.MaxUint64-9)/10 {
				over = true
			} else {
				u = u*10 + uint64(c-'0')
			}
		}
	}
	switch {
	case over:
	case neg && u <= 1<<63:
		return Level{n: -int64(u)}, true
	case !neg && u <= math.MaxInt64:
		return Level{n: int64(u)}, true
	}
	x, ok := new(big.Int).SetString(string(s), 10)
	if !ok {
		return Level{}, false
	}
	if neg {
		x.Neg(x)
	}
	return levelBig(x), true
}

// parseNumberLevel reads a JSON number. Integers are taken exactly, of any
// size (only room versions without strict JSON can carry one beyond the
// int64 range). A number with a fraction or exponent is read as a binary64
// value, as the reference server's JSON decoder does, and truncated toward
// zero exactly where floats are allowed; it is refused under strict
// canonical JSON.
func parseNumberLevel(v []byte, r levelRules) (Level, bool) {
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
			return Level{}, false
		}
		return digits(d, neg)
	}
	// Strict canonical JSON has integers only; the event package refuses
	// any other number in those room versions, and so do the rules.
	if !jsonNumber(v) || !r.floats {
		return Level{}, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		// Out of the binary64 range: the spec rejects the event.
		return Level{}, false
	}
	f = math.Trunc(f)
	if f > -(1<<63) && f < 1<<63 {
		return Level{n: int64(f)}, true
	}
	x, _ := new(big.Float).SetFloat64(f).Int(nil)
	return levelBig(x), true
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
