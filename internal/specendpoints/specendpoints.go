// Package specendpoints is the list of the client-server API's endpoints
// at each release of the Matrix specification, extracted from its
// OpenAPI files (data/api/client-server/*.yaml) by
// internal/cmd/specendpoints into endpoints.tsv, and the matching of a
// server's route patterns against it. clientapi uses it to advertise in
// GET /versions only the releases whose endpoints are all served
// ("API Versions"); internal/cmd/coverage uses it for the coverage table.
package specendpoints

import (
	_ "embed"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

//go:embed endpoints.tsv
var tsv string

// Endpoint is one method and path of the specification.
type Endpoint struct {
	Method string
	// Path is the full path with its {parameters}, e.g.
	// /_matrix/client/v3/rooms/{roomId}/state.
	Path string
	// Module is the OpenAPI file that defines it (e.g. "room_state").
	Module string
	// Added is the first release with the endpoint ("v1.1" for every
	// endpoint older than v1.1); Removed the first release after it
	// without it ("" when the newest release has it).
	Added, Removed string
	Deprecated     bool
}

var all, releases = mustParse(tsv)

// All returns every endpoint of every release, sorted by method and path.
func All() []Endpoint { return append([]Endpoint(nil), all...) }

// Releases returns the releases the list covers, oldest first.
func Releases() []string { return append([]string(nil), releases...) }

// Latest is the newest release of the list.
func Latest() string { return releases[len(releases)-1] }

// In reports whether the endpoint is part of the release.
func (e Endpoint) In(release string) bool {
	r := minor(release)
	return minor(e.Added) <= r && (e.Removed == "" || r < minor(e.Removed))
}

// Current reports whether the endpoint is part of the newest release.
func (e Endpoint) Current() bool { return e.Removed == "" }

func minor(v string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v1."))
	if err != nil {
		return -1
	}
	return n
}

func mustParse(s string) ([]Endpoint, []string) {
	eps, rel, err := parse(s)
	if err != nil {
		panic("specendpoints: endpoints.tsv: " + err.Error())
	}
	return eps, rel
}

// maxMinor1 bounds the N of the v1.N releases read.
const maxMinor1 = 1000

// parse reads the TSV of internal/cmd/specendpoints.
func parse(s string) ([]Endpoint, []string, error) {
	var eps []Endpoint
	maxMinor := 0
	for i, line := range strings.Split(s, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return nil, nil, fmt.Errorf("line %d: %d fields, want 6", i+1, len(f))
		}
		e := Endpoint{Method: f[0], Path: f[1], Module: f[2], Added: f[3], Removed: f[4], Deprecated: f[5] == "true"}
		if minor(e.Added) < 1 || minor(e.Added) > maxMinor1 || minor(e.Removed) > maxMinor1 ||
			(e.Removed != "" && minor(e.Removed) <= minor(e.Added)) || !strings.HasPrefix(e.Path, "/") {
			return nil, nil, fmt.Errorf("line %d: bad entry %q", i+1, line)
		}
		maxMinor = max(maxMinor, minor(e.Added), minor(e.Removed))
		eps = append(eps, e)
	}
	if len(eps) == 0 {
		return nil, nil, fmt.Errorf("no endpoints")
	}
	var rel []string
	for n := 1; n <= maxMinor; n++ {
		rel = append(rel, "v1."+strconv.Itoa(n))
	}
	return eps, rel, nil
}

// Route is a method and a pattern of net/http.ServeMux syntax
// ("/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey...}").
type Route struct {
	Method, Pattern string
}

// Matcher tells whether routes serve an endpoint: the endpoint's path,
// with every parameter replaced by a sample value of its kind, is
// looked up in a ServeMux holding the routes. A route that serves only
// some values of a parameter (a profile route for displayname alone,
// where the specification has {keyName}) does not serve the endpoint.
type Matcher struct {
	mux *http.ServeMux
}

// NewMatcher builds a Matcher of the routes. GET routes serve HEAD too,
// as ServeMux has it.
func NewMatcher(routes []Route) *Matcher {
	m := &Matcher{mux: http.NewServeMux()}
	seen := map[string]bool{}
	for _, r := range routes {
		p := r.Method + " " + r.Pattern
		if seen[p] {
			continue
		}
		seen[p] = true
		m.mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	return m
}

// Serves reports whether the routes serve the endpoint.
func (m *Matcher) Serves(e Endpoint) bool {
	req, err := http.NewRequest(e.Method, SampleURL(e.Path), nil)
	if err != nil {
		return false
	}
	_, pattern := m.mux.Handler(req)
	return pattern != ""
}

// samples are the values put in place of path parameters: valid
// identifiers of the parameter's kind, and "probe" for anything else.
var samples = map[string]string{
	"roomId": "!probe:example.org", "roomIdOrAlias": "!probe:example.org", "roomAlias": "#probe:example.org",
	"userId": "@probe:example.org", "eventId": "$probe", "serverName": "example.org",
	"eventType": "m.probe", "type": "m.probe", "stateKey": "probe", "keyName": "m.probe_key",
	"txnId": "txn1", "kind": "override", "ruleId": "probe", "scope": "global", "filterId": "0",
	"version": "1", "sessionId": "probe", "relType": "m.probe", "mediaId": "probe",
	"fileName": "probe.txt", "loginType": "m.login.probe", "medium": "email", "protocol": "probe",
	"receiptType": "m.read", "tag": "u.probe", "threadId": "$probe", "deviceId": "PROBE",
	"appserviceId": "probe", "requestId": "probe", "action": "probe",
}

// SampleURL is the path with its {parameters} replaced by sample values
// (percent-encoded).
func SampleURL(path string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			b.WriteString(path)
			return b.String()
		}
		j := strings.IndexByte(path[i:], '}')
		if j < 0 {
			b.WriteString(path)
			return b.String()
		}
		b.WriteString(path[:i])
		name := path[i+1 : i+j]
		v, ok := samples[name]
		if !ok {
			v = "probe"
		}
		b.WriteString(url.PathEscape(v))
		path = path[i+j+1:]
	}
}

// SupportedReleases returns the releases all of whose endpoints serves
// says are served, oldest first.
func SupportedReleases(serves func(Endpoint) bool) []string {
	ok := map[string]bool{}
	for _, r := range releases {
		ok[r] = true
	}
	for _, e := range all {
		if serves(e) {
			continue
		}
		for _, r := range releases {
			if e.In(r) {
				ok[r] = false
			}
		}
	}
	var out []string
	for _, r := range releases {
		if ok[r] {
			out = append(out, r)
		}
	}
	return out
}
