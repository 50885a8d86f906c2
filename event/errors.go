package event

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every *ValidationError, for errors.Is.
var ErrInvalid = errors.New("event: invalid event")

// ValidationError says why an event is not a valid PDU of its room
// version: which field, which rule, and what was wrong.
//
// Rule is a stable identifier that programs and test suites can match on:
//
//	json.syntax        the bytes are not JSON (Msg has the byte offset)
//	json.not_object    the event is not a JSON object
//	json.utf8          invalid UTF-8, or an unpaired \u surrogate escape
//	json.duplicate_key an object has the same key twice (any room version)
//	json.depth         objects and arrays nest too deeply
//	json.float         a number with a fraction or exponent (room versions 6+)
//	json.number        an integer outside ±(2^53-1) (room versions 6+), or a
//	                   number canonical JSON cannot encode
//	size.event         the canonical JSON of the event is over 65536 bytes
//	<field>.missing    a required field is absent
//	<field>.type       a field has the wrong JSON type
//	<field>.size       sender, room_id, state_key, type or event_id is over 255 bytes
//	<field>.format     an identifier without its sigil or server part, or a
//	                   prev_events / auth_events entry of the wrong shape for
//	                   the room version's event format
//	<field>.count      more than 20 prev_events or 10 auth_events
//	<field>.unexpected a field the room version's format does not have
//	depth.range        depth below 0 or above the room version's limit
//	origin_server_ts.range  a timestamp outside the 64-bit range
type ValidationError struct {
	Field string // the top-level field, "" for the event as a whole
	Rule  string
	Msg   string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("event: %s (%s)", e.Msg, e.Rule)
	}
	return fmt.Sprintf("event: %s: %s (%s)", e.Field, e.Msg, e.Rule)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, rule, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Rule: rule, Msg: fmt.Sprintf(format, args...)}
}
