package main

import (
	"crypto/rand"
	"strings"

	"github.com/mxkit/mxkit/signing"
)

func init() {
	register(command{
		name:    "keygen",
		summary: "a new ed25519 signing key in the one-line key file format (--server NAME; no input)",
		run:     runKeygen,
	})
}

// keyVersionAlphabet is what generated key versions are made of after
// their "a_" prefix: letters and digits, a subset of the key version
// grammar [a-zA-Z0-9_].
const keyVersionAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// keyVersionRandom is how many random characters follow "a_". The
// reference server names its generated keys the same way ("a_" and four
// random letters or digits); a key version only has to differ from the
// server's earlier versions, which 62^4 choices make near certain.
const keyVersionRandom = 4

// runKeygen is "keygen --server NAME": it reads no input and writes a new
// key as "ed25519 <key version> <unpadded base64 seed>" and a newline, the
// one output of the tool that is not JSON. The key version is "a_"
// followed by four random letters or digits. NAME is the server the key
// is for; the key file format does not record it.
func runKeygen(e *env, args []string) error {
	fs := newFlags("keygen")
	server := fs.String("server", "", "the server name the key is for (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *server == "" {
		return usagef("--server NAME is required")
	}
	if strings.ContainsAny(*server, " \t\r\n") {
		return usagef("--server %q: a server name has no whitespace", *server)
	}
	version, err := randomKeyVersion()
	if err != nil {
		return err
	}
	key, err := signing.GenerateKey(version)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(key.MarshalKeyFile())
	return err
}

// randomKeyVersion returns "a_" and keyVersionRandom random characters of
// keyVersionAlphabet, drawn without modulo bias.
func randomKeyVersion() (string, error) {
	out := []byte("a_")
	var buf [16]byte
	for len(out) < 2+keyVersionRandom {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", err
		}
		for _, b := range buf {
			// 248 = 4*62: bytes at or above it would favour the first
			// characters.
			if b < 248 && len(out) < 2+keyVersionRandom {
				out = append(out, keyVersionAlphabet[int(b)%len(keyVersionAlphabet)])
			}
		}
	}
	return string(out), nil
}
