package event

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/roomversion"
)

// TestSumShared compares sumShared with two plain SHA-256 sums, for
// inputs that share prefixes of every length around the block size and
// the threshold, and for inputs where one is a prefix of the other.
func TestSumShared(t *testing.T) {
	base := make([]byte, 3200)
	for i := range base {
		base[i] = byte(i * 7)
	}
	for _, common := range []int{0, 1, 63, 64, 65, 255, 256, 257, 300, 511, 512, 1000, 2999} {
		for _, tail := range []int{0, 1, 64, 100} {
			a := append([]byte(nil), base[:common+tail]...)
			b := append([]byte(nil), base[:common]...)
			for i := range tail {
				b = append(b, ^base[common+i])
			}
			b = append(b, 'x')
			ha, hb := sumShared(a, b)
			if ha != sha256.Sum256(a) || hb != sha256.Sum256(b) {
				t.Errorf("common %d, tail %d: sums differ from sha256", common, tail)
			}
			// And the other way round.
			hb, ha = sumShared(b, a)
			if ha != sha256.Sum256(a) || hb != sha256.Sum256(b) {
				t.Errorf("common %d, tail %d, swapped: sums differ from sha256", common, tail)
			}
		}
	}
	// Equal inputs.
	ha, hb := sumShared(base, base)
	if want := sha256.Sum256(base); ha != want || hb != want {
		t.Error("equal inputs: sums differ from sha256")
	}
}

func TestCommonPrefix(t *testing.T) {
	a := bytes.Repeat([]byte("abcdefgh"), 40)
	for _, n := range []int{0, 1, 7, 63, 64, 65, 128, 200, 319} {
		b := append([]byte(nil), a...)
		b[n] = 'X'
		if got := commonPrefix(a, b); got != n {
			t.Errorf("differ at %d: got %d", n, got)
		}
	}
	if got := commonPrefix(a, a[:100]); got != 100 {
		t.Errorf("prefix: got %d", got)
	}
	if got := commonPrefix(nil, a); got != 0 {
		t.Errorf("empty: got %d", got)
	}
}

// TestDecodeFast shows that whatever decodeFast accepts, base64.Std
// decodes to the same bytes, and that it leaves to base64.Std the forms
// it does not know (padding, line breaks, loose trailing bits, other
// alphabets, values too long for the buffer).
func TestDecodeFast(t *testing.T) {
	hash := sha256.Sum256([]byte("x"))
	enc := base64.Std.EncodeToString(hash[:])
	for _, tc := range []struct {
		in   string
		fast bool
	}{
		{enc, true},
		{"", true},
		{"AA", true},
		{"AAA", true},
		{"AB", false},      // trailing bits not zero
		{enc + "=", false}, // padded
		{"AA==", false},    // padded
		{"AA\nAA", false},  // line break
		{"AA\rAA", false},  // carriage return
		{"-_AA", false},    // URL alphabet
		{"A", false},       // impossible length
		{enc + enc, false}, // too long for the buffer
		{"AA AA", false},   // space
		{"AA\\nAA", false}, // an escape, as written
		{enc[:42], false},  // 42 characters: loose trailing bits
		{enc[:40], true},   // a whole number of groups
		{enc[:41] + "", false},
	} {
		var buf [sha256.Size + 1]byte
		n, ok := decodeFast(buf[:], []byte(tc.in))
		if ok != tc.fast {
			t.Errorf("%q: fast path %v, want %v", tc.in, ok, tc.fast)
		}
		if !ok {
			continue
		}
		want, err := base64.Std.DecodeString(tc.in)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Errorf("%q: fast %x, base64.Std %x (%v)", tc.in, buf[:n], want, err)
		}
	}
}

// TestVerifyHashesOnceOrAfterID checks that Verify gives the same verdict,
// ID and reference hash whether the ID was computed before (the content
// hash is then hashed alone) or by Verify (hashed with the reference
// hash), for events whose redaction keeps their content whole and events
// whose redaction drops it, with good and bad content hashes.
func TestVerifyHashesOnceOrAfterID(t *testing.T) {
	s := newTestServers(t)
	vr := &Verifier{KeyRing: s.ring}
	users := &bytes.Buffer{}
	for i := range 40 {
		fmt.Fprintf(users, `,"@user%02d:a.example":%d`, i, i)
	}
	pl := fmt.Sprintf(`{"ban":50,"users":{"@u:a.example":100%s},"users_default":0}`, users)
	empty := ""
	for _, v := range []roomversion.Version{roomversion.V1, roomversion.V5, roomversion.V10, roomversion.V11, roomversion.V12} {
		for _, b := range []Builder{
			{Type: "m.room.power_levels", StateKey: &empty, Content: []byte(pl)},
			{Content: []byte(`{"body":"` + string(bytes.Repeat([]byte("hi "), 200)) + `","msgtype":"m.text"}`)},
		} {
			e := build(t, v, b, "a.example", s.a)
			// A change the redaction drops breaks only the content hash
			// (Redact); one it keeps breaks the signature (Invalid).
			raw := e.JSON()
			dropped := bytes.Replace(raw, []byte(`"users_default":0`), []byte(`"users_default":0,"x":1`), 1)
			dropped = bytes.Replace(dropped, []byte(`"body":"hi`), []byte(`"body":"ho`), 1)
			kept := bytes.Replace(raw, []byte(`"sender":"@u:a.example"`), []byte(`"sender":"@v:a.example"`), 1)
			if bytes.Equal(dropped, raw) || bytes.Equal(kept, raw) {
				t.Fatalf("v%s: test event not changed: %s", v.ID, raw)
			}
			for _, tc := range []struct {
				in   []byte
				want Verdict
			}{{raw, Valid}, {dropped, Redact}, {kept, Invalid}} {
				first, err := Parse(v, tc.in)
				if err != nil {
					t.Fatalf("v%s: %v", v.ID, err)
				}
				second, _ := Parse(v, tc.in)
				id := second.ID() // before Verify
				r1 := vr.Verify(t.Context(), first)
				r2 := vr.Verify(t.Context(), second)
				if r1.Verdict != tc.want || r2.Verdict != tc.want || fmt.Sprint(r1.Err) != fmt.Sprint(r2.Err) {
					t.Errorf("v%s %s: verdicts %v (%v) and %v (%v), want %v", v.ID, first.Type(), r1.Verdict, r1.Err, r2.Verdict, r2.Err, tc.want)
				}
				if first.ID() != id {
					t.Errorf("v%s %s: IDs %s and %s", v.ID, first.Type(), first.ID(), id)
				}
				h1, _ := first.ReferenceHash()
				h2, _ := ReferenceHash(v, tc.in)
				if h1 != h2 {
					t.Errorf("v%s %s: reference hashes differ", v.ID, first.Type())
				}
				if r1.Verdict != Invalid && (r1.Verdict == Valid) != first.ContentHashValid() {
					t.Errorf("v%s %s: verdict %v, ContentHashValid %v", v.ID, first.Type(), r1.Verdict, first.ContentHashValid())
				}
			}
		}
	}
}
