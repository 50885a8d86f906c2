package canonicaljson_test

import (
	"os"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
)

// TestAllocations checks the allocation budget: Canonicalize allocates its
// result only, and Append into a buffer with room, Valid and IsCanonical
// allocate nothing once the internal pool is warm. (Counting allocations
// is not timing; the race detector makes sync.Pool drop entries at
// random, so the check is skipped there.)
func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool is randomized under the race detector")
	}
	for _, name := range []string{"event_1k.json", "event_32k.json"} {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 2*len(raw))
		for _, c := range []struct {
			what string
			max  float64
			f    func()
		}{
			{"Canonicalize", 1, func() { canonicaljson.Canonicalize(raw, canonicaljson.Strict) }},
			{"Append", 0, func() { canonicaljson.Append(buf[:0], raw, canonicaljson.Strict) }},
			{"AppendWithout", 0, func() {
				canonicaljson.AppendWithout(buf[:0], raw, canonicaljson.Strict, "signatures", "unsigned")
			}},
			{"Valid", 0, func() { canonicaljson.Valid(raw, canonicaljson.Lenient) }},
			{"IsCanonical", 0, func() { canonicaljson.IsCanonical(raw, canonicaljson.Strict) }},
		} {
			if n := testing.AllocsPerRun(50, c.f); n > c.max {
				t.Errorf("%s %s: %.1f allocations per call, budget %.0f", name, c.what, n, c.max)
			}
		}
	}
}
