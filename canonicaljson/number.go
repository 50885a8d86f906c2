package canonicaljson

import (
	"math"
	"strconv"
	"unsafe"
)

// maxSafe is 2^53-1, the largest integer canonical JSON allows in Strict.
const maxSafe = 1<<53 - 1

// appendNumber writes the number token at raw[i] in the canonical form of
// mode and returns the offset after it.
func appendNumber(dst, raw []byte, i int, mode Mode) ([]byte, int, error) {
	start := i
	neg := raw[i] == '-'
	if neg {
		i++
	}
	// Integer part: 0 or [1-9][0-9]*.
	intStart := i
	switch {
	case i >= len(raw):
		return dst, i, newError(i, ErrSyntax, "unexpected end of input in number")
	case raw[i] == '0':
		i++
	case raw[i] >= '1' && raw[i] <= '9':
		i++
		for i < len(raw) && isDigit(raw[i]) {
			i++
		}
	default:
		return dst, i, newError(i, ErrSyntax, "invalid character "+quoteByte(raw[i])+" in number, expected a digit")
	}
	intEnd := i
	// Fraction: '.' [0-9]+.
	fracStart, fracEnd := i, i
	if i < len(raw) && raw[i] == '.' {
		i++
		fracStart = i
		for i < len(raw) && isDigit(raw[i]) {
			i++
		}
		if i == fracStart {
			return dst, i, newError(i, ErrSyntax, "number has no digits after the decimal point")
		}
		fracEnd = i
	}
	// Exponent: [eE] [+-]? [0-9]+, saturated: beyond a billion the value is
	// out of any range anyway.
	hasExp := false
	exp := 0
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		hasExp = true
		i++
		expNeg := false
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			expNeg = raw[i] == '-'
			i++
		}
		expStart := i
		for i < len(raw) && isDigit(raw[i]) {
			if exp < 1e9 {
				exp = exp*10 + int(raw[i]-'0')
			}
			i++
		}
		if i == expStart {
			return dst, i, newError(i, ErrSyntax, "number has no digits in its exponent")
		}
		if expNeg {
			exp = -exp
		}
	}
	lit := raw[start:i]

	if !hasExp && fracEnd == fracStart {
		// An integer literal.
		if intEnd-intStart == 1 && raw[intStart] == '0' {
			return append(dst, '0'), i, nil // 0 and -0
		}
		if mode == Lenient {
			return append(dst, lit...), i, nil
		}
		if n := intEnd - intStart; n > 16 || (n == 16 && parseDigits(raw[intStart:intEnd]) > maxSafe) {
			return dst, i, newError(start, ErrNumber, "integer "+clip(lit)+" is outside [-(2^53)+1, 2^53-1]")
		}
		return append(dst, lit...), i, nil
	}

	if mode == Lenient {
		// As Python reads a number with a fraction or exponent: a double.
		f, err := strconv.ParseFloat(unsafe.String(&lit[0], len(lit)), 64)
		if err != nil && math.IsInf(f, 0) {
			return dst, i, newError(start, ErrNumber, "number "+clip(lit)+" is too large for a double")
		}
		return appendPyFloat(dst, f), i, nil
	}

	// Strict: the value must be an integer in range, whatever its spelling.
	// Take the digits of the integer and fraction parts as one sequence d
	// with the decimal point after intLen digits, scaled by 10^exp.
	intLen := intEnd - intStart
	total := intLen + fracEnd - fracStart
	digit := func(k int) byte {
		if k < intLen {
			return raw[intStart+k]
		}
		return raw[fracStart+k-intLen]
	}
	lo, hi := 0, total-1
	for lo < total && digit(lo) == '0' {
		lo++
	}
	if lo == total {
		return append(dst, '0'), i, nil // zero, however written
	}
	for digit(hi) == '0' {
		hi--
	}
	// Digit k stands for 10^(intLen-1-k+exp).
	if intLen-1-hi+exp < 0 {
		return dst, i, newError(start, ErrNumber, "number "+clip(lit)+" is not an integer")
	}
	if intLen-lo+exp > 16 {
		return dst, i, newError(start, ErrNumber, "number "+clip(lit)+" is outside [-(2^53)+1, 2^53-1]")
	}
	var v uint64
	for k := lo; k <= hi; k++ {
		v = v*10 + uint64(digit(k)-'0')
	}
	for p := intLen - 1 - hi + exp; p > 0; p-- {
		v *= 10
	}
	if v > maxSafe {
		return dst, i, newError(start, ErrNumber, "number "+clip(lit)+" is outside [-(2^53)+1, 2^53-1]")
	}
	if neg {
		dst = append(dst, '-')
	}
	return strconv.AppendUint(dst, v, 10), i, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func parseDigits(d []byte) uint64 {
	var v uint64
	for _, c := range d {
		v = v*10 + uint64(c-'0')
	}
	return v
}

// appendPyFloat writes f as Python's repr(float) does (the reference
// server's encoder writes floats with float.__repr__): the shortest digits
// that read back to f; fixed notation, with ".0" when integral, if the
// decimal exponent is in [-4, 16); otherwise d[.ddd]e±XX with at least two
// exponent digits. The caller never passes NaN or infinity.
func appendPyFloat(dst []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [32]byte
	sci := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	// sci is [-]d[.ddd]e±dd[d]: read the exponent back.
	e := 0
	k := len(sci) - 1
	scale := 1
	for sci[k] != '+' && sci[k] != '-' {
		e += int(sci[k]-'0') * scale
		scale *= 10
		k--
	}
	if sci[k] == '-' {
		e = -e
	}
	if e < -4 || e >= 16 {
		return append(dst, sci...)
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[n:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}
