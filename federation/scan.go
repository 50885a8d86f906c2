package federation

import "encoding/json"

// topLevelString returns the string value of the top-level key of the JSON
// object raw, without decoding the rest: the receive pipeline needs a PDU's
// room_id (to know its room version) before it can parse the PDU. ok is false
// when raw is not an object, the key is absent, or its value is not a string.
// It does not validate raw: the PDU is parsed in full afterwards. With a key
// repeated, the first is used (such a PDU fails to parse anyway).
func topLevelString(raw []byte, key string) (string, bool) {
	var val []byte
	found := false
	if !eachMember(raw, func(k, v []byte) bool {
		if string(k) == key {
			val, found = v, true
			return false
		}
		return true
	}) && !found {
		return "", false
	}
	if !found || val[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(val, &s) != nil {
		return "", false
	}
	return s, true
}

// eachMember calls fn with each top-level key (unescaped; fn must not keep
// it) and raw value of the JSON object raw, in order, until fn returns false.
// It reports false when raw is not an object as far as it was read. It
// follows the structure only; callers validate raw when they need to.
func eachMember(raw []byte, fn func(key, val []byte) bool) bool {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return true
	}
	for {
		i = skipWS(raw, i)
		if i >= len(raw) || raw[i] != '"' {
			return false
		}
		kEnd, esc := scanString(raw, i)
		if kEnd < 0 {
			return false
		}
		k := raw[i+1 : kEnd-1]
		if esc {
			var ks string
			if json.Unmarshal(raw[i:kEnd], &ks) != nil {
				return false
			}
			k = []byte(ks)
		}
		i = skipWS(raw, kEnd)
		if i >= len(raw) || raw[i] != ':' {
			return false
		}
		i = skipWS(raw, i+1)
		vEnd := skipValue(raw, i)
		if vEnd < 0 {
			return false
		}
		if !fn(k, raw[i:vEnd]) {
			return false
		}
		i = skipWS(raw, vEnd)
		if i < len(raw) && raw[i] == '}' {
			return true
		}
		if i >= len(raw) || raw[i] != ',' {
			return false
		}
		i++
	}
}

// eachElement calls fn with each element of the JSON array raw. It reports
// false when raw is not an array.
func eachElement(raw []byte, fn func(elem []byte)) bool {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return false
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return true
	}
	for {
		i = skipWS(raw, i)
		end := skipValue(raw, i)
		if end < 0 {
			return false
		}
		fn(raw[i:end])
		i = skipWS(raw, end)
		if i < len(raw) && raw[i] == ']' {
			return true
		}
		if i >= len(raw) || raw[i] != ',' {
			return false
		}
		i++
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index after the string starting at b[i] (a quote)
// and whether it has escapes; -1 when unterminated.
func scanString(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return -1, esc
}

// skipValue returns the index after the JSON value starting at b[i], -1 when
// it is cut short. Nesting is followed with a counter, strings with
// scanString; scalars end at a delimiter.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := scanString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
