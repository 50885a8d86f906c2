package clientapi

import (
	"strings"

	"github.com/mxkit/mxkit/internal/specendpoints"
)

// GET /versions ("API Versions", content/client-server-api/_index.md)
// advertises the specification releases a client may rely on. Unless
// Server.Versions is set, a release is advertised only when every
// endpoint the specification has at that release (from its OpenAPI
// files, data/api/client-server/*.yaml, release by release) is served:
// routed by the adapter and with the backend its module needs set. The
// r0 releases predate the release-by-release list: r0.5.0, r0.6.0 and
// r0.6.1 are advertised when v1.1 is, whose endpoints include theirs.

// legacyReleases are the r0 releases older clients look for.
var legacyReleases = []string{"r0.5.0", "r0.6.0", "r0.6.1"}

// SupportedVersions returns the releases all of whose endpoints the
// Server serves, as GET /versions advertises them when Server.Versions
// is nil.
func (s *Server) SupportedVersions() []string {
	s.once.Do(s.init)
	s.versionsOnce.Do(func() { s.versions = s.supportedVersions() })
	return append([]string{}, s.versions...)
}

func (s *Server) supportedVersions() []string {
	var routes []specendpoints.Route
	for _, e := range s.endpoints() {
		routes = append(routes, specendpoints.Route{Method: e.Method, Pattern: e.Pattern})
	}
	m := specendpoints.NewMatcher(routes)
	served := func(e specendpoints.Endpoint) bool {
		return m.Serves(e) && s.hasBackend(e)
	}
	out := []string{}
	rel := specendpoints.SupportedReleases(served)
	if len(rel) > 0 && rel[0] == "v1.1" {
		out = append(out, legacyReleases...)
	}
	return append(out, rel...)
}

// hasBackend reports whether the backend an endpoint's module needs is
// set. Modules not listed need none beyond the adapter (their defaults
// are documented on Server).
func (s *Server) hasBackend(e specendpoints.Endpoint) bool {
	switch e.Module {
	case "versions", "wellknown":
		return true
	}
	if s.Tokens == nil {
		return false
	}
	write := e.Method != "GET"
	switch e.Module {
	case "account-data", "tags":
		return s.AccountData != nil
	case "banning", "kicking", "inviting", "joining", "leaving", "knocking", "list_joined_rooms", "create_room":
		return s.Rooms != nil
	case "room_send", "redaction":
		return s.Sender != nil
	case "room_state":
		if write {
			return s.Sender != nil
		}
		return s.Reader != nil
	case "message_pagination", "event_context", "rooms":
		return s.Reader != nil
	case "sync":
		return s.Syncer != nil
	case "directory":
		return s.Directory != nil
	case "profile":
		return s.Profile != nil
	case "typing", "receipts", "read_markers":
		return s.Ephemeral != nil
	case "device_management":
		return s.Devices != nil
	case "list_public_rooms":
		return s.PublishedRooms != nil
	case "login", "logout":
		return s.Accounts != nil
	case "registration":
		return s.Registration != nil
	case "pushrules":
		return !write || s.PushRules != nil
	case "key_backup":
		return s.KeyBackup != nil
	case "cross_signing":
		return s.CrossSigning != nil && s.Keys != nil
	case "authed-content-repo", "content-repo":
		switch {
		case strings.HasSuffix(e.Path, "/config"):
			return true
		case strings.HasSuffix(e.Path, "/preview_url"):
			return s.URLPreviews != nil
		}
		return s.Media != nil
	}
	return true
}
