package federation

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/signing"
)

func TestParseXMatrix(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   XMatrix
		err    string // substring of the error; "" means success
	}{
		{
			name:   "spec example",
			header: `X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."`,
			want:   XMatrix{Origin: "origin.hs.example.com", Destination: "destination.hs.example.com", Key: "ed25519:key1", Sig: "ABCDEF..."},
		},
		{
			name:   "unquoted tokens, colons, base64 characters",
			header: `X-Matrix origin=origin.example:8448,key=ed25519:a_1,sig=ab+/cd==,destination=d.example`,
			want:   XMatrix{Origin: "origin.example:8448", Destination: "d.example", Key: "ed25519:a_1", Sig: "ab+/cd=="},
		},
		{
			name:   "case-insensitive scheme and names, any order, OWS around commas",
			header: "x-matrix   SIG=\"s\" \t,\tKey=\"ed25519:k\" , Origin=\"o.example\"",
			want:   XMatrix{Origin: "o.example", Key: "ed25519:k", Sig: "s"},
		},
		{
			name:   "backslash escapes undone",
			header: `X-Matrix origin="o\.example",key="ed25519:\k",sig="\"x\\"`,
			want:   XMatrix{Origin: "o.example", Key: "ed25519:k", Sig: `"x\`},
		},
		{
			name:   "unknown parameters ignored, empty list elements skipped",
			header: `X-Matrix ,origin="o.example",,foo=bar,baz="q,u\"x",key="ed25519:k",sig="s",`,
			want:   XMatrix{Origin: "o.example", Key: "ed25519:k", Sig: "s"},
		},
		{
			name:   "signature as named by the spec's bullet list",
			header: `X-Matrix origin="o.example",key="ed25519:k",signature="s"`,
			want:   XMatrix{Origin: "o.example", Key: "ed25519:k", Sig: "s"},
		},
		{
			name:   "sig wins over signature",
			header: `X-Matrix origin="o.example",key="ed25519:k",signature="t",sig="s"`,
			want:   XMatrix{Origin: "o.example", Key: "ed25519:k", Sig: "s"},
		},
		{
			name:   "BWS around equals",
			header: `X-Matrix origin = "o.example",key= ed25519:k ,sig ="s"`,
			want:   XMatrix{Origin: "o.example", Key: "ed25519:k", Sig: "s"},
		},
		{
			name:   "IPv6 origin",
			header: `X-Matrix origin="[::1]:8448",key="ed25519:k",sig="s"`,
			want:   XMatrix{Origin: "[::1]:8448", Key: "ed25519:k", Sig: "s"},
		},
		{name: "other scheme", header: `Bearer abc`, err: "scheme"},
		{name: "no space after scheme", header: `X-Matrixorigin="o",key="k",sig="s"`, err: "space"},
		{name: "tab after scheme", header: "X-Matrix\torigin=o,key=k,sig=s", err: "space"},
		{name: "empty", header: ``, err: "scheme"},
		{name: "missing origin", header: `X-Matrix key="ed25519:k",sig="s"`, err: "origin: missing"},
		{name: "missing key", header: `X-Matrix origin="o.example",sig="s"`, err: "key: missing"},
		{name: "missing sig", header: `X-Matrix origin="o.example",key="ed25519:k"`, err: "sig: missing"},
		{name: "duplicate origin", header: `X-Matrix origin="a.example",origin="b.example",key="ed25519:k",sig="s"`, err: "more than once"},
		{name: "duplicate case-insensitive", header: `X-Matrix origin="a.example",ORIGIN="a.example",key="ed25519:k",sig="s"`, err: "more than once"},
		{name: "unterminated quote", header: `X-Matrix key=k,sig=s,origin="o.example,key=k`, err: "unterminated"},
		{name: "backslash at end", header: `X-Matrix origin="o.example\`, err: "backslash"},
		{name: "missing equals", header: `X-Matrix origin "o.example"`, err: "expected '='"},
		{name: "empty value", header: `X-Matrix origin=,key=k,sig=s`, err: "empty value"},
		{name: "no comma between", header: `X-Matrix origin="o.example" key="ed25519:k",sig="s"`, err: "after the value"},
		{name: "junk after quoted", header: `X-Matrix origin="o.example"x,key="ed25519:k",sig="s"`, err: "after the value"},
		{name: "control char in quoted", header: "X-Matrix origin=\"o\x01\",key=k,sig=s", err: "control"},
		{name: "bad origin", header: `X-Matrix origin="o example",key="ed25519:k",sig="s"`, err: "not a server name"},
		{name: "bad destination", header: `X-Matrix origin="o.example",destination="d/x",key="ed25519:k",sig="s"`, err: "not a server name"},
		{name: "name not a token", header: `X-Matrix (origin)="o.example"`, err: "parameter name"},
		{name: "too long", header: "X-Matrix origin=o,x=" + strings.Repeat("a", maxXMatrixLen), err: "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseXMatrix(tt.header)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("ParseXMatrix(%q) = %+v, want error containing %q", tt.header, got, tt.err)
				}
				if !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %q does not contain %q", err, tt.err)
				}
				if !errors.Is(err, ErrXMatrix) {
					t.Fatalf("error %v does not wrap ErrXMatrix", err)
				}
				var xe *XMatrixError
				if !errors.As(err, &xe) {
					t.Fatalf("error %T is not a *XMatrixError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseXMatrix(%q): %v", tt.header, err)
			}
			if got != tt.want {
				t.Fatalf("ParseXMatrix(%q) = %+v, want %+v", tt.header, got, tt.want)
			}
			// String then parse again gives the same value.
			again, err := ParseXMatrix(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip of %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestXMatrixString(t *testing.T) {
	x := XMatrix{Origin: "origin.hs.example.com", Destination: "destination.hs.example.com", Key: "ed25519:key1", Sig: "ABCDEF..."}
	// The form the specification's example shows and asks senders to use.
	want := `X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."`
	if got := x.String(); got != want {
		t.Fatalf("String() = %s\nwant       %s", got, want)
	}
}

// testKey is a fixed key so that signatures in the tests are stable.
func testKey(t testing.TB, version string) *signing.SigningKey {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, version)
	k, err := signing.NewSigningKey(signing.KeyID("ed25519:"+version), seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSignRequestSignedJSON checks the signed object against one built
// independently with signing.SignJSON, the object of the specification's
// step 1.
func TestSignRequestSignedJSON(t *testing.T) {
	key := testKey(t, "k1")
	tests := []struct {
		name    string
		content string
		object  string
	}{
		{"no body", "", `{"method":"GET","uri":"/_matrix/federation/v1/query/profile?user_id=%40a%3Ab&field=displayname","origin":"o.example","destination":"d.example"}`},
		{"body", ` { "b": [1, 2.5, "\u00e9"], "a": {} } `, `{"method":"GET","uri":"/_matrix/federation/v1/query/profile?user_id=%40a%3Ab&field=displayname","origin":"o.example","destination":"d.example","content":{"a":{},"b":[1,2.5,"é"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := SignRequest("GET", "/_matrix/federation/v1/query/profile?user_id=%40a%3Ab&field=displayname", "o.example", "d.example", []byte(tt.content), key)
			if err != nil {
				t.Fatal(err)
			}
			x, err := ParseXMatrix(h)
			if err != nil {
				t.Fatal(err)
			}
			signed, err := signing.SignJSON([]byte(tt.object), "o.example", key, 1 /* Lenient */)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(signed), `"ed25519:k1":"`+x.Sig+`"`) {
				t.Fatalf("signature %s not the one of SignJSON: %s", x.Sig, signed)
			}
			sig, _ := base64.DecodeString(x.Sig)
			if len(sig) != 64 {
				t.Fatalf("signature of %d bytes", len(sig))
			}
		})
	}
	if _, err := SignRequest("PUT", "/x", "o.example", "d.example", []byte(`{"a":`), key); err == nil {
		t.Fatal("SignRequest accepted a body that is not JSON")
	}
}

type headerVectors struct {
	Cases []struct {
		Name, Header, Origin, Destination, Key, Sig, Error string
	}
}

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestXMatrixHeaderVectors(t *testing.T) {
	var v headerVectors
	loadJSON(t, "xmatrix_headers.json", &v)
	if len(v.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			x, err := ParseXMatrix(c.Header)
			if c.Error != "" {
				if err == nil || !strings.Contains(err.Error(), c.Error) {
					t.Fatalf("err = %v, want one about %q", err, c.Error)
				}
				return
			}
			want := XMatrix{Origin: c.Origin, Destination: c.Destination, Key: signing.KeyID(c.Key), Sig: c.Sig}
			if err != nil || x != want {
				t.Fatalf("got %+v, %v; want %+v", x, err, want)
			}
		})
	}
}

type requestVectors struct {
	Seed, Origin, Destination string
	KeyID                     string `json:"key_id"`
	Cases                     []struct {
		Method, URI   string
		Content       *string
		SignedJSON    string `json:"signed_json"`
		Authorization string
	}
}

// TestRequestVectors checks signing and verification against signatures
// computed with the reference server's encoding (testdata description).
func TestRequestVectors(t *testing.T) {
	var v requestVectors
	loadJSON(t, "xmatrix_requests.json", &v)
	seed, err := base64.DecodeString(v.Seed)
	if err != nil {
		t.Fatal(err)
	}
	key, err := signing.NewSigningKey(signing.KeyID(v.KeyID), seed)
	if err != nil {
		t.Fatal(err)
	}
	ring := signing.NewMemoryKeyRing()
	ring.Add(v.Origin, key.ID, signing.PublicKey{Key: key.Public(), ValidUntilTS: 1 << 62})
	auth := &Authenticator{ServerName: v.Destination, Keys: ring}
	for _, c := range v.Cases {
		t.Run(c.Method+" "+c.URI, func(t *testing.T) {
			var content []byte
			if c.Content != nil {
				content = []byte(*c.Content)
			}
			msg, err := requestJSON(nil, c.Method, c.URI, v.Origin, v.Destination, content)
			if err != nil || string(msg) != c.SignedJSON {
				t.Fatalf("signed JSON\n%s (%v)\nwant\n%s", msg, err, c.SignedJSON)
			}
			h, err := SignRequest(c.Method, c.URI, v.Origin, v.Destination, content, key)
			if err != nil || h != c.Authorization {
				t.Fatalf("header\n%s (%v)\nwant\n%s", h, err, c.Authorization)
			}
			var body io.Reader
			if content != nil {
				body = bytes.NewReader(content)
			}
			r := httptest.NewRequest(c.Method, c.URI, body)
			r.Header.Set("Authorization", c.Authorization)
			if origin, _, err := auth.Authenticate(r); err != nil || origin != v.Origin {
				t.Fatalf("Authenticate: %q, %v", origin, err)
			}
		})
	}
}

// FuzzParseXMatrix: no panic; a parsed header prints as a header that
// parses to the same value; every error wraps ErrXMatrix.
func FuzzParseXMatrix(f *testing.F) {
	var v headerVectors
	loadJSON(f, "xmatrix_headers.json", &v)
	for _, c := range v.Cases {
		f.Add(c.Header)
	}
	f.Add(`X-Matrix origin="a\`)
	f.Add("X-Matrix ,,,")
	f.Fuzz(func(t *testing.T, h string) {
		x, err := ParseXMatrix(h)
		if err != nil {
			if !errors.Is(err, ErrXMatrix) {
				t.Fatalf("error %v does not wrap ErrXMatrix", err)
			}
			return
		}
		if x.Origin == "" || x.Key == "" || !validServerName(x.Origin) {
			t.Fatalf("accepted %q as %+v", h, x)
		}
		again, err := ParseXMatrix(x.String())
		if err != nil || again != x {
			t.Fatalf("%q: String %q parses as %+v, %v", h, x.String(), again, err)
		}
	})
}

func ExampleSignRequest() {
	// A fixed key, to print a fixed signature; servers load theirs with
	// signing.ParseKeyFile.
	key, _ := signing.NewSigningKey("ed25519:1", make([]byte, 32))
	h, err := SignRequest("GET", "/_matrix/federation/v1/version", "origin.example", "dest.example", nil, key)
	if err != nil {
		panic(err)
	}
	fmt.Println(h)
	x, _ := ParseXMatrix(h)
	fmt.Println(x.Origin, x.Destination, x.Key)
	// Output:
	// X-Matrix origin="origin.example",destination="dest.example",key="ed25519:1",sig="X6QZZVaT9v1IpQ0w5sfwD31WShHPr0TvScOtKGPEZVPtVHFeTcVsTQxWHhDtZaG98qfGuUxOMS3mv9RcfHqQBg"
	// origin.example dest.example ed25519:1
}

func BenchmarkParseXMatrix(b *testing.B) {
	h := `X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="X6QZZVaT9v1IpQ0w5sfwD31WShHPr0TvScOtKGPEZVPtVHFeTcVsTQxWHhDtZaG98qfGuUxOMS3mv9RcfHqQBg"`
	b.Run("ParseXMatrix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseXMatrix(h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=strings.Split", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(strings.Split(h[9:], ",")) != 4 {
				b.Fatal("split")
			}
		}
	})
}

func BenchmarkSignRequest(b *testing.B) {
	key := testKey(b, "k1")
	body := []byte(`{"origin":"origin.example","origin_server_ts":1700000000000,"pdus":[],"edus":[{"edu_type":"m.typing","content":{"room_id":"!r:origin.example","user_id":"@a:origin.example","typing":true}}]}`)
	const uri = "/_matrix/federation/v1/send/1700000000000"
	b.Run("SignRequest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := SignRequest("PUT", uri, "origin.example", "dest.example", body, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	msg, _ := requestJSON(nil, "PUT", uri, "origin.example", "dest.example", body)
	b.Run("baseline=ed25519.Sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ed25519.Sign(key.Private, msg)
		}
	})
}
