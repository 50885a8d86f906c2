package event

import "github.com/mxkit/mxkit/internal/jsonraw"

// Helpers that walk JSON the scanner has already validated, with jsonraw.
// They do not check syntax again; they only find where values begin and
// end. Spans are offsets in d.

// eachElem calls fn with each element of the array at sp until fn
// returns false.
func eachElem(d []byte, sp span, fn func(span) bool) {
	it := jsonraw.Elements(d[sp.start:sp.end])
	for it.Next() {
		if !fn(span{sp.start + int32(it.Start), sp.start + int32(it.End)}) {
			return
		}
	}
}

// eachMember calls fn with each key (without quotes) and value of the
// object at sp until fn returns false.
func eachMember(d []byte, sp span, fn func(key keySpan, val span) bool) {
	it := jsonraw.Members(d[sp.start:sp.end])
	for it.Next() {
		ks := sp.start + int32(it.Start) + 1 // after the quote
		k := keySpan{span{ks, ks + int32(len(it.Key))}, it.KeyEscaped}
		if !fn(k, span{sp.start + int32(it.ValueStart), sp.start + int32(it.End)}) {
			return
		}
	}
}

// lookupKey finds key among the members of the object at sp.
func lookupKey(d []byte, sp span, key string) (span, bool) {
	it := jsonraw.Members(d[sp.start:sp.end])
	for it.Next() {
		if jsonraw.KeyIs(&it, key) {
			return span{sp.start + int32(it.ValueStart), sp.start + int32(it.End)}, true
		}
	}
	return span{}, false
}

// stringAt decodes the string value at sp, or reports false when the
// value there is not a string.
func stringAt(d []byte, sp span) (string, bool) {
	if sp.end-sp.start < 2 || d[sp.start] != '"' {
		return "", false
	}
	body, esc, _ := jsonraw.String(d[sp.start:sp.end])
	if esc {
		return string(appendUnescaped(nil, body)), true
	}
	return string(body), true
}

// appendUnescaped decodes the body of a JSON string (without quotes) that
// the scanner has validated.
func appendUnescaped(dst, b []byte) []byte {
	dst, _ = jsonraw.Unescape(dst, b)
	return dst
}
