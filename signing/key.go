package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/mxkit/mxkit/base64"
)

// AlgorithmEd25519 is the only signing algorithm the specification
// defines.
const AlgorithmEd25519 = "ed25519"

// KeyID is a signing key identifier: the algorithm, a colon and the key
// version, as in "ed25519:abc_1" (specification, "Signing Details",
// content/appendices.md, and "Retrieving server keys",
// content/server-server-api.md: the version must consist of characters
// matching [a-zA-Z0-9_]).
//
// ParseKeyID checks that grammar. Key IDs read from other servers' data
// (signatures, server keys) are taken as they are written: the reference
// server does not check the version's characters, and refusing a key it
// accepts would leave this server unable to verify events that others
// accept.
type KeyID string

// ErrInvalidKeyID is wrapped by the errors of ParseKeyID.
var ErrInvalidKeyID = errors.New("signing: invalid key ID")

// ParseKeyID checks that s is "ed25519:" followed by a non-empty version of
// characters [a-zA-Z0-9_] and returns it as a KeyID.
func ParseKeyID(s string) (KeyID, error) {
	alg, version, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("%w %q: no ':' between algorithm and version", ErrInvalidKeyID, s)
	}
	if alg != AlgorithmEd25519 {
		return "", fmt.Errorf("%w %q: algorithm %q is not supported (only %q)", ErrInvalidKeyID, s, alg, AlgorithmEd25519)
	}
	if err := checkVersion(version); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidKeyID, s, err)
	}
	return KeyID(s), nil
}

// Algorithm returns the part before the first colon ("ed25519"), or the
// whole ID if it has no colon.
func (k KeyID) Algorithm() string {
	alg, _, _ := strings.Cut(string(k), ":")
	return alg
}

// Version returns the part after the first colon, or "" if there is none.
func (k KeyID) Version() string {
	_, v, _ := strings.Cut(string(k), ":")
	return v
}

// checkVersion applies the key version grammar [a-zA-Z0-9_]+.
func checkVersion(v string) error {
	if v == "" {
		return errors.New("empty key version")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("key version %q: byte %d (%q) is not one of [a-zA-Z0-9_]", v, i, c)
		}
	}
	return nil
}

// SigningKey is an ed25519 signing key and its key ID.
type SigningKey struct {
	ID      KeyID
	Private ed25519.PrivateKey
}

// Public returns the public half of the key.
func (k *SigningKey) Public() ed25519.PublicKey {
	return k.Private.Public().(ed25519.PublicKey)
}

// check tells whether k can sign.
func (k *SigningKey) check() error {
	if k == nil {
		return errors.New("signing: nil signing key")
	}
	if len(k.Private) != ed25519.PrivateKeySize {
		return fmt.Errorf("signing: private key of %d bytes, want %d", len(k.Private), ed25519.PrivateKeySize)
	}
	if _, err := ParseKeyID(string(k.ID)); err != nil {
		return err
	}
	return nil
}

// GenerateKey makes a new random ed25519 key with the key ID
// "ed25519:"+version. version must match [a-zA-Z0-9_]+.
func GenerateKey(version string) (*SigningKey, error) {
	if err := checkVersion(version); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKeyID, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("signing: generating a key: %w", err)
	}
	return &SigningKey{ID: KeyID(AlgorithmEd25519 + ":" + version), Private: priv}, nil
}

// NewSigningKey makes the key with the given ID from a 32-byte ed25519
// seed, as the key file and the specification's test vectors give it.
func NewSigningKey(id KeyID, seed []byte) (*SigningKey, error) {
	if _, err := ParseKeyID(string(id)); err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing: seed of %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return &SigningKey{ID: id, Private: ed25519.NewKeyFromSeed(seed)}, nil
}

// ErrKeyFile is wrapped by every error of ParseKeyFile.
var ErrKeyFile = errors.New("signing: invalid key file")

// KeyFileError says what is wrong with a key file.
type KeyFileError struct {
	Field  string // "algorithm", "version", "seed", or "" for the file's shape
	Reason string
}

func (e *KeyFileError) Error() string {
	if e.Field == "" {
		return "signing: invalid key file: " + e.Reason
	}
	return "signing: invalid key file: " + e.Field + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrKeyFile) true.
func (e *KeyFileError) Unwrap() error { return ErrKeyFile }

// ParseKeyFile reads a signing key in the one-line format that homeservers
// share (the reference server's signing key file):
//
//	ed25519 <key version> <unpadded base64 of the 32-byte seed>
//
// The fields are separated by spaces or tabs, as the reference server
// splits them; one trailing newline (LF or CRLF) is allowed. A file with
// several keys (several lines) is refused: say which key to use by giving
// a file with that one line.
func ParseKeyFile(data []byte) (*SigningKey, error) {
	line := data
	if bytes.HasSuffix(line, []byte("\r\n")) {
		line = line[:len(line)-2]
	} else if bytes.HasSuffix(line, []byte("\n")) {
		line = line[:len(line)-1]
	}
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		return nil, &KeyFileError{Reason: fmt.Sprintf("more than one line (line break at byte %d); the file must hold exactly one key", i)}
	}
	fields := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
	if len(fields) != 3 {
		return nil, &KeyFileError{Reason: fmt.Sprintf("%d fields, want 3: \"ed25519 <key version> <base64 seed>\"", len(fields))}
	}
	if fields[0] != AlgorithmEd25519 {
		return nil, &KeyFileError{Field: "algorithm", Reason: fmt.Sprintf("%q is not supported (only %q)", truncate(fields[0]), AlgorithmEd25519)}
	}
	if err := checkVersion(fields[1]); err != nil {
		return nil, &KeyFileError{Field: "version", Reason: err.Error()}
	}
	seed, err := base64.DecodeString(fields[2])
	if err != nil {
		return nil, &KeyFileError{Field: "seed", Reason: err.Error()}
	}
	if len(seed) != ed25519.SeedSize {
		return nil, &KeyFileError{Field: "seed", Reason: fmt.Sprintf("decodes to %d bytes, want %d", len(seed), ed25519.SeedSize)}
	}
	return &SigningKey{ID: KeyID(AlgorithmEd25519 + ":" + fields[1]), Private: ed25519.NewKeyFromSeed(seed)}, nil
}

// MarshalKeyFile returns the key in the one-line key file format, with a
// trailing newline: "ed25519 <version> <unpadded base64 seed>\n".
func (k *SigningKey) MarshalKeyFile() []byte {
	out := make([]byte, 0, 8+len(k.ID)+44)
	out = append(out, k.ID.Algorithm()...)
	out = append(out, ' ')
	out = append(out, k.ID.Version()...)
	out = append(out, ' ')
	out = base64.Std.AppendEncode(out, k.Private.Seed())
	return append(out, '\n')
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
