package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

func init() {
	register(command{
		name:    "auth",
		summary: "authorization check of an event against its auth events (--room-version V)",
		run:     runAuth,
	})
}

// authInput is the document "auth" reads.
type authInput struct {
	Event      json.RawMessage   `json:"event"`
	AuthEvents []json.RawMessage `json:"auth_events"`
	Rejected   []string          `json:"rejected"`
}

// runAuth is "auth --room-version V": the checks on the event's own
// auth_events list, then the authorization rules with the given auth events
// as the state. The verdict is the answer: {"allowed": true} or
// {"allowed": false, "reason": "<rule>: <sentence>"}, status 0, also when
// the event (or an auth event) is not a valid event of V. Status 2 is for a
// document that does not have this shape.
func runAuth(e *env, args []string) error {
	v, raw, err := versionAndInput(e, "auth", args)
	if err != nil {
		return err
	}
	in, err := decodeAuthInput(raw)
	if err != nil {
		return err
	}
	verdict := func(reason string) error {
		if reason == "" {
			return writeJSON(e, map[string]any{"allowed": true})
		}
		return writeJSON(e, map[string]any{"allowed": false, "reason": reason})
	}
	ev, err := parseTestEvent(v, in.Event)
	if err != nil {
		return verdict(fmt.Sprintf("invalid event: %v", err))
	}
	auth := make([]*event.Event, 0, len(in.AuthEvents))
	for i, a := range in.AuthEvents {
		ae, err := parseTestEvent(v, a)
		if err != nil {
			return verdict(fmt.Sprintf("invalid auth event %d: %v", i, err))
		}
		auth = append(auth, ae)
	}
	rejected := make(map[string]bool, len(in.Rejected))
	for _, id := range in.Rejected {
		rejected[id] = true
	}
	err = eventauth.Check(v, ev, auth, func(id string) bool { return rejected[id] })
	var rej *eventauth.Rejection
	switch {
	case err == nil:
		return verdict("")
	case errors.As(err, &rej):
		return verdict(rej.Rule + ": " + rej.Reason)
	default:
		return err
	}
}

// decodeAuthInput checks the document: JSON without duplicate keys, an
// object with an "event" object, an "auth_events" array of objects and an
// optional "rejected" array of strings.
func decodeAuthInput(raw []byte) (*authInput, error) {
	if err := canonicaljson.Valid(raw, canonicaljson.Lenient); err != nil {
		return nil, usagef("input is not usable JSON: %v", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, usagef("input must be a JSON object with \"event\" and \"auth_events\"")
	}
	in := new(authInput)
	ev, ok := top["event"]
	if !ok || !isJSONObject(ev) {
		return nil, usagef("\"event\" must be present and an object")
	}
	in.Event = ev
	ae, ok := top["auth_events"]
	if !ok {
		return nil, usagef("\"auth_events\" must be present (an array of events)")
	}
	if err := json.Unmarshal(ae, &in.AuthEvents); err != nil || in.AuthEvents == nil {
		return nil, usagef("\"auth_events\" must be an array of events")
	}
	for i, a := range in.AuthEvents {
		if !isJSONObject(a) {
			return nil, usagef("auth_events[%d] is not an object", i)
		}
	}
	if r, ok := top["rejected"]; ok && !bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
		if err := json.Unmarshal(r, &in.Rejected); err != nil {
			return nil, usagef("\"rejected\" must be an array of event IDs")
		}
	}
	return in, nil
}

func isJSONObject(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) > 0 && b[0] == '{'
}

// parseTestEvent parses an event of a test input: its "event_id" field,
// whatever the room version, is taken as its ID (the CLI contract); an
// event without one gets the ID its version computes.
func parseTestEvent(v roomversion.Version, raw []byte) (*event.Event, error) {
	var probe struct {
		EventID *string `json:"event_id"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	if probe.EventID == nil {
		return event.Parse(v, raw)
	}
	return event.ParseWithID(v, raw, *probe.EventID)
}
