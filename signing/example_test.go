package signing_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"

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
