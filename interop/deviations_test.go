package interop

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// deviation is a check that fails because the peer, not mxkit, is off the
// specification. The check keeps the specification's expectation; its
// failure is reported, not counted, and its passing is an error (the entry
// is then stale and must go).
type deviation struct {
	// Check is the check's full name: v<version>/<host>-hosts/<flow>: <what>.
	Check string
	// Peer is the implementation at fault.
	Peer string
	// Spec is the sentence of the specification the peer does not follow
	// (README.md quotes it too).
	Spec string
}

// knownDeviations are the known peer deviations; README.md lists each
// with its spec sentence (TestDeviationsDocumented).
var knownDeviations = []deviation{
	{Check: "v11/mxkit-hosts/redaction: by mxkit, applied on dendrite", Peer: "Dendrite v0.13.8", Spec: v11Redacts},
	{Check: "v11/dendrite-hosts/redaction: by mxkit, applied on dendrite", Peer: "Dendrite v0.13.8", Spec: v11Redacts},
}

// v11Redacts is from the room version 11 specification (content/rooms/v11.md,
// "Moving the redacts property of m.room.redaction events to a content
// property"). Dendrite v0.13.8 reads a redaction's target from the
// top-level redacts alone, in every room version, so a v11 redaction built
// to the letter (content.redacts only, as mxkit builds it) is stored but
// redacts nothing there. Its own v11 redactions carry both keys.
const v11Redacts = "The `redacts` property of `m.room.redaction` events is moved from a top-level event property to a property under the event `content`."

var outcomes = struct {
	sync.Mutex
	ran, failed map[string]bool
}{ran: map[string]bool{}, failed: map[string]bool{}}

func knownDeviation(check string) *deviation {
	for i := range knownDeviations {
		if knownDeviations[i].Check == check {
			return &knownDeviations[i]
		}
	}
	return nil
}

// expect records the outcome of the check named check: an error fails the
// test, unless the check is a known peer deviation (then it is logged).
func expect(t *testing.T, check string, err error) bool {
	t.Helper()
	outcomes.Lock()
	outcomes.ran[check] = true
	if err != nil {
		outcomes.failed[check] = true
	}
	outcomes.Unlock()
	if err == nil {
		return true
	}
	if d := knownDeviation(check); d != nil {
		t.Logf("known peer deviation (%s): %s: %v\n\tthe spec: %s", d.Peer, check, err, d.Spec)
		return false
	}
	t.Errorf("%s: %v", check, err)
	return false
}

// checkDeviationsSeen fails for a known deviation whose check ran and
// passed: the peer is no longer off the spec there, the entry must go.
func checkDeviationsSeen(t *testing.T) {
	outcomes.Lock()
	defer outcomes.Unlock()
	for _, d := range knownDeviations {
		if outcomes.ran[d.Check] && !outcomes.failed[d.Check] {
			t.Errorf("known deviation no longer seen, remove it from knownDeviations and README.md: %s", d.Check)
		}
	}
}

// TestDeviationsDocumented: README.md names every known deviation's check
// and quotes its spec sentence.
func TestDeviationsDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(string(readme)), " ")
	for _, d := range knownDeviations {
		if !strings.Contains(flat, "`"+d.Check+"`") {
			t.Errorf("README.md does not name the check `%s`", d.Check)
		}
		if !strings.Contains(flat, strings.Join(strings.Fields(d.Spec), " ")) {
			t.Errorf("README.md does not quote the spec sentence of %s: %q", d.Check, d.Spec)
		}
	}
}
