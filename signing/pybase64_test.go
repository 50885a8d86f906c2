package signing

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/mxkit/mxkit/base64"
)

// TestDecodePythonBase64 holds the answers of the reference server's
// decoder (unpaddedbase64.decode_base64 2.1 on CPython 3.11) for each
// input; "error" where it raises, "ambiguous" where later Python versions
// answer differently and this package refuses.
func TestDecodePythonBase64(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"AA", "00"},
		{"AAA", "0000"},
		{"AAAA", "000000"},
		{"AA==", "00"},
		{"AA=", "00"},
		{"A", "error"},
		{"AAAAA", "error"},
		{"Zm9v", "666f6f"},
		{"Zm9vYg", "666f6f62"},
		{"Zm9vYmE", "666f6f6261"},
		{"-_-_", "fbffbf"},
		{"+/+/", "fbffbf"},
		{"-/+_", "fbffbf"},
		{"Zm 9v", "666f6f"},
		{"Zm\n9v", "666f6f"},
		{"Z!m9v", "666f6f"},
		{"Zm9v!", "666f6f"},
		{"!Zm9v", "666f6f"},
		{"====", ""},
		{"=AAAA", "000000"},
		{"A=AA", "error"},
		{"AA=A", "error"},
		{"Zm9vYg==", "666f6f62"},
		{"Zm9vYg=", "666f6f62"},
		{"Zm9vYg===", "666f6f62"},
		{"AB", "00"}, // low bits ignored
		{"AAB", "0000"},
		{"Zm9v\u00e9", "error"}, // non-ASCII
		{"Zm9=v", "ambiguous"},
		{"AA==AA", "ambiguous"},
		{"AA==AAAA", "ambiguous"},
		{"AAA=A", "ambiguous"},
		{"aGk=aGk=", "ambiguous"},
		{"AA==!!", "00"}, // only non-alphabet bytes after the padding
	}
	for _, c := range cases {
		got, err := decodePythonBase64(nil, []byte(c.in))
		switch c.want {
		case "error", "ambiguous":
			if err == nil {
				t.Errorf("%q: decoded %x, want an error", c.in, got)
			}
			if c.want == "ambiguous" && err != nil && !bytes.Contains([]byte(err.Error()), []byte("Python versions")) {
				t.Errorf("%q: error %v does not say why", c.in, err)
			}
		default:
			if err != nil {
				t.Errorf("%q: %v", c.in, err)
			} else if hex.EncodeToString(got) != c.want {
				t.Errorf("%q: %x, want %s", c.in, got, c.want)
			}
		}
	}
}

func FuzzDecodePythonBase64(f *testing.F) {
	f.Add([]byte("Zm9vYg"), []byte("Zm9v YmE=="))
	f.Fuzz(func(t *testing.T, data, junk []byte) {
		// What the strict decoder accepts, this decoder decodes the same.
		enc := []byte(base64.Std.EncodeToString(data))
		got, err := decodePythonBase64(nil, enc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %x, %v; want %x", enc, got, err, data)
		}
		if std, err := base64.Std.DecodeString(string(junk)); err == nil {
			got, err := decodePythonBase64(nil, junk)
			if err != nil || !bytes.Equal(got, std) {
				t.Fatalf("%q: %x, %v; the strict decoder gives %x", junk, got, err, std)
			}
		}
		decodePythonBase64(nil, junk) // never panics
	})
}
