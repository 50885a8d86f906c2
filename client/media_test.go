package client_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"testing"
	"time"

	"github.com/mxkit/mxkit/client"
)

// TestMediaAgainstHomeserver uploads an image to the example homeserver
// over loopback, downloads it back byte for byte with its type and file
// name, and fetches two thumbnails of 96x96: crop gives the exact size;
// scale may give a larger thumbnail (the specification lets the server
// pick), and the example homeserver, like Synapse, answers its 320x240
// scale size, aspect kept.
func TestMediaAgainstHomeserver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := newUser(t, ctx, homeserverURL, "media-alice")
	bob := newUser(t, ctx, homeserverURL, "media-bob")

	if size, err := alice.MediaConfig(ctx); err != nil || size <= 0 {
		t.Errorf("media config: upload size %d, %v", size, err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 1000, 500))
	for x := range 1000 {
		for y := range 500 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	var data bytes.Buffer
	if err := png.Encode(&data, img); err != nil {
		t.Fatal(err)
	}
	mxc, err := alice.Upload(ctx, bytes.NewReader(data.Bytes()), int64(data.Len()), "image/png", "café.png")
	if err != nil {
		t.Fatal(err)
	}
	if server, _, err := client.ParseMXC(mxc); err != nil || server != "example.test" {
		t.Fatalf("upload answered %q (%v)", mxc, err)
	}

	body, typ, name, err := bob.Download(ctx, mxc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(got, data.Bytes()) || typ != "image/png" || name != "café.png" {
		t.Errorf("download: %d bytes (same %v), type %q, name %q, %v", len(got), bytes.Equal(got, data.Bytes()), typ, name, err)
	}

	for _, tc := range []struct {
		method       string
		wantW, wantH int
	}{
		{"crop", 96, 96},
		{"scale", 320, 160},
	} {
		body, typ, err := bob.Thumbnail(ctx, mxc, 96, 96, tc.method)
		if err != nil {
			t.Fatalf("%s thumbnail: %v", tc.method, err)
		}
		th, format, err := image.Decode(body)
		body.Close()
		if err != nil {
			t.Fatalf("%s thumbnail (%s): %v", tc.method, typ, err)
		}
		if b := th.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH || typ != "image/"+format {
			t.Errorf("%s thumbnail: %dx%d %s (%s), want %dx%d", tc.method, b.Dx(), b.Dy(), format, typ, tc.wantW, tc.wantH)
		}
	}

	if _, _, _, err := bob.Download(ctx, "mxc://example.test/nosuchmedia"); !client.IsCode(err, client.CodeNotFound) {
		t.Errorf("download of unknown media: %v, want M_NOT_FOUND", err)
	}
	if _, _, err := bob.Thumbnail(ctx, mxc, 0, 96, "crop"); err == nil {
		t.Error("thumbnail of width 0: no error")
	}
	if _, _, err := bob.Thumbnail(ctx, mxc, 96, 96, "stretch"); err == nil {
		t.Error("thumbnail method stretch: no error")
	}
	anon, _ := client.New(homeserverURL, "")
	if _, _, _, err := anon.Download(ctx, mxc); !client.IsCode(err, client.CodeMissingToken) {
		t.Errorf("download without a token: %v, want M_MISSING_TOKEN", err)
	}
}
