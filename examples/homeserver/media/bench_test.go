package media

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
)

// BenchmarkThumbnail makes thumbnails of a 2000x1500 photograph-sized
// image. Baseline: decoding the image alone, which any thumbnailer must
// do; the difference is the scaling and the encoding.
func BenchmarkThumbnail(b *testing.B) {
	var pngData, jpegData bytes.Buffer
	img := testImage(2000, 1500)
	if err := png.Encode(&pngData, img); err != nil {
		b.Fatal(err)
	}
	if err := jpeg.Encode(&jpegData, img, &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	for _, src := range []struct {
		name string
		data []byte
	}{{"png", pngData.Bytes()}, {"jpeg", jpegData.Bytes()}} {
		b.Run(src.name+"/baseline-decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := image.Decode(bytes.NewReader(src.data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, t := range []struct {
			name   string
			w, h   int
			method string
		}{{"crop96", 96, 96, "crop"}, {"scale800x600", 800, 600, "scale"}} {
			b.Run(src.name+"/"+t.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, ok, err := renderThumbnail(bytes.NewReader(src.data), t.w, t.h, t.method, 32<<20); err != nil || !ok {
						b.Fatal(err, ok)
					}
				}
			})
		}
	}
}
