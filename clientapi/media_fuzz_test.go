package clientapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzMediaDownload: any media ID, file name and upload file name give a
// clean answer (never a panic, never a 5xx), and a served download's
// Content-Disposition is one line of printable ASCII starting with
// inline or attachment.
func FuzzMediaDownload(f *testing.F) {
	f.Add("abc", "x.png", "cat.png", "image/png")
	f.Add("..", "", "a\r\nb", "text/html")
	f.Add("a%2Fb", "é.txt", "\xff", "")
	f.Add("", "a/b", "", "image/png; charset=\"")
	f.Fuzz(func(t *testing.T, mediaID, override, uploadName, ct string) {
		s, _ := mediaServer(t)
		r := httptest.NewRequest("POST", "/_matrix/media/v3/upload?filename="+url.QueryEscape(uploadName), strings.NewReader("x"))
		r.Header.Set("Authorization", "Bearer tok_alice")
		if !strings.ContainsAny(ct, "\r\n\x00") {
			r.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		id := mediaID
		if w.Code == 200 && mediaID == "abc" {
			id = strings.TrimPrefix(strings.Split(w.Body.String(), `"`)[3], "mxc://example.org/")
		}
		path := "/_matrix/client/v1/media/download/example.org/" + url.PathEscape(id)
		if override != "" {
			path += "/" + url.PathEscape(override)
		}
		req, err := http.NewRequest("GET", path, nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer tok_bob")
		w = httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		if w.Code == 200 {
			cd := w.Header().Get("Content-Disposition")
			if !strings.HasPrefix(cd, "inline") && !strings.HasPrefix(cd, "attachment") {
				t.Fatalf("Content-Disposition %q", cd)
			}
			for i := 0; i < len(cd); i++ {
				if cd[i] < 0x20 || cd[i] > 0x7e {
					t.Fatalf("Content-Disposition %q has byte %#x", cd, cd[i])
				}
			}
		}
	})
}
