package signing

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

type ed25519Vector struct {
	Name          string   `json:"name"`
	Source        string   `json:"source"`
	PublicKey     string   `json:"public_key"`
	Message       string   `json:"message"`
	Signature     string   `json:"signature"`
	Flags         []string `json:"flags"`
	Libsodium     bool     `json:"libsodium"`
	CryptoEd25519 bool     `json:"crypto_ed25519"`
}

func loadEd25519Vectors(t testing.TB) []ed25519Vector {
	t.Helper()
	data, err := os.ReadFile("testdata/ed25519_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []ed25519Vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) < 100 {
		t.Fatalf("only %d vectors", len(file.Vectors))
	}
	return file.Vectors
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyMatchesLibsodium runs every edge-case vector: Verify must give
// libsodium's answer. The answer of crypto/ed25519 is checked too, so that
// the file keeps documenting where the two differ (and a change in the
// standard library shows up here).
func TestVerifyMatchesLibsodium(t *testing.T) {
	differ := 0
	for _, v := range loadEd25519Vectors(t) {
		pub, msg, sig := mustHex(t, v.PublicKey), mustHex(t, v.Message), mustHex(t, v.Signature)
		if got := Verify(pub, msg, sig); got != v.Libsodium {
			t.Errorf("%s (%v): Verify = %v, libsodium says %v", v.Name, v.Flags, got, v.Libsodium)
		}
		if got := ed25519.Verify(pub, msg, sig); got != v.CryptoEd25519 {
			t.Errorf("%s (%v): crypto/ed25519.Verify = %v, vector says %v", v.Name, v.Flags, got, v.CryptoEd25519)
		}
		if v.Libsodium != v.CryptoEd25519 {
			differ++
		}
	}
	// The point of the file: it holds signatures on which the two disagree.
	if differ == 0 {
		t.Error("no vector where libsodium and crypto/ed25519 differ")
	}
}

// TestVerifyEdgeCases names each difference between libsodium and
// crypto/ed25519 (and each shared rule) with one vector from the file.
func TestVerifyEdgeCases(t *testing.T) {
	byName := map[string]ed25519Vector{}
	for _, v := range loadEd25519Vectors(t) {
		byName[v.Name] = v
	}
	cases := []struct {
		edge      string
		vector    string
		libsodium bool // what Verify must say
		stdlib    bool // what crypto/ed25519 says
	}{
		{"valid signature (spec appendix)", `spec appendix JSON signing {}`, true, true},
		{"the Signing Details illustration does not verify", "spec appendix Signing Details illustration", false, false},
		// Small-order R with a prime-order key: the key holder can make
		// R the identity by choosing S = k*a. crypto/ed25519 accepts;
		// libsodium's blocklist on R rejects.
		{"small-order R (identity), prime-order A", `identity R with S = k*a, prime-order key, message {}`, false, true},
		{"small-order A and R, S = 0", "speccheck 0: small A and R, S = 0", false, true},
		{"small-order A, mixed-order R", "speccheck 1: small A, mixed R", false, true},
		{"mixed-order A, small-order R", "speccheck 2: mixed A, small R", false, true},
		{"all-zero key and signature", "CCTV ed25519vectors 1", false, true},
		// Mixed-order points are not small: both accept when the
		// cofactorless equation holds.
		{"mixed-order A and R, cofactorless equation holds", "speccheck 3: mixed A and R, passes cofactorless", true, true},
		// Both use the cofactorless equation: a signature that holds only
		// after multiplying by 8 is rejected by both.
		{"holds only in the cofactored equation", "speccheck 4: mixed A and R, passes only cofactored", false, false},
		{"S >= L", "speccheck 6: S > L", false, false},
		{"S with the high bits set", "speccheck 7: S >> L (high bits set)", false, false},
		{"S + L", "valid signature with S+L", false, false},
		// A non-canonical R can never equal the canonical encoding both
		// compute.
		{"non-canonical R (y >= p)", "speccheck 9: non-canonical R, not reduced for hash", false, false},
		{"identity R encoded with x = -0", "identity R encoded with x = -0, S = k*a", false, false},
		// A non-canonical A (y >= p) hashed as given: crypto/ed25519
		// decodes it and accepts; libsodium's ge25519_is_canonical rejects.
		{"non-canonical A (y >= p), hashed as sent", "speccheck 11: non-canonical A, not reduced for hash", false, true},
		{"non-canonical A, hashed re-encoded", "speccheck 10: non-canonical A, reduced for hash", false, false},
		{"R bit flipped", "R bit flipped", false, false},
		{"message changed", "message changed", false, false},
	}
	for _, c := range cases {
		t.Run(c.edge, func(t *testing.T) {
			v, ok := byName[c.vector]
			if !ok {
				t.Fatalf("no vector %q", c.vector)
			}
			if v.Libsodium != c.libsodium || v.CryptoEd25519 != c.stdlib {
				t.Fatalf("vector %q records libsodium=%v crypto/ed25519=%v, table says %v %v",
					c.vector, v.Libsodium, v.CryptoEd25519, c.libsodium, c.stdlib)
			}
			pub, msg, sig := mustHex(t, v.PublicKey), mustHex(t, v.Message), mustHex(t, v.Signature)
			if got := Verify(pub, msg, sig); got != c.libsodium {
				t.Errorf("Verify = %v, want %v", got, c.libsodium)
			}
			if got := ed25519.Verify(pub, msg, sig); got != c.stdlib {
				t.Errorf("crypto/ed25519.Verify = %v, want %v", got, c.stdlib)
			}
		})
	}
}

// lowOrderEncodings lists every encoding of the eight points of order
// dividing 8, canonical and not (the list published with the C2SP CCTV
// vectors, written out here as plain data).
var lowOrderEncodings = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000080",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
}

func TestHasSmallOrder(t *testing.T) {
	for _, h := range lowOrderEncodings {
		if !hasSmallOrder(mustHex(t, h)) {
			t.Errorf("%s: not recognised as small order", h)
		}
	}
	// Near misses: one byte changed in each entry, and real keys.
	for _, h := range lowOrderEncodings {
		for _, i := range []int{0, 15, 30} {
			b := mustHex(t, h)
			b[i] ^= 0x10
			if hasSmallOrder(b) && !slices.ContainsFunc(lowOrderEncodings, func(s string) bool { return s == hex.EncodeToString(b) }) {
				t.Errorf("%x: wrongly recognised as small order", b)
			}
		}
	}
	for i := range 100 {
		seed := make([]byte, 32)
		seed[0], seed[1] = byte(i), 7
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		if hasSmallOrder(pub) {
			t.Errorf("public key %x recognised as small order", pub)
		}
	}
}

func TestIsCanonicalPoint(t *testing.T) {
	cases := []struct {
		hex  string
		want bool
	}{
		{"0000000000000000000000000000000000000000000000000000000000000000", true},
		{"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", true},  // p-1
		{"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", true},  // p-1, sign bit set
		{"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false}, // p
		{"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false}, // p, sign bit set
		{"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false}, // p+3
		{"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false}, // 2^255-1
		{"fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe7f", true},
		{"edfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe7f", true},
		{"edfeffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", true},
	}
	for _, c := range cases {
		if got := isCanonicalPoint(mustHex(t, c.hex)); got != c.want {
			t.Errorf("%s: isCanonicalPoint = %v, want %v", c.hex, got, c.want)
		}
	}
}

func TestVerifyBadLengths(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	pub := priv.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(priv, []byte("m"))
	if !Verify(pub, []byte("m"), sig) {
		t.Fatal("valid signature rejected")
	}
	// crypto/ed25519.Verify panics on a short key; Verify must not.
	for _, p := range [][]byte{nil, pub[:31], append(append([]byte{}, pub...), 0)} {
		if Verify(p, []byte("m"), sig) {
			t.Errorf("key of length %d accepted", len(p))
		}
	}
	for _, s := range [][]byte{nil, sig[:63], append(append([]byte{}, sig...), 0)} {
		if Verify(pub, []byte("m"), s) {
			t.Errorf("signature of length %d accepted", len(s))
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(make([]byte, 32), []byte("m"), make([]byte, 64))
	f.Add(mustHex(f, lowOrderEncodings[4]), []byte{}, append(mustHex(f, lowOrderEncodings[4]), make([]byte, 32)...))
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		got := Verify(pub, msg, sig)
		if len(pub) != 32 || len(sig) != 64 {
			if got {
				t.Fatal("accepted a key or signature of the wrong length")
			}
			return
		}
		// Verify accepts a subset of what crypto/ed25519 accepts.
		if got && !ed25519.Verify(pub, msg, sig) {
			t.Fatal("Verify accepted what crypto/ed25519 rejects")
		}
	})
}
