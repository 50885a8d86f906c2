package stateres

import (
	"fmt"
	"strings"

	"github.com/mxkit/mxkit/roomversion"
)

// Phase names the step of the algorithm in which an event was checked.
type Phase string

// The phases of the iterative auth checks.
const (
	// PhasePower: v2 step 2, the power events in reverse topological
	// power order.
	PhasePower Phase = "power"
	// PhaseMainline: v2 step 4, the other events in mainline order.
	PhaseMainline Phase = "mainline"
	// PhaseV1PowerLevels, PhaseV1JoinRules, PhaseV1Member and PhaseV1Other
	// are the passes of the original algorithm (room version 1).
	PhaseV1PowerLevels Phase = "v1.power_levels"
	PhaseV1JoinRules   Phase = "v1.join_rules"
	PhaseV1Member      Phase = "v1.member"
	PhaseV1Other       Phase = "v1.other"
)

// Check is one authorization check made during a resolution.
type Check struct {
	Phase    Phase  `json:"phase"`
	EventID  string `json:"event_id"`
	Type     string `json:"type"`
	StateKey string `json:"state_key"`
	Allowed  bool   `json:"allowed"`
	// Rule is the eventauth rule that refused the event (its
	// Rejection.Rule), and Reason its explanation; both empty when allowed.
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Trace records the steps of one resolution, for explaining a result.
// Event lists are in the order the algorithm used them; sets are sorted
// by event ID unless said otherwise.
type Trace struct {
	Algorithm roomversion.StateResAlgorithm `json:"algorithm"`
	// ConflictedKeys are the state keys whose entries differ between the
	// state sets, sorted.
	ConflictedKeys []StateKey `json:"conflicted_keys"`
	// Conflicted is the conflicted state set.
	Conflicted []string `json:"conflicted"`
	// AuthDifference is the auth difference (v2, v2.1).
	AuthDifference []string `json:"auth_difference,omitempty"`
	// Subgraph is the conflicted state subgraph (v2.1).
	Subgraph []string `json:"subgraph,omitempty"`
	// FullConflicted is the full conflicted set (v2, v2.1).
	FullConflicted []string `json:"full_conflicted,omitempty"`
	// PowerEvents are the power events and their auth ancestors in the
	// full conflicted set, in reverse topological power order (v2, v2.1).
	PowerEvents []string `json:"power_events,omitempty"`
	// Mainline is the mainline of the resolved power levels, newest first
	// (v2, v2.1), as far as the mainline ordering had to walk it to place
	// the other events: a long power levels history is not walked to its
	// start when no event needs it.
	Mainline []string `json:"mainline,omitempty"`
	// Others are the remaining events of the full conflicted set, in
	// mainline order (v2, v2.1).
	Others []string `json:"others,omitempty"`
	// Checks are the authorization checks, in order, with their verdicts.
	Checks []Check `json:"checks"`
	// Result is what the resolution returned (changes to the base state
	// for ResolveChanges).
	Result StateMap `json:"-"`
}

// String renders the trace for people to read.
func (t *Trace) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "algorithm: %v\n", t.Algorithm)
	list := func(name string, ids []string) {
		if ids == nil {
			return
		}
		fmt.Fprintf(&b, "%s (%d): %s\n", name, len(ids), strings.Join(ids, " "))
	}
	keys := make([]string, len(t.ConflictedKeys))
	for k, sk := range t.ConflictedKeys {
		keys[k] = fmt.Sprintf("(%s,%q)", sk.Type, sk.StateKey)
	}
	fmt.Fprintf(&b, "conflicted keys (%d): %s\n", len(keys), strings.Join(keys, " "))
	list("conflicted", t.Conflicted)
	list("auth difference", t.AuthDifference)
	list("conflicted subgraph", t.Subgraph)
	list("full conflicted set", t.FullConflicted)
	list("power events, sorted", t.PowerEvents)
	list("mainline", t.Mainline)
	list("others, sorted", t.Others)
	for _, c := range t.Checks {
		if c.Allowed {
			fmt.Fprintf(&b, "%-16s %s allowed\n", c.Phase, c.EventID)
		} else {
			fmt.Fprintf(&b, "%-16s %s refused by %s: %s\n", c.Phase, c.EventID, c.Rule, c.Reason)
		}
	}
	return b.String()
}
