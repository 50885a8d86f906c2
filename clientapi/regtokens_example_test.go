package clientapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
)

// noAccounts is a registration backend where every name is free.
type noAccounts struct{}

func (noAccounts) Available(context.Context, string) (bool, error)        { return true, nil }
func (noAccounts) Register(context.Context, string, string, string) error { return nil }
func (noAccounts) CheckPassword(context.Context, string, string) error    { return nil }
func (noAccounts) Logout(context.Context, clientapi.Identity) error       { return nil }
func (noAccounts) LogoutAll(context.Context, string) error                { return nil }
func (noAccounts) Login(_ context.Context, req clientapi.LoginRequest) (clientapi.Credentials, error) {
	return clientapi.Credentials{UserID: req.UserID, AccessToken: "t", DeviceID: "D"}, nil
}

// Token-authenticated registration: a token good for one registration,
// checked before use, then spent by the registration that completes with
// it.
func ExampleMemoryRegistrationTokens() {
	tokens := &clientapi.MemoryRegistrationTokens{}
	tokens.Add("invite-2026", 1)
	s := &clientapi.Server{ServerName: "example.org", AllowRegistration: true,
		Accounts: noAccounts{}, Registration: noAccounts{}, RegistrationTokens: tokens}
	call := func(method, path, body string) string {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		return fmt.Sprint(w.Code, " ", strings.TrimSpace(w.Body.String()))
	}
	validity := "/_matrix/client/v1/register/m.login.registration_token/validity?token=invite-2026"
	fmt.Println(call("GET", validity, ""))
	fmt.Println(call("POST", "/_matrix/client/v3/register", `{"username":"ann","password":"pw","auth":{"type":"m.login.registration_token","token":"invite-2026"}}`))
	fmt.Println(call("GET", validity, ""))
	// Output:
	// 200 {"valid":true}
	// 200 {"access_token":"t","device_id":"D","home_server":"example.org","user_id":"@ann:example.org"}
	// 200 {"valid":false}
}
