package clientapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/internal/specendpoints"
)

func TestVersionsExplicit(t *testing.T) {
	s := &Server{Versions: []string{"v1.11"}}
	r := do(t, s, "GET", "/_matrix/client/versions", "", "")
	if r.status != 200 || r.raw != `{"unstable_features":{},"versions":["v1.11"]}` {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

// TestSupportedVersionsFollowsServedEndpoints: the computed list is the
// releases whose endpoints are all routed and backed. The fake has most
// backends; while a v1.1 endpoint is not routed, no release is
// advertised, and the answer says so rather than claiming releases it
// cannot serve. An endpoint routed but without its backend does not
// count as served (keys/device_signing/upload without CrossSigning).
func TestSupportedVersionsFollowsServedEndpoints(t *testing.T) {
	f := newFake()
	s := f.handler()
	s.Media = &MemoryMedia{}
	got := s.SupportedVersions()
	var routes []specendpoints.Route
	for _, e := range s.Endpoints() {
		routes = append(routes, specendpoints.Route{Method: e.Method, Pattern: e.Pattern})
	}
	m := specendpoints.NewMatcher(routes)
	var unrouted []string
	for _, e := range specendpoints.All() {
		if e.Added == "v1.1" && !m.Serves(e) {
			unrouted = append(unrouted, e.Method+" "+e.Path)
		}
	}
	if len(unrouted) > 0 && len(got) != 0 {
		t.Fatalf("SupportedVersions = %v; the adapter does not route %v", got, unrouted)
	}
	signing := specendpoints.Endpoint{Method: "POST", Path: "/_matrix/client/v3/keys/device_signing/upload", Module: "cross_signing", Added: "v1.1"}
	if !m.Serves(signing) || s.hasBackend(signing) {
		t.Errorf("keys/device_signing/upload: routed %v, counted as backed without CrossSigning %v", m.Serves(signing), s.hasBackend(signing))
	}
	s.CrossSigning = &MemoryKeys{}
	if !s.hasBackend(signing) {
		t.Errorf("keys/device_signing/upload not counted as backed with CrossSigning")
	}
	// The media endpoints are routed, and need the Media backend.
	dl := specendpoints.Endpoint{Method: "GET", Path: "/_matrix/client/v1/media/download/{serverName}/{mediaId}", Module: "authed-content-repo", Added: "v1.11"}
	if !m.Serves(dl) || !s.hasBackend(dl) {
		t.Errorf("media download not served")
	}
	s2 := f.handler()
	if s2.hasBackend(dl) {
		t.Errorf("media download counted as served without a Media backend")
	}
}

func TestEndpointsListsRoutes(t *testing.T) {
	eps := (&Server{}).Endpoints()
	want := []Endpoint{
		{http.MethodGet, "/_matrix/client/versions"},
		{http.MethodPost, "/_matrix/media/v3/upload"},
		{http.MethodGet, "/_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}"},
		{http.MethodPut, "/_matrix/client/r0/rooms/{roomId}/send/{eventType}/{txnId}"},
	}
	for _, w := range want {
		if !slices.Contains(eps, w) {
			t.Errorf("Endpoints lacks %v", w)
		}
	}
	if !slices.IsSortedFunc(eps, func(a, b Endpoint) int {
		if c := strings.Compare(a.Pattern, b.Pattern); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	}) {
		t.Errorf("Endpoints not sorted")
	}
}
