package roomgen

import (
	"testing"

	"github.com/mxkit/mxkit/roomversion"
)

func TestGenerateSmall(t *testing.T) {
	for _, v := range roomversion.Known() {
		r, err := Generate(Config{Version: v, Seed: 1, Members: 200, ForkEvents: 30})
		if err != nil {
			t.Fatalf("v%s: %v", v.ID, err)
		}
		t.Logf("v%s: %d events, base %d keys, changes %d/%d", v.ID, len(r.Events), len(r.Base), len(r.Changes[0]), len(r.Changes[1]))
	}
}
