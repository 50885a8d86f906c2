package stateres

import (
	"crypto/sha1"
	"slices"
	"strings"
)

// resolveV1 is the original state resolution algorithm of room version 1
// ("State resolution" in the room version 1 specification).
//
// R starts as the union of the state sets without the conflicting
// entries: a key is conflicted only when two sets hold different events
// for it (a key that some sets lack is not). Conflicts are then resolved
// in passes, power levels, join rules, then members, each against R as
// it stood after the previous pass; within a pass the events of a key are
// sorted by ascending depth then descending sha1(event_id), the first is
// taken and each next one replaces it while it passes the authorization
// rules against R (with the previous one in it). Any other conflict takes
// the event with the highest depth and lowest sha1(event_id) that passes
// against R, or the last one if none passes, as the reference
// implementation does.
func (r *resolver) resolveV1(base StateMap, changes []StateMap) (StateMap, error) {
	r.base = base
	touched := make(map[StateKey]struct{})
	for _, c := range changes {
		for k := range c {
			touched[k] = struct{}{}
		}
	}
	if r.agreed == nil {
		r.agreed = make(StateMap)
	}
	conflicted := make(map[StateKey][]int32)
	var all, allRef []int32
	for k := range touched {
		var distinct []string
		for _, c := range changes {
			id, ok := c[k]
			if !ok {
				id = base[k]
			}
			if id != "" && !slices.Contains(distinct, id) {
				distinct = append(distinct, id)
			}
		}
		switch len(distinct) {
		case 0:
			r.agreed[k] = ""
			r.removed = append(r.removed, k)
		case 1:
			r.agreed[k] = distinct[0]
		default:
			r.agreed[k] = "" // conflicting: not in R, whatever base holds
			for _, id := range distinct {
				i := r.intern(id)
				conflicted[k] = append(conflicted[k], i)
				all = append(all, i)
				allRef = append(allRef, none)
			}
		}
	}
	if len(conflicted) == 0 {
		return r.finish(nil)
	}
	if err := r.load(all, allRef); err != nil {
		return nil, err
	}
	keys := sortedKeys(conflicted)
	for _, k := range keys {
		for _, i := range conflicted[k] {
			if err := r.checkEntry(k, i); err != nil {
				return nil, err
			}
		}
	}
	if r.trace != nil {
		r.trace.ConflictedKeys = keys
		r.trace.Conflicted = r.sortedIDs(all)
	}
	if err := r.prefetchUnconflicted(all); err != nil {
		return nil, err
	}

	// R: the resolved entries over the unconflicted state. Entries of a
	// pass become visible to the checks of the next pass only.
	resolved := make(map[StateKey]int32)
	view := make(map[StateKey]int32)
	lookup := func(k StateKey) int32 {
		if j, ok := view[k]; ok {
			return j
		}
		if id := r.unconflicted(k); id != "" {
			return r.ids[id]
		}
		return none
	}
	hashes := make(map[int32]string)
	sha := func(i int32) string {
		h, ok := hashes[i]
		if !ok {
			sum := sha1.Sum([]byte(r.nodes[i].id))
			h = string(sum[:])
			hashes[i] = h
		}
		return h
	}
	// ascending depth, then descending sha1(event_id)
	byDepth := func(a, b int32) int {
		da, db := r.nodes[a].ev.Depth(), r.nodes[b].ev.Depth()
		if da != db {
			if da < db {
				return -1
			}
			return 1
		}
		return -strings.Compare(sha(a), sha(b))
	}
	record := func(phase Phase, i int32, err error) {
		if r.trace == nil {
			return
		}
		n := &r.nodes[i]
		c := Check{Phase: phase, EventID: n.id, Type: n.key.Type, StateKey: n.key.StateKey, Allowed: err == nil}
		if err != nil {
			c.Rule, c.Reason = ruleOf(err)
		}
		r.trace.Checks = append(r.trace.Checks, c)
	}

	// resolveAuth is a pass over the conflicts of power levels, join
	// rules or members.
	resolveAuth := func(phase Phase, k StateKey) error {
		evs := slices.Clone(conflicted[k])
		slices.SortFunc(evs, byDepth)
		prev := evs[0]
		// The checks see R with the previous event in it; the entry is
		// restored afterwards so that other keys of this pass do not see it.
		old, had := view[k]
		defer func() {
			if had {
				view[k] = old
			} else {
				delete(view, k)
			}
		}()
		for _, i := range evs[1:] {
			view[k] = prev
			err := r.check(i, lookup)
			if fatal(err) {
				return err
			}
			record(phase, i, err)
			if err != nil {
				break
			}
			prev = i
		}
		resolved[k] = prev
		return nil
	}
	pass := func(phase Phase, match func(StateKey) bool) error {
		for _, k := range keys {
			if match(k) {
				if err := resolveAuth(phase, k); err != nil {
					return err
				}
			}
		}
		for k, i := range resolved {
			view[k] = i
		}
		return nil
	}
	if err := pass(PhaseV1PowerLevels, func(k StateKey) bool { return k == keyPowerLevels }); err != nil {
		return nil, err
	}
	if err := pass(PhaseV1JoinRules, func(k StateKey) bool { return k.Type == typeJoinRules }); err != nil {
		return nil, err
	}
	if err := pass(PhaseV1Member, func(k StateKey) bool { return k.Type == typeMember }); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, done := resolved[k]; done {
			continue
		}
		evs := slices.Clone(conflicted[k])
		// highest depth, then lowest sha1(event_id), first
		slices.SortFunc(evs, func(a, b int32) int { return -byDepth(a, b) })
		pick := evs[len(evs)-1]
		for _, i := range evs {
			err := r.check(i, lookup)
			if fatal(err) {
				return nil, err
			}
			record(PhaseV1Other, i, err)
			if err == nil {
				pick = i
				break
			}
		}
		resolved[k] = pick
	}
	return r.finish(resolved)
}
