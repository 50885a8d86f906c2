package canonicaljson

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/mxkit/mxkit/internal/jsonraw"
)

// The scanner reads the input once, from left to right, and writes the
// canonical form of each token to dst as it goes. Objects are the only
// place where the output order differs from the input order: each member
// is written where it comes and its span remembered; when the object
// closes, the keys are checked (already sorted, the common case, costs one
// comparison per member) and only if they are out of order are the spans
// sorted and the object's bytes rearranged through a scratch buffer.
// Nesting is kept on an explicit stack, so hostile input cannot exhaust
// the goroutine stack.

// frame is one open object or array.
type frame struct {
	obj     bool
	dropped bool // AppendWithout leaves out some of its members
	start   int  // offset in dst of '{' or '['
	members int  // index in state.members of the object's first member
}

// member is one object member as written in dst.
type member struct {
	start  int  // offset of the key's opening quote
	keyEnd int  // offset just past the key's closing quote
	end    int  // offset just past the value
	inOff  int  // offset of the key in the input, for errors
	esc    bool // the written key contains a backslash escape
	drop   bool // AppendWithout leaves this member out
}

// state holds the buffers one run needs; runs reuse them through a pool so
// that steady-state canonicalization does not allocate.
type state struct {
	frames  []frame
	members []member
	scratch []byte
	order   []sortEntry
	order2  []sortEntry
	out     []byte // output buffer for Valid and IsCanonical
}

var statePool = sync.Pool{New: func() any { return new(state) }}

func getState() *state { return statePool.Get().(*state) }

// maxPooled bounds the buffers kept in the pool, so that one huge document
// does not pin its memory for the life of the process.
const maxPooled = 1 << 20

func putState(s *state) {
	if cap(s.scratch) > maxPooled {
		s.scratch = nil
	}
	if cap(s.out) > maxPooled {
		s.out = nil
	}
	if cap(s.members) > maxPooled/32 {
		s.members = nil
	}
	if cap(s.order) > maxPooled/16 {
		s.order, s.order2 = nil, nil
	}
	s.frames = s.frames[:0]
	s.members = s.members[:0]
	statePool.Put(s)
}

// strSafe marks the bytes that are copied as they are inside a string
// without a closer look: printable ASCII other than '"' and '\\'.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// run canonicalizes raw onto dst. With top set, raw must be an object and
// its members whose keys are in drop are left out.
func (s *state) run(dst, raw []byte, mode Mode, drop []string, top bool) ([]byte, error) {
	i := jsonraw.SkipSpace(raw, 0)
	if top && (i >= len(raw) || raw[i] != '{') {
		if i >= len(raw) {
			return dst, newError(i, ErrSyntax, "unexpected end of input, expected an object")
		}
		return dst, newError(i, ErrSyntax, "expected a JSON object, found "+quoteByte(raw[i]))
	}
	var err error
	for {
		// A value starts at i.
		if i >= len(raw) {
			return dst, newError(i, ErrSyntax, "unexpected end of input, expected a value")
		}
		switch c := raw[i]; c {
		case '{', '[':
			if len(s.frames) >= MaxDepth {
				return dst, newError(i, ErrTooDeep, "nesting deeper than "+strconv.Itoa(MaxDepth)+" levels")
			}
			s.frames = append(s.frames, frame{obj: c == '{', start: len(dst), members: len(s.members)})
			dst = append(dst, c)
			i = jsonraw.SkipSpace(raw, i+1)
			if i < len(raw) && raw[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				dst = append(dst, c+2)
				s.frames = s.frames[:len(s.frames)-1]
				i++
				break
			}
			if c == '{' {
				if dst, i, err = s.key(dst, raw, i, drop, top && len(s.frames) == 1); err != nil {
					return dst, err
				}
			}
			continue
		case '"':
			if dst, i, _, err = appendString(dst, raw, i); err != nil {
				return dst, err
			}
		case 't':
			if dst, i, err = literal(dst, raw, i, "true"); err != nil {
				return dst, err
			}
		case 'f':
			if dst, i, err = literal(dst, raw, i, "false"); err != nil {
				return dst, err
			}
		case 'n':
			if dst, i, err = literal(dst, raw, i, "null"); err != nil {
				return dst, err
			}
		default:
			if c == '-' || (c >= '0' && c <= '9') {
				if dst, i, err = appendNumber(dst, raw, i, mode); err != nil {
					return dst, err
				}
				break
			}
			return dst, newError(i, ErrSyntax, "invalid character "+quoteByte(c)+" looking for a value")
		}

		// A value ended at i: close containers until one continues.
		for {
			i = jsonraw.SkipSpace(raw, i)
			if len(s.frames) == 0 {
				if i != len(raw) {
					return dst, newError(i, ErrSyntax, "invalid character "+quoteByte(raw[i])+" after the top-level value")
				}
				return dst, nil
			}
			if i >= len(raw) {
				return dst, newError(i, ErrSyntax, "unexpected end of input")
			}
			f := &s.frames[len(s.frames)-1]
			c := raw[i]
			if f.obj {
				s.members[len(s.members)-1].end = len(dst)
				if c == ',' {
					dst = append(dst, ',')
					if dst, i, err = s.key(dst, raw, jsonraw.SkipSpace(raw, i+1), drop, top && len(s.frames) == 1); err != nil {
						return dst, err
					}
					break
				}
				if c != '}' {
					return dst, newError(i, ErrSyntax, "invalid character "+quoteByte(c)+" after object member, expected ',' or '}'")
				}
				dst = append(dst, '}')
				if dst, err = s.closeObject(dst, f); err != nil {
					return dst, err
				}
			} else {
				if c == ',' {
					dst = append(dst, ',')
					i = jsonraw.SkipSpace(raw, i+1)
					break
				}
				if c != ']' {
					return dst, newError(i, ErrSyntax, "invalid character "+quoteByte(c)+" after array element, expected ',' or ']'")
				}
				dst = append(dst, ']')
			}
			s.frames = s.frames[:len(s.frames)-1]
			i++
		}
	}
}

// key reads an object key and the colon after it, at i, and records the
// member.
func (s *state) key(dst, raw []byte, i int, drop []string, top bool) ([]byte, int, error) {
	if i >= len(raw) {
		return dst, i, newError(i, ErrSyntax, "unexpected end of input, expected an object key")
	}
	if raw[i] != '"' {
		return dst, i, newError(i, ErrSyntax, "invalid character "+quoteByte(raw[i])+" looking for an object key")
	}
	m := member{start: len(dst), inOff: i}
	var err error
	if dst, i, m.esc, err = appendString(dst, raw, i); err != nil {
		return dst, i, err
	}
	m.keyEnd = len(dst)
	if top && len(drop) > 0 {
		k := dst[m.start+1 : m.keyEnd-1]
		for _, d := range drop {
			if jsonraw.Equal(k, m.esc, d) {
				m.drop = true
				s.frames[0].dropped = true
				break
			}
		}
	}
	s.members = append(s.members, m)
	i = jsonraw.SkipSpace(raw, i)
	if i >= len(raw) {
		return dst, i, newError(i, ErrSyntax, "unexpected end of input, expected ':'")
	}
	if raw[i] != ':' {
		return dst, i, newError(i, ErrSyntax, "invalid character "+quoteByte(raw[i])+" after object key, expected ':'")
	}
	dst = append(dst, ':')
	return dst, jsonraw.SkipSpace(raw, i+1), nil
}

// closeObject checks the keys of the object that just closed (its '}' is
// already written), sorts its members if needed and leaves out dropped
// ones.
func (s *state) closeObject(dst []byte, f *frame) ([]byte, error) {
	ms := s.members[f.members:]
	s.members = s.members[:f.members]
	// Most objects arrive sorted: one comparison per member proves it (and
	// that no two keys are equal). At the first pair out of order, leave
	// the rest to the sort, which finds duplicates as neighbours.
	sorted := true
	for k := 1; k < len(ms); k++ {
		c := compareKeys(dst, &ms[k-1], &ms[k])
		if c == 0 {
			return dst, duplicate(dst, &ms[k])
		}
		if c > 0 {
			sorted = false
			break
		}
	}
	if sorted && !f.dropped {
		return dst, nil
	}
	order := s.order[:0]
	if !sorted {
		order = s.sortMembers(dst, ms)
		for k := 1; k < len(order); k++ {
			a, b := &ms[order[k-1].idx], &ms[order[k].idx]
			if order[k-1].prefix == order[k].prefix && compareKeys(dst, a, b) == 0 {
				if a.inOff > b.inOff {
					b = a
				}
				return dst, duplicate(dst, b)
			}
		}
	}
	// Rewrite the object from a copy of its bytes.
	s.scratch = append(s.scratch[:0], dst[f.start:]...)
	dst = dst[:f.start+1]
	first := true
	for k := range ms {
		m := &ms[k]
		if !sorted {
			m = &ms[order[k].idx]
		}
		if m.drop {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, s.scratch[m.start-f.start:m.end-f.start]...)
	}
	return append(dst, '}'), nil
}

func duplicate(dst []byte, m *member) error {
	return newError(m.inOff, ErrDuplicateKey, "duplicate object key "+clip(dst[m.start:m.keyEnd]))
}

// sortEntry is one member in the sort: the first eight bytes of its
// unescaped key, big-endian and zero-padded, decide most comparisons
// without touching the key bytes.
type sortEntry struct {
	prefix uint64
	idx    uint32
}

// sortMembers returns the order of ms by key.
//
// Small objects (the usual case) are insertion-sorted. Large ones (a
// power-levels "users" map, a server ACL) are radix-sorted on the key
// prefixes, which takes a few linear passes whatever the keys; members
// whose prefixes tie are then ordered by their full keys.
func (s *state) sortMembers(dst []byte, ms []member) []sortEntry {
	order := s.order[:0]
	for k := range ms {
		order = append(order, sortEntry{prefix: keyPrefix(dst, &ms[k]), idx: uint32(k)})
	}
	s.order = order
	if len(order) <= 16 {
		for i := 1; i < len(order); i++ {
			for j := i; j > 0 && entryLess(dst, ms, order[j], order[j-1]); j-- {
				order[j], order[j-1] = order[j-1], order[j]
			}
		}
		return order
	}
	if cap(s.order2) < len(order) {
		s.order2 = make([]sortEntry, len(order))
	}
	order = radixSort(order, s.order2[:len(order)])
	// Order the runs of equal prefixes by the whole key.
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && order[j].prefix == order[i].prefix {
			j++
		}
		switch run := order[i:j]; {
		case len(run) > 12:
			slices.SortFunc(run, func(a, b sortEntry) int {
				return compareKeys(dst, &ms[a.idx], &ms[b.idx])
			})
		case len(run) > 1:
			for x := 1; x < len(run); x++ {
				for y := x; y > 0 && compareKeys(dst, &ms[run[y].idx], &ms[run[y-1].idx]) < 0; y-- {
					run[y], run[y-1] = run[y-1], run[y]
				}
			}
		}
		i = j
	}
	return order
}

func entryLess(dst []byte, ms []member, a, b sortEntry) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	return compareKeys(dst, &ms[a.idx], &ms[b.idx]) < 0
}

// radixSort sorts a by prefix, least significant byte first, using tmp
// (as long as a) as the other buffer, and returns whichever holds the
// result. Byte positions where all prefixes agree are skipped.
func radixSort(a, tmp []sortEntry) []sortEntry {
	var counts [8][256]uint32
	for _, e := range a {
		p := e.prefix
		for b := range 8 {
			counts[b][byte(p>>(8*b))]++
		}
	}
	src, dst := a, tmp
	for b := range 8 {
		c := &counts[b]
		shift := 8 * uint(b)
		if int(c[byte(src[0].prefix>>shift)]) == len(src) {
			continue
		}
		var sum uint32
		for i := range c {
			n := c[i]
			c[i] = sum
			sum += n
		}
		for _, e := range src {
			k := byte(e.prefix >> shift)
			dst[c[k]] = e
			c[k]++
		}
		src, dst = dst, src
	}
	return src
}

// keyPrefix returns the first eight bytes of m's unescaped key as a
// big-endian number, zero-padded.
func keyPrefix(dst []byte, m *member) uint64 {
	k := dst[m.start+1 : m.keyEnd-1]
	var p uint64
	n := 0
	if !m.esc {
		if len(k) >= 8 {
			return binary.BigEndian.Uint64(k)
		}
		for ; n < len(k); n++ {
			p = p<<8 | uint64(k[n])
		}
	} else {
		for i := 0; i < len(k) && n < 8; n++ {
			var c byte
			c, i = unescapeByte(k, i)
			p = p<<8 | uint64(c)
		}
	}
	return p << (8 * (8 - n))
}

// compareKeys orders two written keys by the UTF-8 bytes of their
// unescaped text, which is Unicode code point order.
func compareKeys(dst []byte, a, b *member) int {
	ka := dst[a.start+1 : a.keyEnd-1]
	kb := dst[b.start+1 : b.keyEnd-1]
	if !a.esc && !b.esc {
		return bytes.Compare(ka, kb)
	}
	return compareEscaped(ka, kb)
}

// unescapeByte decodes one byte of a canonically escaped string at i. The
// canonical escapes all stand for a single ASCII byte, so the decoded
// strings can be compared byte by byte.
func unescapeByte(s []byte, i int) (byte, int) {
	if s[i] != '\\' {
		return s[i], i + 1
	}
	switch s[i+1] {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u': // \u00xx, lower-case hex
		return hexVal(s[i+4])<<4 | hexVal(s[i+5]), i + 6
	}
	return s[i+1], i + 2 // \" or \\
}

func hexVal(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

func compareEscaped(a, b []byte) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		var ca, cb byte
		ca, i = unescapeByte(a, i)
		cb, j = unescapeByte(b, j)
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case i < len(a):
		return 1
	case j < len(b):
		return -1
	}
	return 0
}

func literal(dst, raw []byte, i int, lit string) ([]byte, int, error) {
	if len(raw)-i >= len(lit) && string(raw[i:i+len(lit)]) == lit {
		return append(dst, lit...), i + len(lit), nil
	}
	// Find the first byte that differs, to point at it.
	j := 0
	for j < len(lit) && i+j < len(raw) && raw[i+j] == lit[j] {
		j++
	}
	if i+j >= len(raw) {
		return dst, i + j, newError(i+j, ErrSyntax, "unexpected end of input in literal "+lit)
	}
	return dst, i + j, newError(i+j, ErrSyntax, "invalid character "+quoteByte(raw[i+j])+" in literal "+lit)
}

// appendString writes the canonical form of the string token at raw[i]
// (its opening quote) and returns the offset after its closing quote, and
// whether the written form holds an escape.
func appendString(dst, raw []byte, i int) ([]byte, int, bool, error) {
	dst = append(dst, '"')
	esc := false
	j := i + 1
	start := j
	for {
		// Skip eight plain bytes at a time: a word is plain when none of
		// its bytes is below 0x20, '"', '\\' or non-ASCII. A flagged
		// byte can make the ones above it look flagged too (borrows), but
		// never the ones below, so the lowest flag is exact.
		for j+8 <= len(raw) {
			x := binary.LittleEndian.Uint64(raw[j:])
			m := (x - 0x2020202020202020) | (x ^ 0x2222222222222222 - 0x0101010101010101) |
				(x ^ 0x5c5c5c5c5c5c5c5c - 0x0101010101010101) | x
			m &= 0x8080808080808080
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(raw) && strSafe[raw[j]] {
			j++
		}
		if j >= len(raw) {
			return dst, j, esc, newError(i, ErrSyntax, "unterminated string")
		}
		c := raw[j]
		switch {
		case c == '"':
			dst = append(dst, raw[start:j]...)
			return append(dst, '"'), j + 1, esc, nil
		case c == '\\':
			dst = append(dst, raw[start:j]...)
			var r rune
			var err error
			if r, j, err = unescape(raw, j); err != nil {
				return dst, j, esc, err
			}
			var e bool
			dst, e = appendRune(dst, r)
			esc = esc || e
			start = j
		case c < 0x20:
			return dst, j, esc, newError(j, ErrSyntax, "control character "+quoteByte(c)+" in string (must be escaped)")
		default:
			// Non-ASCII: copy valid UTF-8 as it is.
			if c < 0xE0 || c >= 0xF0 || j+2 >= len(raw) {
				r, size := utf8.DecodeRune(raw[j:])
				if r == utf8.RuneError && size <= 1 {
					return dst, j, esc, newError(j, ErrInvalidUTF8, "invalid UTF-8 byte "+quoteByte(c)+" in string")
				}
				j += size
				break
			}
			// Three-byte sequences (most of the BMP) are the common
			// non-ASCII case: check them inline.
			c1, c2 := raw[j+1], raw[j+2]
			if c1&0xC0 != 0x80 || c2&0xC0 != 0x80 ||
				(c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) {
				return dst, j, esc, newError(j, ErrInvalidUTF8, "invalid UTF-8 sequence in string")
			}
			j += 3
		}
	}
}

// unescape decodes the escape sequence at raw[i] ('\\'), joining a
// surrogate pair, and returns the rune and the offset after the sequence.
func unescape(raw []byte, i int) (rune, int, error) {
	if i+1 >= len(raw) {
		return 0, i, newError(i, ErrSyntax, "unterminated escape sequence")
	}
	switch raw[i+1] {
	case '"':
		return '"', i + 2, nil
	case '\\':
		return '\\', i + 2, nil
	case '/':
		return '/', i + 2, nil
	case 'b':
		return '\b', i + 2, nil
	case 'f':
		return '\f', i + 2, nil
	case 'n':
		return '\n', i + 2, nil
	case 'r':
		return '\r', i + 2, nil
	case 't':
		return '\t', i + 2, nil
	case 'u':
		r, ok := hex4(raw, i+2)
		if !ok {
			return 0, i, newError(i, ErrSyntax, "invalid \\u escape (want four hex digits)")
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return 0, i, newError(i, ErrInvalidUTF8, "lone low surrogate escape \\u"+string(raw[i+2:i+6]))
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if lo, ok := hex4(raw, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), i + 12, nil
				}
			}
			return 0, i, newError(i, ErrInvalidUTF8, "high surrogate escape \\u"+string(raw[i+2:i+6])+" not followed by a low surrogate escape")
		}
		return r, i + 6, nil
	}
	return 0, i, newError(i, ErrSyntax, "invalid escape sequence \\"+string(rune(raw[i+1])))
}

// hex4 is jsonraw.Hex4, kept here because this one is within the
// compiler's inlining budget and jsonraw's is a little over it: on strings
// full of \u escapes the call to jsonraw's costs a few percent.
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

const hexDigits = "0123456789abcdef"

// appendRune writes r canonically inside a string and reports whether it
// wrote an escape.
func appendRune(dst []byte, r rune) ([]byte, bool) {
	switch r {
	case '"':
		return append(dst, '\\', '"'), true
	case '\\':
		return append(dst, '\\', '\\'), true
	case '\b':
		return append(dst, '\\', 'b'), true
	case '\f':
		return append(dst, '\\', 'f'), true
	case '\n':
		return append(dst, '\\', 'n'), true
	case '\r':
		return append(dst, '\\', 'r'), true
	case '\t':
		return append(dst, '\\', 't'), true
	}
	if r < 0x20 {
		return append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF]), true
	}
	return utf8.AppendRune(dst, r), false
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7F {
		return strconv.QuoteRune(rune(c))
	}
	return "0x" + string(hexDigits[c>>4]) + string(hexDigits[c&0xF])
}

// clip returns b for an error message, cut to a readable length on a
// character boundary.
func clip(b []byte) string {
	const max = 64
	if len(b) <= max {
		return string(b)
	}
	n := max
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}
