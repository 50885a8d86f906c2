package federation

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

// TestBackfill: a server that joined a room late fetches the history before
// its join (GET /backfill), checks it as it checks received PDUs, and
// stores it as history: in its room order before the join, with the state
// at each event, and without moving the forward extremities.
func TestBackfill(t *testing.T) {
	ctx := context.Background()
	v := roomversion.V11
	hss := newNetwork(t, "alpha.test", "beta.test")
	a, b := hss[0], hss[1]
	alice, bob := "@alice:alpha.test", "@bob:beta.test"
	roomID := createRoom(t, a, v, alice, "!room:alpha.test")
	var msgs []string
	for i := range 8 {
		msgs = append(msgs, send(t, a, v, event.Builder{Type: "m.room.message", Sender: alice, RoomID: roomID,
			Content: fmt.Appendf(nil, `{"msgtype":"m.text","body":"before %d"}`, i)}).ID())
	}
	res, err := b.srv.Join(ctx, []string{"alpha.test"}, roomID, bob, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range msgs {
		if _, ok := statusOf(t, b, id); ok {
			t.Fatalf("beta has %s before backfilling", id)
		}
	}
	extBefore, _ := b.store.ForwardExtremities(ctx, roomID)

	got, err := b.srv.Receiver().Backfill(ctx, "alpha.test", roomID, res.Event.PrevEventIDs(), 20)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range got {
		ids = append(ids, ev.ID())
	}
	for _, id := range msgs {
		if !slices.Contains(ids, id) {
			t.Fatalf("message %s not backfilled (got %d events)", id, len(got))
		}
		if st, _ := statusOf(t, b, id); st != Accepted {
			t.Fatalf("backfilled %s stored as %v", id, st)
		}
	}
	// Oldest first, and each with the state at it.
	for i := 1; i < len(got); i++ {
		if got[i].Depth() < got[i-1].Depth() {
			t.Fatalf("backfilled out of order at %d", i)
		}
	}
	states, err := b.store.StateAfter(ctx, msgs[:1])
	if err != nil || states[0] == nil {
		t.Fatalf("no state after a backfilled event: %v", err)
	}
	if extAfter, _ := b.store.ForwardExtremities(ctx, roomID); !slices.Equal(extBefore, extAfter) {
		t.Fatalf("backfill moved the extremities: %v -> %v", extBefore, extAfter)
	}
	// In the room's order the history comes before the join.
	order := b.store.rooms[roomID].order
	if slices.Index(order, msgs[7]) > slices.Index(order, res.Event.ID()) || slices.Index(order, msgs[7]) < 0 {
		t.Fatalf("history after the join in the room order")
	}
}
