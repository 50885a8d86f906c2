package signing

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
)

// benchObject is a signed event-like object of about 1 KB.
func benchObject(b *testing.B) (raw []byte, key *SigningKey) {
	b.Helper()
	key = testKey(b, "bench", 42)
	var sb strings.Builder
	sb.WriteString(`{"type":"m.room.message","room_id":"!abcdefghijkl:example.org","sender":"@alice:example.org",`)
	sb.WriteString(`"origin_server_ts":1700000000000,"depth":12345,"prev_events":["$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],`)
	sb.WriteString(`"auth_events":["$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","$ccccccccccccccccccccccccccccccccccccccccccc"],`)
	sb.WriteString(`"hashes":{"sha256":"dddddddddddddddddddddddddddddddddddddddddddd"},"unsigned":{"age":1234},`)
	sb.WriteString(`"content":{"msgtype":"m.text","body":"`)
	for sb.Len() < 950 {
		sb.WriteString("The quick brown fox jumps over the lazy dog. ")
	}
	sb.WriteString(`"}}`)
	signed, err := SignJSON([]byte(sb.String()), "example.org", key, canonicaljson.Strict)
	if err != nil {
		b.Fatal(err)
	}
	return signed, key
}

func BenchmarkSignJSON(b *testing.B) {
	raw, key := benchObject(b)
	b.Run("SignJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := SignJSON(raw, "example.org", key, canonicaljson.Strict); err != nil {
				b.Fatal(err)
			}
		}
	})
	signed, err := canonicaljson.AppendWithout(nil, raw, canonicaljson.Strict, "signatures", "unsigned")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline=ed25519.Sign", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			ed25519.Sign(key.Private, signed)
		}
	})
}

func BenchmarkVerifyJSON(b *testing.B) {
	raw, key := benchObject(b)
	keys := map[KeyID]ed25519.PublicKey{key.ID: key.Public()}
	b.Run("VerifyJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if err := VerifyJSON(raw, "example.org", keys, canonicaljson.Strict); err != nil {
				b.Fatal(err)
			}
		}
	})
	signed, err := canonicaljson.AppendWithout(nil, raw, canonicaljson.Strict, "signatures", "unsigned")
	if err != nil {
		b.Fatal(err)
	}
	sig := ed25519.Sign(key.Private, signed)
	b.Run("baseline=ed25519.Verify", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if !ed25519.Verify(key.Public(), signed, sig) {
				b.Fatal("bad signature")
			}
		}
	})
}

// BenchmarkVerify compares Verify (libsodium's rules) with the bare
// crypto/ed25519.Verify on the same message: the difference is the cost
// of the encoding checks.
func BenchmarkVerify(b *testing.B) {
	key := testKey(b, "bench", 7)
	for _, size := range []int{64, 1024} {
		msg := make([]byte, size)
		sig := ed25519.Sign(key.Private, msg)
		pub := key.Public()
		b.Run(fmt.Sprintf("Verify/%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !Verify(pub, msg, sig) {
					b.Fatal("bad signature")
				}
			}
		})
		// The added work alone, so that its share can be read even when
		// the machine is too noisy to compare two 50 µs figures.
		b.Run(fmt.Sprintf("encoding-checks-only/%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !isCanonicalPoint(pub) || hasSmallOrder(pub) || hasSmallOrder(sig[:32]) {
					b.Fatal("rejected")
				}
			}
		})
		b.Run(fmt.Sprintf("baseline=ed25519.Verify/%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !ed25519.Verify(pub, msg, sig) {
					b.Fatal("bad signature")
				}
			}
		})
	}
}
