package mediahdr

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestInline(t *testing.T) {
	for ct, want := range map[string]bool{
		"image/png":                 true,
		"IMAGE/PNG":                 true,
		"text/plain; charset=utf-8": true,
		"audio/x-flac":              true,
		"text/html":                 false,
		"image/svg+xml":             false, // scripts run in SVG
		"application/javascript":    false,
		"application/pdf":           false,
		"":                          false,
		"image/png; x":              false, // does not parse
	} {
		if got := Inline(ct); got != want {
			t.Errorf("Inline(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestDisposition(t *testing.T) {
	for _, tc := range []struct{ ct, name, want string }{
		{"image/png", "", "inline"},
		{"text/html", "", "attachment"},
		{"image/png", "cat.png", `inline; filename="cat.png"`},
		{"text/html", "a.html", `attachment; filename="a.html"`},
		{"image/png", `a"b\c.png`, `inline; filename="a\"b\\c.png"`},
		{"image/png", "café.png", `inline; filename*=utf-8''caf%C3%A9.png`},
		// A line break must never reach the header as one.
		{"text/plain", "a\r\nSet-Cookie: x", `inline; filename*=utf-8''a%0D%0ASet-Cookie%3A%20x`},
		{"text/plain", "a b;c", `inline; filename="a b;c"`},
	} {
		if got := Disposition(tc.ct, tc.name); got != tc.want {
			t.Errorf("Disposition(%q, %q) = %q, want %q", tc.ct, tc.name, got, tc.want)
		}
	}
}

func TestFilename(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{`inline; filename="cat.png"`, "cat.png"},
		{`attachment; filename=cat.png`, "cat.png"},
		{`inline; filename*=utf-8''caf%C3%A9.png`, "café.png"},
		{`inline; filename="fallback.png"; filename*=UTF-8''caf%C3%A9.png`, "café.png"},
		{`inline`, ""},
		{``, ""},
		{`inline; filename="unterminated`, ""},
		{`inline; filename*=utf-8''%FF`, ""}, // not UTF-8
	} {
		if got := Filename(tc.header); got != tc.want {
			t.Errorf("Filename(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestValidMediaID(t *testing.T) {
	for id, want := range map[string]bool{
		"abcXYZ019_-":            true,
		"":                       false,
		"..":                     false,
		"a/b":                    false,
		"a%2Fb":                  false,
		"é":                      false,
		strings.Repeat("a", 255): true,
		strings.Repeat("a", 256): false,
	} {
		if got := ValidMediaID(id); got != want {
			t.Errorf("ValidMediaID(%q) = %v", id, got)
		}
	}
}

func TestContentType(t *testing.T) {
	for in, want := range map[string]string{
		"":                    DefaultContentType,
		"image/png":           "image/png",
		"text/plain; charset": DefaultContentType,
		"text/plain\r\nX: y":  DefaultContentType,
	} {
		if got := ContentType(in); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := http.Header{}
	SetSecurityHeaders(h)
	if h.Get("Content-Security-Policy") != ContentSecurityPolicy || h.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
		t.Errorf("headers %v", h)
	}
}

// FuzzDisposition: whatever the name, the header value is one line of
// printable ASCII that reads back as the name (after invalid UTF-8 is
// replaced).
func FuzzDisposition(f *testing.F) {
	for _, s := range []string{"", "cat.png", "café.png", `a"b\c`, "a\r\nb", "\xff\xfe", "日本語.txt", "a;b=c", "%41"} {
		f.Add("image/png", s)
	}
	f.Add("text/html", "x")
	f.Fuzz(func(t *testing.T, ct, name string) {
		v := Disposition(ct, name)
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				t.Fatalf("Disposition(%q, %q) = %q: byte %#x", ct, name, v, v[i])
			}
		}
		if !strings.HasPrefix(v, "inline") && !strings.HasPrefix(v, "attachment") {
			t.Fatalf("Disposition = %q", v)
		}
		want := strings.ToValidUTF8(name, "\uFFFD")
		if len(want) > MaxFilenameLength {
			return
		}
		if got := Filename(v); got != want {
			t.Fatalf("Filename(Disposition(%q)) = %q, want %q (header %q)", name, got, want, v)
		}
	})
}

// FuzzFilename: any header value gives a valid UTF-8 name within the
// bound, and never panics.
func FuzzFilename(f *testing.F) {
	for _, s := range []string{`inline; filename="a.png"`, `attachment; filename*=utf-8''%E2%82%AC`, `inline; filename*0="a"; filename*1="b"`, `;;;`, `inline; filename*=iso-8859-1''%E9`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		name := Filename(h)
		if !utf8.ValidString(name) || len(name) > MaxFilenameLength {
			t.Fatalf("Filename(%q) = %q", h, name)
		}
	})
}
