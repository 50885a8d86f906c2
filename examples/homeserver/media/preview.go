package media

import (
	"context"
	"errors"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/federation"
)

// URL previews (GET /_matrix/client/v1/media/preview_url): the page is
// fetched through the address guard (no loopback, private or link-local
// address unless Config.AllowPrivate), at most maxPreviewPage bytes of it
// are read, within the fetch client's timeout; the OpenGraph properties
// of its <meta> tags are returned, with og:title and og:description
// falling back to <title> and <meta name="description">, and og:image
// fetched and stored as media of the requesting user, replaced by its
// mxc:// URI with matrix:image:size (data/api/client-server/authed-content-repo.yaml).

const maxPreviewPage = 1 << 20

// PreviewURL implements clientapi.URLPreviewer.
func (s *Store) PreviewURL(ctx context.Context, who clientapi.Identity, rawURL string, _ int64) (map[string]any, error) {
	page, err := url.Parse(rawURL)
	if err != nil {
		return nil, clientapi.InvalidParam("url does not parse")
	}
	body, ct, err := s.get(ctx, page.String(), maxPreviewPage)
	if err != nil {
		return nil, previewError(err)
	}
	mt, _, _ := mime.ParseMediaType(ct)
	out := map[string]any{}
	switch {
	case mt == "text/html" || mt == "application/xhtml+xml":
		og := openGraph(string(body))
		for k, v := range og {
			out[k] = v
		}
		if img, ok := og["og:image"]; ok {
			delete(out, "og:image")
			if ref, err := page.Parse(img); err == nil && (ref.Scheme == "http" || ref.Scheme == "https") {
				s.previewImage(ctx, who, ref.String(), out)
			}
		}
	case strings.HasPrefix(mt, "image/"):
		s.storePreviewImage(ctx, who, body, mt, out)
	}
	return out, nil
}

// previewError: a page that cannot be fetched is the reference server's
// 502 M_UNKNOWN; a refused address says so.
func previewError(err error) error {
	if errors.Is(err, federation.ErrForbiddenAddress) {
		return clientapi.Forbidden("URL previews of this address are not allowed")
	}
	var ce *clientapi.Error
	if errors.As(err, &ce) {
		return ce
	}
	return clientapi.NewError(http.StatusBadGateway, clientapi.CodeUnknown, "could not fetch the URL")
}

// get fetches a URL through the guarded client, reading at most limit
// bytes (more is M_TOO_LARGE).
func (s *Store) get(ctx context.Context, u string, limit int64) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", "mxkit-homeserver URL preview")
	resp, err := s.fetch.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", errors.New("status " + resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(data)) > limit {
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			// The head of a page is what matters: keep the start.
			return data[:limit], resp.Header.Get("Content-Type"), nil
		}
		return nil, "", clientapi.NewError(http.StatusBadGateway, clientapi.CodeTooLarge, "content is too large to preview")
	}
	return data, resp.Header.Get("Content-Type"), nil
}

func (s *Store) previewImage(ctx context.Context, who clientapi.Identity, u string, out map[string]any) {
	data, ct, err := s.get(ctx, u, s.cfg.MaxSize)
	if err != nil {
		return
	}
	mt, _, _ := mime.ParseMediaType(ct)
	if !strings.HasPrefix(mt, "image/") {
		return
	}
	s.storePreviewImage(ctx, who, data, mt, out)
}

func (s *Store) storePreviewImage(ctx context.Context, who clientapi.Identity, data []byte, ct string, out map[string]any) {
	id, err := s.UploadMedia(ctx, who, "", clientapi.MediaUpload{ContentType: ct, Body: bytesReader(data)})
	if err != nil {
		return
	}
	out["og:image"] = "mxc://" + s.cfg.ServerName + "/" + id
	out["og:image:type"] = ct
	out["matrix:image:size"] = len(data)
}

// openGraph reads the og:* <meta> properties of a page, with the <title>
// and <meta name="description"> fallbacks. It is a tag scanner, not an
// HTML parser: previews only need the attributes of <meta> in the head.
func openGraph(page string) map[string]string {
	og := map[string]string{}
	var title, desc string
	lower := asciiLower(page) // same length as page, so indices agree
	for i := 0; ; {
		j := strings.Index(lower[i:], "<")
		if j < 0 {
			break
		}
		i += j + 1
		end := strings.IndexByte(lower[i:], '>')
		if end < 0 {
			break
		}
		tag := page[i : i+end]
		name, attrs := parseTag(tag)
		switch name {
		case "meta":
			prop := attrs["property"]
			if prop == "" {
				prop = attrs["name"]
			}
			content, ok := attrs["content"]
			switch {
			case !ok:
			case strings.HasPrefix(prop, "og:"):
				if _, seen := og[prop]; !seen {
					og[prop] = content
				}
			case prop == "description" && desc == "":
				desc = content
			}
		case "title":
			if title == "" {
				if k := strings.Index(lower[i+end:], "</title"); k >= 0 {
					title = strings.TrimSpace(html.UnescapeString(page[i+end+1 : i+end+k]))
				}
			}
		}
		i += end + 1
	}
	if _, ok := og["og:title"]; !ok && title != "" {
		og["og:title"] = title
	}
	if _, ok := og["og:description"]; !ok && desc != "" {
		og["og:description"] = desc
	}
	return og
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// parseTag splits the inside of a tag into its lower-case name and its
// attributes (names lower-cased, values unquoted and unescaped).
func parseTag(tag string) (string, map[string]string) {
	tag = strings.TrimSuffix(strings.TrimSpace(tag), "/")
	n := strings.IndexAny(tag, " \t\r\n/")
	if n < 0 {
		return asciiLower(tag), nil
	}
	name, rest := asciiLower(tag[:n]), tag[n:]
	attrs := map[string]string{}
	for {
		rest = strings.TrimLeft(rest, " \t\r\n/")
		if rest == "" {
			return name, attrs
		}
		k := strings.IndexAny(rest, "= \t\r\n")
		if k < 0 {
			attrs[asciiLower(rest)] = ""
			return name, attrs
		}
		key := asciiLower(rest[:k])
		rest = strings.TrimLeft(rest[k:], " \t\r\n")
		if !strings.HasPrefix(rest, "=") {
			attrs[key] = ""
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t\r\n")
		var val string
		if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
			q := rest[0]
			e := strings.IndexByte(rest[1:], q)
			if e < 0 {
				val, rest = rest[1:], ""
			} else {
				val, rest = rest[1:1+e], rest[2+e:]
			}
		} else {
			e := strings.IndexAny(rest, " \t\r\n")
			if e < 0 {
				e = len(rest)
			}
			val, rest = rest[:e], rest[e:]
		}
		if _, dup := attrs[key]; !dup {
			attrs[key] = html.UnescapeString(val)
		}
	}
}
