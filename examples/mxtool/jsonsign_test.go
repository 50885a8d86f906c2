package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/signing"
)

// The specification's signing test vectors (content/appendices.md,
// "Cryptographic Test Vectors").
const (
	specKeyFile   = "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n"
	specPublicKey = "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"
	specSignedOne = `{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}`
	specSignedNil = `{"signatures":{"domain":{"ed25519:1":"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}}`
)

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// call runs fn with a fresh env and returns what it wrote.
func call(fn func(e *env) error) (string, error) {
	var out, errb bytes.Buffer
	err := fn(&env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb})
	return out.String(), err
}

func isUsage(err error) bool {
	var ue *usageError
	return errors.As(err, &ue)
}

func TestLoadKeyFile(t *testing.T) {
	key, err := loadKeyFile(writeTemp(t, "key", specKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if key.ID != "ed25519:1" || base64.EncodeToString(key.Public()) != specPublicKey {
		t.Errorf("key %s %s", key.ID, base64.EncodeToString(key.Public()))
	}
	for name, content := range map[string]string{
		"empty":       "",
		"two keys":    specKeyFile + specKeyFile,
		"bad version": "ed25519 a-b YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n",
		"JSON":        `{"key":"x"}`,
	} {
		if _, err := loadKeyFile(writeTemp(t, "key", content)); !isUsage(err) {
			t.Errorf("%s: error %v, want a usage error", name, err)
		}
	}
	if _, err := loadKeyFile(filepath.Join(t.TempDir(), "missing")); !isUsage(err) {
		t.Errorf("missing file: error %v, want a usage error", err)
	}
}

func TestLoadVerifyKeys(t *testing.T) {
	good := `{"domain": {"ed25519:1": "` + specPublicKey + `", "ed25519:a-b": "` + specPublicKey + `="}, "other.org": {}}`
	keys, err := loadVerifyKeys(writeTemp(t, "keys.json", good))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || len(keys["domain"]) != 2 || len(keys["other.org"]) != 0 {
		t.Fatalf("keys %v", keys)
	}
	if base64.EncodeToString(keys["domain"]["ed25519:1"]) != specPublicKey {
		t.Errorf("key %x", keys["domain"]["ed25519:1"])
	}
	bad := map[string]string{
		"not JSON":            `{"domain":`,
		"duplicate server":    `{"a": {}, "a": {}}`,
		"duplicate key ID":    `{"a": {"ed25519:1": "` + specPublicKey + `", "ed25519:1": "` + specPublicKey + `"}}`,
		"array":               `[]`,
		"null":                `null`,
		"server not object":   `{"a": "x"}`,
		"server null":         `{"a": null}`,
		"key not string":      `{"a": {"ed25519:1": 5}}`,
		"other algorithm":     `{"a": {"curve25519:1": "` + specPublicKey + `"}}`,
		"empty version":       `{"a": {"ed25519:": "` + specPublicKey + `"}}`,
		"no colon":            `{"a": {"ed25519": "` + specPublicKey + `"}}`,
		"bad base64":          `{"a": {"ed25519:1": "!!"}}`,
		"short key":           `{"a": {"ed25519:1": "AAAA"}}`,
		"empty server name":   `{"": {}}`,
		"private key instead": `{"a": {"ed25519:1": "` + base64.EncodeToString(make([]byte, 64)) + `"}}`,
	}
	for name, content := range bad {
		if _, err := loadVerifyKeys(writeTemp(t, "keys.json", content)); !isUsage(err) {
			t.Errorf("%s: error %v, want a usage error", name, err)
		}
	}
	if _, err := loadVerifyKeys(filepath.Join(t.TempDir(), "missing")); !isUsage(err) {
		t.Errorf("missing file: error %v, want a usage error", err)
	}
}

func TestSignPlainJSON(t *testing.T) {
	key, err := signing.ParseKeyFile([]byte(specKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, want string }{
		{`{}`, specSignedNil},
		{"{\n  \"two\": \"Two\",\n  \"one\": 1\n}\n", specSignedOne},
		// Already signed by another server and carrying unsigned data:
		// both kept, the new signature merged in.
		{`{"one":1,"two":"Two","unsigned":{"age":3},"signatures":{"zz.org":{"ed25519:x":"abc"}}}`,
			`{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"},"zz.org":{"ed25519:x":"abc"}},"two":"Two","unsigned":{"age":3}}`},
	}
	for _, c := range cases {
		out, err := call(func(e *env) error { return signPlainJSON(e, []byte(c.in), key, "domain") })
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if out != c.want+"\n" {
			t.Errorf("%s:\ngot  %s\nwant %s", c.in, out, c.want)
		}
	}
	// Numbers are kept as the reference server writes them (Lenient).
	out, err := call(func(e *env) error { return signPlainJSON(e, []byte(`{"a":1.5,"b":1e10}`), key, "domain") })
	if err != nil || !strings.HasPrefix(out, `{"a":1.5,"b":10000000000.0,"signatures":`) {
		t.Errorf("lenient numbers: %q, %v", out, err)
	}
	for _, in := range []string{``, `[]`, `"x"`, `{"a":`, `{"a":1,"a":2}`, `{"signatures":[]}`, `{"signatures":{"domain":5}}`} {
		out, err := call(func(e *env) error { return signPlainJSON(e, []byte(in), key, "domain") })
		if !isUsage(err) || out != "" {
			t.Errorf("%q: output %q, error %v, want a usage error", in, out, err)
		}
	}
	if _, err := call(func(e *env) error { return signPlainJSON(e, []byte(`{}`), key, "") }); !isUsage(err) {
		t.Errorf("empty server: %v", err)
	}
}

func TestVerifyPlainJSON(t *testing.T) {
	other, err := signing.GenerateKey("o")
	if err != nil {
		t.Fatal(err)
	}
	specKey, _ := signing.ParseKeyFile([]byte(specKeyFile))
	otherPub := base64.EncodeToString(other.Public())
	// Signed by "domain" (the spec key) and by "other.org".
	both, err := signing.SignJSON([]byte(specSignedOne), "other.org", other, canonicaljson.Lenient)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(specSignedOne, `"one":1`, `"one":2`, 1)
	keysDomain := `{"domain": {"ed25519:1": "` + specPublicKey + `"}}`
	keysBoth := `{"domain": {"ed25519:1": "` + specPublicKey + `"}, "other.org": {"ed25519:o": "` + otherPub + `"}}`
	keysWrongOther := `{"domain": {"ed25519:1": "` + specPublicKey + `"}, "other.org": {"ed25519:o": "` + specPublicKey + `"}}`
	keysUnknownID := `{"domain": {"ed25519:2": "` + specPublicKey + `"}}`
	keysNobody := `{"nobody.org": {"ed25519:1": "` + specPublicKey + `"}}`

	cases := []struct {
		name, input, keys string
		valid             bool
		errContains       string
	}{
		{"spec vector", specSignedOne, keysDomain, true, ""},
		{"spec vector, empty object", specSignedNil, keysDomain, true, ""},
		{"unsigned data is not covered", strings.Replace(specSignedOne, `}},"two"`, `}},"unsigned":{"x":1},"two"`, 1), keysDomain, true, ""},
		{"two servers, both in the file", string(both), keysBoth, true, ""},
		{"a signer not in the file is ignored", string(both), keysDomain, true, ""},
		{"server not in the file with a garbage signature is ignored",
			strings.Replace(specSignedOne, `}},"two"`, `},"x.org":{"ed25519:1":"!!"}},"two"`, 1), keysDomain, true, ""},
		{"content changed", tampered, keysDomain, false, "bad signature"},
		{"one of two servers' signatures bad", string(both), keysWrongOther, false, "other.org"},
		{"signer in the file, but only with a key the file lacks", specSignedOne, keysUnknownID, false, "no known key"},
		{"no server of the file signed", specSignedOne, keysNobody, false, "not signed by any server"},
		{"no signatures at all", `{"one":1}`, keysDomain, false, "not signed by any server"},
		{"empty keys file", specSignedOne, `{}`, false, "not signed by any server"},
		{"bad base64", strings.Replace(specSignedOne, `"KqmL`, `"!qmL`, 1), keysDomain, false, "base64"},
		{"signatures of the wrong shape", `{"one":1,"signatures":{"domain":"x"}}`, keysDomain, false, "malformed"},
		{"Signing Details illustration", `{"name":"example.org","signing_keys":{"ed25519:1":"XSl0kuyvrXNj6A+7/tkrB9sxSbRi08Of5uRhxOqZtEQ"},"unsigned":{"age_ts":922834800000},"signatures":{"example.org":{"ed25519:1":"s76RUgajp8w172am0zQb/iPTHsRnb4SkrzGoeCOSFfcBY2V/1c8QfrmdXHpvnc2jK5BD1WiJIxiMW95fMjK7Bw"}}}`,
			`{"example.org":{"ed25519:1":"XSl0kuyvrXNj6A+7/tkrB9sxSbRi08Of5uRhxOqZtEQ"}}`, false, "bad signature"},
	}
	for _, c := range cases {
		out, err := call(func(e *env) error { return verifyPlainJSON(e, []byte(c.input), []byte(c.keys)) })
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !strings.HasSuffix(out, "\n") {
			t.Errorf("%s: output %q without newline", c.name, out)
		}
		var res struct {
			Valid *bool   `json:"valid"`
			Error *string `json:"error"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Valid == nil {
			t.Errorf("%s: output %q: %v", c.name, out, err)
			continue
		}
		if *res.Valid != c.valid {
			t.Errorf("%s: valid = %v, want %v (%s)", c.name, *res.Valid, c.valid, out)
		}
		if c.valid && res.Error != nil {
			t.Errorf("%s: error present when valid: %s", c.name, out)
		}
		if !c.valid && (res.Error == nil || !strings.Contains(*res.Error, c.errContains)) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, out, c.errContains)
		}
		if c.valid && out != `{"valid":true}`+"\n" {
			t.Errorf("%s: output %q, want canonical {\"valid\":true}", c.name, out)
		}
	}

	// The signature that crypto/ed25519 accepts but libsodium refuses (R =
	// identity, S = k*a) is not valid here either.
	obj := `{"one":1,"two":"Two"}`
	sig := identityRSignature(t, []byte(obj))
	if !ed25519.Verify(specKey.Public(), []byte(obj), sig) {
		t.Fatal("crypto/ed25519 should accept the identity-R signature")
	}
	in := `{"one":1,"signatures":{"domain":{"ed25519:1":"` + base64.EncodeToString(sig) + `"}},"two":"Two"}`
	out, err := call(func(e *env) error { return verifyPlainJSON(e, []byte(in), []byte(keysDomain)) })
	if err != nil || !strings.HasPrefix(out, `{"error":`) || !strings.Contains(out, `"valid":false`) {
		t.Errorf("identity R: %q, %v", out, err)
	}

	// Unusable input or keys: status 2, nothing written.
	unusable := []struct{ name, input, keys string }{
		{"input not JSON", `{"one":`, keysDomain},
		{"input duplicate keys", `{"a":1,"a":1}`, keysDomain},
		{"input an array", `[]`, keysDomain},
		{"input an array, empty keys", `[]`, `{}`},
		{"input empty", ``, keysDomain},
		{"keys not JSON", specSignedOne, `{`},
		{"keys wrong shape", specSignedOne, `{"domain": ["x"]}`},
	}
	for _, c := range unusable {
		out, err := call(func(e *env) error { return verifyPlainJSON(e, []byte(c.input), []byte(c.keys)) })
		if !isUsage(err) || out != "" {
			t.Errorf("%s: output %q, error %v, want a usage error", c.name, out, err)
		}
	}
}

// identityRSignature makes the signature R = identity, S = k*a mod L of
// msg by key: valid for crypto/ed25519, refused by libsodium.
func identityRSignature(t *testing.T, msg []byte) []byte {
	t.Helper()
	vectors, err := os.ReadFile("../../signing/testdata/ed25519_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	// The vector file holds exactly this signature for this key and
	// message; reading it keeps scalar arithmetic out of this test.
	var file struct {
		Vectors []struct {
			Name      string `json:"name"`
			Message   string `json:"message"`
			Signature string `json:"signature"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(vectors, &file); err != nil {
		t.Fatal(err)
	}
	for _, v := range file.Vectors {
		if v.Name == `identity R with S = k*a, prime-order key, message {"one":1,"two":"Two"}` && v.Message == hex.EncodeToString(msg) {
			sig, err := hex.DecodeString(v.Signature)
			if err != nil || len(sig) != 64 {
				t.Fatalf("vector signature: %v", err)
			}
			return sig
		}
	}
	t.Fatal("vector not found")
	return nil
}
