package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/signing"
)

// This file holds what "sign" and "verify" do without --room-version: the
// JSON signing algorithm on any JSON object, and the key files both read.
//
// Plain JSON is canonicalized in Lenient mode, as the reference server's
// canonical JSON encoder does for any object: integers come out the same
// in both modes, and an object holding other numbers is signed and checked
// as the reference server would sign and check it rather than refused.

// loadKeyFile reads the signing key FILE of "sign --key FILE": one line,
// "ed25519 <key version> <unpadded base64 seed>". A file that cannot be
// read or parsed makes the flags unusable (status 2).
func loadKeyFile(path string) (*signing.SigningKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--key: %v", err)
	}
	key, err := signing.ParseKeyFile(data)
	if err != nil {
		return nil, usagef("--key %s: %v", path, err)
	}
	return key, nil
}

// loadVerifyKeys reads the keys FILE of "verify --keys FILE":
// {"<server name>": {"ed25519:<key version>": "<unpadded base64 public
// key>", ...}, ...}. A file that cannot be read or parsed makes the flags
// unusable (status 2).
func loadVerifyKeys(path string) (map[string]map[signing.KeyID]ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--keys: %v", err)
	}
	keys, err := parseVerifyKeys(data)
	if err != nil {
		return nil, usagef("--keys %s: %v", path, err)
	}
	return keys, nil
}

// parseVerifyKeys parses the content of a keys file. Key IDs must be
// "ed25519:" and a non-empty version; the version's characters are not
// checked further, so that keys of servers that use other characters can
// still be given (the reference server does not check them either).
func parseVerifyKeys(data []byte) (map[string]map[signing.KeyID]ed25519.PublicKey, error) {
	// Valid refuses duplicate keys, which encoding/json would silently
	// merge.
	if err := canonicaljson.Valid(data, canonicaljson.Lenient); err != nil {
		return nil, err
	}
	var file map[string]map[string]string
	if err := json.Unmarshal(data, &file); err != nil || file == nil {
		return nil, errors.New(`not of the form {"<server name>": {"ed25519:<key version>": "<base64 public key>"}}`)
	}
	out := make(map[string]map[signing.KeyID]ed25519.PublicKey, len(file))
	for server, keys := range file {
		if server == "" {
			return nil, errors.New("empty server name")
		}
		if keys == nil {
			return nil, fmt.Errorf("server %q: not an object of keys", server)
		}
		m := make(map[signing.KeyID]ed25519.PublicKey, len(keys))
		for id, b64 := range keys {
			kid := signing.KeyID(id)
			if kid.Algorithm() != signing.AlgorithmEd25519 || kid.Version() == "" {
				return nil, fmt.Errorf("server %q: key ID %q is not \"ed25519:<key version>\"", server, id)
			}
			pub, err := base64.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("server %q key %s: %v", server, id, err)
			}
			if len(pub) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("server %q key %s: %d bytes, want %d", server, id, len(pub), ed25519.PublicKeySize)
			}
			m[kid] = pub
		}
		out[server] = m
	}
	return out, nil
}

// signPlainJSON is "sign" without --room-version: input is any JSON
// object, and the answer is the object signed for server with key by the
// JSON signing algorithm (signatures merged, unsigned kept), as canonical
// JSON and a newline. Input that is not a JSON object is unusable
// (status 2).
func signPlainJSON(e *env, input []byte, key *signing.SigningKey, server string) error {
	if server == "" {
		return usagef("--server NAME is required")
	}
	out, err := signing.SignJSON(input, server, key, canonicaljson.Lenient)
	if err != nil {
		if errors.Is(err, signing.ErrMalformed) {
			return usagef("input: %v", err)
		}
		return err
	}
	out = append(out, '\n')
	_, err = e.stdout.Write(out)
	return err
}

// verifyResult is the answer of "verify".
type verifyResult struct {
	Valid bool   `json:"valid"`
	Error string `json:"error,omitempty"`
}

// verifyPlainJSON is "verify" without --room-version: input is a signed
// JSON object and keysFile the content of the keys FILE. Every server of
// the file that has an entry in the object's "signatures" is checked by
// the specification's "Checking for a Signature", with that server's keys
// from the file.
//
// The verdict: valid is true only when at least one server of the file
// signed the object and the check passes for every server of the file
// that signed it. A server of the file that signed only with keys the
// file does not give it fails the check (its signature cannot be
// verified, as the reference server refuses a signature for which it
// finds no key); signatures by servers not in the file are ignored.
// Servers are checked in sorted order and the first failure is the error.
//
// Input that is not a JSON object, or a keys file that is not of the
// documented form, is unusable (status 2). An object whose "signatures"
// member has the wrong shape is answered "not valid".
func verifyPlainJSON(e *env, input []byte, keysFile []byte) error {
	keys, err := parseVerifyKeys(keysFile)
	if err != nil {
		return usagef("--keys: %v", err)
	}
	if err := canonicaljson.Valid(input, canonicaljson.Lenient); err != nil {
		return usagef("input: %v", err)
	}
	if t := bytes.TrimLeft(input, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return usagef("input: not a JSON object")
	}
	servers := make([]string, 0, len(keys))
	for s := range keys {
		servers = append(servers, s)
	}
	sort.Strings(servers)

	res := verifyResult{Valid: true}
	signedBy := 0
	for _, server := range servers {
		err := signing.VerifyJSON(input, server, keys[server], canonicaljson.Lenient)
		if errors.Is(err, signing.ErrNoSignature) {
			continue
		}
		var se *signing.SignatureError
		if err != nil && !errors.As(err, &se) {
			// Not a verdict on a signature: the input itself.
			return usagef("input: %v", err)
		}
		signedBy++
		if err != nil {
			res = verifyResult{Error: err.Error()}
			break
		}
	}
	if res.Valid && signedBy == 0 {
		res = verifyResult{Error: "not signed by any server of the keys file"}
	}
	return writeJSON(e, res)
}
