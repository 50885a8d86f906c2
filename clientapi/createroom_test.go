package clientapi

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/mxkit/mxkit/roomversion"
)

type createRoomVector struct {
	Name    string              `json:"name"`
	Request json.RawMessage     `json:"request"`
	Events  [][]json.RawMessage `json:"events"`
	Status  int                 `json:"status"`
	Errcode string              `json:"errcode"`
}

// TestPlanCreateRoom runs the vectors of testdata/createroom.json: the
// ordered events of POST /createRoom
// (data/api/client-server/create_room.yaml) for the creator @alice:example.org.
func TestPlanCreateRoom(t *testing.T) {
	raw, err := os.ReadFile("testdata/createroom.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []createRoomVector
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			var req CreateRoomRequest
			if err := json.Unmarshal(v.Request, &req); err != nil {
				t.Fatal(err)
			}
			plan, err := PlanCreateRoom(&req, "@alice:example.org", "example.org", nil, "")
			if v.Errcode != "" {
				e, ok := asError(err)
				if !ok || e.Code != v.Errcode || e.Status != v.Status {
					t.Fatalf("got %v, want %d %s", err, v.Status, v.Errcode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, want []any
			for _, ev := range plan.Events {
				got = append(got, []any{ev.Type, ev.StateKey, decode(t, ev.Content)})
			}
			for _, ev := range v.Events {
				var typ, sk string
				json.Unmarshal(ev[0], &typ)
				json.Unmarshal(ev[1], &sk)
				want = append(want, []any{typ, sk, decode(t, ev[2])})
			}
			if !reflect.DeepEqual(want, got) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("events:\ngot  %s\nwant %s", g, w)
			}
		})
	}
}

func decode(t *testing.T, raw json.RawMessage) any {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

func TestPlanCreateRoomVersionChoice(t *testing.T) {
	// The server's set and default decide; an unstable version offered by
	// the set is accepted.
	custom := roomversion.V12
	custom.ID = "org.example.custom"
	custom.Stable = false
	set := roomversion.NewSet(roomversion.V10, custom)
	for _, tc := range []struct{ asked, want, errcode string }{
		{"", "10", ""},
		{"org.example.custom", "org.example.custom", ""},
		{"11", "", "M_UNSUPPORTED_ROOM_VERSION"},
	} {
		plan, err := PlanCreateRoom(&CreateRoomRequest{RoomVersion: tc.asked}, "@alice:example.org", "example.org", set, "10")
		if tc.errcode != "" {
			if e, ok := asError(err); !ok || e.Code != tc.errcode {
				t.Errorf("%q: %v", tc.asked, err)
			}
			continue
		}
		if err != nil || plan.Version.ID != tc.want {
			t.Errorf("%q: %v %v", tc.asked, plan, err)
		}
	}
}

func TestCreateRoomCapabilitiesMatch(t *testing.T) {
	// capabilities announces what createRoom accepts.
	_, s, _ := setup(t)
	s2 := &Server{ServerName: "example.org", Tokens: s.Tokens, Rooms: s.Rooms,
		RoomVersions: roomversion.NewSet(roomversion.V9, roomversion.V10), DefaultRoomVersion: "9"}
	r := do(t, s2, "GET", "/_matrix/client/v3/capabilities", "tok_alice", "")
	rv := r.body["capabilities"].(map[string]any)["m.room_versions"].(map[string]any)
	if rv["default"] != "9" || len(rv["available"].(map[string]any)) != 2 {
		t.Fatalf("capabilities: %s", r.raw)
	}
	if r := do(t, s2, "POST", "/_matrix/client/v3/createRoom", "tok_alice", `{"room_version":"12"}`); r.body["errcode"] != "M_UNSUPPORTED_ROOM_VERSION" {
		t.Fatalf("createRoom v12: %s", r.raw)
	}
}
