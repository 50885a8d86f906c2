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
// would have been redacted away.
//
// # Cost
//
// The event is read once, in order. A kept member is copied to the output
// as it is met: a value already in canonical form (ASCII strings without
// escapes, integers of up to 15 digits, objects with their keys in order,
// which is most of what events keep) is checked and copied whole, anything
// else is re-encoded by canonicaljson. A dropped member is skipped and,
// by Redact and Append, given to canonicaljson.Valid; it is never
// re-encoded. The content's rules depend on the type: when the type comes
// first (as in the events Synapse writes) the content is redacted as it is
// read; when it comes after (as in canonical JSON) the content is skipped
// and redacted at the end. The members are then put in canonical order
// with one copy. [AppendValidated] does not check what it drops, for
// input validated already (events parsed by the event package): its work
// is a scan of what is dropped and a copy of what is kept.
// [AppendCanonical] goes one step further for input that is canonical
// JSON already (the signed form of an event, made by canonicaljson or
// checked to be canonical when parsed): what it keeps is copied as found.
package redact

import (
	"bytes"
	"errors"
	"strconv"
	"sync"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/internal/jsonraw"
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
	// Build in a pooled buffer, then allocate the result at its exact
	// size: one allocation, and nothing held that the caller does not see.
	bp := bufPool.Get().(*[]byte)
	w := walker{raw: raw, rules: v.Redaction, mode: modeOf(v), validate: true}
	out, err := w.run((*bp)[:0])
	var res []byte
	if err == nil {
		res = append([]byte(nil), out...)
	}
	if cap(out) <= maxPooled {
		*bp = out[:0]
		bufPool.Put(bp)
	}
	return res, err
}

// bufPool holds the buffers Redact builds its result in.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooled keeps buffers grown by unusually large events out of the pool.
const maxPooled = 256 << 10

// Append is Redact appending the redacted event to dst. On error dst is
// returned unextended (its spare capacity may have been written).
// Appending into a reused buffer avoids allocating: the redacted event is
// built in place and put in canonical order through the spare capacity
// after it, so a buffer with room for twice the redacted event does not
// grow.
func Append(dst []byte, v roomversion.Version, raw []byte) ([]byte, error) {
	w := walker{raw: raw, rules: v.Redaction, mode: modeOf(v), validate: true}
	out, err := w.run(dst)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendValidated is Append for an event that has already passed
// canonicaljson.Valid in the mode of v (as events parsed by the event
// package have), or that is the output of canonicaljson. It does not check
// the values it drops, which is most of the work for events whose content
// is redacted away; what it keeps is still checked as it is encoded, and
// the event's shape (an object, a string type, an object content) is still
// checked. Given input that was not validated it never panics, but it may
// accept what Redact refuses.
func AppendValidated(dst []byte, v roomversion.Version, raw []byte) ([]byte, error) {
	w := walker{raw: raw, rules: v.Redaction, mode: modeOf(v)}
	out, err := w.run(dst)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendCanonical is AppendValidated for an event that is byte-exact
// canonical JSON in the mode of v (canonicaljson.IsCanonical holds, as for
// the output of canonicaljson, or the signed form of an event being
// checked). A kept value is then already in canonical form, so it is
// copied as it is found instead of being checked against the canonical
// subset first: for events that keep large objects (the users of a power
// levels event) that check was most of the work. Given input that is not
// canonical it never panics, but its output may not be canonical either.
//
// In canonical JSON the content comes before the type, whose rules it
// needs, so it would be read twice (skipped, then redacted at the end).
// AppendCanonical guesses the type first, from the last "type" member of
// the text, and redacts the content as it is read; if the guess is not
// the event's type (a later member holds an object with a "type" key),
// or anything fails, it redacts again without guessing.
func AppendCanonical(dst []byte, v roomversion.Version, raw []byte) ([]byte, error) {
	w := walker{raw: raw, rules: v.Redaction, mode: modeOf(v), canonical: true}
	guess := guessType(raw)
	w.typ = guess
	out, err := w.run(dst)
	if guess != nil && (err != nil || !bytes.Equal(w.typ, guess)) {
		w = walker{raw: raw, rules: v.Redaction, mode: modeOf(v), canonical: true}
		out, err = w.run(dst)
	}
	if err != nil {
		return dst, err
	}
	return out, nil
}

// guessType returns the value of the last "type" member in raw, a string
// without escapes, or nil. In canonical JSON this is the event's type
// unless a member after it (one whose key sorts after "type") holds an
// object with a "type" key.
func guessType(raw []byte) []byte {
	const key = `"type":"`
	i := bytes.LastIndex(raw, []byte(key))
	if i <= 0 || (raw[i-1] != ',' && raw[i-1] != '{') {
		return nil
	}
	s := i + len(key)
	n := bytes.IndexByte(raw[s:], '"')
	if n < 0 || bytes.IndexByte(raw[s:s+n], '\\') >= 0 {
		return nil
	}
	return raw[s : s+n : s+n]
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
	// canonical: raw is byte-exact canonical JSON in mode, so a kept
	// value is its own canonical form and is copied as found.
	canonical bool

	content span   // the content's value, if found
	typ     []byte // the type, unescaped as canonical string content
	scratch []byte // decoded escaped keys and type
	others  keySet // top-level keys the algorithm does not know, for duplicates
}

// run walks the event once and appends the redacted event to out.
//
// Kept members are copied as they are met, except content, whose rules
// depend on the type, which may come later: it is written at the end.
// Then the members are put in canonical order (which the content, at
// least, breaks).
func (w *walker) run(out []byte) ([]byte, error) {
	raw := w.raw
	i := jsonraw.SkipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return out, w.notObject(i)
	}
	var segs [nTop]span // where each kept member, "name":value, lies in out
	var found, written uint32
	inOrder := true
	last := -1
	open := len(out)
	out = append(out, '{')
	i, more, err := w.open(i, "")
	if err != nil {
		return out, err
	}
	var m member
	for more {
		if err = w.memberKey(&m, i, ""); err != nil {
			return out, err
		}
		k := topIndex(m.key)
		if k >= 0 {
			if found&(1<<k) != 0 {
				return out, w.duplicate(&m, "")
			}
			found |= 1 << k
		}
		switch {
		case k == kContent && w.typ != nil:
			// The type came first (as in events Synapse builds): the
			// content is redacted as it is read.
			start := len(out)
			if start > open+1 {
				out = append(out, ',')
			}
			out = append(out, topMember[kContent]...)
			if out, m.ve, err = w.writeContent(out, m.vs, -1); err != nil {
				return out, err
			}
			segs[kContent] = span{start, len(out)}
			written |= 1 << kContent
			if kContent < last {
				inOrder = false
			}
			last = kContent
		case k == kContent:
			ve, err := w.skip(&m, 1, "")
			if err != nil {
				return out, err
			}
			m.ve = ve
			w.content = span{m.vs, ve}
		case k >= 0 && keptTop(k, w.rules):
			start := len(out)
			if start > open+1 {
				out = append(out, ',')
			}
			out = append(out, topMember[k]...)
			if out, m.ve, err = w.copyValue(out, m.vs, 1, "", topMember[k][1:len(topMember[k])-2]); err != nil {
				return out, err
			}
			segs[k] = span{start, len(out)}
			written |= 1 << k
			if k < last {
				inOrder = false
			}
			last = k
			if k == kType {
				if err := w.readType(span{m.vs, m.ve}); err != nil {
					return out, err
				}
			}
		default:
			if k < 0 && w.validate {
				if err := w.checkKey(&m, ""); err != nil {
					return out, err
				}
				if !w.others.add(m.key) {
					return out, w.duplicate(&m, "")
				}
			}
			ve, err := w.skip(&m, 1, "")
			if err != nil {
				return out, err
			}
			m.ve = ve
			if w.validate {
				if err := w.check(m.vs, m.ve, "", m.key); err != nil {
					return out, err
				}
			}
		}
		if i, more, err = w.memberEnd(m.ve, ""); err != nil {
			return out, err
		}
	}
	if j := jsonraw.SkipSpace(raw, i); j != len(raw) {
		return out, syntaxError(j, "data after the event", "")
	}
	if found&(1<<kType) == 0 {
		return out, &Error{Field: "type", Offset: 0, Err: ErrType}
	}
	if written&(1<<kContent) == 0 {
		start := len(out)
		if start > open+1 {
			out = append(out, ',')
		}
		out = append(out, topMember[kContent]...)
		if found&(1<<kContent) == 0 {
			out = append(out, "{}"...)
		} else if out, _, err = w.writeContent(out, w.content.s, w.content.e); err != nil {
			return out, err
		}
		segs[kContent] = span{start, len(out)}
		written |= 1 << kContent
		if kContent < last {
			inOrder = false
		}
	}
	if !inOrder {
		out = reorder(out, open+1, segs[:], written)
	}
	return append(out, '}'), nil
}

// skip returns the end of the value of m, checking its depth when it is a
// member of an object at depth base (1 for the event itself).
func (w *walker) skip(m *member, base int, path string) (int, error) {
	ve, depth, ok := jsonraw.ValueEnd(w.raw, m.vs)
	if !ok {
		return 0, fieldOf(valueError(w.raw, m.vs, ve, path), path, m.key)
	}
	if base > 0 && base+depth > canonicaljson.MaxDepth {
		return 0, tooDeep(m.vs, joinPath(path, m.key))
	}
	return ve, nil
}

func tooDeep(at int, field string) error {
	return &Error{Field: field, Offset: int64(at), Err: &canonicaljson.Error{
		Offset: int64(at), Err: canonicaljson.ErrTooDeep,
		Msg: "objects and arrays nest deeper than " + strconv.Itoa(canonicaljson.MaxDepth) + " levels",
	}}
}

// notObject tells input that is not JSON from JSON that is not an object.
func (w *walker) notObject(i int) error {
	if err := canonicaljson.Valid(w.raw, w.mode); err != nil {
		return &Error{Offset: offsetOf(err), Err: err}
	}
	return &Error{Offset: int64(i), Err: ErrNotObject}
}

// readType reads the type, whose value (already checked and written) is
// at sp.
func (w *walker) readType(sp span) error {
	v := w.raw[sp.s:sp.e]
	if v[0] != '"' {
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

// writeContent writes the redacted content, whose value starts at raw[vs],
// and returns the offset after it. ve is that offset when it is known
// already (the value has been skipped), -1 when not; then the content's
// depth is checked here.
func (w *walker) writeContent(out []byte, vs, ve int) ([]byte, int, error) {
	if w.raw[vs] != '{' {
		if ve < 0 {
			var err error
			if ve, _, err = skipValue(w.raw, vs, "content"); err != nil {
				return out, 0, err
			}
		}
		if w.validate {
			if err := w.check(vs, ve, "content", nil); err != nil {
				return out, 0, err
			}
		}
		return out, 0, &Error{Field: "content", Offset: int64(vs), Err: ErrContent}
	}
	var buf [9]rule
	keep, all := contentRules(&buf, w.typ, w.rules)
	switch {
	case all && ve >= 0:
		out, err := w.appendValue(out, vs, ve, "content", "")
		return out, ve, err
	case all:
		return w.copyValue(out, vs, 1, "content", "")
	case len(keep) == 0:
		if ve < 0 {
			m := member{key: contentKey, vs: vs}
			var err error
			if ve, err = w.skip(&m, 1, ""); err != nil {
				return out, 0, err
			}
		}
		if w.validate {
			if err := w.check(vs, ve, "content", nil); err != nil {
				return out, 0, err
			}
		}
		return append(out, "{}"...), ve, nil
	}
	return w.filter(out, vs, keep, 2, "content")
}

var contentKey = []byte("content")

// filter writes the object starting at raw[s] with only the members named
// in keep, checking the others when validating, and returns the offset
// just after the object.
//
// Kept members are copied as they are met, so each byte is read once; if
// they were not met in canonical order (the order of keep), the copies are
// put in order at the end.
//
// base is the depth of the object's members (2 for the content's), for the
// checks of nesting.
func (w *walker) filter(out []byte, s int, keep []rule, base int, path string) ([]byte, int, error) {
	var segs [9]span // where each kept member, "name":value, lies in out
	var found, written uint32
	var others keySet
	inOrder := true
	last := -1
	open := len(out)
	out = append(out, '{')
	i, more, err := w.open(s, path)
	if err != nil {
		return out, 0, err
	}
	var m member
	for more {
		if err = w.memberKey(&m, i, path); err != nil {
			return out, 0, err
		}
		j := 0
		for j < len(keep) && keep[j].name != string(m.key) {
			j++
		}
		switch {
		case j < len(keep) && found&(1<<j) != 0:
			return out, 0, w.duplicate(&m, path)
		case j < len(keep) && (keep[j].sub == nil || w.raw[m.vs] == '{'):
			found |= 1 << j
			written |= 1 << j
			r := keep[j]
			start := len(out)
			if start > open+1 {
				out = append(out, ',')
			}
			out = append(out, '"')
			out = append(out, r.name...)
			out = append(out, '"', ':')
			if r.sub != nil {
				out, m.ve, err = w.filter(out, m.vs, r.sub, base+1, r.path)
			} else {
				out, m.ve, err = w.copyValue(out, m.vs, base, path, r.name)
			}
			if err != nil {
				return out, 0, err
			}
			segs[j] = span{start, len(out)}
			if j < last {
				inOrder = false
			}
			last = j
		default:
			// Dropped: a key not kept, or a sub-object rule's value that
			// is not an object (see the package documentation).
			if j < len(keep) {
				found |= 1 << j
			}
			ve, err := w.skip(&m, base, path)
			if err != nil {
				return out, 0, err
			}
			m.ve = ve
			if w.validate {
				if j == len(keep) {
					if err := w.checkKey(&m, path); err != nil {
						return out, 0, err
					}
					if !others.add(m.key) {
						return out, 0, w.duplicate(&m, path)
					}
				}
				if err := w.check(m.vs, m.ve, path, m.key); err != nil {
					return out, 0, err
				}
			}
		}
		if i, more, err = w.memberEnd(m.ve, path); err != nil {
			return out, 0, err
		}
	}
	if !inOrder {
		out = reorder(out, open+1, segs[:len(keep)], written)
	}
	return append(out, '}'), i, nil
}

// reorder puts the members written from out[from:] (each one starting
// with its comma, except the one written first) in the order of segs. The
// ordered copy is made after them, in the buffer's spare capacity, and
// moved down.
func reorder(out []byte, from int, segs []span, written uint32) []byte {
	end := len(out)
	for j, sg := range segs {
		if written&(1<<j) == 0 {
			continue
		}
		b := out[sg.s:sg.e]
		if b[0] == ',' {
			b = b[1:]
		}
		if len(out) > end {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	n := copy(out[from:], out[end:])
	return out[:from+n]
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
	j := jsonraw.SkipSpace(w.raw, i+1)
	if j >= len(w.raw) {
		return j, false, syntaxError(j, "unexpected end of input in an object", path)
	}
	if w.raw[j] == '}' {
		return j + 1, false, nil
	}
	return j, true, nil
}

// memberKey reads the key of the member at raw[i] and the colon after it
// into m; m.vs is where the value starts. (m is filled in place: returning
// the struct costs more than reading the key.)
func (w *walker) memberKey(m *member, i int, path string) error {
	raw := w.raw
	if i >= len(raw) || raw[i] != '"' {
		return syntaxError(i, "expected a string key", path)
	}
	m.ks = i
	ke, esc, ok := jsonraw.StringEnd(raw, i)
	if !ok {
		return syntaxError(i, "unterminated string", path)
	}
	m.ke = ke
	if esc {
		start := len(w.scratch)
		out, err := canonicaljson.Append(w.scratch, raw[m.ks:m.ke], w.mode)
		if err != nil {
			return wrapAt(err, m.ks, path)
		}
		w.scratch = out
		m.key = out[start+1 : len(out)-1]
	} else {
		m.key = raw[m.ks+1 : m.ke-1]
	}
	i = jsonraw.SkipSpace(raw, ke)
	if i >= len(raw) || raw[i] != ':' {
		return syntaxError(i, "expected ':' after an object key", path)
	}
	m.vs = jsonraw.SkipSpace(raw, i+1)
	if m.vs >= len(raw) {
		return syntaxError(m.vs, "unexpected end of input, expected a value", joinPath(path, m.key))
	}
	return nil
}

// memberEnd reads what follows a member's value ending at raw[ve]: a comma
// (more=true, next is the next key) or the closing brace (next is after
// it).
func (w *walker) memberEnd(ve int, path string) (next int, more bool, err error) {
	raw := w.raw
	i := jsonraw.SkipSpace(raw, ve)
	if i >= len(raw) {
		return i, false, syntaxError(i, "unexpected end of input in an object", path)
	}
	switch raw[i] {
	case ',':
		return jsonraw.SkipSpace(raw, i+1), true, nil
	case '}':
		return i + 1, false, nil
	}
	return i, false, syntaxError(i, "expected ',' or '}' after an object member", path)
}

// fieldOf names the member in an error of the scanner.
func fieldOf(err error, path string, key []byte) error {
	if e, ok := err.(*Error); ok {
		e.Field = joinPath(path, key)
	}
	return err
}

// checkKey checks a key that is not one the algorithm knows (those are
// plain ASCII and valid by construction).
func (w *walker) checkKey(m *member, path string) error {
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

func (w *walker) duplicate(m *member, path string) error {
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
