package main

import (
	"net/url"
	"testing"
)

// TestRemoteProfiles: a profile of another server's user is fetched with
// the federation profile query (each field too), and an unknown remote
// user is 404 M_NOT_FOUND, as the other server says.
func TestRemoteProfiles(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	bob := register(t, p.b.hs.ClientURL(), "bob")
	bob.must("PUT", "/profile/@bob:b.test/displayname", map[string]string{"displayname": "Bob B."}, nil)
	bob.must("PUT", "/profile/@bob:b.test/avatar_url", map[string]string{"avatar_url": "mxc://b.test/face"}, nil)
	var prof struct {
		DisplayName string `json:"displayname"`
		AvatarURL   string `json:"avatar_url"`
	}
	alice.must("GET", "/profile/"+url.PathEscape("@bob:b.test"), nil, &prof)
	if prof.DisplayName != "Bob B." || prof.AvatarURL != "mxc://b.test/face" {
		t.Fatalf("remote profile %+v", prof)
	}
	prof.DisplayName = ""
	alice.must("GET", "/profile/"+url.PathEscape("@bob:b.test")+"/displayname", nil, &prof)
	if prof.DisplayName != "Bob B." {
		t.Fatalf("remote displayname %+v", prof)
	}
	if code, err := alice.do("GET", "/profile/"+url.PathEscape("@nobody:b.test"), nil, nil); code != 404 || errcodeOf(err) != "M_NOT_FOUND" {
		t.Fatalf("unknown remote user: %d %v", code, err)
	}
}
