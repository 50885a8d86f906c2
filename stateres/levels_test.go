package stateres

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mxkit/mxkit/roomversion"
)

// TestHugePowerLevelsOrder checks that the power ordering compares the
// senders' levels exactly. Room versions 1-9 accept levels as strings of
// any size, and 1-5 as JSON numbers of any size; the reference server
// orders power events by its exact integers. Alice (99999999999999999999)
// and bob (99999999999999999998) send power levels events concurrently,
// bob's first. Alice's level is the greater, so her PC is applied first and
// bob's PB after it, and PB holds. Levels saturated at the int64 maximum
// would compare equal, fall to the timestamps, and keep PC.
func TestHugePowerLevelsOrder(t *testing.T) {
	initial := loadDAG(t, "initial.json")
	forms := []struct {
		name     string
		alice    string
		bob      string
		versions []string
	}{
		{"strings", `"99999999999999999999"`, `" 99999999999999999998 "`, []string{"2", "6", "9"}},
		{"numbers", `99999999999999999999`, `99999999999999999998`, []string{"2", "5"}},
	}
	for _, f := range forms {
		users := fmt.Sprintf(`{"@alice:example.com": %s, "@bob:example.com": %s}`, f.alice, f.bob)
		sk := ""
		c := dagFile{
			Name: "huge levels, " + f.name,
			Events: []dagEvent{
				// Replaces the initial room's power levels event.
				{ID: "IPOWER", Sender: "@alice:example.com", Type: "m.room.power_levels", StateKey: &sk, Content: json.RawMessage(`{"users": ` + users + `}`)},
				{ID: "PB", Sender: "@bob:example.com", Type: "m.room.power_levels", StateKey: &sk, Content: json.RawMessage(`{"users": ` + users + `, "events_default": 1}`)},
				{ID: "PC", Sender: "@alice:example.com", Type: "m.room.power_levels", StateKey: &sk, Content: json.RawMessage(`{"users": ` + users + `, "events_default": 2}`)},
			},
			Edges:    [][]string{{"END", "PB", "START"}, {"END", "PC", "START"}},
			Expected: []string{"PB"},
		}
		for _, vid := range f.versions {
			t.Run(f.name+"/v"+vid, func(t *testing.T) {
				v, err := roomversion.Get(vid)
				if err != nil {
					t.Fatal(err)
				}
				r := runDAG(t, v, initial, c)
				key := StateKey{Type: "m.room.power_levels", StateKey: ""}
				if got, want := r.stateAt["END"][key], r.ids["PB"]; got != want {
					t.Errorf("power levels at END = %s; want PB %s (PC is %s)", got, want, r.ids["PC"])
				}
			})
		}
	}
}
