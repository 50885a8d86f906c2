// Package redact implements the Matrix redaction algorithm: the rules that
// strip an event down to the keys the protocol needs, so that a server can
// delete what a user wrote while the event keeps its place in the room's
// history, its hashes and its signatures (specification, "Redactions",
// content/client-server-api/_index.md; the algorithm of each room version,
// "Redactions" in content/rooms/v1.md … v12.md, written out in
// content/rooms/fragments/v1-redactions.md, v6-redactions.md,
// v9-redactions.md and v11-redactions.md, with v8.md adding the join
// rules' allow).
//
// The same algorithm is the first step of computing an event's reference
// hash (and so its event ID in room versions 3 and later) and of signing
// and verifying events ("Signing Events", "Calculating the reference hash
// for an event", content/server-server-api.md): every server must redact
// byte for byte alike.
//
// # The algorithm
//
// Top-level keys other than event_id, type, room_id, sender, state_key,
// content, hashes, signatures, depth, prev_events, auth_events and
// origin_server_ts are removed; room versions 1 to 10 also keep the legacy
// keys origin, membership and prev_state. Everything else goes, including
// unsigned and the top-level redacts of an m.room.redaction.
//
// Content keeps nothing, except for these event types:
//
//	m.room.member             membership; join_authorised_via_users_server (v9+);
//	                          the signed key of third_party_invite (v11+)
//	m.room.create             creator (v1-v10); every key (v11+)
//	m.room.join_rules         join_rule; allow (v8+)
//	m.room.power_levels       ban, events, events_default, kick, redact,
//	                          state_default, users, users_default; invite (v11+)
//	m.room.history_visibility history_visibility
//	m.room.aliases            aliases (v1-v5)
//	m.room.redaction          redacts (v11+)
//
// Which of these apply is read from the fields of
// [roomversion.Version].Redaction, never from the version's identifier, so
// a version an embedder describes is redacted by the rules it names.
//
// Values under kept keys are kept as they are, whatever their JSON type
// (a membership that is not a string is kept). Numbers are never converted
// through float64: a depth of 2^60 in a room version 1 event comes through
// digit for digit.
//
// # Choices where the specification is silent
//
//   - content.third_party_invite (v11+): when it is an object, the result
//     holds an object with its signed key, or an empty object when it has
//     no signed key; when it is not an object it is dropped. This is what
//     Synapse, the reference server, does.
//   - An event without content is given an empty content object, as
//     Synapse does; a content that is not an object is an error
//     ([ErrContent]).
//   - An event without a string type is an error ([ErrType]): the rules
//     cannot be chosen.
//   - unsigned is dropped whole, as the specification's lists say. (Synapse
//     keeps a few unsigned keys of its own in the events it stores; they
//     never enter hashes or signatures, which leave unsigned out.)
//
// # Output and input
//
// The result is canonical JSON ("Canonical JSON", content/appendices.md),
// with the number rules of the room version: [canonicaljson.Strict] when
// v.Event.StrictCanonicalJSON is set, otherwise [canonicaljson.Lenient].
// Redacting a redacted event gives the same bytes again.
//
// [Redact] and [Append] take untrusted bytes and check the whole input by
// the rules of [canonicaljson.Valid] in that mode (syntax, UTF-8,
// duplicate keys at every level, numbers, nesting), so that an event that
// is not acceptable in the room version is refused even when the bad part
// would have been redacted away. They walk the event once: values that are
// dropped are checked without being re-encoded, and only what is kept is
// written out. [AppendValidated] skips the checks of dropped values for
// input that has been validated already.
package redact

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/roomversion"
)

// Redact applies the redaction algorithm of v to the event raw (a JSON
// object in federation format) and returns the redacted event as canonical
// JSON, in mode canonicaljson.Strict when v.Event.StrictCanonicalJSON is
// set and canonicaljson.Lenient otherwise. Idempotent byte for byte:
// Redact(v, Redact(v, x)) == Redact(v, x).
//
// Errors are *Error values wrapping ErrNotObject, ErrType, ErrContent or a
// *canonicaljson.Error (whose sentinels, such as canonicaljson.ErrSyntax
// and canonicaljson.ErrDuplicateKey, errors.Is also finds).
func Redact(v roomversion.Version, raw []byte) ([]byte, error) {
	w := walker{raw: raw, rules: v.Redaction, mode: modeOf(v), validate: true}
	if err := w.scan(); err != nil {
		return nil, err
	}
	out, err := w.emit(make([]byte, 0, w.sizeHint()))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Append is Redact appending the redacted event to dst. On error dst is
// returned unextended (its spare capacity may have been written).
// Appending into a reused buffer avoids allocating the result.
func Append(dst []byte, v roomversion.Version, raw []byte) ([]byte, error) {
	w := walker{raw: raw, rules: v.Redaction, mode: modeOf(v), validate: true}
	if err := w.scan(); err != nil {
		return dst, err
	}
	out, err := w.emit(dst)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendValidated is Append for an event that has already passed
// canonicaljson.Valid in the mode of v (as events parsed by the event
// package have), or that is the output of canonicaljson. It does not check the values it drops, which is most of the
// work for events whose content is redacted away; what it keeps is still
// checked as it is encoded, and the event's shape (an object, a string
// type, an object content) is still checked. Given input that was not
// validated it never panics, but it may accept what Redact refuses.
func AppendValidated(dst []byte, v roomversion.Version, raw []byte) ([]byte, error) {
	w := walker{raw: raw, rules: v.Redaction, mode: modeOf(v)}
	if err := w.scan(); err != nil {
		return dst, err
	}
	out, err := w.emit(dst)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// Mode returns the canonical JSON mode of v's events, the mode in which
// Redact checks its input and writes its output.
func Mode(v roomversion.Version) canonicaljson.Mode { return modeOf(v) }

func modeOf(v roomversion.Version) canonicaljson.Mode {
	if v.Event.StrictCanonicalJSON {
		return canonicaljson.Strict
	}
	return canonicaljson.Lenient
}

// Sentinel errors for events of the wrong shape, wrapped by *Error.
var (
	// ErrNotObject: the input is JSON but not an object.
	ErrNotObject = errors.New("the event is not a JSON object")
	// ErrType: the event has no type, or its type is not a string.
	ErrType = errors.New("the event's type is missing or not a string")
	// ErrContent: the event's content is not an object.
	ErrContent = errors.New("the event's content is not a JSON object")
)

// Error says why an event could not be redacted.
type Error struct {
	// Field is the member concerned, as a dotted path such as "unsigned",
	// "content" or "content.third_party_invite"; empty for the event as a
	// whole.
	Field string
	// Offset is the byte offset in the input where the problem was found.
	Offset int64
	// Err is ErrNotObject, ErrType, ErrContent, or a *canonicaljson.Error
	// for input that is not acceptable JSON (its Offset, too, counts from
	// the start of the input).
	Err error
}

// Error returns a one-line description naming the field and the offset.
func (e *Error) Error() string {
	b := make([]byte, 0, 96)
	b = append(b, "redact: "...)
	if e.Field != "" {
		b = strconv.AppendQuote(b, e.Field)
		b = append(b, ": "...)
	}
	var ce *canonicaljson.Error
	if errors.As(e.Err, &ce) {
		return string(append(b, ce.Error()...))
	}
	b = append(b, e.Err.Error()...)
	b = append(b, " at offset "...)
	b = strconv.AppendInt(b, e.Offset, 10)
	return string(b)
}

// Unwrap returns the sentinel or the *canonicaljson.Error.
func (e *Error) Unwrap() error { return e.Err }

// The top-level keys the algorithm knows, in canonical (byte) order, which
// is the order they are written in.
const (
	kAuthEvents = iota
	kContent
	kDepth
	kEventID
	kHashes
	kMembership
	kOrigin
	kOriginServerTS
	kPrevEvents
	kPrevState
	kRoomID
	kSender
	kSignatures
	kStateKey
	kType
	nTop
)

// topMember is each known key as written: `"name":`.
var topMember = [nTop]string{
	`"auth_events":`, `"content":`, `"depth":`, `"event_id":`, `"hashes":`,
	`"membership":`, `"origin":`, `"origin_server_ts":`, `"prev_events":`,
	`"prev_state":`, `"room_id":`, `"sender":`, `"signatures":`,
	`"state_key":`, `"type":`,
}

func topIndex(key []byte) int {
	switch string(key) {
	case "auth_events":
		return kAuthEvents
	case "content":
		return kContent
	case "depth":
		return kDepth
	case "event_id":
		return kEventID
	case "hashes":
		return kHashes
	case "membership":
		return kMembership
	case "origin":
		return kOrigin
	case "origin_server_ts":
		return kOriginServerTS
	case "prev_events":
		return kPrevEvents
	case "prev_state":
		return kPrevState
	case "room_id":
		return kRoomID
	case "sender":
		return kSender
	case "signatures":
		return kSignatures
	case "state_key":
		return kStateKey
	case "type":
		return kType
	}
	return -1
}

// keptTop reports whether the top-level key k survives under rules.
func keptTop(k int, rules roomversion.RedactionRules) bool {
	switch k {
	case kOrigin, kMembership, kPrevState:
		return rules.KeepOriginMembershipPrevState
	}
	return true
}

// rule is one content key to keep. With sub set, the value is kept only
// when it is an object, and only its keys named in sub are kept.
type rule struct {
	name string
	sub  []rule
	path string // with sub: the dotted path of the key, for errors
}

var thirdPartyInviteKeep = []rule{{name: "signed"}}

// contentRules returns the content keys of typ kept under rules, in
// canonical order, or all=true when the whole content is kept.
func contentRules(buf *[9]rule, typ []byte, rules roomversion.RedactionRules) (keep []rule, all bool) {
	n := 0
	add := func(name string) { buf[n] = rule{name: name}; n++ }
	switch string(typ) {
	case "m.room.member":
		if rules.KeepJoinAuthorisedVia {
			add("join_authorised_via_users_server")
		}
		add("membership")
		if rules.KeepThirdPartyInviteSigned {
			buf[n] = rule{name: "third_party_invite", sub: thirdPartyInviteKeep, path: "content.third_party_invite"}
			n++
		}
	case "m.room.create":
		if rules.KeepAllCreateContent {
			return nil, true
		}
		add("creator")
	case "m.room.join_rules":
		if rules.KeepJoinRulesAllow {
			add("allow")
		}
		add("join_rule")
	case "m.room.power_levels":
		add("ban")
		add("events")
		add("events_default")
		if rules.KeepPowerLevelsInvite {
			add("invite")
		}
		add("kick")
		add("redact")
		add("state_default")
		add("users")
		add("users_default")
	case "m.room.history_visibility":
		add("history_visibility")
	case "m.room.aliases":
		if rules.KeepAliases {
			add("aliases")
		}
	case "m.room.redaction":
		if rules.KeepRedactionRedacts {
			add("redacts")
		}
	}
	return buf[:n], false
}

type span struct{ s, e int }

// walker redacts one event. It lives on the caller's stack.
type walker struct {
	raw      []byte
	rules    roomversion.RedactionRules
	mode     canonicaljson.Mode
	validate bool

	top     [nTop]span // value spans of the known top-level keys found
	found   uint32     // bit k set: top-level key k was found
	typ     []byte     // the type, unescaped as canonical string content
	scratch []byte     // decoded escaped keys and type
	others  keySet     // other top-level keys, for duplicate detection
}

// scan walks the top level once: it records where the known keys' values
// are, checks (when validating) the values that will be dropped, and reads
// the type.
func (w *walker) scan() error {
	raw := w.raw
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return w.notObject(i)
	}
	i, more, err := w.open(i, "")
	if err != nil {
		return err
	}
	for more {
		var m member
		m, i, more, err = w.member(i, 1, "")
		if err != nil {
			return err
		}
		k := topIndex(m.key)
		if k >= 0 {
			if w.found&(1<<k) != 0 {
				return w.duplicate(m, "")
			}
			w.found |= 1 << k
			if keptTop(k, w.rules) {
				w.top[k] = span{m.vs, m.ve}
				continue
			}
		} else if w.validate {
			if err := w.checkKey(m, ""); err != nil {
				return err
			}
			if !w.others.add(m.key) {
				return w.duplicate(m, "")
			}
		}
		if w.validate {
			if err := w.check(m.vs, m.ve, "", m.key); err != nil {
				return err
			}
		}
	}
	if j := skipWS(raw, i); j != len(raw) {
		return syntaxError(j, "data after the event", "")
	}
	return w.readType()
}

// notObject tells input that is not JSON from JSON that is not an object.
func (w *walker) notObject(i int) error {
	if err := canonicaljson.Valid(w.raw, w.mode); err != nil {
		return &Error{Offset: offsetOf(err), Err: err}
	}
	return &Error{Offset: int64(i), Err: ErrNotObject}
}

func (w *walker) readType() error {
	if w.found&(1<<kType) == 0 {
		return &Error{Field: "type", Offset: 0, Err: ErrType}
	}
	sp := w.top[kType]
	v := w.raw[sp.s:sp.e]
	if v[0] != '"' {
		if w.validate {
			if err := w.check(sp.s, sp.e, "type", nil); err != nil {
				return err
			}
		}
		return &Error{Field: "type", Offset: int64(sp.s), Err: ErrType}
	}
	if bytes.IndexByte(v, '\\') < 0 {
		w.typ = v[1 : len(v)-1]
		return nil
	}
	start := len(w.scratch)
	out, err := canonicaljson.Append(w.scratch, v, w.mode)
	if err != nil {
		return wrapAt(err, sp.s, "type")
	}
	w.scratch = out
	w.typ = out[start+1 : len(out)-1]
	return nil
}

// sizeHint is a close upper bound of the output's length for most events.
func (w *walker) sizeHint() int {
	n := 2
	for k := 0; k < nTop; k++ {
		if k == kContent || w.found&(1<<k) == 0 || !keptTop(k, w.rules) {
			continue
		}
		n += len(topMember[k]) + 1 + w.top[k].e - w.top[k].s
	}
	n += len(topMember[kContent]) + 1
	var buf [9]rule
	if keep, all := contentRules(&buf, w.typ, w.rules); (all || len(keep) > 0) && w.found&(1<<kContent) != 0 {
		n += w.top[kContent].e - w.top[kContent].s
	} else {
		n += 2
	}
	return n
}

// emit writes the redacted event.
func (w *walker) emit(out []byte) ([]byte, error) {
	out = append(out, '{')
	first := true
	var err error
	for k := 0; k < nTop; k++ {
		if k == kContent {
			if !first {
				out = append(out, ',')
			}
			first = false
			out = append(out, topMember[k]...)
			if out, err = w.content(out); err != nil {
				return out, err
			}
			continue
		}
		if w.found&(1<<k) == 0 || !keptTop(k, w.rules) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, topMember[k]...)
		sp := w.top[k]
		if out, err = w.appendValue(out, sp.s, sp.e, topMember[k][1:len(topMember[k])-2], ""); err != nil {
			return out, err
		}
	}
	return append(out, '}'), nil
}

// content writes the redacted content.
func (w *walker) content(out []byte) ([]byte, error) {
	if w.found&(1<<kContent) == 0 {
		return append(out, "{}"...), nil
	}
	sp := w.top[kContent]
	if w.raw[sp.s] != '{' {
		if w.validate {
			if err := w.check(sp.s, sp.e, "content", nil); err != nil {
				return out, err
			}
		}
		return out, &Error{Field: "content", Offset: int64(sp.s), Err: ErrContent}
	}
	var buf [9]rule
	keep, all := contentRules(&buf, w.typ, w.rules)
	if all {
		return w.appendValue(out, sp.s, sp.e, "content", "")
	}
	if len(keep) == 0 {
		if w.validate {
			if err := w.check(sp.s, sp.e, "content", nil); err != nil {
				return out, err
			}
		}
		return append(out, "{}"...), nil
	}
	return w.filter(out, sp.s, keep, "content")
}

// filter writes the object starting at raw[s] with only the members named
// in keep (in canonical order), checking the others when validating.
func (w *walker) filter(out []byte, s int, keep []rule, path string) ([]byte, error) {
	var spans [9]span
	var found uint32
	var others keySet
	i, more, err := w.open(s, path)
	if err != nil {
		return out, err
	}
	for more {
		var m member
		m, i, more, err = w.member(i, 0, path)
		if err != nil {
			return out, err
		}
		j := 0
		for j < len(keep) && keep[j].name != string(m.key) {
			j++
		}
		if j < len(keep) {
			if found&(1<<j) != 0 {
				return out, w.duplicate(m, path)
			}
			found |= 1 << j
			spans[j] = span{m.vs, m.ve}
			continue
		}
		if w.validate {
			if err := w.checkKey(m, path); err != nil {
				return out, err
			}
			if !others.add(m.key) {
				return out, w.duplicate(m, path)
			}
			if err := w.check(m.vs, m.ve, path, m.key); err != nil {
				return out, err
			}
		}
	}
	out = append(out, '{')
	first := true
	for j, r := range keep {
		if found&(1<<j) == 0 {
			continue
		}
		sp := spans[j]
		if r.sub != nil && w.raw[sp.s] != '{' {
			// Not an object: dropped (see the package documentation).
			if w.validate {
				if err := w.check(sp.s, sp.e, path, []byte(r.name)); err != nil {
					return out, err
				}
			}
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, r.name...)
		out = append(out, '"', ':')
		if r.sub != nil {
			if out, err = w.filter(out, sp.s, r.sub, r.path); err != nil {
				return out, err
			}
			continue
		}
		if out, err = w.appendValue(out, sp.s, sp.e, path, r.name); err != nil {
			return out, err
		}
	}
	return append(out, '}'), nil
}

// member is one object member: its key (unescaped, as the content of a
// canonical JSON string) and the span of its value.
type member struct {
	key    []byte
	ks, ke int // the key, quotes included
	vs, ve int // the value
}

// open starts reading the object whose '{' is at raw[i]. It returns the
// offset of the first member and whether there is one.
func (w *walker) open(i int, path string) (int, bool, error) {
	j := skipWS(w.raw, i+1)
	if j >= len(w.raw) {
		return j, false, syntaxError(j, "unexpected end of input in an object", path)
	}
	if w.raw[j] == '}' {
		return j + 1, false, nil
	}
	return j, true, nil
}

// member reads the member at raw[i] and what follows it. base is the
// nesting depth of the object (1 for the event itself) when its values'
// depth must be checked, 0 when the object's own depth has been checked.
func (w *walker) member(i, base int, path string) (m member, next int, more bool, err error) {
	raw := w.raw
	if i >= len(raw) || raw[i] != '"' {
		return m, i, false, syntaxError(i, "expected a string key", path)
	}
	m.ks = i
	ke, esc, err := skipString(raw, i, path)
	if err != nil {
		return m, i, false, err
	}
	m.ke = ke
	if esc {
		start := len(w.scratch)
		out, err := canonicaljson.Append(w.scratch, raw[m.ks:m.ke], w.mode)
		if err != nil {
			return m, i, false, wrapAt(err, m.ks, path)
		}
		w.scratch = out
		m.key = out[start+1 : len(out)-1]
	} else {
		m.key = raw[m.ks+1 : m.ke-1]
	}
	i = skipWS(raw, ke)
	if i >= len(raw) || raw[i] != ':' {
		return m, i, false, syntaxError(i, "expected ':' after an object key", path)
	}
	i = skipWS(raw, i+1)
	m.vs = i
	ve, depth, err := skipValue(raw, i, path)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Field = joinPath(path, m.key)
		}
		return m, i, false, err
	}
	if base > 0 && base+depth > canonicaljson.MaxDepth {
		return m, i, false, &Error{Field: joinPath(path, m.key), Offset: int64(i), Err: &canonicaljson.Error{
			Offset: int64(i), Err: canonicaljson.ErrTooDeep,
			Msg: "objects and arrays nest deeper than " + strconv.Itoa(canonicaljson.MaxDepth) + " levels",
		}}
	}
	m.ve = ve
	i = skipWS(raw, ve)
	if i >= len(raw) {
		return m, i, false, syntaxError(i, "unexpected end of input in an object", path)
	}
	switch raw[i] {
	case ',':
		return m, skipWS(raw, i+1), true, nil
	case '}':
		return m, i + 1, false, nil
	}
	return m, i, false, syntaxError(i, "expected ',' or '}' after an object member", path)
}

// checkKey checks a key that is not one the algorithm knows (those are
// plain ASCII and valid by construction).
func (w *walker) checkKey(m member, path string) error {
	for _, c := range w.raw[m.ks+1 : m.ke-1] {
		if c < 0x20 || c >= 0x7f {
			if err := canonicaljson.Valid(w.raw[m.ks:m.ke], w.mode); err != nil {
				return wrapAt(err, m.ks, path)
			}
			return nil
		}
	}
	return nil
}

// check validates a value that is dropped. The field's name, path.key,
// is only made when there is an error to report.
func (w *walker) check(s, e int, path string, key []byte) error {
	if err := canonicaljson.Valid(w.raw[s:e], w.mode); err != nil {
		return wrapAt(err, s, joinPath(path, key))
	}
	return nil
}

func (w *walker) duplicate(m member, path string) error {
	return &Error{Field: joinPath(path, m.key), Offset: int64(m.ks), Err: &canonicaljson.Error{
		Offset: int64(m.ks), Err: canonicaljson.ErrDuplicateKey,
		Msg: "duplicate key " + strconv.Quote(string(m.key)),
	}}
}

func joinPath(path string, key []byte) string {
	if key == nil {
		return path
	}
	if path == "" {
		return string(key)
	}
	return path + "." + string(key)
}

// wrapAt wraps an error of canonicaljson about raw[at:], moving its offset
// to count from the start of the input.
func wrapAt(err error, at int, field string) error {
	var ce *canonicaljson.Error
	if errors.As(err, &ce) {
		moved := *ce
		moved.Offset += int64(at)
		return &Error{Field: field, Offset: moved.Offset, Err: &moved}
	}
	return &Error{Field: field, Offset: int64(at), Err: err}
}

func offsetOf(err error) int64 {
	var ce *canonicaljson.Error
	if errors.As(err, &ce) {
		return ce.Offset
	}
	return 0
}

func syntaxError(at int, msg, field string) error {
	return &Error{Field: field, Offset: int64(at), Err: &canonicaljson.Error{
		Offset: int64(at), Err: canonicaljson.ErrSyntax, Msg: msg,
	}}
}

// keySet detects duplicate keys among the members that are dropped.
type keySet struct {
	n     int
	small [8][]byte
	big   map[string]struct{}
}

func (s *keySet) add(k []byte) bool {
	if s.big != nil {
		if _, dup := s.big[string(k)]; dup {
			return false
		}
		s.big[string(k)] = struct{}{}
		return true
	}
	for _, o := range s.small[:s.n] {
		if string(o) == string(k) {
			return false
		}
	}
	if s.n < len(s.small) {
		s.small[s.n] = k
		s.n++
		return true
	}
	s.big = make(map[string]struct{}, 2*len(s.small))
	for _, o := range s.small {
		s.big[string(o)] = struct{}{}
	}
	s.big[string(k)] = struct{}{}
	return true
}
