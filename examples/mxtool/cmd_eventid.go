package main

import (
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

func init() {
	register(command{
		name:    "event-id",
		summary: "the ID of an event in a room version (--room-version V)",
		run:     runEventID,
	})
}

// runEventID is "event-id --room-version V": {"event_id": "..."}, the
// event's own event_id in versions 1 and 2, otherwise "$" and its
// reference hash in the version's base64 alphabet.
//
// The event is hashed as given: like the reference server's hashing
// functions, this works on any JSON object the redaction algorithm
// accepts, not only on valid PDUs. Input it refuses (not JSON, duplicate
// keys, numbers V does not allow, no string type, no event_id in versions
// 1 and 2) is unusable: status 2.
func runEventID(e *env, args []string) error {
	v, raw, err := versionAndInput(e, "event-id", args)
	if err != nil {
		return err
	}
	eventID, err := event.EventID(v, raw)
	if err != nil {
		return usagef("%v", err)
	}
	return writeJSON(e, map[string]string{"event_id": eventID})
}

// versionAndInput is how the subcommands that read one document for a
// required room version begin (event-id, hashes, auth, auth-events): parse
// the flags of command name (only --room-version), look the version up,
// read the input. Errors are usage errors (status 2).
func versionAndInput(e *env, name string, args []string) (roomversion.Version, []byte, error) {
	fs := newFlags(name)
	id := fs.String("room-version", "", "room version identifier (required)")
	if err := parseFlags(fs, args); err != nil {
		return roomversion.Version{}, nil, err
	}
	v, err := eventRoomVersion(*id, true)
	if err != nil {
		return roomversion.Version{}, nil, err
	}
	raw, err := readInput(e)
	if err != nil {
		return roomversion.Version{}, nil, err
	}
	return v, raw, nil
}

// eventRoomVersion looks up the --room-version of the event subcommands.
func eventRoomVersion(id string, required bool) (roomversion.Version, error) {
	if id == "" {
		if required {
			return roomversion.Version{}, usagef("--room-version is required")
		}
		return roomversion.Version{}, nil
	}
	v, ok := roomversion.Lookup(id)
	if !ok {
		return roomversion.Version{}, usagef("unknown room version %q", id)
	}
	return v, nil
}
