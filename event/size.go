package event

import (
	"errors"

	"github.com/mxkit/mxkit/canonicaljson"
)

// lenientCanonicalSize measures the canonical encoding of an event of a
// room version before 6 whose numbers may be written differently in
// canonical JSON (fractions and exponents become Python's float repr).
// It also refuses the numbers canonical JSON cannot write at all, such as
// 1e400, which the reference server cannot encode either.
func lenientCanonicalSize(raw []byte) (int, error) {
	b := getBuf()
	defer putBuf(b)
	out, err := canonicaljson.Append((*b)[:0], raw, canonicaljson.Lenient)
	*b = out[:0]
	if err != nil {
		rule := "json.syntax"
		var ce *canonicaljson.Error
		if errors.As(err, &ce) && errors.Is(err, canonicaljson.ErrNumber) {
			rule = "json.number"
			return 0, invalid("", rule, "%s at offset %d", ce.Msg, ce.Offset)
		}
		return 0, invalid("", rule, "%v", err)
	}
	return len(out), nil
}
