package federation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"

	"github.com/mxkit/mxkit/internal/mediahdr"
	"github.com/mxkit/mxkit/internal/mxerr"
)

// MediaRepository serves media to other servers ("Content Repository",
// content/server-server-api.md).
type MediaRepository interface {
	// Media returns the media, or a thumbnail of it when thumb is not nil.
	// An error wrapping ErrNotFound answers 404 M_NOT_FOUND. A Media with
	// Location set redirects the requester there.
	Media(ctx context.Context, mediaID string, thumb *ThumbnailRequest) (*Media, error)
}

// ThumbnailRequest is what a thumbnail request asks for.
type ThumbnailRequest struct {
	Width, Height int
	Method        string // "crop" or "scale"
	Animated      bool
}

// MemoryMedia is a MediaRepository in memory; thumbnails are the media
// itself.
type MemoryMedia struct {
	mu    sync.RWMutex
	Files map[string]Media
}

// Media implements MediaRepository.
func (m *MemoryMedia) Media(ctx context.Context, id string, thumb *ThumbnailRequest) (*Media, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	f, ok := m.Files[id]
	if !ok {
		return nil, notFoundErr("media " + id + " not found")
	}
	return &f, nil
}

func (s *Server) handleMediaDownload(w http.ResponseWriter, r *http.Request) {
	s.serveMedia(w, r, nil)
}

func (s *Server) handleMediaThumbnail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	t := &ThumbnailRequest{Method: q.Get("method")}
	var err1, err2 error
	t.Width, err1 = strconv.Atoi(q.Get("width"))
	t.Height, err2 = strconv.Atoi(q.Get("height"))
	switch {
	case q.Get("width") == "" || q.Get("height") == "":
		fail(w, badRequest(mxerr.MissingParam, "width and height are required"))
		return
	case err1 != nil || err2 != nil || t.Width <= 0 || t.Height <= 0:
		fail(w, badRequest(mxerr.InvalidParam, "width and height must be positive integers"))
		return
	case t.Method != "" && t.Method != "crop" && t.Method != "scale":
		fail(w, badRequest(mxerr.InvalidParam, `method must be "crop" or "scale"`))
		return
	}
	t.Animated = q.Get("animated") == "true"
	s.serveMedia(w, r, t)
}

// serveMedia answers with multipart/mixed: the metadata object ({}) then the
// content with its Content-Type and Content-Disposition (the file name it
// was uploaded with; thumbnails inline), or a Location header for a
// redirect (data/api/server-server/content_repository.yaml).
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, t *ThumbnailRequest) {
	if s.Media == nil {
		mxerr.Write(w, errUnrecognized)
		return
	}
	if !mediahdr.ValidMediaID(r.PathValue("mediaId")) {
		fail(w, badRequest(mxerr.InvalidParam, "media ID must be 1 to 255 characters of A-Z, a-z, 0-9, _ and -"))
		return
	}
	m, err := s.Media.Media(r.Context(), r.PathValue("mediaId"), t)
	if err != nil {
		fail(w, err)
		return
	}
	var b [16]byte
	rand.Read(b[:])
	mw := multipart.NewWriter(w)
	mw.SetBoundary(hex.EncodeToString(b[:]))
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	meta, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	meta.Write([]byte("{}"))
	h := textproto.MIMEHeader{}
	if m.Location != "" {
		h.Set("Location", m.Location)
		mw.CreatePart(h)
	} else {
		ct := mediahdr.ContentType(m.ContentType)
		h.Set("Content-Type", ct)
		name := m.FileName
		if t != nil {
			name = ""
		}
		h.Set("Content-Disposition", mediahdr.Disposition(ct, name))
		p, _ := mw.CreatePart(h)
		p.Write(m.Body)
	}
	mw.Close()
}
