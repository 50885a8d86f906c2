package signing

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

func TestParseKeyID(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"ed25519:1", true},
		{"ed25519:a_AbC9", true},
		{"ed25519:abc123", true},
		{"ed25519:", false},
		{"ed25519", false},
		{"ed25519:a-b", false},
		{"ed25519:a:b", false},
		{"ed25519:a b", false},
		{"ed25519:é", false},
		{"curve25519:abc", false},
		{"ED25519:abc", false},
		{":abc", false},
		{"", false},
	}
	for _, c := range cases {
		id, err := ParseKeyID(c.in)
		if c.ok != (err == nil) {
			t.Errorf("ParseKeyID(%q) error = %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidKeyID) {
				t.Errorf("ParseKeyID(%q): error %v does not wrap ErrInvalidKeyID", c.in, err)
			}
			continue
		}
		if string(id) != c.in || id.Algorithm() != "ed25519" || "ed25519:"+id.Version() != c.in {
			t.Errorf("ParseKeyID(%q) = %q, %q, %q", c.in, id, id.Algorithm(), id.Version())
		}
	}
	if a, v := KeyID("noColon").Algorithm(), KeyID("noColon").Version(); a != "noColon" || v != "" {
		t.Errorf("no colon: %q %q", a, v)
	}
}

func TestGenerateKeyRoundTrip(t *testing.T) {
	k, err := GenerateKey("a_x1")
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != "ed25519:a_x1" {
		t.Errorf("ID %q", k.ID)
	}
	file := k.MarshalKeyFile()
	if !bytes.HasPrefix(file, []byte("ed25519 a_x1 ")) || !bytes.HasSuffix(file, []byte("\n")) || bytes.Count(file, []byte("\n")) != 1 {
		t.Errorf("key file %q", file)
	}
	back, err := ParseKeyFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != k.ID || !bytes.Equal(back.Private, k.Private) || !back.Public().Equal(k.Public()) {
		t.Error("key file round trip changed the key")
	}
	k2, _ := GenerateKey("a_x1")
	if bytes.Equal(k2.Private, k.Private) {
		t.Error("two generated keys are equal")
	}
	for _, bad := range []string{"", "a-b", "a b", "é"} {
		if _, err := GenerateKey(bad); !errors.Is(err, ErrInvalidKeyID) {
			t.Errorf("GenerateKey(%q) = %v", bad, err)
		}
	}
}

// TestParseKeyFileSpecSeed reads the specification's test seed as a key
// file and checks the public key derived from it.
func TestParseKeyFileSpecSeed(t *testing.T) {
	const file = "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n"
	k, err := ParseKeyFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != "ed25519:1" {
		t.Errorf("ID %q", k.ID)
	}
	want := []byte{0x5c, 0x65, 0xf4, 0x25, 0x14, 0xb6, 0x01, 0xfd} // XGX0JRS2Af3b...
	if !bytes.HasPrefix(k.Public(), want) {
		t.Errorf("public key %x", k.Public())
	}
	// The specification's seed string ends in "1", whose low bits are
	// not zero (base64 decoders ignore them); written back, the same seed
	// ends in "0".
	if got, want := string(k.MarshalKeyFile()), "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n"; got != want {
		t.Errorf("MarshalKeyFile = %q, want %q", got, want)
	}
}

func TestParseKeyFile(t *testing.T) {
	const seed = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
	cases := []struct {
		name, in string
		field    string // "" with ok=false: the file's shape
		ok       bool
	}{
		{"plain", "ed25519 a_1 " + seed, "", true},
		{"newline", "ed25519 a_1 " + seed + "\n", "", true},
		{"CRLF", "ed25519 a_1 " + seed + "\r\n", "", true},
		{"padded seed", "ed25519 a_1 " + seed + "=", "", true},
		{"tabs and runs of spaces, as the reference server splits", "ed25519\t a_1  " + seed, "", true},
		{"leading space", " ed25519 a_1 " + seed, "", true},
		{"empty", "", "", false},
		{"only newline", "\n", "", false},
		{"two newlines", "ed25519 a_1 " + seed + "\n\n", "", false},
		{"two keys", "ed25519 a_1 " + seed + "\ned25519 a_2 " + seed + "\n", "", false},
		{"two fields", "ed25519 " + seed, "", false},
		{"four fields", "ed25519 a_1 " + seed + " x", "", false},
		{"other algorithm", "curve25519 a_1 " + seed, "algorithm", false},
		{"bad version", "ed25519 a-1 " + seed, "version", false},
		{"bad base64", "ed25519 a_1 " + seed[:42] + "!", "seed", false},
		{"URL-safe base64", "ed25519 a_1 " + "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW-3XA1", "seed", false},
		{"short seed", "ed25519 a_1 " + seed[:40], "seed", false},
		{"long seed", "ed25519 a_1 " + seed + "AAAA", "seed", false},
	}
	for _, c := range cases {
		k, err := ParseKeyFile([]byte(c.in))
		if c.ok {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else if k.ID != "ed25519:a_1" || len(k.Private) != ed25519.PrivateKeySize {
				t.Errorf("%s: key %q", c.name, k.ID)
			}
			continue
		}
		var kfe *KeyFileError
		if !errors.As(err, &kfe) || !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: error %v, want a *KeyFileError", c.name, err)
			continue
		}
		if kfe.Field != c.field {
			t.Errorf("%s: field %q, want %q (%v)", c.name, kfe.Field, c.field, err)
		}
	}
}

func FuzzParseKeyFile(f *testing.F) {
	f.Add([]byte("ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n"))
	f.Add([]byte("ed25519 a_b YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1=\r\n"))
	f.Add([]byte("ed25519\t\tx\tAAAA\n\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeyFile(data)
		if err != nil {
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("error does not wrap ErrKeyFile: %v", err)
			}
			return
		}
		// A key that parses writes a file that parses to the same key.
		back, err := ParseKeyFile(k.MarshalKeyFile())
		if err != nil || back.ID != k.ID || !bytes.Equal(back.Private, k.Private) {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := ParseKeyID(string(k.ID)); err != nil {
			t.Fatalf("key ID %q: %v", k.ID, err)
		}
	})
}
