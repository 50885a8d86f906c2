package clientapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
)

type oneUser struct{}

func (oneUser) LookupToken(context.Context, string, clientapi.Masquerade) (clientapi.Identity, error) {
	return clientapi.Identity{UserID: "@alice:example.org", DeviceID: "A"}, nil
}

// A content repository: upload with the legacy endpoint, download with
// the authenticated one. HTML is served as an attachment, never inline.
func ExampleMemoryMedia() {
	s := &clientapi.Server{ServerName: "example.org", Tokens: oneUser{}, Media: &clientapi.MemoryMedia{}}

	r := httptest.NewRequest("POST", "/_matrix/media/v3/upload?filename=page.html", strings.NewReader("<b>hi</b>"))
	r.Header.Set("Authorization", "Bearer token")
	r.Header.Set("Content-Type", "text/html")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	uri := strings.Split(w.Body.String(), `"`)[3] // {"content_uri":"mxc://example.org/…"}

	r = httptest.NewRequest("GET", "/_matrix/client/v1/media/download/"+strings.TrimPrefix(uri, "mxc://"), nil)
	r.Header.Set("Authorization", "Bearer token")
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Body)
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Content-Disposition"), string(body))
	// Output: 200 text/html attachment; filename="page.html" <b>hi</b>
}
