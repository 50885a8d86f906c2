package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/internal/mxerr"
)

var alice = clientapi.Identity{UserID: "@alice:hs.test", DeviceID: "A"}
var bob = clientapi.Identity{UserID: "@bob:hs.test", DeviceID: "B"}

func open(t *testing.T, dir string, mod func(*Config)) *Store {
	t.Helper()
	cfg := Config{Dir: dir, ServerName: "hs.test", MaxSize: 1 << 20}
	if mod != nil {
		mod(&cfg)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testImage is a w×h image: left half red, right half blue, so crops and
// scales can be told apart.
func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= w/2 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func upload(t *testing.T, s *Store, ct, name string, data []byte) string {
	t.Helper()
	id, err := s.UploadMedia(context.Background(), alice, "", clientapi.MediaUpload{ContentType: ct, FileName: name, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func get(t *testing.T, s *Store, req clientapi.MediaRequest) (*clientapi.MediaContent, []byte, error) {
	t.Helper()
	if req.ServerName == "" {
		req.ServerName = "hs.test"
	}
	m, err := s.MediaContent(context.Background(), bob, req)
	if err != nil {
		return nil, nil, err
	}
	defer m.Body.Close()
	data, err := io.ReadAll(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != int64(len(data)) {
		t.Errorf("Size %d, body %d bytes", m.Size, len(data))
	}
	return m, data, nil
}

func errStatus(err error) (int, string) {
	var e *mxerr.Error
	if errors.As(err, &e) {
		return e.Status, e.Code
	}
	return 0, ""
}

func TestUploadDownloadPersists(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	id := upload(t, s, "text/plain", "note.txt", []byte("hello"))
	s.Close()
	s = open(t, dir, nil)
	m, data, err := get(t, s, clientapi.MediaRequest{MediaID: id})
	if err != nil || string(data) != "hello" || m.ContentType != "text/plain" || m.FileName != "note.txt" {
		t.Fatalf("after reopen: %+v %q %v", m, data, err)
	}
	if _, _, err := get(t, s, clientapi.MediaRequest{MediaID: "nope"}); !isNotFound(err) {
		t.Errorf("unknown: %v", err)
	}
}

func isNotFound(err error) bool {
	st, code := errStatus(err)
	return st == 404 && code == "M_NOT_FOUND"
}

func TestThumbnails(t *testing.T) {
	s := open(t, t.TempDir(), nil)
	pngID := upload(t, s, "image/png", "wide.png", encodePNG(t, testImage(1000, 500)))
	var jb bytes.Buffer
	jpeg.Encode(&jb, testImage(1000, 500), nil)
	jpgID := upload(t, s, "image/jpeg", "wide.jpg", jb.Bytes())
	textID := upload(t, s, "text/plain", "", []byte("not an image"))
	smallID := upload(t, s, "image/png", "", encodePNG(t, testImage(20, 10)))

	for _, tc := range []struct {
		name   string
		id     string
		w, h   int
		method string
		wantW  int
		wantH  int
		wantCT string
	}{
		// 32x32 crop: the middle of the image, half red, half blue.
		{"crop 32", pngID, 32, 32, "crop", 32, 32, "image/png"},
		// 50x50 crop: not a spec size; 96x96 is the next one up.
		{"crop 50 gives 96", pngID, 50, 50, "crop", 96, 96, "image/png"},
		// Scale 320x240 keeps the 2:1 aspect inside the box: one side
		// is smaller than asked, as the spec's description of "scale"
		// ("either the width or the height is smaller than the
		// requested size") and the reference server have it.
		{"scale 320x240", pngID, 320, 240, "scale", 320, 160, "image/png"},
		{"scale 100x100 gives 320x240's", pngID, 100, 100, "scale", 320, 160, "image/png"},
		{"scale 800x600", pngID, 700, 500, "scale", 800, 400, "image/png"},
		{"jpeg stays jpeg", jpgID, 640, 480, "scale", 640, 320, "image/jpeg"},
		// Larger than the original: the original, never upscaled.
		{"no upscale", pngID, 2000, 2000, "scale", 1000, 500, "image/png"},
		{"small original", smallID, 32, 32, "crop", 20, 10, "image/png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, data, err := get(t, s, clientapi.MediaRequest{MediaID: tc.id, Thumbnail: &clientapi.ThumbnailSize{Width: tc.w, Height: tc.h, Method: tc.method}})
			if err != nil {
				t.Fatal(err)
			}
			img, format, err := image.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH || m.ContentType != tc.wantCT || "image/"+format != tc.wantCT {
				t.Fatalf("got %dx%d %s (%s), want %dx%d %s", b.Dx(), b.Dy(), m.ContentType, format, tc.wantW, tc.wantH, tc.wantCT)
			}
			if tc.method == "crop" && tc.wantW == 32 {
				// A centred crop of a red|blue image: red left, blue right.
				if r, _, b, _ := img.At(2, 16).RGBA(); r>>8 < 200 || b>>8 > 50 {
					t.Errorf("left of crop is not red")
				}
				if r, _, b, _ := img.At(29, 16).RGBA(); b>>8 < 200 || r>>8 > 50 {
					t.Errorf("right of crop is not blue")
				}
			}
		})
	}
	// Made once, then served from the cache: same bytes, one row.
	_, a, _ := get(t, s, clientapi.MediaRequest{MediaID: pngID, Thumbnail: &clientapi.ThumbnailSize{Width: 32, Height: 32, Method: "crop"}})
	_, b, _ := get(t, s, clientapi.MediaRequest{MediaID: pngID, Thumbnail: &clientapi.ThumbnailSize{Width: 10, Height: 10, Method: "crop"}})
	var n int
	s.db.QueryRow(`SELECT count(*) FROM thumbnails WHERE media_id=? AND width=32`, pngID).Scan(&n)
	if !bytes.Equal(a, b) || n != 1 {
		t.Errorf("thumbnail not reused: equal=%v rows=%d", bytes.Equal(a, b), n)
	}
	if _, _, err := get(t, s, clientapi.MediaRequest{MediaID: textID, Thumbnail: &clientapi.ThumbnailSize{Width: 32, Height: 32, Method: "crop"}}); !hasStatus(err, 400, "M_UNKNOWN") {
		t.Errorf("thumbnail of text: %v", err)
	}
}

func hasStatus(err error, status int, code string) bool {
	st, c := errStatus(err)
	return st == status && c == code
}

func TestThumbnailTooLarge(t *testing.T) {
	s := open(t, t.TempDir(), func(c *Config) { c.MaxPixels = 100 * 100 })
	id := upload(t, s, "image/png", "", encodePNG(t, testImage(101, 100)))
	if _, _, err := get(t, s, clientapi.MediaRequest{MediaID: id, Thumbnail: &clientapi.ThumbnailSize{Width: 32, Height: 32, Method: "crop"}}); !hasStatus(err, 413, "M_TOO_LARGE") {
		t.Errorf("got %v, want 413 M_TOO_LARGE", err)
	}
	// A PNG header claiming a huge image is refused before decoding.
	huge := encodePNG(t, testImage(1, 1))
	copy(huge[16:24], []byte{0, 1, 0, 0, 0, 1, 0, 0}) // 65536x65536 in IHDR (CRC now wrong)
	id = upload(t, s, "image/png", "", huge)
	if _, _, err := get(t, s, clientapi.MediaRequest{MediaID: id, Thumbnail: &clientapi.ThumbnailSize{Width: 32, Height: 32, Method: "crop"}}); err == nil {
		t.Errorf("thumbnail of a corrupt 65536x65536 PNG succeeded")
	}
}

func TestAsyncUpload(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), func(c *Config) { c.MaxPending = 2 })
	id, exp, err := s.CreateMedia(ctx, alice)
	if err != nil || exp <= time.Now().UnixMilli() {
		t.Fatal(id, exp, err)
	}
	if _, _, err := get(t, s, clientapi.MediaRequest{MediaID: id, Timeout: 0}); !errors.Is(err, clientapi.ErrNotYetUploaded) {
		t.Fatalf("pending: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, data, err := get(t, s, clientapi.MediaRequest{MediaID: id, Timeout: 10 * time.Second})
		if err == nil && string(data) != "later" {
			err = errors.New("wrong content " + string(data))
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := s.UploadMedia(ctx, bob, id, clientapi.MediaUpload{Body: strings.NewReader("x")}); !hasStatus(err, 403, "M_FORBIDDEN") {
		t.Errorf("other user: %v", err)
	}
	if _, err := s.UploadMedia(ctx, alice, id, clientapi.MediaUpload{ContentType: "text/plain", Body: strings.NewReader("later")}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting download not woken")
	}
	if _, err := s.UploadMedia(ctx, alice, id, clientapi.MediaUpload{Body: strings.NewReader("again")}); !errors.Is(err, clientapi.ErrCannotOverwriteMedia) {
		t.Errorf("overwrite: %v", err)
	}
	if _, err := s.UploadMedia(ctx, alice, "unknownID", clientapi.MediaUpload{Body: strings.NewReader("x")}); !isNotFound(err) {
		t.Errorf("unknown ID: %v", err)
	}
	s.CreateMedia(ctx, alice)
	s.CreateMedia(ctx, alice)
	if _, _, err := s.CreateMedia(ctx, alice); !hasStatus(err, 429, "M_LIMIT_EXCEEDED") {
		t.Errorf("pending limit: %v", err)
	}
	// Expired IDs take no content.
	s2 := open(t, t.TempDir(), func(c *Config) { c.UnusedExpiry = time.Millisecond })
	id, _, _ = s2.CreateMedia(ctx, alice)
	time.Sleep(5 * time.Millisecond)
	if _, err := s2.UploadMedia(ctx, alice, id, clientapi.MediaUpload{Body: strings.NewReader("x")}); !isNotFound(err) {
		t.Errorf("expired: %v", err)
	}
}

// TestUploadTooLargeLeavesNothing: through the clientapi adapter, an
// upload over the limit is 413 and leaves no file and no record.
func TestUploadTooLargeLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	srv := &clientapi.Server{ServerName: "hs.test", MaxUploadSize: 1000, Media: s, Tokens: tokens{}}
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(strings.Repeat("x", 5000))
		if chunked {
			body = io.MultiReader(body)
		}
		r := httptest.NewRequest("POST", "/_matrix/media/v3/upload", body)
		if chunked {
			r.ContentLength = -1
		}
		r.Header.Set("Authorization", "Bearer t")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != 413 || !strings.Contains(w.Body.String(), "M_TOO_LARGE") {
			t.Fatalf("chunked=%v: %d %s", chunked, w.Code, w.Body)
		}
	}
	var n int
	s.db.QueryRow(`SELECT count(*) FROM media`).Scan(&n)
	files := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasPrefix(fi.Name(), "media.db") {
			files++
		}
		return nil
	})
	if n != 0 || files != 0 {
		t.Errorf("after refused uploads: %d records, %d files", n, files)
	}
}

type tokens struct{}

func (tokens) LookupToken(context.Context, string, clientapi.Masquerade) (clientapi.Identity, error) {
	return alice, nil
}

type fakeRemote struct {
	calls  atomic.Int32
	media  map[string]*federation.Media
	thumbs bool
}

func (f *fakeRemote) DownloadMedia(_ context.Context, dest, id string) (*federation.Media, error) {
	f.calls.Add(1)
	m, ok := f.media[dest+"/"+id]
	if !ok {
		return nil, mxerr.New(404, "M_NOT_FOUND", "no")
	}
	return m, nil
}

func (f *fakeRemote) Thumbnail(_ context.Context, dest, id string, w, h int, method string) (*federation.Media, error) {
	f.calls.Add(1)
	if !f.thumbs {
		return nil, mxerr.New(404, "M_UNRECOGNIZED", "no thumbnails here")
	}
	return &federation.Media{ContentType: "image/png", Body: encodePNGNoT(testImage(w, h))}, nil
}

func encodePNGNoT(img image.Image) []byte {
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func TestRemoteMedia(t *testing.T) {
	s := open(t, t.TempDir(), nil)
	remote := &fakeRemote{media: map[string]*federation.Media{
		"other.test/abc": {ContentType: "image/png", FileName: "r.png", Body: encodePNGNoT(testImage(400, 400))},
		"other.test/big": {ContentType: "text/plain", Body: bytes.Repeat([]byte("x"), 2<<20)},
	}}
	s.SetRemote(remote)
	req := clientapi.MediaRequest{ServerName: "other.test", MediaID: "abc", AllowRemote: true}
	if _, _, err := get(t, s, clientapi.MediaRequest{ServerName: "other.test", MediaID: "abc", AllowRemote: false}); !isNotFound(err) {
		t.Fatalf("allow_remote=false before caching: %v", err)
	}
	m, data, err := get(t, s, req)
	if err != nil || m.FileName != "r.png" || !bytes.Equal(data, remote.media["other.test/abc"].Body) {
		t.Fatalf("remote: %+v %v", m, err)
	}
	_, _, err = get(t, s, clientapi.MediaRequest{ServerName: "other.test", MediaID: "abc", AllowRemote: false})
	if err != nil || remote.calls.Load() != 1 {
		t.Fatalf("cached copy: %v, %d calls", err, remote.calls.Load())
	}
	// Thumbnail: the remote cannot, so it is made here from the cached original.
	req.Thumbnail = &clientapi.ThumbnailSize{Width: 96, Height: 96, Method: "crop"}
	_, data, err = get(t, s, req)
	if img, _, derr := image.Decode(bytes.NewReader(data)); err != nil || derr != nil || img.Bounds().Dx() != 96 {
		t.Fatalf("remote thumbnail made locally: %v %v", err, derr)
	}
	// The remote can: its thumbnail is used and kept.
	remote.thumbs = true
	req.Thumbnail = &clientapi.ThumbnailSize{Width: 50, Height: 40, Method: "scale"}
	calls := remote.calls.Load()
	for range 2 {
		if _, data, err = get(t, s, req); err != nil {
			t.Fatal(err)
		}
	}
	if img, _, err := image.Decode(bytes.NewReader(data)); err != nil || img.Bounds().Dx() != 50 || remote.calls.Load() != calls+1 {
		t.Fatalf("remote thumbnail: %v, calls %d -> %d", err, calls, remote.calls.Load())
	}
	if _, _, err := get(t, s, clientapi.MediaRequest{ServerName: "other.test", MediaID: "big", AllowRemote: true}); !hasStatus(err, 502, "M_TOO_LARGE") {
		t.Errorf("too large remote: %v", err)
	}
	if _, _, err := get(t, s, clientapi.MediaRequest{ServerName: "other.test", MediaID: "none", AllowRemote: true}); !isNotFound(err) {
		t.Errorf("unknown remote: %v", err)
	}
}

func TestFederationMedia(t *testing.T) {
	s := open(t, t.TempDir(), nil)
	id := upload(t, s, "image/png", "p.png", encodePNG(t, testImage(200, 100)))
	m, err := s.Media(context.Background(), id, nil)
	if err != nil || m.FileName != "p.png" || m.ContentType != "image/png" {
		t.Fatalf("federation download: %+v %v", m, err)
	}
	m, err = s.Media(context.Background(), id, &federation.ThumbnailRequest{Width: 32, Height: 32, Method: "crop"})
	if err != nil {
		t.Fatal(err)
	}
	if img, _, err := image.Decode(bytes.NewReader(m.Body)); err != nil || img.Bounds().Dx() != 32 {
		t.Fatalf("federation thumbnail: %v", err)
	}
	if _, err := s.Media(context.Background(), "nope", nil); !isNotFound(err) {
		t.Errorf("unknown: %v", err)
	}
	pending, _, _ := s.CreateMedia(context.Background(), alice)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Media(ctx, pending, nil); err == nil {
		t.Errorf("pending media served")
	}
}

func TestPreviewURL(t *testing.T) {
	img := encodePNGNoT(testImage(64, 48))
	page := `<!doctype html><html><head><TITLE>Fallback &amp; title</TITLE>
<meta property="og:title" content="The &quot;title&quot;">
<meta name=description content='A page'>
<meta property="og:image" content="/img.png" />
</head><body><meta property="og:title" content="late"></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, page)
		case "/img.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(img)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	s := open(t, t.TempDir(), func(c *Config) { c.AllowPrivate = true })
	out, err := s.PreviewURL(context.Background(), alice, srv.URL+"/", 0)
	if err != nil {
		t.Fatal(err)
	}
	if out["og:title"] != `The "title"` || out["og:description"] != "A page" || out["matrix:image:size"] != len(img) || out["og:image:type"] != "image/png" {
		t.Fatalf("preview %v", out)
	}
	mxc, _ := out["og:image"].(string)
	if !strings.HasPrefix(mxc, "mxc://hs.test/") {
		t.Fatalf("og:image %q", mxc)
	}
	if _, data, err := get(t, s, clientapi.MediaRequest{MediaID: strings.TrimPrefix(mxc, "mxc://hs.test/")}); err != nil || !bytes.Equal(data, img) {
		t.Fatalf("stored preview image: %v", err)
	}
	if _, err := s.PreviewURL(context.Background(), alice, srv.URL+"/missing", 0); !hasStatus(err, 502, "M_UNKNOWN") {
		t.Errorf("404 page: %v", err)
	}
	// Without AllowPrivate, loopback is refused.
	guarded := open(t, t.TempDir(), nil)
	if _, err := guarded.PreviewURL(context.Background(), alice, srv.URL+"/", 0); !hasStatus(err, 403, "M_FORBIDDEN") {
		t.Errorf("loopback preview without AllowPrivate: %v", err)
	}
}

func TestOpenGraph(t *testing.T) {
	for _, tc := range []struct {
		page string
		want map[string]string
	}{
		{`<title>T</title>`, map[string]string{"og:title": "T"}},
		{`<meta property="og:title" content="A"><meta property="og:title" content="B">`, map[string]string{"og:title": "A"}},
		{`<META PROPERTY="og:site_name" CONTENT="S">`, map[string]string{"og:site_name": "S"}},
		{`<meta property="og:title">`, map[string]string{}},
		{`<meta content="x" property=og:url>`, map[string]string{"og:url": "x"}},
		{`<title>unterminated`, map[string]string{}},
		{`<meta property="og:title" content="İİİ"><title>x</title>`, map[string]string{"og:title": "İİİ"}},
	} {
		got := openGraph(tc.page)
		if len(got) != len(tc.want) {
			t.Errorf("%q: %v, want %v", tc.page, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q: %v, want %v", tc.page, got, tc.want)
			}
		}
	}
}

// FuzzOpenGraph: any page scans without a panic and gives og: keys only.
func FuzzOpenGraph(f *testing.F) {
	for _, s := range []string{`<meta property="og:title" content="x">`, `<title>a</title>`, `<meta name=description content='d'`, `<`, `<meta a=">`, "<İ TITLE>x</title>", `<meta property='og:image' content=/a.png/>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, page string) {
		for k := range openGraph(page) {
			if !strings.HasPrefix(k, "og:") {
				t.Fatalf("key %q", k)
			}
		}
	})
}

// TestRemoteRedirect: a remote answering with a Location is followed
// through the address guard: refused on loopback by default, fetched
// when private addresses are allowed.
func TestRemoteRedirect(t *testing.T) {
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "from the CDN")
	}))
	defer cdn.Close()
	remote := &fakeRemote{media: map[string]*federation.Media{"other.test/r": {Location: cdn.URL + "/r"}}}
	req := clientapi.MediaRequest{ServerName: "other.test", MediaID: "r", AllowRemote: true}

	guarded := open(t, t.TempDir(), nil)
	guarded.SetRemote(remote)
	if _, _, err := get(t, guarded, req); !hasStatus(err, 502, "M_UNKNOWN") {
		t.Errorf("redirect to loopback without AllowPrivate: %v", err)
	}
	s := open(t, t.TempDir(), func(c *Config) { c.AllowPrivate = true })
	s.SetRemote(remote)
	m, data, err := get(t, s, req)
	if err != nil || string(data) != "from the CDN" || m.ContentType != "text/plain" {
		t.Fatalf("redirect followed: %+v %q %v", m, data, err)
	}
}

// TestRemoteCacheBound: past MaxRemoteCache the media fetched longest
// ago is dropped (and its thumbnails), then fetched again on request.
func TestRemoteCacheBound(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, func(c *Config) { c.MaxRemoteCache = 250 })
	remote := &fakeRemote{media: map[string]*federation.Media{}}
	for _, id := range []string{"m1", "m2", "m3"} {
		remote.media["other.test/"+id] = &federation.Media{ContentType: "text/plain", Body: bytes.Repeat([]byte(id[1:]), 100)}
	}
	s.SetRemote(remote)
	// A local upload does not count.
	upload(t, s, "text/plain", "", bytes.Repeat([]byte("L"), 1000))
	fetch := func(id string) {
		t.Helper()
		if _, data, err := get(t, s, clientapi.MediaRequest{ServerName: "other.test", MediaID: id, AllowRemote: true}); err != nil || len(data) != 100 {
			t.Fatalf("%s: %v", id, err)
		}
	}
	fetch("m1")
	time.Sleep(2 * time.Millisecond)
	fetch("m2")
	time.Sleep(2 * time.Millisecond)
	fetch("m3") // 300 bytes: m1 goes
	var ids []string
	rows, _ := s.db.Query(`SELECT media_id FROM media WHERE server_name='other.test' ORDER BY media_id`)
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if strings.Join(ids, ",") != "m2,m3" {
		t.Fatalf("cached after the bound: %v", ids)
	}
	calls := remote.calls.Load()
	fetch("m2")
	if remote.calls.Load() != calls {
		t.Errorf("m2 fetched again while cached")
	}
	fetch("m1")
	if remote.calls.Load() != calls+1 {
		t.Errorf("m1 not fetched again after eviction")
	}
	files := 0
	filepath.Walk(filepath.Join(dir, "files"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files++
		}
		return nil
	})
	if files != 3 { // the local upload and two remote media
		t.Errorf("%d files on disk, want 3", files)
	}
}

func TestUserQuota(t *testing.T) {
	s := open(t, t.TempDir(), func(c *Config) { c.MaxUserBytes = 100 })
	upload(t, s, "text/plain", "", bytes.Repeat([]byte("a"), 60))
	if _, err := s.UploadMedia(context.Background(), alice, "", clientapi.MediaUpload{Body: bytes.NewReader(make([]byte, 41))}); !hasStatus(err, 403, "M_FORBIDDEN") {
		t.Fatalf("over quota: %v", err)
	}
	upload(t, s, "text/plain", "", bytes.Repeat([]byte("b"), 40)) // exactly at the quota
	if _, err := s.UploadMedia(context.Background(), bob, "", clientapi.MediaUpload{Body: bytes.NewReader(make([]byte, 90))}); err != nil {
		t.Fatalf("another user's quota: %v", err)
	}
}
