package main

import (
	"github.com/mxkit/mxkit/canonicaljson"
)

// writeJSON writes the canonical JSON of the Go value v and a newline: the
// answer of most subcommands. The value is the tool's own, so a failure to
// encode it is the tool's failure (status 1). Numbers are encoded in
// Lenient mode: integers come out the same in both modes, and a raw event
// of an older room version embedded in v keeps the numbers it holds.
func writeJSON(e *env, v any) error {
	b, err := canonicaljson.Marshal(v, canonicaljson.Lenient)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = e.stdout.Write(b)
	return err
}

// writeCanonical writes the canonical JSON of the document raw, in mode,
// and a newline. raw comes from the input, so a document that cannot be
// canonicalized (not JSON, duplicate keys, a number mode refuses, too
// deep) is unusable input: status 2, with the reason and byte offset.
func writeCanonical(e *env, raw []byte, mode canonicaljson.Mode) error {
	b, err := canonicaljson.Append(make([]byte, 0, len(raw)+1), raw, mode)
	if err != nil {
		return usagef("%v", err)
	}
	b = append(b, '\n')
	_, err = e.stdout.Write(b)
	return err
}
