package federation

import (
	"encoding/json"

	"github.com/mxkit/mxkit/internal/jsonraw"
)

// topLevelString returns the string value of the top-level key of the JSON
// object raw, without decoding the rest: the receive pipeline needs a PDU's
// room_id (to know its room version) before it can parse the PDU. ok is false
// when raw is not an object, the key is absent, or its value is not a string.
// It does not validate raw: the PDU is parsed in full afterwards. With a key
// repeated, the first is used (such a PDU fails to parse anyway).
func topLevelString(raw []byte, key string) (string, bool) {
	val, found := jsonraw.Field(raw, key)
	if !found {
		return "", false
	}
	inner, esc, ok := jsonraw.String(val)
	if !ok {
		return "", false
	}
	if !esc && plainASCII(inner) {
		return string(inner), true
	}
	// Escapes, control characters or bytes outside ASCII: rare in a room
	// ID, so encoding/json decides, as it would for the whole PDU (bad
	// UTF-8 becomes U+FFFD byte by byte, control characters are refused).
	var s string
	if json.Unmarshal(val, &s) != nil {
		return "", false
	}
	return s, true
}

// plainASCII reports whether s is printable ASCII, which encoding/json
// decodes to itself.
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c >= 0x80 {
			return false
		}
	}
	return true
}
