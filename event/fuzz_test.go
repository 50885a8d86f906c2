package event

import (
	"errors"
	"reflect"
	"testing"

	"github.com/mxkit/mxkit/roomversion"
)

// FuzzParse checks that Parse never panics, that every rejection is a
// *ValidationError, and that parsing the bytes of a parsed event again
// gives an equal event.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		baseV1, baseV3, `{}`, `[]`, `{"a":1,"a":2}`, `{"content":{"a":"\ud800"}}`,
		`{"auth_events":[],"content":{},"depth":0,"hashes":{},"origin_server_ts":0,"prev_events":[],"sender":"@a:b","signatures":{},"state_key":"","type":"m.room.create"}`,
		`{"auth_events":[],"content":{"n":1.5e3,"m":-0},"depth":9223372036854775807,"hashes":{},"origin_server_ts":-1,"prev_events":[],"room_id":"!r:x","sender":"@a:b","signatures":{},"type":"t"}`,
	} {
		for v := range 12 {
			f.Add(uint8(v), []byte(seed))
		}
	}
	known := roomversion.Known()
	f.Fuzz(func(t *testing.T, vi uint8, raw []byte) {
		v := known[int(vi)%len(known)]
		e, err := Parse(v, raw)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Rule == "" {
				t.Fatalf("error %T %v is not a *ValidationError with a rule", err, err)
			}
			return
		}
		again, err := Parse(v, e.JSON())
		if err != nil {
			t.Fatalf("re-parse of a parsed event failed: %v", err)
		}
		if got, want := snapshot(again), snapshot(e); !reflect.DeepEqual(got, want) {
			t.Fatalf("re-parse differs:\n got %+v\nwant %+v", got, want)
		}
	})
}

// snapshotOf is everything an Event exposes.
type snapshotOf struct {
	ID, RoomID, Sender, Type, StateKey, Redacts, Membership string
	IsState                                                 bool
	Content, JSON                                           string
	Depth, TS                                               int64
	Prev, Auth                                              []string
}

func snapshot(e *Event) snapshotOf {
	sk, _ := e.StateKey()
	return snapshotOf{
		ID: e.ID(), RoomID: e.RoomID(), Sender: e.Sender(), Type: e.Type(), StateKey: sk,
		Redacts: e.Redacts(), Membership: e.Membership(), IsState: e.IsState(),
		Content: string(e.Content()), JSON: string(e.JSON()), Depth: e.Depth(), TS: e.OriginServerTS(),
		Prev: e.PrevEventIDs(), Auth: e.AuthEventIDs(),
	}
}
