package clientapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
)

// tokens is a one-user TokenLookup: a real homeserver reads its device
// table here, and answers for application service tokens too.
type tokens map[string]string

func (t tokens) LookupToken(_ context.Context, token string, _ clientapi.Masquerade) (clientapi.Identity, error) {
	user, ok := t[token]
	if !ok {
		return clientapi.Identity{}, clientapi.ErrUnknownToken
	}
	return clientapi.Identity{UserID: user, DeviceID: "LAPTOP"}, nil
}

// rooms is a toy Rooms backend that only lists rooms.
type rooms struct{}

func (rooms) CreateRoom(context.Context, clientapi.Identity, *clientapi.CreateRoomPlan) (string, error) {
	return "!new:example.org", nil
}
func (rooms) Join(context.Context, clientapi.Identity, clientapi.JoinRequest) (string, error) {
	return "", clientapi.Forbidden("no joining in this example")
}
func (rooms) ChangeMembership(context.Context, clientapi.Identity, clientapi.MembershipRequest) (string, error) {
	return "", clientapi.Forbidden("no membership changes in this example")
}
func (rooms) Forget(context.Context, clientapi.Identity, string) error { return nil }
func (rooms) JoinedRooms(_ context.Context, who clientapi.Identity) ([]string, error) {
	return []string{"!lobby:example.org"}, nil
}

// Example mounts the client-server API on a mux next to the program's own
// handlers, with a toy backend, and makes three requests.
func Example() {
	api := &clientapi.Server{
		ServerName: "example.org",
		BaseURL:    "https://matrix.example.org",
		Tokens:     tokens{"secret-token": "@alice:example.org"},
		Rooms:      rooms{},
	}
	mux := http.NewServeMux()
	mux.Handle("/_matrix/client/", api)
	mux.Handle("/.well-known/matrix/client", api)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

	get := func(method, path, token, body string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	get("GET", "/.well-known/matrix/client", "", "")
	get("GET", "/_matrix/client/v3/joined_rooms", "secret-token", "")
	get("GET", "/_matrix/client/v3/joined_rooms", "", "")
	get("POST", "/_matrix/client/v3/createRoom", "secret-token", `{"room_version":"42"}`)
	get("PUT", "/_matrix/client/v3/rooms/!lobby:example.org/send/m.room.message/1", "secret-token", `{}`)
	// Output:
	// 200 {"m.homeserver":{"base_url":"https://matrix.example.org"}}
	// 200 {"joined_rooms":["!lobby:example.org"]}
	// 401 {"errcode":"M_MISSING_TOKEN","error":"missing access token"}
	// 400 {"errcode":"M_UNSUPPORTED_ROOM_VERSION","error":"unsupported room version \"42\""}
	// 404 {"errcode":"M_UNRECOGNIZED","error":"unrecognized request"}
}

// ExamplePlanCreateRoom shows the ordered events of a room creation, which
// a homeserver builds, signs and sends one after the other.
func ExamplePlanCreateRoom() {
	name := "Lobby"
	plan, err := clientapi.PlanCreateRoom(&clientapi.CreateRoomRequest{
		Preset: clientapi.PresetPublicChat, Name: &name, RoomAliasName: "lobby",
		Invite: []string{"@bob:example.org"},
	}, "@alice:example.org", "example.org", nil, "")
	if err != nil {
		panic(err)
	}
	fmt.Println("room version", plan.Version.ID)
	for _, ev := range plan.Events {
		fmt.Printf("%s %q\n", ev.Type, ev.StateKey)
	}
	// Output:
	// room version 12
	// m.room.create ""
	// m.room.member "@alice:example.org"
	// m.room.power_levels ""
	// m.room.canonical_alias ""
	// m.room.join_rules ""
	// m.room.history_visibility ""
	// m.room.guest_access ""
	// m.room.name ""
	// m.room.member "@bob:example.org"
}

// ExampleUIA protects an embedder's own endpoint with user-interactive
// authentication (a password stage), as POST /account/deactivate needs.
func ExampleUIA() {
	uia := &clientapi.UIA{}
	check := func(_ context.Context, user, password string) error {
		if user == "@alice:example.org" && password == "pw" {
			return nil
		}
		return clientapi.Forbidden("invalid password")
	}
	req := clientapi.UIARequest{
		Operation: "POST deactivate", UserID: "@alice:example.org", ServerName: "example.org",
		Flows: []clientapi.UIAFlow{{Stages: []string{clientapi.AuthTypePassword}}}, CheckPassword: check,
	}
	err := uia.Check(context.Background(), nil, req)
	w := httptest.NewRecorder()
	clientapi.WriteError(w, err)
	fmt.Println(w.Code)
	ch := err.(*clientapi.UIAChallenge)
	err = uia.Check(context.Background(), []byte(`{"type":"m.login.password","session":"`+ch.Session+`","user":"alice","password":"pw"}`), req)
	fmt.Println(err)
	// Output:
	// 401
	// <nil>
}
