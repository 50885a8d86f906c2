package clientapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mxkit/mxkit/internal/mediahdr"
)

// mediaServer is a Server with alice and bob and a MemoryMedia holding
// one PNG ("img", uploaded by alice as cat.png), one HTML page ("page")
// and a created, empty ID of alice's ("pending").
func mediaServer(t *testing.T) (*Server, map[string]string) {
	f := newFake()
	f.addUser("alice", "secret")
	f.addUser("bob", "hunter2")
	s := f.handler()
	s.MaxUploadSize = 1000
	s.Media = &MemoryMedia{ServerName: "example.org"}
	s.URLPreviews = fakePreviewer{}
	ids := map[string]string{}
	up := func(ct, name, body string) string {
		r := upload(t, s, "POST", "/_matrix/media/v3/upload?filename="+name, "tok_alice", ct, body, -2)
		if r.status != 200 {
			t.Fatalf("upload: %d %s", r.status, r.raw)
		}
		uri := r.body["content_uri"].(string)
		if !strings.HasPrefix(uri, "mxc://example.org/") || !mediahdr.ValidMediaID(strings.TrimPrefix(uri, "mxc://example.org/")) {
			t.Fatalf("content_uri %q", uri)
		}
		return strings.TrimPrefix(uri, "mxc://example.org/")
	}
	ids["img"] = up("image/png", "cat.png", "\x89PNG fake")
	ids["page"] = up("text/html", "", "<script>alert(1)</script>")
	r := do(t, s, "POST", "/_matrix/media/v1/create", "tok_alice", "")
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	if exp, _ := r.body["unused_expires_at"].(float64); exp < float64(time.Now().UnixMilli()) {
		t.Errorf("unused_expires_at %v", r.body["unused_expires_at"])
	}
	ids["pending"] = strings.TrimPrefix(r.body["content_uri"].(string), "mxc://example.org/")
	return s, ids
}

type fakePreviewer struct{}

func (fakePreviewer) PreviewURL(_ context.Context, _ Identity, u string, _ int64) (map[string]any, error) {
	return map[string]any{"og:title": "title of " + u}, nil
}

// upload sends a body with a Content-Type; length -1 sends it chunked
// (no Content-Length), -2 with its true length.
func upload(t *testing.T, h http.Handler, method, path, token, ct, body string, length int64) result {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if length == -1 {
		rd = iotest.HalfReader(rd) // not a *strings.Reader: no length known
	}
	r := httptest.NewRequest(method, path, rd)
	switch length {
	case -1:
		r.ContentLength = -1
	case -2:
	default:
		r.ContentLength = length
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := result{status: w.Code, raw: w.Body.String(), header: w.Header()}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		json.Unmarshal(w.Body.Bytes(), &res.body)
	}
	return res
}

func TestMediaEndpoints(t *testing.T) {
	big := strings.Repeat("x", 1001)
	cases := []struct {
		name, method, path, token, ct, body string
		length                              int64 // -2: true length, -1: chunked
		status                              int
		errcode                             string
		check                               func(t *testing.T, r result)
	}{
		{name: "config", method: "GET", path: "/_matrix/client/v1/media/config", token: "tok_alice", status: 200, check: func(t *testing.T, r result) {
			if r.raw != `{"m.upload.size":1000}` {
				t.Errorf("config %s", r.raw)
			}
		}},
		{name: "legacy config", method: "GET", path: "/_matrix/media/v3/config", token: "tok_alice", status: 200},
		{name: "upload no token", method: "POST", path: "/_matrix/media/v3/upload", ct: "text/plain", body: "hi", length: -2, status: 401, errcode: "M_MISSING_TOKEN"},
		{name: "upload empty", method: "POST", path: "/_matrix/media/v3/upload", token: "tok_alice", length: -2, status: 200},
		{name: "upload too large declared", method: "POST", path: "/_matrix/media/v3/upload", token: "tok_alice", ct: "text/plain", body: big, length: -2, status: 413, errcode: "M_TOO_LARGE"},
		{name: "upload too large chunked", method: "POST", path: "/_matrix/media/v3/upload", token: "tok_alice", ct: "text/plain", body: big, length: -1, status: 413, errcode: "M_TOO_LARGE"},
		{name: "upload at limit r0", method: "POST", path: "/_matrix/media/r0/upload", token: "tok_alice", ct: "text/plain", body: big[:1000], length: -1, status: 200},
		{name: "upload filename NUL", method: "POST", path: "/_matrix/media/v3/upload?filename=a%00b", token: "tok_alice", body: "x", length: -2, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "upload filename too long", method: "POST", path: "/_matrix/media/v3/upload?filename=" + strings.Repeat("a", 1025), token: "tok_alice", body: "x", length: -2, status: 400, errcode: "M_INVALID_PARAM"},

		{name: "download", method: "GET", path: "/_matrix/client/v1/media/download/example.org/{img}", token: "tok_bob", status: 200, check: func(t *testing.T, r result) {
			wantHeaders(t, r, "image/png", `inline; filename="cat.png"`)
			if r.raw != "\x89PNG fake" || r.header.Get("Content-Length") != "9" {
				t.Errorf("body %q length %q", r.raw, r.header.Get("Content-Length"))
			}
		}},
		{name: "download name override", method: "GET", path: "/_matrix/client/v1/media/download/example.org/{img}/caf%C3%A9.png", token: "tok_bob", status: 200, check: func(t *testing.T, r result) {
			wantHeaders(t, r, "image/png", `inline; filename*=utf-8''caf%C3%A9.png`)
		}},
		{name: "download html is attachment", method: "GET", path: "/_matrix/client/v1/media/download/example.org/{page}/x.html", token: "tok_bob", status: 200, check: func(t *testing.T, r result) {
			wantHeaders(t, r, "text/html", `attachment; filename="x.html"`)
		}},
		{name: "download untyped", method: "GET", path: "/_matrix/client/v1/media/download/example.org/{untyped}", token: "tok_bob", status: 200, check: func(t *testing.T, r result) {
			wantHeaders(t, r, "application/octet-stream", "attachment")
		}},
		{name: "download no token", method: "GET", path: "/_matrix/client/v1/media/download/example.org/{img}", status: 401, errcode: "M_MISSING_TOKEN"},
		{name: "download unknown", method: "GET", path: "/_matrix/client/v1/media/download/example.org/nope", token: "tok_bob", status: 404, errcode: "M_NOT_FOUND"},
		{name: "download remote", method: "GET", path: "/_matrix/client/v1/media/download/other.org/{img}", token: "tok_bob", status: 404, errcode: "M_NOT_FOUND"},
		{name: "download traversal", method: "GET", path: "/_matrix/client/v1/media/download/example.org/..%2F..%2Fetc", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "download dot id", method: "GET", path: "/_matrix/client/v1/media/download/example.org/a.b", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "download long id", method: "GET", path: "/_matrix/client/v1/media/download/example.org/" + strings.Repeat("a", 256), token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "download bad server", method: "GET", path: "/_matrix/client/v1/media/download/exa_mple!/{img}", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "download bad timeout", method: "GET", path: "/_matrix/client/v1/media/download/example.org/{img}?timeout_ms=x", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "download not yet uploaded", method: "GET", path: "/_matrix/client/v1/media/download/example.org/{pending}?timeout_ms=0", token: "tok_bob", status: 504, errcode: "M_NOT_YET_UPLOADED"},
		{name: "legacy download unauthenticated", method: "GET", path: "/_matrix/media/v3/download/example.org/{img}", status: 200, check: func(t *testing.T, r result) {
			wantHeaders(t, r, "image/png", `inline; filename="cat.png"`)
		}},
		{name: "legacy download bad allow_remote", method: "GET", path: "/_matrix/media/v3/download/example.org/{img}?allow_remote=maybe", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "head download", method: "HEAD", path: "/_matrix/client/v1/media/download/example.org/{img}", token: "tok_bob", status: 200, check: func(t *testing.T, r result) {
			if r.raw != "" || r.header.Get("Content-Length") != "9" {
				t.Errorf("HEAD: %q %v", r.raw, r.header)
			}
		}},

		{name: "thumbnail", method: "GET", path: "/_matrix/client/v1/media/thumbnail/example.org/{img}?width=32&height=32&method=crop", token: "tok_bob", status: 200, check: func(t *testing.T, r result) {
			wantHeaders(t, r, "image/png", `inline; filename="thumbnail.png"`)
		}},
		{name: "thumbnail of html is attachment", method: "GET", path: "/_matrix/client/v1/media/thumbnail/example.org/{page}?width=32&height=32", token: "tok_bob", status: 200, check: func(t *testing.T, r result) {
			wantHeaders(t, r, "text/html", "attachment")
		}},
		{name: "thumbnail no size", method: "GET", path: "/_matrix/client/v1/media/thumbnail/example.org/{img}?width=32", token: "tok_bob", status: 400, errcode: "M_MISSING_PARAM"},
		{name: "thumbnail negative", method: "GET", path: "/_matrix/client/v1/media/thumbnail/example.org/{img}?width=-1&height=32", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "thumbnail float", method: "GET", path: "/_matrix/client/v1/media/thumbnail/example.org/{img}?width=1.5&height=32", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "thumbnail bad method", method: "GET", path: "/_matrix/client/v1/media/thumbnail/example.org/{img}?width=1&height=32&method=fit", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "thumbnail bad animated", method: "GET", path: "/_matrix/client/v1/media/thumbnail/example.org/{img}?width=1&height=32&animated=1", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "legacy thumbnail", method: "GET", path: "/_matrix/media/v3/thumbnail/example.org/{img}?width=1&height=1", status: 200},

		{name: "async upload", method: "PUT", path: "/_matrix/media/v3/upload/example.org/{pending}?filename=late.txt", token: "tok_alice", ct: "text/plain", body: "late", length: -2, status: 200, check: func(t *testing.T, r result) {
			if r.raw != "{}" {
				t.Errorf("PUT upload: %s", r.raw)
			}
		}},
		{name: "async upload twice", method: "PUT", path: "/_matrix/media/v3/upload/example.org/{img}", token: "tok_alice", body: "x", length: -2, status: 409, errcode: "M_CANNOT_OVERWRITE_MEDIA"},
		{name: "async upload other user", method: "PUT", path: "/_matrix/media/v3/upload/example.org/{pending}", token: "tok_bob", body: "x", length: -2, status: 403, errcode: "M_FORBIDDEN"},
		{name: "async upload unknown", method: "PUT", path: "/_matrix/media/v3/upload/example.org/nope", token: "tok_alice", body: "x", length: -2, status: 404, errcode: "M_NOT_FOUND"},
		{name: "async upload other server", method: "PUT", path: "/_matrix/media/v3/upload/other.org/{pending}", token: "tok_alice", body: "x", length: -2, status: 403, errcode: "M_FORBIDDEN"},
		{name: "async upload too large", method: "PUT", path: "/_matrix/media/v3/upload/example.org/{pending}", token: "tok_alice", body: big, length: -1, status: 413, errcode: "M_TOO_LARGE"},

		{name: "preview", method: "GET", path: "/_matrix/client/v1/media/preview_url?url=https%3A%2F%2Fexample.com%2F", token: "tok_bob", status: 200, check: func(t *testing.T, r result) {
			if r.body["og:title"] != "title of https://example.com/" {
				t.Errorf("preview %s", r.raw)
			}
		}},
		{name: "preview no url", method: "GET", path: "/_matrix/client/v1/media/preview_url", token: "tok_bob", status: 400, errcode: "M_MISSING_PARAM"},
		{name: "preview file url", method: "GET", path: "/_matrix/client/v1/media/preview_url?url=file%3A%2F%2F%2Fetc%2Fpasswd", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "preview bad ts", method: "GET", path: "/_matrix/client/v1/media/preview_url?url=https%3A%2F%2Fa.b&ts=x", token: "tok_bob", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "preview legacy", method: "GET", path: "/_matrix/media/v3/preview_url?url=http%3A%2F%2Fa.b%2F", token: "tok_bob", status: 200},
		{name: "preview no token", method: "GET", path: "/_matrix/client/v1/media/preview_url?url=http%3A%2F%2Fa.b%2F", status: 401, errcode: "M_MISSING_TOKEN"},
		{name: "create wrong method", method: "GET", path: "/_matrix/media/v1/create", token: "tok_alice", status: 405, errcode: "M_UNRECOGNIZED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, ids := mediaServer(t)
			r := upload(t, s, "POST", "/_matrix/media/v3/upload", "tok_alice", "", "raw bytes", -2)
			ids["untyped"] = strings.TrimPrefix(r.body["content_uri"].(string), "mxc://example.org/")
			path := tc.path
			for k, v := range ids {
				path = strings.ReplaceAll(path, "{"+k+"}", v)
			}
			var res result
			if tc.length != 0 {
				res = upload(t, s, tc.method, path, tc.token, tc.ct, tc.body, tc.length)
			} else {
				res = upload(t, s, tc.method, path, tc.token, "", "", -2)
			}
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.raw)
			}
			if tc.errcode != "" && res.body["errcode"] != tc.errcode {
				t.Fatalf("errcode %v, want %s: %s", res.body["errcode"], tc.errcode, res.raw)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

func wantHeaders(t *testing.T, r result, ct, disposition string) {
	t.Helper()
	if got := r.header.Get("Content-Type"); got != ct {
		t.Errorf("Content-Type %q, want %q", got, ct)
	}
	if got := r.header.Get("Content-Disposition"); got != disposition {
		t.Errorf("Content-Disposition %q, want %q", got, disposition)
	}
	if r.header.Get("Content-Security-Policy") != mediahdr.ContentSecurityPolicy || r.header.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
		t.Errorf("security headers missing: %v", r.header)
	}
}

// TestMediaAsyncUploadWakesDownload: a download waiting on a created ID
// is answered when the content arrives.
func TestMediaAsyncUploadWakesDownload(t *testing.T) {
	s, ids := mediaServer(t)
	got := make(chan result, 1)
	go func() {
		got <- upload(t, s, "GET", "/_matrix/client/v1/media/download/example.org/"+ids["pending"]+"?timeout_ms=10000", "tok_bob", "", "", -2)
	}()
	time.Sleep(20 * time.Millisecond)
	if r := upload(t, s, "PUT", "/_matrix/media/v3/upload/example.org/"+ids["pending"], "tok_alice", "text/plain", "now", -2); r.status != 200 {
		t.Fatalf("PUT: %d %s", r.status, r.raw)
	}
	select {
	case r := <-got:
		if r.status != 200 || r.raw != "now" {
			t.Fatalf("download: %d %q", r.status, r.raw)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("download still waiting after the upload")
	}
}

func TestMediaPendingLimit(t *testing.T) {
	s, _ := mediaServer(t)
	s.Media.(*MemoryMedia).MaxPending = 2 // alice has one pending already
	if r := do(t, s, "POST", "/_matrix/media/v1/create", "tok_alice", ""); r.status != 200 {
		t.Fatalf("second create: %d", r.status)
	}
	if r := do(t, s, "POST", "/_matrix/media/v1/create", "tok_alice", ""); r.status != 429 || r.body["errcode"] != "M_LIMIT_EXCEEDED" {
		t.Fatalf("third create: %d %s", r.status, r.raw)
	}
}

func TestMediaWithoutBackend(t *testing.T) {
	f := newFake()
	f.addUser("alice", "secret")
	s := f.handler()
	for _, p := range []string{"/_matrix/client/v1/media/download/example.org/abc", "/_matrix/client/v1/media/preview_url?url=http://a.b/"} {
		if r := do(t, s, "GET", p, "tok_alice", ""); r.status != 404 || r.body["errcode"] != "M_UNRECOGNIZED" {
			t.Errorf("%s: %d %s", p, r.status, r.raw)
		}
	}
	if r := do(t, s, "GET", "/_matrix/client/v1/media/config", "tok_alice", ""); r.raw != "{}" {
		t.Errorf("config without backend or limit: %s", r.raw)
	}
}
