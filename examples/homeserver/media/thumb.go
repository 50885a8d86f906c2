package media

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"image"
	_ "image/gif" // decoder registration
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/mxkit/mxkit/clientapi"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // decoder registration: thumbnails of WebP uploads
)

// Thumbnails ("Thumbnails", content/client-server-api/modules/content_repo.md).
// Decoding and encoding use the standard library's image packages (PNG,
// JPEG, GIF) and golang.org/x/image/webp; resampling uses
// golang.org/x/image/draw's Catmull-Rom kernel, the Go project's own
// maintained scaler.

// spec sizes are the dimensions and methods the spec says servers SHOULD
// produce.
var specSizes = []struct {
	w, h   int
	method string
}{
	{32, 32, "crop"}, {96, 96, "crop"},
	{320, 240, "scale"}, {640, 480, "scale"}, {800, 600, "scale"},
}

// targetSize picks the smallest of the spec's sizes for the method that
// is at least the requested size, so the answer is never smaller than
// asked ("Servers MUST NOT return a smaller thumbnail than requested");
// a request larger than all of them is made at its own size.
func targetSize(w, h int, method string) (int, int) {
	for _, s := range specSizes {
		if s.method == method && s.w >= w && s.h >= h {
			return s.w, s.h
		}
	}
	return w, h
}

// plan is the geometry of a thumbnail: the rectangle of the source drawn
// into an image of w×h. ok is false when the source is not larger than
// the target: the original is served then ("servers should return the
// original content rather than thumbnail it"; never upscale).
func plan(srcW, srcH, tw, th int, method string) (src image.Rectangle, w, h int, ok bool) {
	if method == "crop" {
		// Scale to cover the target, then cut its middle.
		if srcW <= tw || srcH <= th {
			return image.Rectangle{}, 0, 0, false
		}
		cw, ch := srcW, srcH
		if srcW*th > srcH*tw {
			cw = srcH * tw / th
		} else {
			ch = srcW * th / tw
		}
		x0, y0 := (srcW-cw)/2, (srcH-ch)/2
		return image.Rect(x0, y0, x0+cw, y0+ch), tw, th, true
	}
	// Scale: fit inside the target, keeping the aspect ratio.
	if srcW <= tw && srcH <= th {
		return image.Rectangle{}, 0, 0, false
	}
	if srcW*th > srcH*tw {
		w, h = tw, max(1, srcH*tw/srcW)
	} else {
		w, h = max(1, srcW*th/srcH), th
	}
	return image.Rect(0, 0, srcW, srcH), w, h, true
}

// errCannotThumbnail is the spec's 400 for content that is not an image
// the server can read.
var errCannotThumbnail = clientapi.NewError(http.StatusBadRequest, clientapi.CodeUnknown, "Cannot generate thumbnails for the requested content")

// thumbnail returns a thumbnail of the media r, made at the spec's size
// for the request and kept, or the original when it is small enough.
func (s *Store) thumbnail(ctx context.Context, serverName, mediaID string, r *record, t *clientapi.ThumbnailSize, remote bool) (*clientapi.MediaContent, error) {
	tw, th := targetSize(t.Width, t.Height, t.Method)
	if m, err := s.cachedThumbnail(ctx, serverName, mediaID, tw, th, t.Method); m != nil || err != nil {
		return m, err
	}
	f, err := os.Open(filepath.Join(s.cfg.Dir, r.path))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, ct, ok, err := renderThumbnail(f, tw, th, t.Method, s.cfg.MaxPixels)
	switch {
	case errors.Is(err, errTooManyPixels) && remote:
		return nil, tooLargeRemote()
	case errors.Is(err, errTooManyPixels):
		return nil, clientapi.NewError(http.StatusRequestEntityTooLarge, clientapi.CodeTooLarge, "image is too large to thumbnail")
	case err != nil:
		return nil, err
	case !ok:
		return s.open(r.path, r.contentType, "")
	}
	rel, size, err := s.writeFile(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if err := s.recordThumbnail(ctx, serverName, mediaID, tw, th, t.Method, ct, size, rel); err != nil {
		return nil, err
	}
	return s.cachedThumbnailOrErr(ctx, serverName, mediaID, tw, th, t.Method)
}

// errTooManyPixels: the image is above Config.MaxPixels.
var errTooManyPixels = errors.New("image has too many pixels to thumbnail")

// renderThumbnail makes the thumbnail of the image in f for a target of
// tw×th: PNG or JPEG (JPEG for JPEG sources). ok is false when the
// original is to be served instead. The image's size is read from its
// header first, and one above maxPixels is refused before decoding.
func renderThumbnail(f io.ReadSeeker, tw, th int, method string, maxPixels int) (data []byte, ct string, ok bool, err error) {
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return nil, "", false, errCannotThumbnail
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxPixels/cfg.Height {
		return nil, "", false, errTooManyPixels
	}
	srcRect, w, h, ok := plan(cfg.Width, cfg.Height, tw, th, method)
	if !ok {
		return nil, "", false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, "", false, err
	}
	src, _, err := image.Decode(f)
	if err != nil {
		return nil, "", false, errCannotThumbnail
	}
	srcRect = srcRect.Add(src.Bounds().Min)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, srcRect, draw.Src, nil)
	var buf bytes.Buffer
	ct = "image/png"
	if format == "jpeg" {
		// Photographs stay JPEG (smaller); everything else is PNG,
		// which keeps transparency.
		ct = "image/jpeg"
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, dst)
	}
	if err != nil {
		return nil, "", false, err
	}
	return buf.Bytes(), ct, true, nil
}

func (s *Store) recordThumbnail(ctx context.Context, serverName, mediaID string, w, h int, method, ct string, size int64, rel string) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO thumbnails (server_name, media_id, width, height, method, content_type, size, path)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, serverName, mediaID, w, h, method, ct, size, rel)
	if err != nil {
		s.removeFile(rel)
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		s.removeFile(rel) // made concurrently: the other copy is kept
	}
	return nil
}

func (s *Store) cachedThumbnail(ctx context.Context, serverName, mediaID string, w, h int, method string) (*clientapi.MediaContent, error) {
	var ct, rel string
	err := s.db.QueryRowContext(ctx, `SELECT content_type, path FROM thumbnails WHERE server_name=? AND media_id=? AND width=? AND height=? AND method=?`,
		serverName, mediaID, w, h, method).Scan(&ct, &rel)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.open(rel, ct, "")
}

func (s *Store) cachedThumbnailOrErr(ctx context.Context, serverName, mediaID string, w, h int, method string) (*clientapi.MediaContent, error) {
	m, err := s.cachedThumbnail(ctx, serverName, mediaID, w, h, method)
	if m == nil && err == nil {
		err = errors.New("thumbnail vanished")
	}
	return m, err
}

// remoteThumbnail asks the media's server for the thumbnail over
// federation and keeps it, keyed by the size asked.
func (s *Store) remoteThumbnail(ctx context.Context, req clientapi.MediaRequest) (*clientapi.MediaContent, error) {
	t := req.Thumbnail
	// Cached under a "remote:" method so it never mixes with the ones
	// made here from the original.
	method := "remote:" + t.Method
	if m, err := s.cachedThumbnail(ctx, req.ServerName, req.MediaID, t.Width, t.Height, method); m != nil || err != nil {
		return m, err
	}
	if s.remote == nil {
		return nil, clientapi.NotFound("remote media not found")
	}
	m, err := s.remote.Thumbnail(ctx, req.ServerName, req.MediaID, t.Width, t.Height, t.Method)
	if err != nil {
		return nil, remoteError(err)
	}
	body, err := s.followLocation(ctx, m)
	if err != nil {
		return nil, err
	}
	if !thumbnailType(m.ContentType) {
		// Only image types a thumbnail may have are kept and served
		// inline; anything else is refused and made here instead.
		return nil, errCannotThumbnail
	}
	rel, size, err := s.writeFile(body)
	if err != nil {
		return nil, err
	}
	if err := s.recordThumbnail(ctx, req.ServerName, req.MediaID, t.Width, t.Height, method, m.ContentType, size, rel); err != nil {
		return nil, err
	}
	return s.cachedThumbnailOrErr(ctx, req.ServerName, req.MediaID, t.Width, t.Height, method)
}

// thumbnailType: the Content-Type values the spec allows for a thumbnail.
func thumbnailType(ct string) bool {
	switch ct {
	case "image/jpeg", "image/png", "image/apng", "image/gif", "image/webp":
		return true
	}
	return false
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
