package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFederationMediaNio: a matrix-nio user of one server uploads an
// image; a matrix-nio user of the other downloads it and two thumbnails
// through their own server, which fetches them over federation
// (legacy /_matrix/media/r0 endpoints, as nio 0.20 calls them).
func TestFederationMediaNio(t *testing.T) {
	t.Parallel()
	requireNio(t)
	p := startPair(t)
	runClient(t, 90*time.Second, ".", systemPython, filepath.Join("clients", "nio", "media.py"), p.a.hs.ClientURL(), p.b.hs.ClientURL())
}

// TestFederationMediaJS: a matrix-js-sdk user of one server uploads an
// image (uploadContent); a user of the other downloads it and a
// thumbnail through the authenticated endpoints the SDK builds
// (mxcUrlToHttp with useAuthentication).
func TestFederationMediaJS(t *testing.T) {
	t.Parallel()
	requireJS(t)
	p := startPair(t)
	runClient(t, 90*time.Second, filepath.Join("clients", "js"), "node", "media.mjs", p.a.hs.ClientURL(), p.b.hs.ClientURL())
}

// TestFederationMediaAuthenticated: the authenticated endpoints across
// federation, with the headers the spec asks for; the second download is
// served from b's cache.
func TestFederationMediaAuthenticated(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	alice := register(t, p.a.hs.ClientURL(), "alice")
	bob := register(t, p.b.hs.ClientURL(), "bob")

	img := image.NewRGBA(image.Rect(0, 0, 200, 100))
	for x := range 200 {
		for y := range 100 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 0, 255})
		}
	}
	var pngData bytes.Buffer
	png.Encode(&pngData, img)

	var up struct {
		ContentURI string `json:"content_uri"`
	}
	mediaDo(t, alice, "POST", "/_matrix/media/v3/upload?filename=caf%C3%A9.png", "image/png", pngData.Bytes(), 200, &up)
	if !strings.HasPrefix(up.ContentURI, "mxc://a.test/") {
		t.Fatalf("content_uri %q", up.ContentURI)
	}
	id := strings.TrimPrefix(up.ContentURI, "mxc://a.test/")
	var html struct {
		ContentURI string `json:"content_uri"`
	}
	mediaDo(t, alice, "POST", "/_matrix/media/v3/upload?filename=x.html", "text/html", []byte("<script>alert(1)</script>"), 200, &html)

	for i := range 2 {
		body, h := mediaDo(t, bob, "GET", "/_matrix/client/v1/media/download/a.test/"+id, "", nil, 200, nil)
		if !bytes.Equal(body, pngData.Bytes()) || h.Get("Content-Type") != "image/png" ||
			h.Get("Content-Disposition") != "inline; filename*=utf-8''caf%C3%A9.png" ||
			h.Get("Cross-Origin-Resource-Policy") != "cross-origin" || !strings.HasPrefix(h.Get("Content-Security-Policy"), "sandbox;") {
			t.Fatalf("download %d: %d bytes, headers %v", i, len(body), h)
		}
	}
	body, h := mediaDo(t, bob, "GET", "/_matrix/client/v1/media/download/a.test/"+strings.TrimPrefix(html.ContentURI, "mxc://a.test/"), "", nil, 200, nil)
	if string(body) != "<script>alert(1)</script>" || h.Get("Content-Disposition") != `attachment; filename="x.html"` {
		t.Fatalf("html over federation served as %q", h.Get("Content-Disposition"))
	}
	body, h = mediaDo(t, bob, "GET", "/_matrix/client/v1/media/thumbnail/a.test/"+id+"?width=96&height=96&method=crop", "", nil, 200, nil)
	th, err := png.Decode(bytes.NewReader(body))
	if err != nil || th.Bounds().Dx() != 96 || th.Bounds().Dy() != 96 || h.Get("Content-Disposition") != `inline; filename="thumbnail.png"` {
		t.Fatalf("thumbnail: %v %v %v", err, th, h)
	}
	// Unknown remote media, and a media ID that is not one.
	mediaDo(t, bob, "GET", "/_matrix/client/v1/media/download/a.test/nope", "", nil, 404, nil)
	mediaDo(t, bob, "GET", "/_matrix/client/v1/media/download/a.test/a.b", "", nil, 400, nil)
	// The limit is announced.
	var cfg map[string]int64
	mediaDo(t, bob, "GET", "/_matrix/client/v1/media/config", "", nil, 200, &cfg)
	if cfg["m.upload.size"] <= 0 {
		t.Errorf("config %v", cfg)
	}
}

func mediaDo(t *testing.T, a *api, method, path, ct string, body []byte, status int, out any) ([]byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	return b, resp.Header
}
