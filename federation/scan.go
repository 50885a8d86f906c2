package federation

import "encoding/json"

// topLevelString returns the string value of the top-level key of the JSON
// object raw, without decoding the rest: the receive pipeline needs a PDU's
// room_id (to know its room version) before it can parse the PDU. ok is false
// when raw is not an object, the key is absent, or its value is not a string.
// It does not validate raw: the PDU is parsed in full afterwards.
func topLevelString(raw []byte, key string) (string, bool) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return "", false
	}
	i++
	for {
		i = skipWS(raw, i)
		if i >= len(raw) || raw[i] != '"' {
			return "", false
		}
		kEnd, esc := scanString(raw, i)
		if kEnd < 0 {
			return "", false
		}
		k := raw[i+1 : kEnd-1]
		match := string(k) == key
		if esc {
			var s string
			match = json.Unmarshal(raw[i:kEnd], &s) == nil && s == key
		}
		i = skipWS(raw, kEnd)
		if i >= len(raw) || raw[i] != ':' {
			return "", false
		}
		i = skipWS(raw, i+1)
		vEnd := skipValue(raw, i)
		if vEnd < 0 {
			return "", false
		}
		if match {
			if raw[i] != '"' {
				return "", false
			}
			var s string
			if json.Unmarshal(raw[i:vEnd], &s) != nil {
				return "", false
			}
			return s, true
		}
		i = skipWS(raw, vEnd)
		if i >= len(raw) || raw[i] != ',' {
			return "", false
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
