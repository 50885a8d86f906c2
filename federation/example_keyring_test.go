package federation_test

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/signing"
)

// A homeserver gives its key ring its own name and keys, so that checking
// its own events and requests needs no request to itself.
func ExampleFetchingKeyRing_SetLocal() {
	key, err := signing.GenerateKey("a1")
	if err != nil {
		panic(err)
	}
	ring := &federation.FetchingKeyRing{}
	ring.SetLocal("hs.example", map[signing.KeyID]ed25519.PublicKey{key.ID: key.Public()}, nil)

	got, err := ring.PublicKeys(context.Background(), []signing.KeyRequest{{ServerName: "hs.example", KeyID: key.ID}})
	if err != nil {
		panic(err)
	}
	pk := got[signing.ServerKeyID{ServerName: "hs.example", KeyID: key.ID}]
	fmt.Println(pk.Key.Equal(key.Public()))
	// Output: true
}
