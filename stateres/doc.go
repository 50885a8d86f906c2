// Package stateres implements state resolution: given the room states at
// several forward extremities (state sets, maps of (type, state_key) to
// event ID), it computes the one room state that every server arrives at.
//
// # Calling it
//
// Put the events in a Store (MemoryStore, or your own: one method that
// loads events by ID) and call Resolve with the room version and the state
// sets, one StateMap per forward extremity:
//
//	store := stateres.NewMemoryStore()
//	for _, ev := range events { // parsed *event.Event, auth chains included
//		store.Add(ev)
//	}
//	state, err := stateres.Resolve(ctx, roomversion.V12,
//		[]stateres.StateMap{stateAtA, stateAtB}, store, nil)
//
// The result is the resolved StateMap. A server that keeps state as a base
// and per-fork deltas calls ResolveChanges(ctx, v, base, deltas, store, nil)
// instead, at a cost that follows the deltas. Options (nil for the defaults)
// adds a trace of the decisions. ExampleResolve is a whole program.
//
// The algorithm is the room version's, read from v.StateRes:
//
//   - Room version 1: the original algorithm (content/rooms/v1.md, "State
//     resolution"). Conflicts (two sets holding different events for a
//     key; a key some sets lack is not a conflict) are settled in passes:
//     power levels, join rules, members, then the rest, by depth and
//     sha1(event_id) and the authorization rules against the state so far.
//   - Room versions 2 to 11: state resolution v2
//     (content/rooms/fragments/v2-state-res.md). The full conflicted set is
//     the conflicted state set and the auth difference; its power events
//     (with their auth ancestors in it) are sorted by the reverse
//     topological power ordering and applied by the iterative auth checks
//     from the unconflicted state map; the rest follow in mainline order;
//     the unconflicted state map is applied last.
//   - Room version 12: state resolution v2.1 (content/rooms/v12.md, "State
//     resolution", MSC4297): the full conflicted set also holds the
//     conflicted state subgraph (every event on an auth path between two
//     conflicted events), and the iterative auth checks of the power events
//     start from an empty state.
//
// The iterative auth checks apply the authorization rules of eventauth
// (content/server-server-api.md, "Authorization rules") to each event
// against the state being built; a key the rules need that the state does
// not have is read from the event's own auth events. Rejected events
// (content/server-server-api.md, "Rejection"; the store says which) are
// never used as auth events; an event the rules refuse is skipped. An
// event rejected on receipt for the state before it still takes part, as
// the specification says ("Rejected events"). Soft-failed events
// (content/server-server-api.md, "Soft failure") take part in state
// resolution as normal, so they are ordinary events here.
//
// # Storage
//
// The resolver reaches events through a Store, which loads them in
// batches. A Store that also implements AuthChainIndex (which events cite
// a given event) lets the auth difference be found without walking the
// whole room; MemoryStore implements both. ResolveChanges takes the state
// sets as changes to a shared base state, so that a resolution never
// looks at the keys no set changed (Resolve itself compares full state
// maps with the first one and resolves the differences): with both, the
// work follows the conflicted events, their auth chains and the events
// the sorts and the rules read, not the size of the room.
//
// # Choices where the specification is silent
//
// Where the specification says nothing, or the reference implementations
// differ from a literal reading, the resolver does what Synapse does,
// except where noted:
//
//   - A state set's full auth chain holds its own events as well as their
//     auth chains, as the reference implementations compute it (Synapse,
//     ruma); so an unconflicted event is never in the auth difference.
//   - Power events are also the create event (as Synapse and ruma count
//     it); power levels, join rules and create must have an empty state
//     key.
//   - The power events' auth ancestors join the sort only through auth
//     edges between events of the full conflicted set, as Synapse and ruma
//     build their graphs (read literally, "the events in the auth chain of
//     P which also belong to the full conflicted set" would also take
//     those reached through events outside the set).
//   - The sender's power level for the ordering is read from the power
//     levels event among the event's auth events (the last listed) and the
//     create event (in room version 12, the one the room ID names: its
//     creators have infinite power), rejected or not, as Synapse does.
//     Levels are compared exactly (eventauth.Level): levels beyond the
//     int64 range, which room versions 1-9 accept as strings and 1-5 as
//     JSON numbers, order as Synapse's integers do.
//   - During the iterative auth checks, the state's entry is used for the
//     keys of the event's auth events selection (eventauth.Needed); any
//     other key the rules read comes from the event's own auth events
//     (Synapse). An event that was rejected on receipt is checked like any
//     other (the specification; Synapse skips it, noting that this departs
//     from the specification).
//   - Room version 1: the first event of a pass is taken unchecked; when
//     no event of another conflict passes, the last one (lowest depth,
//     highest sha1) is taken, as Synapse does.
//   - A power levels event that the ordering must read but that eventauth
//     cannot interpret ends the resolution with ErrBadPowerLevels, as the
//     reference implementations fail on one they cannot read.
//
// # Explaining a result
//
// Options.Trace records the conflicted set, the auth difference, the
// subgraph, the sorted power events, the mainline, and every
// authorization check with its verdict and the rule that refused an event.
package stateres
