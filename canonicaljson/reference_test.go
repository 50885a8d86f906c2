package canonicaljson_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mxkit/mxkit/canonicaljson"
)

// reference is a slow canonicalizer written independently of the package,
// on top of encoding/json's tokenizer, for differential tests. It trusts
// its input to have been accepted by the package (it does not look for
// duplicate keys, bad UTF-8 or lone surrogates, which the tokenizer
// smooths over).
func reference(raw []byte, mode canonicaljson.Mode) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out bytes.Buffer
	if err := refValue(dec, &out, mode); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data")
	}
	return out.Bytes(), nil
}

func refValue(dec *json.Decoder, out *bytes.Buffer, mode canonicaljson.Mode) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			out.WriteByte('[')
			for n := 0; dec.More(); n++ {
				if n > 0 {
					out.WriteByte(',')
				}
				if err := refValue(dec, out, mode); err != nil {
					return err
				}
			}
			dec.Token()
			out.WriteByte(']')
			return nil
		}
		type member struct {
			key string
			val []byte
		}
		var ms []member
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := refValue(dec, &b, mode); err != nil {
				return err
			}
			ms = append(ms, member{k.(string), b.Bytes()})
		}
		dec.Token()
		// Go compares strings byte by byte: UTF-8 order, code point order.
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
		out.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				out.WriteByte(',')
			}
			refString(out, m.key)
			out.WriteByte(':')
			out.Write(m.val)
		}
		out.WriteByte('}')
	case string:
		refString(out, v)
	case json.Number:
		s, err := refNumber(string(v), mode)
		if err != nil {
			return err
		}
		out.WriteString(s)
	case bool:
		out.WriteString(strconv.FormatBool(v))
	case nil:
		out.WriteString("null")
	}
	return nil
}

// refString follows the grammar's "escaped" production literally.
func refString(out *bytes.Buffer, s string) {
	out.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			out.WriteString(`\"`)
		case r == '\\':
			out.WriteString(`\\`)
		case r == 0x08:
			out.WriteString(`\b`)
		case r == 0x09:
			out.WriteString(`\t`)
		case r == 0x0A:
			out.WriteString(`\n`)
		case r == 0x0C:
			out.WriteString(`\f`)
		case r == 0x0D:
			out.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(out, `\u%04x`, r)
		default:
			var b [4]byte
			out.Write(b[:utf8.EncodeRune(b[:], r)])
		}
	}
	out.WriteByte('"')
}

func refNumber(lit string, mode canonicaljson.Mode) (string, error) {
	integer := !strings.ContainsAny(lit, ".eE")
	if mode == canonicaljson.Lenient {
		if integer {
			if lit == "-0" {
				return "0", nil
			}
			return lit, nil
		}
		f, err := strconv.ParseFloat(lit, 64)
		if math.IsInf(f, 0) {
			return "", err
		}
		return pyRepr(f), nil
	}
	mant := lit
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mant = lit[:i]
	}
	if strings.Trim(mant, "-0.") == "" {
		return "0", nil // zero, whatever the exponent
	}
	r, ok := new(big.Rat).SetString(lit)
	if !ok || !r.IsInt() {
		return "", fmt.Errorf("not an integer: %s", lit)
	}
	limit := big.NewInt(1<<53 - 1)
	if r.Num().CmpAbs(limit) > 0 {
		return "", fmt.Errorf("out of range: %s", lit)
	}
	return r.Num().String(), nil
}

// pyRepr writes f as Python's float repr, from the shortest digits and
// the decimal exponent, placing the point by hand.
func pyRepr(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := fmt.Sprintf("%+03d", exp)
		return sign + m + "e" + es
	}
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	if len(digits) <= exp+1 {
		return sign + digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	}
	return sign + digits[:exp+1] + "." + digits[exp+1:]
}
