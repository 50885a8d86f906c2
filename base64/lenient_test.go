package base64_test

import (
	"bytes"
	stdbase64 "encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/mxkit/mxkit/base64"
)

// TestAppendDecodeLenientPython holds the answers of the reference
// server's decoder (unpaddedbase64.decode_base64 2.1 on CPython 3.11) for
// each input; "error" where it raises, "ambiguous" where later Python
// versions answer differently and this package refuses.
func TestAppendDecodeLenientPython(t *testing.T) {
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
		got, err := base64.AppendDecodeLenient(nil, []byte(c.in))
		switch c.want {
		case "error", "ambiguous":
			if err == nil {
				t.Errorf("%q: decoded %x, want an error", c.in, got)
			}
			if err != nil && !errors.Is(err, base64.ErrInvalid) {
				t.Errorf("%q: error %v does not wrap ErrInvalid", c.in, err)
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

// The expected bytes were produced by the reference server's decoding:
// base64.b64decode(s + "=" * (3 - (len(s) + 3) % 4), altchars=b"-_") on
// Python 3.11; "" marks a failure.
func TestAppendDecodeLenientContentHash(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""}, {"Zg", "66"}, {"Zm8", "666f"}, {"Zm9v", "666f6f"}, {"Zm9vYg==", "666f6f62"},
		{"Zm9vYg", "666f6f62"}, {"Zm9v YmFy", "666f6f626172"}, {"Zm9v!!YmFy", "666f6f626172"},
		{"-_-_", "fbffbf"}, {"+/+/", "fbffbf"}, {"-/+_", "fbffbf"}, {"Zm9=", "666f"}, {"Zm==", "66"},
		{"Zg=", "66"}, {"QUJD\n", "414243"},
		{"Z", "fail"}, {"Zm9vY", "fail"}, {"Zm9vYg=x", "fail"}, {"A", "fail"}, {"AB!", "fail"}, {"é", "fail"},
		// Python 3.11 ignores what follows the closing padding and later
		// versions decode it: refused as ambiguous.
		{"Zg==Zg", "fail"},
	} {
		got, err := base64.AppendDecodeLenient(nil, []byte(c.in))
		if c.want == "fail" {
			if err == nil {
				t.Errorf("%q: decoded %x, want a failure", c.in, got)
			}
			continue
		}
		if err != nil || hex.EncodeToString(got) != c.want {
			t.Errorf("%q: %x %v, want %s", c.in, got, err, c.want)
		}
	}
}

// TestAppendDecodeLenientAppends checks that the output goes after what
// dst holds.
func TestAppendDecodeLenientAppends(t *testing.T) {
	got, err := base64.AppendDecodeLenient([]byte("x"), []byte("Zm9v"))
	if err != nil || string(got) != "xfoo" {
		t.Fatalf("%q, %v; want \"xfoo\"", got, err)
	}
}

func FuzzAppendDecodeLenient(f *testing.F) {
	f.Add([]byte("Zm9vYg"), []byte("Zm9v YmE=="))
	f.Add([]byte{}, []byte("AA==AA"))
	f.Fuzz(func(t *testing.T, data, junk []byte) {
		// What the strict decoders accept, this decoder decodes the same.
		for _, enc := range []*base64.Encoding{base64.Std, base64.URL} {
			s := []byte(enc.EncodeToString(data))
			got, err := base64.AppendDecodeLenient(nil, s)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: %x, %v; want %x", s, got, err, data)
			}
			if strict, err := enc.AppendDecode(nil, junk); err == nil {
				got, err := base64.AppendDecodeLenient(nil, junk)
				if err != nil || !bytes.Equal(got, strict) {
					t.Fatalf("%q: %x, %v; the strict decoder gives %x", junk, got, err, strict)
				}
			}
		}
		if _, err := base64.AppendDecodeLenient(nil, junk); err != nil && !errors.Is(err, base64.ErrInvalid) {
			t.Fatalf("%q: %v does not wrap ErrInvalid", junk, err)
		}
	})
}

func BenchmarkAppendDecodeLenient(b *testing.B) {
	sig := []byte(base64.Std.EncodeToString(bytes.Repeat([]byte{0x5a}, 64)))
	b.Run("mxkit", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			if _, err := base64.AppendDecodeLenient(buf[:0], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=stdlib", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			if _, err := stdbase64.RawStdEncoding.AppendDecode(buf[:0], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func ExampleAppendDecodeLenient() {
	// Another server's signature with the URL-safe alphabet, padding and
	// a line break: the strict decoder refuses it, the reference server
	// (and so this function) reads it.
	in := []byte("aGVs\nbG8-_w==")
	_, err := base64.Std.AppendDecode(nil, in)
	fmt.Println(err != nil)
	out, err := base64.AppendDecodeLenient(nil, in)
	fmt.Printf("%x %v\n", out, err)
	// Output:
	// true
	// 68656c6c6f3eff <nil>
}
