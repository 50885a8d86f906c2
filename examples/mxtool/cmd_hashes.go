package main

import (
	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/event"
)

func init() {
	register(command{
		name:    "hashes",
		summary: "the content and reference hashes of an event (--room-version V)",
		run:     runHashes,
	})
}

// runHashes is "hashes --room-version V": {"content_hash": ...,
// "reference_hash": ..., "content_hash_valid": bool}, the hashes in
// unpadded standard base64, and whether the event's own hashes.sha256 is
// its content hash (false when it is absent or not a string), decoded as
// the reference server decodes it.
//
// Like event-id it hashes any JSON object the algorithms accept; input
// they refuse is unusable (status 2).
func runHashes(e *env, args []string) error {
	v, raw, err := versionAndInput(e, "hashes", args)
	if err != nil {
		return err
	}
	content, err := event.ContentHash(v, raw)
	if err != nil {
		return usagef("%v", err)
	}
	valid, err := event.ContentHashValid(v, raw)
	if err != nil {
		return usagef("%v", err)
	}
	reference, err := event.ReferenceHash(v, raw)
	if err != nil {
		return usagef("%v", err)
	}
	return writeJSON(e, struct {
		ContentHash      string `json:"content_hash"`
		ReferenceHash    string `json:"reference_hash"`
		ContentHashValid bool   `json:"content_hash_valid"`
	}{
		ContentHash:      base64.EncodeToString(content[:]),
		ReferenceHash:    base64.EncodeToString(reference[:]),
		ContentHashValid: valid,
	})
}
