package federation

import (
	"crypto/ed25519"
	"errors"
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
