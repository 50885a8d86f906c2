package stateres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

// FuzzResolve builds a small random room from the input, with auth
// events that may point anywhere (forwards, at themselves, in cycles, at
// missing or non-state events) and random state sets, and resolves it.
// Resolve must never panic or loop; it returns a result or an error, and
// the same one for the state sets in reverse order.
func FuzzResolve(f *testing.F) {
	f.Add([]byte{0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{1, 12, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 200, 100, 50, 25})
	f.Add([]byte{4, 20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 255, 254, 253, 128, 64, 32, 16, 8, 4, 2, 1})
	f.Add([]byte{5, 16, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4})
	f.Add([]byte{2, 6, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 512 {
			return
		}
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		versions := []roomversion.Version{roomversion.V1, roomversion.V2, roomversion.V6, roomversion.V10, roomversion.V11, roomversion.V12}
		v := versions[int(next())%len(versions)]
		n := 2 + int(next())%22
		users := []string{"@a:x", "@b:x", "@c:y", "@d:y"}
		id := func(i int) string { return fmt.Sprintf("$e%d:x", i) }
		roomID := "!r:x"
		if v.Event.RoomID == roomversion.RoomIDCreateHash {
			roomID = "!e0:x"
		}
		store := NewMemoryStore()
		var evs []*event.Event
		for i := 0; i < n; i++ {
			kind := next() % 9
			sender := users[int(next())%len(users)]
			target := users[int(next())%len(users)]
			var typ, content string
			sk := new(string)
			switch kind {
			case 0:
				typ, content = "m.room.create", fmt.Sprintf(`{"creator":%q,"room_version":%q}`, sender, v.ID)
			case 1:
				typ, *sk, content = "m.room.member", sender, `{"membership":"join"}`
			case 2:
				typ, *sk, content = "m.room.member", target, `{"membership":"leave"}`
			case 3:
				typ, *sk, content = "m.room.member", target, `{"membership":"ban"}`
			case 4:
				typ, content = "m.room.power_levels", fmt.Sprintf(`{"users":{%q:%d}}`, sender, int(next())%101)
				if target != sender {
					content = fmt.Sprintf(`{"users":{%q:%d,%q:%d}}`, sender, int(next())%101, target, int(next())%101)
				}
			case 5:
				typ, content = "m.room.join_rules", `{"join_rule":"public"}`
			case 6:
				typ, content = "m.room.topic", `{"topic":"t"}`
			case 7:
				typ, *sk, content = "m.room.member", target, `{"membership":"invite"}`
			case 8:
				typ, sk, content = "m.room.message", nil, `{"body":"m"}`
			}
			var auth []string
			for k := int(next()) % 5; k > 0; k-- {
				// Mostly earlier events; sometimes any event, itself or a missing one.
				b := int(next())
				switch {
				case b < 200 && i > 0:
					auth = append(auth, id(b%i))
				case b < 250:
					auth = append(auth, id(b%n))
				default:
					auth = append(auth, "$missing:x")
				}
			}
			rid := roomID
			if typ == "m.room.create" && v.Event.RoomID == roomversion.RoomIDCreateHash {
				rid = ""
			}
			raw := pduJSON(v, id(i), rid, sender, typ, sk, []byte(content), nil, auth, int64(next()), int64(next()%4))
			ev, err := event.ParseWithID(v, raw, id(i))
			if err != nil {
				t.Fatalf("building event %d: %v\n%s", i, err, raw)
			}
			evs = append(evs, ev)
			if next()%7 == 0 {
				store.AddRejected(ev)
			} else {
				store.Add(ev)
			}
		}
		nsets := 1 + int(next())%3
		sets := make([]StateMap, nsets)
		for s := range sets {
			sets[s] = StateMap{}
			for k := int(next()) % (n + 1); k > 0; k-- {
				ev := evs[int(next())%n]
				if sk, ok := ev.StateKey(); ok {
					sets[s][StateKey{Type: ev.Type(), StateKey: sk}] = ev.ID()
				}
			}
		}
		ctx := context.Background()
		var tr Trace
		got, err := Resolve(ctx, v, sets, store, &Options{Trace: &tr})
		rev := make([]StateMap, nsets)
		for s := range sets {
			rev[nsets-1-s] = sets[s]
		}
		got2, err2 := Resolve(ctx, v, rev, store, nil)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("reversed sets: errors %v and %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrMissingEvent) && !errors.Is(err, ErrAuthCycle) && !errors.Is(err, ErrBadStateSet) && !errors.Is(err, ErrBadPowerLevels) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if !mapsEqual(got, got2) {
			t.Fatalf("reversed sets give another result:\n%v\n%v", got, got2)
		}
		_ = tr.String()
	})
}
