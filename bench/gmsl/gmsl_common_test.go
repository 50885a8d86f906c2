// Package bench compares mxkit with gomatrixserverlib (the Go library of
// the Dendrite homeserver) on the same inputs in the same run: state
// resolution v2, the authorization rules, and parsing and verifying a
// received event. Each benchmark has a test that both libraries reach the
// same verdicts and outputs on its inputs, so that the figures compare the
// same work.
package bench

import (
	"bytes"
	"os"
	"testing"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/signing"
)

// userIDForSender is gomatrixserverlib's mapping of senders to user IDs;
// outside pseudo-ID rooms the sender is the user ID.
func userIDForSender(_ spec.RoomID, sender spec.SenderID) (*spec.UserID, error) {
	return spec.NewUserID(string(sender), true)
}

// gmslVersion returns gomatrixserverlib's implementation of a room version.
func gmslVersion(tb testing.TB, id string) gmsl.IRoomVersion {
	tb.Helper()
	v, err := gmsl.GetRoomVersion(gmsl.RoomVersion(id))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func loadFile(tb testing.TB, file string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.TrimSpace(raw)
}

// testKey is the specification's test signing key (content/appendices.md,
// "Cryptographic Test Vectors"), with which the event package's benchmark
// events are signed.
func testKey(tb testing.TB) *signing.SigningKey {
	tb.Helper()
	seed, err := base64.DecodeString("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
	if err != nil {
		tb.Fatal(err)
	}
	k, err := signing.NewSigningKey("ed25519:1", seed)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}
