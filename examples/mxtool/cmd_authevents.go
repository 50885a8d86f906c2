package main

import (
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/eventauth"
)

func init() {
	register(command{
		name:    "auth-events",
		summary: "the state an event's authorization needs (--room-version V)",
		run:     runAuthEvents,
	})
}

// runAuthEvents is "auth-events --room-version V": the auth events
// selection for the input event, {"needed": [{"type", "state_key"}, ...]}
// sorted by type then state key. An input that is not a valid event of V,
// or a membership event whose needs cannot be told (no state_key or
// membership), is unusable input: status 2.
func runAuthEvents(e *env, args []string) error {
	v, raw, err := versionAndInput(e, "auth-events", args)
	if err != nil {
		return err
	}
	if err := canonicaljson.Valid(raw, canonicaljson.Lenient); err != nil {
		return usagef("input is not usable JSON: %v", err)
	}
	if !isJSONObject(raw) {
		return usagef("input must be an event (a JSON object)")
	}
	ev, err := parseTestEvent(v, raw)
	if err != nil {
		return usagef("not a valid event of room version %s: %v", v.ID, err)
	}
	keys, err := eventauth.Needed(v, ev)
	if err != nil {
		return usagef("%v", err)
	}
	needed := make([]map[string]string, len(keys))
	for i, k := range keys {
		needed[i] = map[string]string{"type": k.Type, "state_key": k.StateKey}
	}
	return writeJSON(e, map[string]any{"needed": needed})
}
