package main

import "github.com/mxkit/mxkit/canonicaljson"

func init() {
	register(command{
		name:    "canonical",
		summary: "canonical JSON of any JSON value (--strict: room versions 6+ number rules)",
		run:     runCanonical,
	})
}

// runCanonical is "canonical [--strict]": the input, any JSON value,
// re-encoded as canonical JSON. Without --strict, numbers are kept as room
// versions 1 to 5 allow them (written as the reference server writes
// them); with it, only integers in [-(2^53)+1, 2^53-1] are accepted.
func runCanonical(e *env, args []string) error {
	fs := newFlags("canonical")
	strict := fs.Bool("strict", false, "apply the number rules of room versions 6 and later")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	raw, err := readInput(e)
	if err != nil {
		return err
	}
	mode := canonicaljson.Lenient
	if *strict {
		mode = canonicaljson.Strict
	}
	return writeCanonical(e, raw, mode)
}
