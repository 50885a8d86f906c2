package base64

import (
	"bytes"
	stdbase64 "encoding/base64"
	"errors"
	"testing"
)

// The examples of the spec appendix "Unpadded Base64".
var specExamples = []struct{ in, out string }{
	{"", ""},
	{"f", "Zg"},
	{"fo", "Zm8"},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg"},
	{"fooba", "Zm9vYmE"},
	{"foobar", "Zm9vYmFy"},
}

func TestSpecExamples(t *testing.T) {
	for _, c := range specExamples {
		if got := EncodeToString([]byte(c.in)); got != c.out {
			t.Errorf("encode %q = %q, want %q", c.in, got, c.out)
		}
		if got := URL.EncodeToString([]byte(c.in)); got != c.out {
			t.Errorf("URL encode %q = %q, want %q", c.in, got, c.out)
		}
		got, err := DecodeString(c.out)
		if err != nil || string(got) != c.in {
			t.Errorf("decode %q = %q, %v; want %q", c.out, got, err, c.in)
		}
		padded := stdbase64.StdEncoding.EncodeToString([]byte(c.in))
		got, err = DecodeString(padded)
		if err != nil || string(got) != c.in {
			t.Errorf("decode padded %q = %q, %v; want %q", padded, got, err, c.in)
		}
	}
}

func TestAlphabets(t *testing.T) {
	data := []byte{0xfb, 0xff, 0xbf}
	if got := Std.EncodeToString(data); got != "+/+/" {
		t.Fatalf("std = %q", got)
	}
	if got := URL.EncodeToString(data); got != "-_-_" {
		t.Fatalf("url = %q", got)
	}
	if _, err := Std.DecodeString("-_-_"); err == nil {
		t.Error("standard decoder accepted URL-safe characters")
	}
	if _, err := URL.DecodeString("+/+/"); err == nil {
		t.Error("URL-safe decoder accepted standard characters")
	}
	if got, err := URL.DecodeString("-_-_"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("URL decode = %x, %v", got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, in := range []string{
		"Zg=",      // one pad where two are needed
		"Zg===",    // three pads
		"Zm9v=",    // padding after a complete group
		"Zm9v====", // a whole group of padding
		"Z",        // a length no encoding produces
		"Zm9vY",    // likewise
		"Z=g=",     // padding in the middle
		"Zm 9v",    // whitespace (the standard library would skip it)
		"Zm9v\n",   // line break (likewise)
		"Zm9v\r",   // carriage return (likewise)
		"Zm9*",     // not in the alphabet
		"=",        // padding alone
		"Zm9\x00",  // NUL
		"Zm9\xff",  // not ASCII
	} {
		_, err := DecodeString(in)
		if err == nil {
			t.Errorf("DecodeString(%q) accepted bad input", in)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeString(%q) error %v does not wrap ErrInvalid", in, err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(in) {
			t.Errorf("DecodeString(%q) error %v has no usable offset", in, err)
		}
	}
}

// Non-zero trailing bits are accepted, as Python's base64 module (used by
// the reference homeserver to decode signatures) accepts them.
func TestTrailingBitsAccepted(t *testing.T) {
	for in, want := range map[string]string{"Zh": "f", "Zm9": "fo", "Zm9=": "fo", "Zm+": "fo"} {
		got, err := DecodeString(in)
		if err != nil || string(got) != want {
			t.Errorf("DecodeString(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestAppendDecode(t *testing.T) {
	got, err := Std.AppendDecode([]byte("x"), []byte("Zm9vYmFy"))
	if err != nil || string(got) != "xfoobar" {
		t.Fatalf("AppendDecode = %q, %v", got, err)
	}
	if _, err := Std.AppendDecode(nil, []byte("Zm9vY")); err == nil {
		t.Fatal("AppendDecode accepted bad input")
	}
	if got := Std.AppendEncode([]byte("x"), []byte("foobar")); string(got) != "xZm9vYmFy" {
		t.Fatalf("AppendEncode = %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range specExamples {
		f.Add(c.out)
	}
	for _, s := range []string{"Zg==", "Zg=", "-_", "+/", "Z", "Zm 9v", "Zh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, enc := range []*Encoding{Std, URL} {
			b, err := enc.DecodeString(s)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v does not wrap ErrInvalid", err)
				}
				continue
			}
			// What decodes re-encodes to the input up to padding and the
			// unused trailing bits, and that re-encoding decodes to the same bytes.
			again, err := enc.DecodeString(enc.EncodeToString(b))
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("round trip of %q: %x vs %x (%v)", s, b, again, err)
			}
			if len(enc.EncodeToString(b)) > len(s) {
				t.Fatalf("encoding of %q is longer than the input", s)
			}
		}
	})
}

func BenchmarkDecodeSignature(b *testing.B) {
	sig := Std.EncodeToString(bytes.Repeat([]byte{0x5a}, 64))
	b.Run("mxkit", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			if _, err := Std.AppendDecode(buf[:0], []byte(sig)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=stdlib", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			if _, err := stdbase64.RawStdEncoding.AppendDecode(buf[:0], []byte(sig)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
