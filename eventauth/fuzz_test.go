package eventauth_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/roomversion"
)

// FuzzCheck feeds arbitrary events, and arbitrary power levels content in
// the state, to every entry point: none may panic, and Check's verdict on
// a rule of the state must agree with Allowed's.
func FuzzCheck(f *testing.F) {
	var fixtures map[string]*eventSpec
	loadJSON(f, filepath.Join("testdata", "fixtures.json"), &fixtures)
	// Seeds: every event of the rule cases, written for a few versions,
	// with a few power levels contents.
	files, _ := filepath.Glob(filepath.Join("testdata", "cases", "*.json"))
	pls := [][]byte{
		[]byte(`{"users":{"@alice:a.test":100,"@bob:a.test":50},"events":{"m.room.power_levels":50}}`),
		[]byte(`{"users":{"@bob:a.test":"50"},"ban":" 10 ","notifications":{"room":1.5}}`),
		[]byte(`{"users":null}`),
		[]byte(`{}`),
	}
	n := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var cf caseFile
		if err := json.Unmarshal(data, &cf); err != nil {
			f.Fatal(err)
		}
		for _, c := range cf.Cases {
			if len(c.Event) == 0 || c.Event[0] != '{' {
				continue
			}
			var s eventSpec
			if json.Unmarshal(c.Event, &s) != nil {
				continue
			}
			for _, vi := range []int{1, 6, 10, 12} {
				v := roomversion.Known()[vi-1]
				if s.Redacts != "" && v.Event.RedactsInContent {
					continue
				}
				w := &world{t: f, v: v, specs: fixtures, createID: "$create"}
				f.Add(uint8(vi), w.raw(&s, "$event", []string{"$pl", "$alice_join"}), pls[n%len(pls)])
				n++
			}
		}
	}
	f.Fuzz(func(t *testing.T, vi uint8, raw, plContent []byte) {
		v := roomversion.Known()[int(vi)%12]
		w := &world{t: t, v: v, specs: fixtures, createID: "$create"}
		ev, err := event.ParseWithID(v, raw, "$event")
		if err != nil {
			return
		}
		state := []*event.Event{w.fixture("create"), w.fixture("alice_join"), w.fixture("jr_public"), w.fixture("bob_join")}
		plSpec := &eventSpec{Type: "m.room.power_levels", Sender: "@alice:a.test", StateKey: new(string), Content: plContent}
		if json.Valid(plContent) {
			if pl, err := event.ParseWithID(v, w.raw(plSpec, "$pl", nil), "$pl"); err == nil {
				state = append(state, pl)
				eventauth.NewPowerLevels(v, pl, state[0])
			}
		}
		need, needErr := eventauth.Needed(v, ev)
		var buf [eventauth.MaxNeeded]eventauth.StateKey
		app, appErr := eventauth.AppendNeeded(buf[:0], v, ev)
		if fmt.Sprint(need) != fmt.Sprint(app) || (needErr == nil) != (appErr == nil) || len(app) > eventauth.MaxNeeded {
			t.Fatalf("Needed = %v, %v; AppendNeeded = %v, %v", need, needErr, app, appErr)
		}
		eventauth.CheckAuthEvents(v, ev, state, func(id string) bool { return id == "$bob-join" })
		// Check reads the listed auth events (and, in v12, the create
		// event): Allowed on that state must agree with it.
		sm := eventauth.StateMap{}
		for _, a := range state {
			listed := a.Type() == "m.room.create" && !v.Auth.CreateInAuthEvents
			for _, id := range ev.AuthEventIDs() {
				listed = listed || id == a.ID()
			}
			if listed {
				sk, _ := a.StateKey()
				sm[eventauth.StateKey{Type: a.Type(), StateKey: sk}] = a
			}
		}
		checked := eventauth.Check(v, ev, state, nil)
		allowed := eventauth.Allowed(v, ev, sm)
		if checked == nil && allowed != nil {
			t.Fatalf("Check allowed what Allowed refused: %v", allowed)
		}
		// The event itself as the room's power levels.
		eventauth.NewPowerLevels(v, ev, state[0])
		sm[eventauth.StateKey{Type: "m.room.power_levels", StateKey: ""}] = ev
		eventauth.Allowed(v, ev, sm)
	})
}
