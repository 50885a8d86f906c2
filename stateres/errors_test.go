package stateres

import (
	"context"
	"errors"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

// buildEvents parses readable test events of room version 11 into a store.
func buildEvents(t *testing.T, store *MemoryStore, evs ...[]byte) {
	t.Helper()
	for _, raw := range evs {
		ev, err := event.ParseWithID(roomversion.V11, raw, idOf(raw))
		if err != nil {
			t.Fatal(err)
		}
		store.Add(ev)
	}
}

func idOf(raw []byte) string {
	const key = `"event_id":"`
	s := string(raw)
	for i := 0; i+len(key) <= len(s); i++ {
		if s[i:i+len(key)] == key {
			j := i + len(key)
			k := j
			for k < len(s) && s[k] != '"' {
				k++
			}
			return s[j:k]
		}
	}
	return ""
}

func ev11(id, sender, typ, stateKey, content string, auth ...string) []byte {
	sk := stateKey
	raw := pduJSON(roomversion.V11, id, "!r:x", sender, typ, &sk, []byte(content), nil, auth, 1, 1)
	return append([]byte(`{"event_id":"`+id+`",`), raw[1:]...)
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	v := roomversion.V11
	store := NewMemoryStore()
	buildEvents(t, store,
		ev11("$create", "@a:x", "m.room.create", "", `{"room_version":"11"}`),
		ev11("$a", "@a:x", "m.room.member", "@a:x", `{"membership":"join"}`, "$create"),
		ev11("$t1", "@a:x", "m.room.topic", "", `{"topic":"1"}`, "$create", "$a", "$gone"),
		ev11("$t2", "@a:x", "m.room.topic", "", `{"topic":"2"}`, "$create", "$a"),
		ev11("$c1", "@a:x", "m.room.name", "", `{"name":"1"}`, "$create", "$a", "$c2"),
		ev11("$c2", "@a:x", "m.room.name", "", `{"name":"2"}`, "$create", "$a", "$c1"),
	)
	topic := StateKey{Type: "m.room.topic"}
	name := StateKey{Type: "m.room.name"}
	base := StateMap{{Type: "m.room.create"}: "$create", {Type: "m.room.member", StateKey: "@a:x"}: "$a"}
	with := func(k StateKey, id string) StateMap {
		m := StateMap{k: id}
		for bk, bid := range base {
			m[bk] = bid
		}
		return m
	}

	t.Run("missing state set event", func(t *testing.T) {
		_, err := Resolve(ctx, v, []StateMap{with(topic, "$t2"), with(topic, "$nowhere")}, store, nil)
		var me *MissingEventError
		if !errors.Is(err, ErrMissingEvent) || !errors.As(err, &me) || me.ID != "$nowhere" || me.ReferredBy != "" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("missing auth event", func(t *testing.T) {
		_, err := Resolve(ctx, v, []StateMap{with(topic, "$t1"), with(topic, "$t2")}, store, nil)
		var me *MissingEventError
		if !errors.As(err, &me) || me.ID != "$gone" || me.ReferredBy != "$t1" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("entry of the wrong key", func(t *testing.T) {
		_, err := Resolve(ctx, v, []StateMap{with(topic, "$t2"), with(topic, "$a")}, store, nil)
		if !errors.Is(err, ErrBadStateSet) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("auth cycle", func(t *testing.T) {
		_, err := Resolve(ctx, v, []StateMap{with(name, "$c1"), with(name, "$c2")}, store, nil)
		if !errors.Is(err, ErrAuthCycle) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unknown algorithm", func(t *testing.T) {
		odd := v
		odd.StateRes = 0
		_, err := Resolve(ctx, odd, []StateMap{with(topic, "$t2")}, store, nil)
		if !errors.Is(err, ErrUnknownAlgorithm) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("store failure", func(t *testing.T) {
		boom := errors.New("disk on fire")
		_, err := Resolve(ctx, v, []StateMap{with(topic, "$t2"), with(topic, "$t1")}, failing{boom}, nil)
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no sets, one set", func(t *testing.T) {
		got, err := Resolve(ctx, v, nil, store, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("no sets: %v %v", got, err)
		}
		one := with(topic, "$t2")
		got, err = Resolve(ctx, v, []StateMap{one}, failing{errors.New("not called")}, nil)
		if err != nil || !mapsEqual(got, one) {
			t.Fatalf("one set: %v %v", got, err)
		}
	})
}

type failing struct{ err error }

func (f failing) Events(context.Context, []string) ([]Stored, error) { return nil, f.err }
