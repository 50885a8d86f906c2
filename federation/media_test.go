package federation

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/roomversion"
)

func TestParseMediaResponse(t *testing.T) {
	const ct = "multipart/mixed; boundary=b"
	meta := "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n"
	for _, tc := range []struct {
		name, ct, body string
		want           *Media // nil: an ErrResponse
	}{
		{"content", ct, meta + "--b\r\nContent-Type: image/png\r\nContent-Disposition: inline; filename=\"cat.png\"\r\n\r\nPNG\r\n--b--\r\n",
			&Media{ContentType: "image/png", FileName: "cat.png", Body: []byte("PNG")}},
		{"utf-8 file name", ct, meta + "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename*=utf-8''caf%C3%A9.txt\r\n\r\nx\r\n--b--\r\n",
			&Media{ContentType: "text/plain", FileName: "café.txt", Body: []byte("x")}},
		{"binary content with CRLFs", ct, meta + "--b\r\nContent-Type: application/octet-stream\r\n\r\n\r\n\x00\r\n--x\r\n--b--\r\n",
			&Media{ContentType: "application/octet-stream", Body: []byte("\r\n\x00\r\n--x")}},
		{"redirect", ct, meta + "--b\r\nLocation: https://cdn.example/m1\r\n\r\n\r\n--b--\r\n",
			&Media{Location: "https://cdn.example/m1"}},
		{"extra parts ignored", ct, meta + "--b\r\nContent-Type: text/plain\r\n\r\nA\r\n--b\r\n\r\nB\r\n--b--\r\n",
			&Media{ContentType: "text/plain", Body: []byte("A")}},
		{"not multipart", "application/json", `{}`, nil},
		{"no boundary", "multipart/mixed", meta, nil},
		{"bad content type", "multipart/mixed; boundary", meta, nil},
		{"empty body", ct, "", nil},
		{"metadata not JSON", ct, "--b\r\n\r\n{nope\r\n--b\r\n\r\nx\r\n--b--\r\n", nil},
		{"only metadata", ct, meta + "--b--\r\n", nil},
		{"truncated content", ct, meta + "--b\r\nContent-Type: text/plain\r\n\r\nunterminated", nil},
		{"redirect to file URL", ct, meta + "--b\r\nLocation: file:///etc/passwd\r\n\r\n\r\n--b--\r\n", nil},
		{"wrong boundary", "multipart/mixed; boundary=c", meta + "--b--\r\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMediaResponse(tc.ct, []byte(tc.body))
			if tc.want == nil {
				if !errors.Is(err, ErrResponse) {
					t.Fatalf("got %+v, %v; want an ErrResponse", m, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.ContentType != tc.want.ContentType || m.FileName != tc.want.FileName || string(m.Body) != string(tc.want.Body) ||
				m.Location != tc.want.Location || string(m.Metadata) != "{}" {
				t.Fatalf("got %+v, want %+v", m, tc.want)
			}
		})
	}
}

// FuzzParseMediaResponse: any answer parses or gives an ErrResponse,
// never a panic; a parsed answer has JSON metadata and either a Location
// or content.
func FuzzParseMediaResponse(f *testing.F) {
	meta := "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n"
	f.Add("multipart/mixed; boundary=b", meta+"--b\r\nContent-Type: image/png\r\nContent-Disposition: inline; filename=\"a.png\"\r\n\r\nPNG\r\n--b--\r\n")
	f.Add("multipart/mixed; boundary=b", meta+"--b\r\nLocation: https://cdn.example/m1\r\n\r\n\r\n--b--\r\n")
	f.Add("multipart/mixed; boundary=\"x y\"", "--x y\r\n\r\n{}\r\n--x y\r\n\r\n\r\n--x y--")
	f.Add("multipart/mixed; boundary=b", "--b\r\n\r\n")
	f.Add("text/plain", "")
	f.Fuzz(func(t *testing.T, ct, body string) {
		m, err := ParseMediaResponse(ct, []byte(body))
		if err != nil {
			if !errors.Is(err, ErrResponse) {
				t.Fatalf("error %v is not an ErrResponse", err)
			}
			return
		}
		if len(m.Metadata) == 0 {
			t.Fatalf("parsed without metadata: %+v", m)
		}
		if m.Location != "" && (m.Body != nil || !(strings.HasPrefix(m.Location, "http://") || strings.HasPrefix(m.Location, "https://"))) {
			t.Fatalf("bad redirect %+v", m)
		}
	})
}

func TestServerMediaHeadersAndIDs(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	f.srv.Media.(*MemoryMedia).Files = map[string]Media{
		"page": {ContentType: "text/html", FileName: "x.html", Body: []byte("<script>")},
		"img":  {ContentType: "image/png", FileName: "café.png", Body: []byte("PNG")},
	}
	v1 := "/_matrix/federation/v1"
	for _, tc := range []struct {
		target, disposition string
	}{
		{v1 + "/media/download/page", `attachment; filename="x.html"`},
		{v1 + "/media/download/img", `inline; filename*=utf-8''caf%C3%A9.png`},
		{v1 + "/media/thumbnail/img?width=32&height=32", "inline"},
	} {
		status, body, hdr := f.call("GET", tc.target, "remote.test", nil, nil)
		if status != 200 {
			t.Fatalf("%s: %d %s", tc.target, status, body)
		}
		m, err := ParseMediaResponse(hdr.Get("Content-Type"), body)
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		if !strings.Contains(string(body), "Content-Disposition: "+tc.disposition+"\r\n") {
			t.Errorf("%s: want Content-Disposition %q in %q", tc.target, tc.disposition, body)
		}
		if strings.Contains(tc.target, "download") && m.FileName != f.srv.Media.(*MemoryMedia).Files[strings.TrimPrefix(tc.target, v1+"/media/download/")].FileName {
			t.Errorf("%s: file name %q did not survive", tc.target, m.FileName)
		}
	}
	f.run(t, []handlerCase{
		{name: "bad media id", method: "GET", target: v1 + "/media/download/a.b", status: 400, code: "M_INVALID_PARAM"},
		{name: "traversal", method: "GET", target: v1 + "/media/download/..%2Fx", status: 400, code: "M_INVALID_PARAM"},
		{name: "thumbnail bad id", method: "GET", target: v1 + "/media/thumbnail/a.b?width=1&height=1", status: 400, code: "M_INVALID_PARAM"},
	})
}

// TestResolverDialContext: the guarded dialer refuses loopback unless
// AllowPrivate, so URL previews and media redirects cannot reach the
// server's own network.
func TestResolverDialContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	for _, a := range []string{addr, "localhost:" + port, "[::ffff:127.0.0.1]:" + port} {
		c, err := (&Resolver{}).DialContext(context.Background(), "tcp", a)
		if !errors.Is(err, ErrForbiddenAddress) {
			if c != nil {
				c.Close()
			}
			t.Errorf("dial %s without AllowPrivate: %v", a, err)
		}
	}
	c, err := (&Resolver{AllowPrivate: true}).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial with AllowPrivate: %v", err)
	}
	c.Close()
}
