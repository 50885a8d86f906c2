package signing_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/signing"
)

// The specification's signing test vector: the object {"one":1,"two":"Two"}
// signed by server "domain" with key "ed25519:1".
func ExampleSignJSON() {
	key, err := signing.ParseKeyFile([]byte("ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n"))
	if err != nil {
		panic(err)
	}
	signed, err := signing.SignJSON([]byte(`{"two": "Two", "one": 1}`), "domain", key, canonicaljson.Strict)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(signed))
	// Output:
	// {"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}
}

func ExampleVerifyJSON() {
	pub, _ := base64.DecodeString("XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI")
	keys := map[signing.KeyID]ed25519.PublicKey{"ed25519:1": pub}
	signed := []byte(`{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two","unsigned":{"age":1}}`)
	fmt.Println(signing.VerifyJSON(signed, "domain", keys, canonicaljson.Strict))

	err := signing.VerifyJSON(signed, "other.example", keys, canonicaljson.Strict)
	fmt.Println(errors.Is(err, signing.ErrNoSignature), err)
	// Output:
	// <nil>
	// true signing: other.example: no signature by the entity
}

func ExampleParseServerKeys() {
	key, _ := signing.GenerateKey("a_1")
	raw, err := signing.MakeServerKeys("example.org", 1700000000000, []*signing.SigningKey{key}, nil)
	if err != nil {
		panic(err)
	}
	keys, err := signing.ParseServerKeys(raw)
	if err != nil {
		panic(err)
	}
	fmt.Println(keys.ServerName, keys.ValidUntilTS, len(keys.VerifyKeys))
	// Output: example.org 1700000000000 1
}

// A key ring answers in batches; the caller judges each key's validity
// for the event with ValidAt (room versions 5 and later).
func ExampleMemoryKeyRing() {
	key, _ := signing.GenerateKey("a_1")
	ring := signing.NewMemoryKeyRing()
	ring.Add("example.org", key.ID, signing.PublicKey{Key: key.Public(), ValidUntilTS: 1_700_000_000_000})

	found, err := ring.PublicKeys(context.Background(), []signing.KeyRequest{
		{ServerName: "example.org", KeyID: key.ID, MinimumValidUntilTS: 1_600_000_000_000},
		{ServerName: "other.example", KeyID: "ed25519:x"},
	})
	if err != nil {
		panic(err)
	}
	pk := found[signing.ServerKeyID{ServerName: "example.org", KeyID: key.ID}]
	now := time.UnixMilli(1_650_000_000_000)
	fmt.Println(len(found), signing.ValidAt(pk, 1_600_000_000_000, now), signing.ValidAt(pk, 1_800_000_000_000, now))
	// Output: 1 true false
}
