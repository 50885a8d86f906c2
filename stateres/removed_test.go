package stateres

import (
	"context"
	"testing"

	"github.com/mxkit/mxkit/roomversion"
)

// A key every set removes from the base is removed from the result, in
// every algorithm, with and without conflicts elsewhere.
func TestResolveChangesRemovals(t *testing.T) {
	c := loadSets(t, "testdata/sets/tiebreak_event_id.json")
	topic := StateKey{Type: "m.room.topic"}
	base := StateMap{}
	for k, id := range c.sets[0] {
		base[k] = id
	}
	for _, v := range []roomversion.Version{roomversion.V1, roomversion.V11, roomversion.V12} {
		// No conflict: both sets remove the topic.
		got, err := ResolveChanges(context.Background(), v, base, []StateMap{{topic: ""}, {topic: ""}}, c.store, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := got[topic]; !ok || id != "" || len(got) != 1 {
			t.Fatalf("v%s: %v, want the topic removed", v.ID, got)
		}
	}
}
