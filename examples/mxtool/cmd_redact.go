package main

import (
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
)

func init() {
	register(command{
		name:    "redact",
		summary: "the event after the redaction algorithm of a room version (--room-version V)",
		run:     runRedact,
	})
}

// runRedact is "redact --room-version V": the input event, redacted by the
// algorithm of V, as canonical JSON in V's number rules. Every refusal of
// the redact package is about the input (not JSON, not an object,
// duplicate keys, numbers V does not allow, no string type, a content that
// is not an object), so it ends with status 2.
func runRedact(e *env, args []string) error {
	fs := newFlags("redact")
	id := fs.String("room-version", "", "room version identifier (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usagef("--room-version is required")
	}
	v, ok := roomversion.Lookup(*id)
	if !ok {
		return usagef("unknown room version %q", *id)
	}
	raw, err := readInput(e)
	if err != nil {
		return err
	}
	out, err := redact.Redact(v, raw)
	if err != nil {
		return usagef("%v", err)
	}
	return writeCanonical(e, out, redact.Mode(v))
}
