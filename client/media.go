package client

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MediaConfig returns the server's m.upload.size (0: not announced), from
// GET /_matrix/client/v1/media/config ("Content repository",
// authenticated media, v1.11).
func (c *Client) MediaConfig(ctx context.Context) (int64, error) {
	var out struct {
		UploadSize int64 `json:"m.upload.size"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: path("/_matrix/client/v1", "media", "config")}, &out)
	return out.UploadSize, err
}

// Upload uploads content (POST /_matrix/media/v3/upload) and returns its
// mxc:// URI. size is the length of content, or -1 if unknown (the body
// is then sent chunked, which some servers refuse). contentType ""
// means application/octet-stream; filename "" sends none. A rate-limited
// upload is retried only when content is a *bytes.Reader,
// *bytes.Buffer or *strings.Reader, which can be read again.
func (c *Client) Upload(ctx context.Context, content io.Reader, size int64, contentType, filename string) (string, error) {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	var q url.Values
	if filename != "" {
		q = url.Values{"filename": {filename}}
	}
	var out struct {
		ContentURI string `json:"content_uri"`
	}
	r := request{method: http.MethodPost, path: path("/_matrix/media/v3", "upload"), query: q,
		raw: content, rawLen: size, contentType: contentType}
	if err := c.call(ctx, r, &out); err != nil {
		return "", err
	}
	if _, _, err := ParseMXC(out.ContentURI); err != nil {
		return "", fmt.Errorf("client: upload: the server answered %w", err)
	}
	return out.ContentURI, nil
}

// Download fetches the content of an mxc:// URI (GET
// /_matrix/client/v1/media/download/{serverName}/{mediaId}, with the
// access token: authenticated media). The caller closes the body.
// filename is from the Content-Disposition header, if any.
func (c *Client) Download(ctx context.Context, mxc string) (body io.ReadCloser, contentType, filename string, err error) {
	server, id, err := ParseMXC(mxc)
	if err != nil {
		return nil, "", "", err
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path("/_matrix/client/v1", "media", "download", server, id)})
	if err != nil {
		return nil, "", "", err
	}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		filename = params["filename"]
	}
	return resp.Body, resp.Header.Get("Content-Type"), filename, nil
}

// Thumbnail fetches a thumbnail of an mxc:// URI (GET
// /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}, with the
// access token: "Thumbnails" of the content repository). width and height
// are the desired size, in pixels; method is "crop" or "scale" ("": the
// server's default, scale). The server may answer a larger thumbnail, or
// the original when it cannot make one. The caller closes the body.
func (c *Client) Thumbnail(ctx context.Context, mxc string, width, height int, method string) (body io.ReadCloser, contentType string, err error) {
	server, id, err := ParseMXC(mxc)
	if err != nil {
		return nil, "", err
	}
	if width <= 0 || height <= 0 {
		return nil, "", fmt.Errorf("client: thumbnail size %dx%d: width and height must be positive", width, height)
	}
	q := url.Values{"width": {strconv.Itoa(width)}, "height": {strconv.Itoa(height)}}
	switch method {
	case "":
	case "crop", "scale":
		q.Set("method", method)
	default:
		return nil, "", fmt.Errorf("client: thumbnail method %q: want crop or scale", method)
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path("/_matrix/client/v1", "media", "thumbnail", server, id), query: q})
	if err != nil {
		return nil, "", err
	}
	return resp.Body, resp.Header.Get("Content-Type"), nil
}

// ParseMXC splits mxc://{serverName}/{mediaId} ("Matrix Content (mxc://)
// URIs"). The media ID is [A-Za-z0-9_-]+, as the specification requires.
func ParseMXC(mxc string) (serverName, mediaID string, err error) {
	rest, ok := strings.CutPrefix(mxc, "mxc://")
	if !ok {
		return "", "", fmt.Errorf("client: %q is not an mxc:// URI", mxc)
	}
	serverName, mediaID, ok = strings.Cut(rest, "/")
	if !ok || serverName == "" || mediaID == "" {
		return "", "", fmt.Errorf("client: mxc URI %q: want mxc://server/media-id", mxc)
	}
	for _, r := range mediaID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return "", "", fmt.Errorf("client: mxc URI %q: media ID may contain only A-Z a-z 0-9 _ -", mxc)
		}
	}
	if strings.ContainsAny(serverName, "/?#@ ") {
		return "", "", fmt.Errorf("client: mxc URI %q: bad server name", mxc)
	}
	return serverName, mediaID, nil
}
