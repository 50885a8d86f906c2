package event

import "bytes"

// Helpers that walk JSON the scanner has already validated. They do not
// check syntax again; they only find where values begin and end.

// skipString returns the index after the string starting at d[i] == '"'.
func skipString(d []byte, i int) int {
	i++
	for i < len(d) {
		switch d[i] {
		case '"':
			return i + 1
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return i
}

func skipWS(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index after the value starting at d[i].
func skipValue(d []byte, i int) int {
	if i >= len(d) {
		return i
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for i < len(d) {
			switch d[i] {
			case '"':
				i = skipString(d, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(d) {
			switch d[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// eachElem calls fn with each element of the array at sp until fn
// returns false.
func eachElem(d []byte, sp span, fn func(span) bool) {
	i := skipWS(d, int(sp.start)+1)
	end := int(sp.end) - 1
	for i < end {
		j := skipValue(d, i)
		if !fn(span{int32(i), int32(j)}) {
			return
		}
		i = skipWS(d, j)
		if i < end && d[i] == ',' {
			i = skipWS(d, i+1)
		}
	}
}

// eachMember calls fn with each key (without quotes) and value of the
// object at sp until fn returns false.
func eachMember(d []byte, sp span, fn func(key keySpan, val span) bool) {
	i := skipWS(d, int(sp.start)+1)
	end := int(sp.end) - 1
	for i < end && d[i] == '"' {
		ke := skipString(d, i)
		k := keySpan{span{int32(i + 1), int32(ke - 1)}, bytes.IndexByte(d[i+1:ke-1], '\\') >= 0}
		j := skipWS(d, ke)
		j = skipWS(d, j+1) // ':'
		ve := skipValue(d, j)
		if !fn(k, span{int32(j), int32(ve)}) {
			return
		}
		i = skipWS(d, ve)
		if i < end && d[i] == ',' {
			i = skipWS(d, i+1)
		}
	}
}

// lookupKey finds key among the members of the object at sp.
func lookupKey(d []byte, sp span, key string) (span, bool) {
	var found span
	ok := false
	eachMember(d, sp, func(k keySpan, val span) bool {
		kb := d[k.start:k.end]
		if k.escaped {
			kb = appendUnescaped(nil, kb)
		}
		if string(kb) == key {
			found, ok = val, true
			return false
		}
		return true
	})
	return found, ok
}

// stringAt decodes the string value at sp, or reports false when the
// value there is not a string.
func stringAt(d []byte, sp span) (string, bool) {
	if sp.end-sp.start < 2 || d[sp.start] != '"' {
		return "", false
	}
	body := d[sp.start+1 : sp.end-1]
	if bytes.IndexByte(body, '\\') >= 0 {
		return string(appendUnescaped(nil, body)), true
	}
	return string(body), true
}
