package clientapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mxkit/mxkit/internal/mediahdr"
)

// Content repository (content/client-server-api/modules/content_repo.md;
// data/api/client-server/authed-content-repo.yaml and content-repo.yaml).

// Media is the content repository: storage of uploaded content, and
// content and thumbnails of local and remote media. Optional: without it
// the media endpoints (but config) answer 404 M_UNRECOGNIZED.
type Media interface {
	// CreateMedia reserves a media ID for the user's later upload (POST
	// /_matrix/media/v1/create) and returns it with the time (Unix ms)
	// after which it expires unused (0: never).
	CreateMedia(ctx context.Context, who Identity) (mediaID string, unusedExpiresAt int64, err error)
	// UploadMedia stores content and returns its media ID. With mediaID
	// empty it chooses a new ID (POST upload); otherwise the ID came from
	// CreateMedia (PUT upload): ErrCannotOverwriteMedia when it has
	// content already, a Forbidden error when it was created by another
	// user, NotFound when unknown or expired. Reading up.Body fails with
	// an *http.MaxBytesError past the size limit: the backend returns
	// that error (wrapped or not) and keeps nothing.
	UploadMedia(ctx context.Context, who Identity, mediaID string, up MediaUpload) (string, error)
	// MediaContent returns content, or a thumbnail of it when
	// req.Thumbnail is set: ErrNotYetUploaded when an ID from CreateMedia
	// is still without content after req.Timeout, NotFound when unknown.
	// The adapter closes the returned Body.
	MediaContent(ctx context.Context, who Identity, req MediaRequest) (*MediaContent, error)
}

// URLPreviewer answers GET /media/preview_url: the OpenGraph data of a
// page ("og:title", "og:description", "og:image" as an mxc:// URI,
// "matrix:image:size", ...). Optional: without it the endpoint answers
// 404 M_UNRECOGNIZED. Fetching URLs on behalf of users is a server-side
// request forgery risk: an implementation must refuse private and
// loopback addresses unless configured otherwise.
type URLPreviewer interface {
	PreviewURL(ctx context.Context, who Identity, url string, ts int64) (map[string]any, error)
}

// MediaUpload is uploaded content.
type MediaUpload struct {
	// ContentType is the request's Content-Type (empty when absent;
	// served as application/octet-stream).
	ContentType string
	// FileName is the filename query parameter ("" when absent).
	FileName string
	// Body is the content, bounded by Server.MaxUploadSize.
	Body io.Reader
}

// MediaRequest asks for content.
type MediaRequest struct {
	// ServerName and MediaID are the parts of the mxc:// URI, already
	// validated.
	ServerName, MediaID string
	// Thumbnail is set for a thumbnail request.
	Thumbnail *ThumbnailSize
	// AllowRemote is false when the client asked the server not to fetch
	// remote media (allow_remote=false on the legacy endpoints).
	AllowRemote bool
	// Authenticated is false on the deprecated unauthenticated
	// /_matrix/media/v3 download and thumbnail endpoints: a backend may
	// refuse media it has received since it froze them (404 M_NOT_FOUND,
	// as the spec allows from v1.11).
	Authenticated bool
	// Timeout is how long to wait for content not yet uploaded
	// (timeout_ms, default 20 s, capped by Server.MaxMediaWait).
	Timeout time.Duration
}

// ThumbnailSize is what a thumbnail request asks for ("Thumbnails").
type ThumbnailSize struct {
	Width, Height int
	// Method is "crop" or "scale".
	Method   string
	Animated bool
}

// MediaContent is content to serve.
type MediaContent struct {
	// ContentType of the content ("" is served as
	// application/octet-stream).
	ContentType string
	// FileName is the name given at upload ("" for none).
	FileName string
	// Size is the length of Body, or -1 when unknown.
	Size int64
	Body io.ReadCloser
}

// Errors of the content repository a backend returns.
var (
	// ErrNotYetUploaded: 504 M_NOT_YET_UPLOADED.
	ErrNotYetUploaded = errors.New("clientapi: media not yet uploaded")
	// ErrCannotOverwriteMedia: 409 M_CANNOT_OVERWRITE_MEDIA.
	ErrCannotOverwriteMedia = errors.New("clientapi: media already uploaded")
)

// Error codes of the content repository.
const (
	CodeNotYetUploaded       = "M_NOT_YET_UPLOADED"
	CodeCannotOverwriteMedia = "M_CANNOT_OVERWRITE_MEDIA"
)

const (
	// DefaultMaxUploadSize bounds uploads when Server.MaxUploadSize is 0.
	DefaultMaxUploadSize = 50 << 20
	defaultMediaWait     = 20 * time.Second
	defaultMaxMediaWait  = time.Minute
)

var legacyMediaPrefixes = []string{"/_matrix/media/r0", "/_matrix/media/v3"}

// mediaRoutes lists the content repository. Uploads are streamed: the
// adapter does not read their bodies beforehand (stream).
func (s *Server) mediaRoutes(add, stream addFunc) {
	V1, M := v1Prefixes, legacyMediaPrefixes
	// GET /media/config (v1 and legacy) is in routes.
	add(V1, "GET", "/media/download/{serverName}/{mediaId}", authRequired, mediaDownload(true))
	add(V1, "GET", "/media/download/{serverName}/{mediaId}/{fileName}", authRequired, mediaDownload(true))
	add(V1, "GET", "/media/thumbnail/{serverName}/{mediaId}", authRequired, mediaThumbnail(true))
	add(V1, "GET", "/media/preview_url", authRequired, (*call).previewURL)

	stream(M, "POST", "/upload", authRequired, (*call).upload)
	stream(M, "PUT", "/upload/{serverName}/{mediaId}", authRequired, (*call).upload)
	add([]string{"/_matrix/media/v1"}, "POST", "/create", authRequired, (*call).createMedia)
	// Deprecated in v1.11 in favour of the authenticated endpoints
	// above, and served without authentication as they always were.
	add(M, "GET", "/download/{serverName}/{mediaId}", authNone, mediaDownload(false))
	add(M, "GET", "/download/{serverName}/{mediaId}/{fileName}", authNone, mediaDownload(false))
	add(M, "GET", "/thumbnail/{serverName}/{mediaId}", authNone, mediaThumbnail(false))
	add(M, "GET", "/preview_url", authRequired, (*call).previewURL)
}

func (c *call) maxUpload() int64 {
	if c.s.MaxUploadSize > 0 {
		return c.s.MaxUploadSize
	}
	return DefaultMaxUploadSize
}

func (c *call) mediaConfig() (any, error) {
	if c.s.MaxUploadSize > 0 || c.s.Media != nil {
		return map[string]int64{"m.upload.size": c.maxUpload()}, nil
	}
	return map[string]any{}, nil
}

func (c *call) createMedia() (any, error) {
	if err := need(c.s.Media != nil); err != nil {
		return nil, err
	}
	id, exp, err := c.s.Media.CreateMedia(c.ctx, c.who)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"content_uri": "mxc://" + c.s.ServerName + "/" + id}
	if exp > 0 {
		out["unused_expires_at"] = exp
	}
	return out, nil
}

// upload is POST /upload and PUT /upload/{serverName}/{mediaId}. The body
// is streamed to the backend through a reader bounded by the upload
// limit; a declared Content-Length over the limit is refused before
// anything is read.
func (c *call) upload() (any, error) {
	if err := need(c.s.Media != nil); err != nil {
		return nil, err
	}
	mediaID := ""
	if c.r.Method == http.MethodPut {
		sn, id, err := c.mxcParams()
		if err != nil {
			return nil, err
		}
		if sn != c.s.ServerName {
			return nil, Forbidden("media IDs of other servers cannot be uploaded to")
		}
		mediaID = id
	}
	limit := c.maxUpload()
	if c.r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	name := c.r.URL.Query().Get("filename")
	if len(name) > mediahdr.MaxFilenameLength {
		return nil, InvalidParam(fmt.Sprintf("filename is longer than %d bytes", mediahdr.MaxFilenameLength))
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r == 0 }) {
		return nil, InvalidParam("filename contains a NUL character")
	}
	up := MediaUpload{
		ContentType: c.r.Header.Get("Content-Type"),
		FileName:    name,
		Body:        http.MaxBytesReader(c.w, c.r.Body, limit),
	}
	id, err := c.s.Media.UploadMedia(c.ctx, c.who, mediaID, up)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(limit)
	}
	if err != nil {
		return nil, mediaError(err)
	}
	if mediaID != "" {
		return map[string]any{}, nil
	}
	return map[string]string{"content_uri": "mxc://" + c.s.ServerName + "/" + id}, nil
}

func tooLarge(limit int64) error {
	return NewError(http.StatusRequestEntityTooLarge, CodeTooLarge,
		fmt.Sprintf("cannot upload content larger than %d bytes", limit))
}

func mediaError(err error) error {
	switch {
	case errors.Is(err, ErrNotYetUploaded):
		return NewError(http.StatusGatewayTimeout, CodeNotYetUploaded, "content has not yet been uploaded")
	case errors.Is(err, ErrCannotOverwriteMedia):
		return NewError(http.StatusConflict, CodeCannotOverwriteMedia, "media already uploaded")
	}
	return err
}

// mxcParams reads and checks the serverName and mediaId path parameters
// ("Security considerations": valid server names, media IDs of
// A-Za-z0-9_- only).
func (c *call) mxcParams() (serverName, mediaID string, err error) {
	serverName, mediaID = c.r.PathValue("serverName"), c.r.PathValue("mediaId")
	if err := ValidServerName(serverName); err != nil {
		return "", "", paramError(err)
	}
	if !mediahdr.ValidMediaID(mediaID) {
		return "", "", InvalidParam("media ID must be 1 to 255 characters of A-Z, a-z, 0-9, _ and -")
	}
	return serverName, mediaID, nil
}

// mediaRequest reads the parameters common to download and thumbnail.
func (c *call) mediaRequest(authenticated bool) (MediaRequest, error) {
	if err := need(c.s.Media != nil); err != nil {
		return MediaRequest{}, err
	}
	sn, id, err := c.mxcParams()
	if err != nil {
		return MediaRequest{}, err
	}
	q := c.r.URL.Query()
	req := MediaRequest{ServerName: sn, MediaID: id, Authenticated: authenticated, AllowRemote: true, Timeout: defaultMediaWait}
	if !authenticated {
		// allow_remote exists on the legacy endpoints only.
		switch q.Get("allow_remote") {
		case "", "true":
		case "false":
			req.AllowRemote = false
		default:
			return req, InvalidParam("allow_remote must be true or false")
		}
	}
	if t := q.Get("timeout_ms"); t != "" {
		ms, err := strconv.ParseInt(t, 10, 64)
		if err != nil || ms < 0 {
			return req, InvalidParam("timeout_ms must be a non-negative integer")
		}
		req.Timeout = time.Duration(min(ms, int64(c.s.maxMediaWait()/time.Millisecond))) * time.Millisecond
	}
	req.Timeout = min(req.Timeout, c.s.maxMediaWait())
	return req, nil
}

func (s *Server) maxMediaWait() time.Duration {
	if s.MaxMediaWait > 0 {
		return s.MaxMediaWait
	}
	return defaultMaxMediaWait
}

// written is the result of a handler that wrote its own response.
type written struct{}

func mediaDownload(authenticated bool) handlerFunc {
	return func(c *call) (any, error) {
		req, err := c.mediaRequest(authenticated)
		if err != nil {
			return nil, err
		}
		m, err := c.s.Media.MediaContent(c.ctx, c.who, req)
		if err != nil {
			return nil, mediaError(err)
		}
		name := m.FileName
		if override := c.r.PathValue("fileName"); override != "" {
			name = override
		}
		ct := mediahdr.ContentType(m.ContentType)
		c.serveContent(m, ct, mediahdr.Disposition(ct, name))
		return written{}, nil
	}
}

func mediaThumbnail(authenticated bool) handlerFunc {
	return func(c *call) (any, error) {
		req, err := c.mediaRequest(authenticated)
		if err != nil {
			return nil, err
		}
		if req.Thumbnail, err = thumbnailParams(c.r.URL.Query()); err != nil {
			return nil, err
		}
		m, err := c.s.Media.MediaContent(c.ctx, c.who, req)
		if err != nil {
			return nil, mediaError(err)
		}
		// A thumbnail "MUST be inline" (v1.12); one of a type outside
		// the safe list (a backend returning the original content of a
		// non-image) is an attachment all the same.
		ct := mediahdr.ContentType(m.ContentType)
		disp := "attachment"
		if mediahdr.Inline(ct) {
			disp = "inline"
		}
		c.serveContent(m, ct, mediahdr.DispositionWith(disp, thumbnailName(ct)))
		return written{}, nil
	}
}

// thumbnailName is the file name of a thumbnail ("SHOULD contain a file
// name (e.g. thumbnail.png)").
func thumbnailName(ct string) string {
	switch {
	case strings.HasPrefix(ct, "image/jpeg"):
		return "thumbnail.jpg"
	case strings.HasPrefix(ct, "image/png"):
		return "thumbnail.png"
	case strings.HasPrefix(ct, "image/gif"):
		return "thumbnail.gif"
	case strings.HasPrefix(ct, "image/webp"):
		return "thumbnail.webp"
	}
	return ""
}

// thumbnailParams reads width, height (required, positive), method
// (crop or scale, default scale as the reference server has it) and
// animated.
func thumbnailParams(q url.Values) (*ThumbnailSize, error) {
	if q.Get("width") == "" || q.Get("height") == "" {
		return nil, MissingParam("width and height are required")
	}
	w, err1 := strconv.Atoi(q.Get("width"))
	h, err2 := strconv.Atoi(q.Get("height"))
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return nil, InvalidParam("width and height must be positive integers")
	}
	t := &ThumbnailSize{Width: w, Height: h, Method: q.Get("method")}
	switch t.Method {
	case "":
		t.Method = "scale"
	case "crop", "scale":
	default:
		return nil, InvalidParam(`method must be "crop" or "scale"`)
	}
	switch q.Get("animated") {
	case "", "false":
	case "true":
		t.Animated = true
	default:
		return nil, InvalidParam("animated must be true or false")
	}
	return t, nil
}

// serveContent writes the content with the headers of "Serving inline
// content" and the security headers the module recommends.
func (c *call) serveContent(m *MediaContent, ct, disposition string) {
	defer m.Body.Close()
	h := c.w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", disposition)
	mediahdr.SetSecurityHeaders(h)
	// Media never changes once uploaded.
	h.Set("Cache-Control", "public, max-age=86400, immutable")
	if m.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
	}
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		io.Copy(c.w, m.Body)
	}
}

func (c *call) previewURL() (any, error) {
	if err := need(c.s.URLPreviews != nil); err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	raw := q.Get("url")
	if raw == "" {
		return nil, MissingParam("url is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, InvalidParam("url must be an absolute http or https URL")
	}
	var ts int64
	if t := q.Get("ts"); t != "" {
		if ts, err = strconv.ParseInt(t, 10, 64); err != nil {
			return nil, InvalidParam("ts must be an integer")
		}
	}
	return c.s.URLPreviews.PreviewURL(c.ctx, c.who, raw, ts)
}
