package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"time"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

func init() {
	register(command{
		name:    "verify",
		summary: "check the signatures of an event (--room-version V) or a JSON object (--keys FILE)",
		run:     runVerify,
	})
}

// runVerify is "verify --keys FILE [--room-version V]". Without a room
// version the input is a signed JSON object (see verifyPlainJSON).
//
// With a room version the input is an event, parsed and validated for V
// (an event that is not valid in V is unusable input: status 2), and
// checked as a server checks a received event: the signatures of every
// server that must have signed it, over its redacted form, then the
// content hash. "valid" is the signature check: true means the event is
// accepted; "content_hash_valid" false beside it means it is accepted in
// its redacted form. An event_id in the input of a room version whose IDs
// are hashes is allowed, as in the other subcommands' inputs, and left
// out of the hashes.
//
// The keys file gives no validity period, so its keys are taken as valid
// at any time (room versions 5 and later check validity).
func runVerify(e *env, args []string) error {
	fs := newFlags("verify")
	keysPath := fs.String("keys", "", "file of public keys (required)")
	id := fs.String("room-version", "", "room version identifier: verify as an event of it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keysPath == "" {
		return usagef("--keys FILE is required")
	}
	v, err := eventRoomVersion(*id, false)
	if err != nil {
		return err
	}
	if *id == "" {
		keysFile, err := os.ReadFile(*keysPath)
		if err != nil {
			return usagef("--keys: %v", err)
		}
		raw, err := readInput(e)
		if err != nil {
			return err
		}
		return verifyPlainJSON(e, raw, keysFile)
	}
	keys, err := loadVerifyKeys(*keysPath)
	if err != nil {
		return err
	}
	raw, err := readInput(e)
	if err != nil {
		return err
	}
	ev, err := parseEventForVerify(v, raw)
	if err != nil {
		return usagef("%v", err)
	}
	ring := signing.NewMemoryKeyRing()
	for server, ks := range keys {
		for kid, pub := range ks {
			ring.Add(server, kid, signing.PublicKey{Key: pub, ValidUntilTS: math.MaxInt64})
		}
	}
	vr := &event.Verifier{
		KeyRing: ring,
		// Validity is capped at now + 7 days; with no validity in the
		// file, "now" is put far enough ahead that the cap never bites.
		Now: func() time.Time { return time.UnixMilli(math.MaxInt64 / 2) },
	}
	r := vr.Verify(context.Background(), ev)
	out := struct {
		Valid            bool   `json:"valid"`
		Error            string `json:"error,omitempty"`
		ContentHashValid bool   `json:"content_hash_valid"`
	}{
		Valid:            r.Verdict != event.Invalid,
		ContentHashValid: ev.ContentHashValid(),
	}
	if r.Verdict == event.Invalid {
		out.Error = r.Err.Error()
	}
	return writeJSON(e, out)
}

// parseEventForVerify parses the event; an event_id key in a room version
// whose IDs are hashes is taken as the given ID.
func parseEventForVerify(v roomversion.Version, raw []byte) (*event.Event, error) {
	ev, err := event.Parse(v, raw)
	var ve *event.ValidationError
	if err == nil || !errors.As(err, &ve) || ve.Rule != "event_id.unexpected" {
		return ev, err
	}
	var probe struct {
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	return event.ParseWithID(v, raw, probe.EventID)
}
