// Package mediahdr holds the HTTP header rules of the content repository
// shared by the client-server and federation adapters
// (content/client-server-api/modules/content_repo.md, "Serving inline
// content" and the Content-Disposition header of
// data/api/client-server/authed-content-repo.yaml): which content types
// may be served inline, the Content-Disposition value with its file name
// (RFC 6266, RFC 5987 for names that are not plain ASCII), reading the
// file name back, the media ID grammar, and the security headers the spec
// recommends.
package mediahdr

import (
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// inlineTypes are the content types the spec lists as safe to serve with
// Content-Disposition: inline ("Serving inline content").
var inlineTypes = map[string]bool{
	"text/css": true, "text/plain": true, "text/csv": true,
	"application/json": true, "application/ld+json": true,
	"image/jpeg": true, "image/gif": true, "image/png": true, "image/apng": true,
	"image/webp": true, "image/avif": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
	"audio/mp4": true, "audio/webm": true, "audio/aac": true, "audio/mpeg": true,
	"audio/ogg": true, "audio/wave": true, "audio/wav": true, "audio/x-wav": true,
	"audio/x-pn-wav": true, "audio/flac": true, "audio/x-flac": true,
}

// DefaultContentType is served for media uploaded without a type
// (data/api/client-server/content-repo.yaml, the Content-Type parameter).
const DefaultContentType = "application/octet-stream"

// ContentSecurityPolicy is the policy the spec recommends for served content.
const ContentSecurityPolicy = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';"

// MaxMediaIDLength bounds media IDs. The spec sets no length; 255 bytes
// is the bound of the other identifiers of the grammar.
const MaxMediaIDLength = 255

// ValidMediaID reports whether id is a media ID: one or more of
// A-Z a-z 0-9 _ - ("Matrix Content (mxc://) URIs"; the security
// considerations make this a whitelist against path traversal).
func ValidMediaID(id string) bool {
	if id == "" || len(id) > MaxMediaIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Inline reports whether content of this type may be served inline: its
// media type, without parameters and case-insensitively, is in the spec's
// list. A type that does not parse is not.
func Inline(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && inlineTypes[mt]
}

// ContentType is the type to serve: the stored one, or
// DefaultContentType when it is empty or not a media type (a header value
// with control characters must never reach the response).
func ContentType(stored string) string {
	if stored == "" {
		return DefaultContentType
	}
	if _, _, err := mime.ParseMediaType(stored); err != nil || !headerSafe(stored) {
		return DefaultContentType
	}
	return stored
}

func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// Disposition is the Content-Disposition value for content of this type
// with this file name: "inline" for the spec's safe types, "attachment"
// otherwise, and the file name (none when empty). A name of printable
// ASCII goes in a quoted string (RFC 6266 section 4.1, with \ and "
// escaped); any other name goes in filename* as UTF-8 percent-encoded
// (RFC 5987 section 3.2), which every current browser and client reads.
// Invalid UTF-8 in the name is replaced with U+FFFD first.
func Disposition(contentType, filename string) string {
	d := "attachment"
	if Inline(contentType) {
		d = "inline"
	}
	return DispositionWith(d, filename)
}

// DispositionWith is Disposition with the disposition type given
// ("inline" for thumbnails, which the spec requires to be inline).
func DispositionWith(disposition, filename string) string {
	if filename == "" {
		return disposition
	}
	filename = strings.ToValidUTF8(filename, "\uFFFD")
	if plainASCII(filename) {
		var b strings.Builder
		b.WriteString(disposition)
		b.WriteString(`; filename="`)
		for i := 0; i < len(filename); i++ {
			if filename[i] == '"' || filename[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(filename[i])
		}
		b.WriteByte('"')
		return b.String()
	}
	return disposition + "; filename*=utf-8''" + percentEncode(filename)
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// percentEncode encodes all but RFC 5987's attr-char.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if attrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func attrChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// MaxFilenameLength bounds a file name read from a header or a query: the
// reference server keeps names of any length, but a name is only a hint
// and an unbounded one would be stored and echoed back.
const MaxFilenameLength = 1024

// Filename reads the file name of a Content-Disposition value: filename*
// (RFC 5987, UTF-8 or ISO-8859-1) wins over filename, as RFC 6266 section
// 4.3 says. It returns "" when there is none, the value does not parse,
// or the name is not valid UTF-8 or longer than MaxFilenameLength. Path
// components are kept: the name is only ever echoed in a header, never
// used as a path.
func Filename(contentDisposition string) string {
	if contentDisposition == "" {
		return ""
	}
	// mime.ParseMediaType decodes RFC 2231 (of which RFC 5987 is a
	// profile) and prefers the extended parameter.
	_, params, err := mime.ParseMediaType(contentDisposition)
	if err != nil {
		return ""
	}
	name := params["filename"]
	if !utf8.ValidString(name) || len(name) > MaxFilenameLength {
		return ""
	}
	return name
}

// SetSecurityHeaders sets the headers the spec recommends on served
// content: Content-Security-Policy, and Cross-Origin-Resource-Policy:
// cross-origin (added in v1.4) so that web clients may embed it.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("X-Content-Type-Options", "nosniff")
}
