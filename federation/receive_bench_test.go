package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

// BenchmarkReceive runs the receive pipeline on a transaction of 50 message
// PDUs (a chain, each following the one before, as one busy sender makes
// them) into a room on a fresh in-memory store, and reports the cost per PDU
// beside baseline=ed25519.Verify, one signature check of one PDU's signed
// bytes. Verification is spread over GOMAXPROCS, so on several cores a PDU
// can cost less than one sequential signature check.
func BenchmarkReceive(b *testing.B) {
	f := newFixture(&testing.T{}, roomversion.V10)
	ctx := context.Background()
	// The room as stored, to copy into a fresh store for each iteration.
	evs, _ := f.store.RoomEvents(f.roomID)
	base := make([]NewEvent, len(evs))
	for i, e := range evs {
		st, _ := f.store.StateAfter(ctx, []string{e.ID()})
		base[i] = NewEvent{Event: e, Status: Accepted, StateAfter: st[0]}
	}
	var pdus []json.RawMessage
	for i := range MaxTransactionPDUs {
		m := f.remote(event.Builder{Type: "m.room.message", Sender: bob,
			Content: []byte(fmt.Sprintf(`{"msgtype":"m.text","body":"message number %d of the benchmark transaction"}`, i))})
		_, st, _, _ := currentState(ctx, f.store, f.roomID)
		f.store.StoreEvents(ctx, f.roomID, []NewEvent{{Event: m, Status: Accepted, StateAfter: st}})
		pdus = append(pdus, m.JSON())
	}
	body, _ := json.Marshal(Transaction{Origin: "remote.test", OriginServerTS: 1, PDUs: pdus})

	b.Run("pipeline", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			b.StopTimer()
			store := NewMemoryRoomStore()
			store.StoreEvents(ctx, f.roomID, base)
			r := &Receiver{ServerName: "hs.test", Store: store, Keys: f.ring}
			b.StartTimer()
			res, err := r.Receive(ctx, "remote.test", "bench", body)
			if err != nil || len(res) != MaxTransactionPDUs {
				b.Fatalf("%d results, %v", len(res), err)
			}
			for id, x := range res {
				if x.Error != "" {
					b.Fatalf("%s: %s", id, x.Error)
				}
			}
			n++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*MaxTransactionPDUs), "ns/pdu")
	})
	b.Run("baseline=ed25519.Verify", func(b *testing.B) {
		b.ReportAllocs()
		// One PDU's signature over bytes of the size of its signed form.
		msg := make([]byte, len(pdus[0]))
		copy(msg, pdus[0])
		sig := ed25519.Sign(f.remoteKey.Private, msg)
		pub := f.remoteKey.Public()
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("bad signature")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/pdu")
	})
}
