package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
)

func init() {
	register(command{
		name:    "resolve",
		summary: "state resolution of state sets (--room-version V)",
		run:     runResolve,
	})
}

// resolveInput is the document "resolve" reads.
type resolveInput struct {
	StateSets [][]string        `json:"state_sets"`
	Events    []json.RawMessage `json:"events"`
}

// runResolve is "resolve --room-version V": input {"state_sets": [[event
// ID, ...], ...], "events": [...]} where events holds every event a state
// set names and every event of their auth chains, each with an
// "event_id" taken as its ID. Output {"state": {type: {state_key: event
// ID}}}, the state resolved by the algorithm of V.
func runResolve(e *env, args []string) error {
	fs := newFlags("resolve")
	versionID := fs.String("room-version", "", "room version identifier (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *versionID == "" {
		return usagef("--room-version is required")
	}
	v, ok := roomversion.Lookup(*versionID)
	if !ok {
		return usagef("unknown room version %q", *versionID)
	}
	raw, err := readInput(e)
	if err != nil {
		return err
	}
	sets, store, err := decodeResolveInput(v, raw)
	if err != nil {
		return err
	}
	resolved, err := stateres.Resolve(context.Background(), v, sets, store, nil)
	if err != nil {
		// Events missing from the input, a state set entry that does not
		// match its event, auth events in a cycle, unusable power levels:
		// all are faults of the input.
		if errors.Is(err, stateres.ErrMissingEvent) || errors.Is(err, stateres.ErrBadStateSet) ||
			errors.Is(err, stateres.ErrAuthCycle) || errors.Is(err, stateres.ErrBadPowerLevels) {
			return usagef("%v", err)
		}
		return err
	}
	out := map[string]map[string]string{}
	for k, id := range resolved {
		m := out[k.Type]
		if m == nil {
			m = map[string]string{}
			out[k.Type] = m
		}
		m[k.StateKey] = id
	}
	return writeJSON(e, map[string]any{"state": out})
}

// decodeResolveInput checks the document's shape and parses its events.
func decodeResolveInput(v roomversion.Version, raw []byte) ([]stateres.StateMap, *stateres.MemoryStore, error) {
	if err := canonicaljson.Valid(raw, canonicaljson.Lenient); err != nil {
		return nil, nil, usagef("input is not usable JSON: %v", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, nil, usagef("input must be a JSON object with \"state_sets\" and \"events\"")
	}
	var in resolveInput
	ss, ok := top["state_sets"]
	if !ok {
		return nil, nil, usagef("\"state_sets\" must be present (an array of arrays of event IDs)")
	}
	if err := json.Unmarshal(ss, &in.StateSets); err != nil || in.StateSets == nil {
		return nil, nil, usagef("\"state_sets\" must be an array of arrays of event IDs")
	}
	for i, s := range in.StateSets {
		if s == nil {
			return nil, nil, usagef("state_sets[%d] must be an array of event IDs", i)
		}
	}
	evs, ok := top["events"]
	if !ok {
		return nil, nil, usagef("\"events\" must be present (an array of events)")
	}
	if err := json.Unmarshal(evs, &in.Events); err != nil || in.Events == nil {
		return nil, nil, usagef("\"events\" must be an array of events")
	}

	store := stateres.NewMemoryStore()
	byID := make(map[string]*event.Event, len(in.Events))
	for i, r := range in.Events {
		if !isJSONObject(r) {
			return nil, nil, usagef("events[%d] is not an object", i)
		}
		var probe struct {
			EventID *string `json:"event_id"`
		}
		if err := json.Unmarshal(r, &probe); err != nil {
			return nil, nil, usagef("events[%d]: %v", i, err)
		}
		if probe.EventID == nil {
			return nil, nil, usagef("events[%d] has no \"event_id\"", i)
		}
		ev, err := event.ParseWithID(v, r, *probe.EventID)
		if err != nil {
			return nil, nil, usagef("events[%d] (%s): %v", i, *probe.EventID, err)
		}
		if _, dup := byID[ev.ID()]; dup {
			return nil, nil, usagef("events[%d]: event %s appears twice", i, ev.ID())
		}
		byID[ev.ID()] = ev
		store.Add(ev)
	}
	sets := make([]stateres.StateMap, len(in.StateSets))
	for i, ids := range in.StateSets {
		m := make(stateres.StateMap, len(ids))
		for _, id := range ids {
			ev := byID[id]
			if ev == nil {
				return nil, nil, usagef("state_sets[%d] names %s, which is not among the events", i, id)
			}
			sk, isState := ev.StateKey()
			if !isState {
				return nil, nil, usagef("state_sets[%d] names %s, which is not a state event", i, id)
			}
			k := stateres.StateKey{Type: ev.Type(), StateKey: sk}
			if other, dup := m[k]; dup && other != id {
				return nil, nil, usagef("state_sets[%d] has two events for (%s, %q): %s and %s", i, k.Type, k.StateKey, other, id)
			}
			m[k] = id
		}
		sets[i] = m
	}
	return sets, store, nil
}
