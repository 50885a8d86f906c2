package specendpoints

import (
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	if Latest() != "v1.19" || Releases()[0] != "v1.1" {
		t.Fatalf("releases %v", Releases())
	}
	current := 0
	byKey := map[string]Endpoint{}
	for _, e := range All() {
		if e.Current() {
			current++
		}
		byKey[e.Method+" "+e.Path] = e
	}
	// v1.19 has 164 client-server endpoints (counted from its OpenAPI files).
	if current != 164 {
		t.Errorf("%d current endpoints, want 164", current)
	}
	for _, c := range []struct {
		key, module, added, removed string
		deprecated                  bool
	}{
		{"GET /_matrix/client/v1/media/download/{serverName}/{mediaId}", "authed-content-repo", "v1.11", "", false},
		{"GET /_matrix/client/v3/rooms/{roomId}/relations/{eventId}", "", "", "", false}, // never under v3
		{"GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}", "relations", "v1.3", "", false},
		{"GET /_matrix/media/v3/download/{serverName}/{mediaId}", "content-repo", "v1.1", "", true},
		{"POST /_matrix/media/v1/create", "content-repo", "v1.7", "", false},
		{"GET /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}", "pushrules", "v1.1", "v1.12", false},
		{"POST /_matrix/client/v3/rooms/{roomId}/invite", "inviting", "v1.1", "", false},
	} {
		e, ok := byKey[c.key]
		if c.module == "" {
			if ok {
				t.Errorf("%s listed", c.key)
			}
			continue
		}
		if !ok || e.Module != c.module || e.Added != c.added || e.Removed != c.removed || e.Deprecated != c.deprecated {
			t.Errorf("%s: %+v, want %+v", c.key, e, c)
		}
	}
}

func TestIn(t *testing.T) {
	e := Endpoint{Added: "v1.3", Removed: "v1.12"}
	for r, want := range map[string]bool{"v1.1": false, "v1.3": true, "v1.11": true, "v1.12": false, "v1.19": false} {
		if e.In(r) != want {
			t.Errorf("In(%s) = %v", r, !want)
		}
	}
}

func TestSupportedReleases(t *testing.T) {
	all := SupportedReleases(func(Endpoint) bool { return true })
	if len(all) != len(Releases()) {
		t.Errorf("everything served: %v", all)
	}
	// Without the authenticated media endpoints (v1.11), v1.11 and later are not supported.
	got := SupportedReleases(func(e Endpoint) bool { return e.Module != "authed-content-repo" })
	if got[len(got)-1] != "v1.10" {
		t.Errorf("without authenticated media: %v", got)
	}
	// An endpoint removed in v1.12 only matters before.
	got = SupportedReleases(func(e Endpoint) bool { return !strings.Contains(e.Path, "{scope}") })
	if len(got) != 8 || got[0] != "v1.12" {
		t.Errorf("without the {scope} push rule paths: %v", got)
	}
	if got := SupportedReleases(func(Endpoint) bool { return false }); len(got) != 0 {
		t.Errorf("nothing served: %v", got)
	}
}

func TestMatcher(t *testing.T) {
	m := NewMatcher([]Route{
		{"GET", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey...}"},
		{"GET", "/_matrix/client/v3/profile/{userId}/displayname"},
		{"PUT", "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}"},
		{"GET", "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}"},
	})
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}", true},
		{"PUT", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}", false},
		{"GET", "/_matrix/client/v3/profile/{userId}/{keyName}", false}, // only displayname
		{"PUT", "/_matrix/client/v3/pushrules/global/{kind}/{ruleId}", true},
		{"HEAD", "/_matrix/client/v3/pushrules/global/{kind}/{ruleId}", true},
		{"GET", "/_matrix/client/v3/sync", false},
	} {
		if got := m.Serves(Endpoint{Method: c.method, Path: c.path}); got != c.want {
			t.Errorf("%s %s: %v", c.method, c.path, got)
		}
	}
}

func TestSampleURL(t *testing.T) {
	if got := SampleURL("/a/{roomId}/b/{unknown}/{"); got != "/a/%21probe:example.org/b/probe/{" {
		t.Errorf("SampleURL = %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		"",
		"# only a comment\n",
		"GET\t/a\tm\tv1.1\t\n",            // 5 fields
		"GET\t/a\tm\tvX\t\tfalse\n",       // bad release
		"GET\t/a\tm\tv1.3\tv1.2\tfalse\n", // removed before added
		"GET\ta\tm\tv1.1\t\tfalse\n",      // not a path
	} {
		if _, _, err := parse(s); err == nil {
			t.Errorf("parse(%q) succeeded", s)
		}
	}
}

// FuzzParse: the list parser never panics; what it accepts is ordered
// releases and endpoints with paths.
func FuzzParse(f *testing.F) {
	f.Add(tsv)
	f.Add("GET\t/a\tm\tv1.1\tv1.2\ttrue\n")
	f.Add("GET\t/a\tm\tv1.99999999999999999999\t\tfalse\n")
	f.Fuzz(func(t *testing.T, s string) {
		eps, rel, err := parse(s)
		if err != nil {
			return
		}
		if len(eps) == 0 || len(rel) == 0 || len(rel) > 1<<20 {
			t.Fatalf("accepted %d endpoints, %d releases", len(eps), len(rel))
		}
	})
}
