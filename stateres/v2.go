package stateres

import (
	"math"
	"slices"
	"strings"

	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

// fullWalk makes v2 walk the whole auth chains of the conflicted events,
// as v2.1 must; tests compare both ways.
var fullWalk = false

// mlInfinite is the mainline position of an event whose power levels
// ancestry never meets the mainline.
const mlInfinite = math.MaxInt64

// resolveV2 is state resolution v2 (room versions 2-11) and v2.1 (room
// version 12), on state sets given as changes to base.
func (r *resolver) resolveV2(base StateMap, changes []StateMap) (StateMap, error) {
	v21 := r.v.StateRes == roomversion.StateResV21
	nsets := len(changes)
	words := (nsets + 63) / 64
	r.base = base

	// Unconflicted state map and conflicted state set. A key no set
	// changes holds base's entry in every set: unconflicted, never looked
	// at. A key that some set lacks is conflicted (as in the reference
	// implementation, which follows the definition: present in every set
	// with the same event).
	size := 0
	for _, c := range changes {
		size += len(c)
	}
	if r.agreed == nil {
		r.agreed = make(StateMap, min(size, 1<<20))
	}
	type conflict struct {
		key  StateKey
		vals []string // each set's event for the key ("" = none)
	}
	// Full state maps conflict on few of their keys; changes conflict on
	// most of theirs.
	guess := min(size, 4096)
	conflicts := make([]conflict, 0, guess)
	flat := make([]string, 0, guess*nsets)
	for _, c := range changes {
		for k := range c {
			if _, done := r.agreed[k]; done {
				continue
			}
			at := len(flat)
			same := true
			baseLooked, baseID := false, ""
			for _, ci := range changes {
				id, ok := ci[k]
				if !ok {
					if !baseLooked {
						baseID, baseLooked = base[k], true
					}
					id = baseID
				}
				flat = append(flat, id)
				if id != flat[at] {
					same = false
				}
			}
			if same {
				r.agreed[k] = flat[at]
				if flat[at] == "" {
					r.removed = append(r.removed, k)
				}
				flat = flat[:at]
				continue
			}
			// Not in the unconflicted state map: base's entry must not
			// show through.
			r.agreed[k] = ""
			conflicts = append(conflicts, conflict{key: k, vals: flat[at : at+nsets : at+nsets]})
		}
	}
	if len(conflicts) == 0 {
		return r.finish(nil)
	}
	if r.trace != nil {
		// Only the trace shows this order; the result never depends on it.
		slices.SortFunc(conflicts, func(a, b conflict) int { return compareKeys(a.key, b.key) })
	}
	conflictedKeys := make([]StateKey, len(conflicts))
	for j := range conflicts {
		conflictedKeys[j] = conflicts[j].key
	}
	// Conflicted keys take the first key slots, in this order; they are
	// not in the unconflicted state map.
	r.nConflicted = len(conflictedKeys)
	if r.keyIDs == nil {
		r.keyIDs = make(map[StateKey]int32, len(conflictedKeys)+64)
	}
	r.keys = slices.Grow(r.keys, len(conflictedKeys)+64)
	for _, k := range conflictedKeys {
		r.keyIDs[k] = int32(len(r.keys))
		r.keys = append(r.keys, k)
		r.keyU = append(r.keyU, none)
		r.keyRes = append(r.keyRes, none)
	}

	// The conflicted events, and for each the sets that hold it. They are
	// the first events interned, so their indices are 0, 1, ...
	r.reserve(len(conflictedKeys)*5/2 + 64)
	var conflicted []int32
	var conflictedRef []int32
	ownSets := make([]uint64, 0, 2*len(conflictedKeys)*words)
	at := make([]int32, 0, len(conflicts)*nsets)
	for slot, c := range conflicts {
		for s, id := range c.vals {
			if id == "" {
				at = append(at, none)
				continue
			}
			i := r.intern(id)
			at = append(at, i)
			r.nodes[i].ownSlot = int32(slot) + 1
			if int(i) == len(conflicted) {
				conflicted = append(conflicted, i)
				conflictedRef = append(conflictedRef, none)
				ownSets = append(ownSets, make([]uint64, words)...)
			}
			ownSets[int(i)*words+s/64] |= 1 << (s % 64)
		}
	}
	if err := r.load(conflicted, conflictedRef); err != nil {
		return nil, err
	}
	for j, c := range conflicts {
		for _, i := range at[j*nsets : (j+1)*nsets] {
			if i != none {
				if err := r.checkEntry(c.key, i); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, i := range conflicted {
		r.nodes[i].flags |= inK | inD
	}

	// D: the conflicted events and their auth chains. Every event of an
	// auth difference or a conflicted state subgraph is in D.
	d, err := r.closure(conflicted, !v21 && !fullWalk)
	if err != nil {
		return nil, err
	}
	order, err := r.citersFirst(d)
	if err != nil {
		return nil, err
	}

	// Which state sets' full auth chains reach each event of D. A set's
	// full auth chain holds its events and their auth chains (as the
	// reference implementations compute it). Unconflicted events are in
	// every set, so only the conflicted events can make chains differ.
	reach := make([]uint64, len(r.nodes)*words)
	local := make([]int32, len(r.nodes))
	for li, i := range order {
		local[i] = int32(li)
	}
	for _, i := range conflicted {
		copy(reach[int(local[i])*words:int(local[i]+1)*words], ownSets[int(i)*words:])
	}
	for li, i := range order {
		row := reach[li*words : (li+1)*words]
		for _, a := range r.nodes[i].auth {
			if r.nodes[a].flags&inD == 0 {
				continue // below an unconflicted event: not walked
			}
			arow := reach[int(local[a])*words:]
			for w := range row {
				arow[w] |= row[w]
			}
		}
	}
	full := func(row []uint64) bool {
		for w := range row {
			want := ^uint64(0)
			if w == words-1 && nsets%64 != 0 {
				want = 1<<(nsets%64) - 1
			}
			if row[w] != want {
				return false
			}
		}
		return true
	}

	// Auth difference: events of D that some set's chain lacks. An event
	// reached from every set's conflicted events is in every chain. Any
	// other event is in every chain exactly when an unconflicted event
	// has it in its auth chain.
	// An unconflicted event of D puts its auth chain in every set's chain:
	// marking those first leaves few events for the search below.
	inU := make([]bool, len(order))
	for li, i := range order {
		n := &r.nodes[i]
		if !inU[li] && r.isU(i) {
			inU[li] = true
		}
		if inU[li] {
			for _, a := range n.auth {
				if r.nodes[a].flags&inD != 0 {
					inU[local[a]] = true
				}
			}
		}
	}
	var candidates []int32
	for li, i := range order {
		if !inU[li] && !full(reach[li*words:(li+1)*words]) {
			candidates = append(candidates, i)
		}
	}
	inUChains, err := r.inUnconflictedChains(candidates)
	if err != nil {
		return nil, err
	}
	var authDiff []int32
	for k, i := range candidates {
		if !inUChains[k] {
			authDiff = append(authDiff, i)
			r.nodes[i].flags |= inFCS
		}
	}
	for _, i := range conflicted {
		r.nodes[i].flags |= inFCS
	}

	// Conflicted state subgraph (v2.1): the events of D on an auth path
	// from one conflicted event to another, both ends included.
	var subgraph []int32
	if v21 {
		rc := make([]bool, len(order))
		for li := len(order) - 1; li >= 0; li-- {
			i := order[li]
			n := &r.nodes[i]
			ok := n.flags&inK != 0
			for _, a := range n.auth {
				if r.nodes[a].flags&inD != 0 && rc[local[a]] {
					ok = true
					break
				}
			}
			rc[li] = ok
		}
		for li, i := range order {
			if rc[li] {
				subgraph = append(subgraph, i)
				r.nodes[i].flags |= inFCS
			}
		}
	}

	var fcs []int32
	for _, i := range order {
		if r.nodes[i].flags&inFCS != 0 {
			fcs = append(fcs, i)
		}
	}
	if tr := r.trace; tr != nil {
		tr.ConflictedKeys = conflictedKeys
		tr.Conflicted = r.sortedIDs(conflicted)
		tr.AuthDifference = r.sortedIDs(authDiff)
		if v21 {
			tr.Subgraph = r.sortedIDs(subgraph)
		}
		tr.FullConflicted = r.sortedIDs(fcs)
	}

	// Step 1: the power events of the full conflicted set and their auth
	// ancestors within it, in reverse topological power ordering.
	var powerStart []int32
	for _, i := range fcs {
		if isPowerEvent(&r.nodes[i]) {
			powerStart = append(powerStart, i)
		}
	}
	power, err := r.reverseTopologicalPowerSort(powerStart)
	if err != nil {
		return nil, err
	}
	if r.trace != nil {
		r.trace.PowerEvents = r.idList(power)
	}

	// Step 2: iterative auth checks from the unconflicted state map (v2)
	// or from an empty map (v2.1).
	r.startFromU = !v21
	if r.startFromU {
		if err := r.prefetchUnconflicted(power); err != nil {
			return nil, err
		}
	}
	if err := r.iterate(PhasePower, power); err != nil {
		return nil, err
	}

	// Step 3: the rest, in mainline order of the resolved power levels.
	var rest []int32
	for _, i := range fcs {
		if r.nodes[i].flags&inX == 0 {
			rest = append(rest, i)
		}
	}
	if r.startFromU {
		if err := r.prefetchUnconflicted(rest); err != nil {
			return nil, err
		}
	}
	pl := r.slotLookup(r.slot(keyPowerLevels))
	if err := r.mainlineSort(rest, pl); err != nil {
		return nil, err
	}
	if r.trace != nil {
		r.trace.Others = r.idList(rest)
	}

	// Step 4: iterative auth checks on the partially resolved state.
	if err := r.iterate(PhaseMainline, rest); err != nil {
		return nil, err
	}

	// Step 5 (in finish): the unconflicted state map wins.
	return r.finish(nil)
}

// finish applies the unconflicted state over the resolved entries (the
// map resolved, or, when it is nil, the key slots the v2 checks filled)
// and returns the result as changes to base.
func (r *resolver) finish(resolved map[StateKey]int32) (StateMap, error) {
	n := len(resolved)
	if resolved == nil {
		n = len(r.keys)
	}
	out := make(StateMap, max(len(r.agreed), n))
	put := func(k StateKey, id string) {
		if id != r.base[k] {
			out[k] = id
		} else {
			delete(out, k)
		}
	}
	if resolved != nil {
		for k, j := range resolved {
			put(k, r.nodes[j].id)
		}
		for k, id := range r.agreed {
			if id != "" {
				put(k, id)
			} else if _, ok := resolved[k]; !ok {
				put(k, "")
			}
		}
	} else {
		for s, j := range r.keyRes {
			if j != none {
				put(r.keys[s], r.nodes[j].id)
			} else if s < r.nConflicted {
				put(r.keys[s], "") // conflicted, and no event passed
			}
		}
		for k, id := range r.agreed {
			if id != "" {
				put(k, id)
			}
		}
		for _, k := range r.removed {
			if s, ok := r.keyIDs[k]; !ok || r.keyRes[s] == none {
				put(k, "")
			}
		}
	}
	if r.trace != nil {
		r.trace.Result = make(StateMap, len(out))
		for k, id := range out {
			r.trace.Result[k] = id
		}
	}
	return out, nil
}

// closure loads the auth chains of the start events (loaded already),
// breadth first, one batch per level, and returns start and every event
// found, all marked inD.
//
// With stopAtU, the walk does not go below unconflicted events: their
// auth chains are in every state set's full auth chain, so nothing there
// is in the auth difference, and in v2 the full conflicted set holds no
// other events (the conflicted events are walk starts). v2.1 must walk
// on: the conflicted state subgraph may pass through an unconflicted
// event to a conflicted one far below.
func (r *resolver) closure(start []int32, stopAtU bool) ([]int32, error) {
	d := slices.Clone(start)
	frontier := start
	for len(frontier) > 0 {
		var next, ref []int32
		for _, i := range frontier {
			n := &r.nodes[i]
			if stopAtU && n.flags&inK == 0 && r.isU(i) {
				continue
			}
			for _, a := range n.auth {
				if r.nodes[a].flags&inD == 0 {
					r.nodes[a].flags |= inD
					next = append(next, a)
					ref = append(ref, i)
				}
			}
		}
		if err := r.load(next, ref); err != nil {
			return nil, err
		}
		d = append(d, next...)
		frontier = next
	}
	return d, nil
}

// citersFirst orders d so that every event comes before its auth events
// (Kahn's algorithm, over the edges between events of d).
func (r *resolver) citersFirst(d []int32) ([]int32, error) {
	indeg := make([]int32, len(r.nodes))
	for _, i := range d {
		for _, a := range r.nodes[i].auth {
			if r.nodes[a].flags&inD != 0 {
				indeg[a]++
			}
		}
	}
	order := make([]int32, 0, len(d))
	for _, i := range d {
		if indeg[i] == 0 {
			order = append(order, i)
		}
	}
	for h := 0; h < len(order); h++ {
		for _, a := range r.nodes[order[h]].auth {
			if r.nodes[a].flags&inD == 0 {
				continue
			}
			indeg[a]--
			if indeg[a] == 0 {
				order = append(order, a)
			}
		}
	}
	if len(order) != len(d) {
		return nil, ErrAuthCycle
	}
	return order, nil
}

// inUnconflictedChains reports, for each candidate of D, whether it is in
// the auth chain of an unconflicted event (or is one).
func (r *resolver) inUnconflictedChains(cands []int32) ([]bool, error) {
	out := make([]bool, len(cands))
	if len(cands) == 0 {
		return out, nil
	}
	var rest []int32
	var restAt []int
	for c, i := range cands {
		if r.isU(i) {
			out[c] = true
			continue
		}
		rest = append(rest, i)
		restAt = append(restAt, c)
	}
	if len(rest) == 0 {
		return out, nil
	}
	if r.index == nil {
		reached, err := r.walkUnconflicted()
		if err != nil {
			return nil, err
		}
		for k, i := range rest {
			out[restAt[k]] = reached[i]
		}
		return out, nil
	}

	// Search forwards (from an event to the events citing it) for an
	// unconflicted event, depth first, remembering every event's answer.
	// Citing events are interned (not loaded): their references carry
	// their state keys.
	const (
		hit uint8 = iota + 1
		miss
		onPath
	)
	memo := make([]uint8, len(r.nodes), len(r.nodes)+len(rest))
	// The referrers of each event asked, by event index (fetched says
	// which were asked).
	refs := make([][]Ref, len(r.nodes))
	fetched := make([]bool, len(r.nodes))
	grow := func(i int32) {
		if int(i) >= len(refs) {
			n := max(int(i)+1, 2*len(refs))
			refs = append(refs, make([][]Ref, n-len(refs))...)
			fetched = append(fetched, make([]bool, n-len(fetched))...)
		}
	}
	fetch := func(idx []int32) error {
		ids := make([]string, len(idx))
		for k, i := range idx {
			ids[k] = r.nodes[i].id
		}
		got, err := r.index.ReferencedBy(r.ctx, ids)
		if err != nil {
			return err
		}
		for k, i := range idx {
			grow(i)
			fetched[i] = true
			if k < len(got) {
				refs[i] = got[k]
			}
		}
		return nil
	}
	if err := fetch(rest); err != nil {
		return nil, err
	}
	isU := func(ref *Ref) bool {
		return r.unconflicted(StateKey{Type: ref.Type, StateKey: ref.StateKey}) == ref.ID
	}
	state := func(i int32) uint8 {
		if int(i) < len(memo) {
			return memo[i]
		}
		return 0
	}
	set := func(i int32, st uint8) {
		for int(i) >= len(memo) {
			memo = append(memo, 0)
		}
		memo[i] = st
	}
	type frame struct {
		node    int32
		refs    []Ref
		next    int
		scanned bool
	}
	var stack []frame
	for k, start := range rest {
		if st := state(start); st == hit || st == miss {
			out[restAt[k]] = st == hit
			continue
		}
		stack = append(stack[:0], frame{node: start})
		set(start, onPath)
		found := false
		for len(stack) > 0 && !found {
			f := &stack[len(stack)-1]
			if !f.scanned {
				grow(f.node)
				rs, ok := refs[f.node], fetched[f.node]
				if !ok {
					if err := fetch([]int32{f.node}); err != nil {
						return nil, err
					}
					rs = refs[f.node]
				}
				f.refs, f.scanned = rs, true
				for j := range rs {
					if isU(&rs[j]) {
						found = true
						break
					}
					if id, ok := r.ids[rs[j].ID]; ok && state(id) == hit {
						found = true
						break
					}
				}
				continue
			}
			if f.next == len(f.refs) {
				set(f.node, miss)
				stack = stack[:len(stack)-1]
				continue
			}
			ref := &f.refs[f.next]
			f.next++
			c := r.intern(ref.ID)
			if state(c) == 0 {
				set(c, onPath)
				stack = append(stack, frame{node: c})
			}
		}
		if found {
			for _, f := range stack {
				set(f.node, hit)
			}
		}
		out[restAt[k]] = found
	}
	return out, nil
}

// walkUnconflicted marks every event in the auth chain of an unconflicted
// event, for stores without an AuthChainIndex. It loads the room's whole
// auth graph.
func (r *resolver) walkUnconflicted() ([]bool, error) {
	var start []int32
	var refs []int32
	for k, id := range r.base {
		if _, ok := r.agreed[k]; !ok && id != "" {
			start = append(start, r.intern(id))
			refs = append(refs, none)
		}
	}
	for _, id := range r.agreed {
		if id != "" {
			start = append(start, r.intern(id))
			refs = append(refs, none)
		}
	}
	if err := r.load(start, refs); err != nil {
		return nil, err
	}
	seen := make([]bool, len(r.nodes))
	for _, i := range start {
		seen[i] = true
	}
	frontier := start
	for len(frontier) > 0 {
		var next, ref []int32
		for _, i := range frontier {
			for _, a := range r.nodes[i].auth {
				if int(a) >= len(seen) {
					seen = append(seen, make([]bool, int(a)+1-len(seen))...)
				}
				if !seen[a] {
					seen[a] = true
					next = append(next, a)
					ref = append(ref, i)
				}
			}
		}
		if err := r.load(next, ref); err != nil {
			return nil, err
		}
		frontier = next
	}
	if len(seen) < len(r.nodes) {
		seen = append(seen, make([]bool, len(r.nodes)-len(seen))...)
	}
	return seen, nil
}

// reverseTopologicalPowerSort adds to the power events their auth
// ancestors in the full conflicted set (following only auth edges between
// events of that set, as the reference implementation builds its graph)
// and sorts them by Kahn's algorithm, earliest first, choosing among the
// ready events the one whose sender has the greatest power level, then
// the smallest origin_server_ts, then the smallest event ID.
func (r *resolver) reverseTopologicalPowerSort(start []int32) ([]int32, error) {
	var x []int32
	for _, i := range start {
		if r.nodes[i].flags&inX == 0 {
			r.nodes[i].flags |= inX
			x = append(x, i)
		}
	}
	for h := 0; h < len(x); h++ {
		for _, a := range r.nodes[x[h]].auth {
			if an := &r.nodes[a]; an.flags&inFCS != 0 && an.flags&inX == 0 {
				an.flags |= inX
				x = append(x, a)
			}
		}
	}
	if len(x) == 0 {
		return nil, nil
	}
	for _, i := range x {
		if _, err := r.senderPower(i); err != nil {
			return nil, err
		}
	}
	// Local indices, out-degrees and the citers of each event, as CSR.
	local := make(map[int32]int32, len(x))
	for li, i := range x {
		local[i] = int32(li)
	}
	outdeg := make([]int32, len(x))
	cnt := make([]int32, len(x)+1)
	for li, i := range x {
		for _, a := range r.nodes[i].auth {
			if la, ok := local[a]; ok {
				outdeg[li]++
				cnt[la+1]++
			}
		}
	}
	for k := 1; k < len(cnt); k++ {
		cnt[k] += cnt[k-1]
	}
	citers := make([]int32, cnt[len(x)])
	fill := slices.Clone(cnt[:len(x)])
	for li, i := range x {
		for _, a := range r.nodes[i].auth {
			if la, ok := local[a]; ok {
				citers[fill[la]] = int32(li)
				fill[la]++
			}
		}
	}
	less := func(a, b int32) bool {
		na, nb := &r.nodes[x[a]], &r.nodes[x[b]]
		// Exact: levels beyond the int64 range (v1-v9 strings, v1-v5
		// numbers) order as the reference server's integers do.
		if c := na.pl.Cmp(nb.pl); c != 0 {
			return c > 0
		}
		if ta, tb := na.ev.OriginServerTS(), nb.ev.OriginServerTS(); ta != tb {
			return ta < tb
		}
		return na.id < nb.id
	}
	order := kahn(outdeg, cnt, citers, less)
	if len(order) != len(x) {
		return nil, ErrAuthCycle
	}
	for k, li := range order {
		order[k] = x[li]
	}
	return order, nil
}

// kahn is the lexicographically smallest topological sort, earliest
// first: Kahn's algorithm taking, among the events whose auth events are
// all placed, the least under less, from a heap. outdeg[i] counts event
// i's auth events; citers[cnt[i]:cnt[i+1]] are the events citing i. It
// consumes outdeg. Events on a cycle are left out.
func kahn(outdeg, cnt, citers []int32, less func(a, b int32) bool) []int32 {
	h := heap{less: less}
	for i, d := range outdeg {
		if d == 0 {
			h.push(int32(i))
		}
	}
	out := make([]int32, 0, len(outdeg))
	for h.len() > 0 {
		i := h.pop()
		out = append(out, i)
		for _, c := range citers[cnt[i]:cnt[i+1]] {
			outdeg[c]--
			if outdeg[c] == 0 {
				h.push(c)
			}
		}
	}
	return out
}

// prefetchUnconflicted loads, in one batch, the unconflicted events that
// the auth rules of the given events may read.
func (r *resolver) prefetchUnconflicted(list []int32) error {
	var want []int32
	for _, i := range list {
		if _, err := r.neededFor(i); err != nil {
			continue // refused when checked
		}
		for _, s := range r.nodes[i].slots {
			if u := r.keyU[s]; u != none && !r.nodes[u].loaded {
				want = append(want, u)
			}
		}
	}
	return r.load(want, nil)
}

// iterate runs the iterative auth checks over list, in order, putting
// each event the rules allow into the state (r.keyRes). An event the
// rules refuse is skipped.
func (r *resolver) iterate(phase Phase, list []int32) error {
	for k, i := range list {
		if k%1024 == 1023 {
			if err := r.ctx.Err(); err != nil {
				return err
			}
		}
		var err error
		if !r.nodes[i].state {
			err = &eventauth.Rejection{Rule: "stateres.not_state", Reason: "not a state event"}
		} else {
			err = r.check(i, nil)
		}
		if fatal(err) {
			return err
		}
		n := &r.nodes[i]
		if err == nil {
			r.keyRes[r.ownSlot(i)] = i
			n = &r.nodes[i]
		}
		if r.trace != nil {
			c := Check{Phase: phase, EventID: n.id, Type: n.key.Type, StateKey: n.key.StateKey, Allowed: err == nil}
			if err != nil {
				c.Rule, c.Reason = ruleOf(err)
			}
			r.trace.Checks = append(r.trace.Checks, c)
		}
	}
	return nil
}

// mainlineSort sorts events by mainline order based on the power levels
// event pl: the greater mainline position first, then the smaller
// origin_server_ts, then the smaller event ID.
//
// The mainline is pl, then the power levels event in its auth events,
// and so on; an event's position is the index on the mainline of the
// first power levels event met by following power levels auth events
// from the event (the event itself excluded). Both walks follow the same
// links, so an event's walk and the mainline meet at that event and go on
// together: walking the two in step finds the meeting point without
// walking the whole mainline, which in a large room reaches back through
// every power levels change since the room began.
func (r *resolver) mainlineSort(events []int32, pl int32) error {
	if len(events) == 0 {
		return nil
	}
	ml := &mainlineWalk{r: r, next: pl}
	if pl != none {
		if err := r.load([]int32{pl}, nil); err != nil {
			return err
		}
	}
	var path []int32
	for _, e := range events {
		pos := int64(mlInfinite)
		path = path[:0]
		memo := -1 // how many events of path get pos as their value (-1: all)
		p := r.powerLevelsAuth(e)
		for {
			if p != none {
				n := &r.nodes[p]
				if n.flags&inMain != 0 || n.mlDone {
					pos = n.ml
					break
				}
				if n.flags&inPath != 0 {
					r.clearPath(path)
					return ErrAuthCycle
				}
				n.flags |= inPath
				path = append(path, p)
				if err := r.loadAuth([]int32{p}); err != nil {
					r.clearPath(path)
					return err
				}
				p = r.powerLevelsAuth(p)
			}
			if ml.next != none {
				x, err := ml.step()
				if err != nil {
					r.clearPath(path)
					return err
				}
				if r.nodes[x].flags&inPath != 0 {
					pos = r.nodes[x].ml
					// The path from x on lies on the mainline.
					memo = slices.Index(path, x)
					break
				}
			} else if p == none {
				break
			}
		}
		r.clearPath(path)
		if memo >= 0 {
			path = path[:memo]
		}
		for _, q := range path {
			r.nodes[q].ml, r.nodes[q].mlDone = pos, true
		}
		r.nodes[e].ml = pos // the event's own position (not its value as an ancestor)
	}
	if r.trace != nil {
		r.trace.Mainline = r.idList(ml.walked)
	}
	slices.SortFunc(events, func(a, b int32) int {
		na, nb := &r.nodes[a], &r.nodes[b]
		if na.ml != nb.ml {
			if na.ml > nb.ml {
				return -1
			}
			return 1
		}
		if ta, tb := na.ev.OriginServerTS(), nb.ev.OriginServerTS(); ta != tb {
			if ta < tb {
				return -1
			}
			return 1
		}
		return strings.Compare(na.id, nb.id)
	})
	return nil
}

func (r *resolver) clearPath(path []int32) {
	for _, q := range path {
		r.nodes[q].flags &^= inPath
	}
}

// mainlineWalk walks the mainline one event at a time, on demand.
type mainlineWalk struct {
	r      *resolver
	next   int32 // the next mainline event, none at the end
	walked []int32
}

// step puts the next event on the mainline and returns it.
func (m *mainlineWalk) step() (int32, error) {
	r := m.r
	x := m.next
	n := &r.nodes[x]
	if n.flags&inMain != 0 {
		return none, ErrAuthCycle
	}
	n.flags |= inMain
	n.ml = int64(len(m.walked))
	m.walked = append(m.walked, x)
	if err := r.loadAuth([]int32{x}); err != nil {
		return none, err
	}
	m.next = r.powerLevelsAuth(x)
	return x, nil
}

// powerLevelsAuth returns the first m.room.power_levels event (state key
// "") that event i lists in its auth events, or none.
func (r *resolver) powerLevelsAuth(i int32) int32 {
	for _, a := range r.nodes[i].auth {
		if an := &r.nodes[a]; an.ev != nil && an.state && an.key == keyPowerLevels {
			return a
		}
	}
	return none
}

func (r *resolver) idList(idx []int32) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = r.nodes[i].id
	}
	return out
}

func (r *resolver) sortedIDs(idx []int32) []string {
	out := r.idList(idx)
	slices.Sort(out)
	return out
}

// heap is a binary min-heap of local indices under less.
type heap struct {
	items []int32
	less  func(a, b int32) bool
}

func (h *heap) len() int { return len(h.items) }

func (h *heap) push(x int32) {
	h.items = append(h.items, x)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.items[i], h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *heap) pop() int32 {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= last {
			break
		}
		m := l
		if rr := l + 1; rr < last && h.less(h.items[rr], h.items[l]) {
			m = rr
		}
		if !h.less(h.items[m], h.items[i]) {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}
