package signing

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
)

type specVectors struct {
	Seed       string `json:"seed"`
	PublicKey  string `json:"public_key"`
	ServerName string `json:"server_name"`
	KeyID      KeyID  `json:"key_id"`
	Cases      []struct {
		Name   string          `json:"name"`
		Input  json.RawMessage `json:"input"`
		Signed json.RawMessage `json:"signed"`
	} `json:"cases"`
	SigningDetails struct {
		ServerName string          `json:"server_name"`
		KeyID      KeyID           `json:"key_id"`
		PublicKey  string          `json:"public_key"`
		Object     json.RawMessage `json:"object"`
	} `json:"signing_details"`
}

func loadSpecVectors(t testing.TB) (*specVectors, *SigningKey) {
	t.Helper()
	data, err := os.ReadFile("testdata/spec_json_signing.json")
	if err != nil {
		t.Fatal(err)
	}
	var v specVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	seed, err := base64.DecodeString(v.Seed)
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewSigningKey(v.KeyID, seed)
	if err != nil {
		t.Fatal(err)
	}
	return &v, key
}

func mustCanonical(t testing.TB, raw []byte) []byte {
	t.Helper()
	c, err := canonicaljson.Canonicalize(raw, canonicaljson.Strict)
	if err != nil {
		t.Fatalf("canonicalize %s: %v", raw, err)
	}
	return c
}

func TestSpecSigningVectors(t *testing.T) {
	v, key := loadSpecVectors(t)
	if got := base64.EncodeToString(key.Public()); got != v.PublicKey {
		t.Fatalf("public key from the seed = %s, want %s", got, v.PublicKey)
	}
	keys := map[KeyID]ed25519.PublicKey{v.KeyID: key.Public()}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			for _, mode := range []canonicaljson.Mode{canonicaljson.Strict, canonicaljson.Lenient} {
				got, err := SignJSON(c.Input, v.ServerName, key, mode)
				if err != nil {
					t.Fatal(err)
				}
				if want := mustCanonical(t, c.Signed); string(got) != string(want) {
					t.Errorf("%v: SignJSON =\n%s\nwant\n%s", mode, got, want)
				}
				if err := VerifyJSON(c.Signed, v.ServerName, keys, mode); err != nil {
					t.Errorf("%v: VerifyJSON of the spec's output: %v", mode, err)
				}
			}
		})
	}
}

// TestSpecSigningDetailsDoesNotVerify: the object in "Signing Details" is
// an illustration; its signature is not a signature of the object by the
// key it lists. It must be refused as a bad signature (not as malformed,
// not for a missing key).
func TestSpecSigningDetailsDoesNotVerify(t *testing.T) {
	v, _ := loadSpecVectors(t)
	d := v.SigningDetails
	pub, err := base64.DecodeString(d.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	err = VerifyJSON(d.Object, d.ServerName, map[KeyID]ed25519.PublicKey{d.KeyID: pub}, canonicaljson.Strict)
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifyJSON = %v, want ErrBadSignature", err)
	}
	var se *SignatureError
	if !errors.As(err, &se) || se.Entity != d.ServerName || se.KeyID != d.KeyID {
		t.Errorf("error %#v does not name %s %s", err, d.ServerName, d.KeyID)
	}
}

func testKey(t testing.TB, version string, seedByte byte) *SigningKey {
	t.Helper()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = seedByte + byte(i)
	}
	k, err := NewSigningKey(KeyID("ed25519:"+version), seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignJSONKeepsUnsignedAndMergesSignatures(t *testing.T) {
	k1, k2 := testKey(t, "a", 1), testKey(t, "b", 2)
	in := []byte(`{"unsigned": {"age": 5}, "content": {"x": [1, 2]},
		"signatures": {"other.org": {"ed25519:z": "c2ln"}, "zzz": {"ed25519:q": "c2ln"}}, "a": true}`)
	out, err := SignJSON(in, "example.org", k1, canonicaljson.Strict)
	if err != nil {
		t.Fatal(err)
	}
	if !canonicaljson.IsCanonical(out, canonicaljson.Strict) {
		t.Fatalf("output is not canonical: %s", out)
	}
	out2, err := SignJSON(out, "example.org", k2, canonicaljson.Strict)
	if err != nil {
		t.Fatal(err)
	}
	if !canonicaljson.IsCanonical(out2, canonicaljson.Strict) {
		t.Fatalf("output is not canonical: %s", out2)
	}
	var doc struct {
		Unsigned   map[string]int               `json:"unsigned"`
		Signatures map[string]map[string]string `json:"signatures"`
		Content    json.RawMessage              `json:"content"`
	}
	if err := json.Unmarshal(out2, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Unsigned["age"] != 5 {
		t.Errorf("unsigned lost: %s", out2)
	}
	if doc.Signatures["other.org"]["ed25519:z"] != "c2ln" || doc.Signatures["zzz"]["ed25519:q"] != "c2ln" {
		t.Errorf("other signatures lost: %s", out2)
	}
	if len(doc.Signatures["example.org"]) != 2 {
		t.Errorf("want both keys' signatures: %s", out2)
	}
	// The signature covers neither "unsigned" nor "signatures": both
	// verify, also after unsigned changes and more signatures are added.
	changed := strings.Replace(string(out2), `"age":5`, `"age":999`, 1)
	for _, k := range []*SigningKey{k1, k2} {
		keys := map[KeyID]ed25519.PublicKey{k.ID: k.Public()}
		if err := VerifyJSON([]byte(changed), "example.org", keys, canonicaljson.Strict); err != nil {
			t.Errorf("%s: %v", k.ID, err)
		}
	}
	// Signing again with the same key replaces its signature: still two.
	out3, err := SignJSON(out2, "example.org", k1, canonicaljson.Strict)
	if err != nil {
		t.Fatal(err)
	}
	if string(out3) != string(out2) {
		t.Errorf("re-signing with the same key changed the object:\n%s\n%s", out2, out3)
	}
	// The signature is that of the object without signatures and unsigned.
	sig, err := Signature(in, k1, canonicaljson.Strict)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"ed25519:a":"`+base64.EncodeToString(sig)+`"`) {
		t.Errorf("Signature %s not in %s", base64.EncodeToString(sig), out)
	}
	if !ed25519.Verify(k1.Public(), []byte(`{"a":true,"content":{"x":[1,2]}}`), sig) {
		t.Error("Signature is not over the canonical object without signatures and unsigned")
	}
}

func TestSignJSONOrdering(t *testing.T) {
	k := testKey(t, "m", 3)
	// Keys around "signatures" and "unsigned", entity and key ID ordering,
	// and escaped keys, which sort by their unescaped text.
	cases := []string{
		`{}`,
		`{"s":1,"sz":2,"t":3,"unsigned":{},"v":4}`,
		`{"signatures":{"a":{"ed25519:z":"x"},"zz":{}}}`,
		`{"signatures":{"example.org":{"ed25519:a":"x","ed25519:z":"y"}}}`,
		`{"signatures":{"example.org":{"ed25519:m":"old"}}}`,
		`{"\n":1,"\u0073ignaturez":2,"é":3}`,
		`{"signatures":{"example.org\u0000":{}, "example.or":{}}}`,
	}
	for _, in := range cases {
		out, err := SignJSON([]byte(in), "example.org", k, canonicaljson.Strict)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !canonicaljson.IsCanonical(out, canonicaljson.Strict) {
			t.Errorf("%s: output not canonical: %s", in, out)
		}
		if err := VerifyJSON(out, "example.org", map[KeyID]ed25519.PublicKey{k.ID: k.Public()}, canonicaljson.Strict); err != nil {
			t.Errorf("%s: %v (output %s)", in, err, out)
		}
		if strings.Contains(string(out), `"old"`) {
			t.Errorf("%s: old signature by the same key kept: %s", in, out)
		}
	}
}

func TestSignJSONErrors(t *testing.T) {
	k := testKey(t, "a", 1)
	cases := []struct {
		name, in string
		entity   string
		key      *SigningKey
		want     error
	}{
		{"not JSON", `{"a":`, "e", k, ErrMalformed},
		{"duplicate key", `{"a":1,"a":2}`, "e", k, canonicaljson.ErrDuplicateKey},
		{"array", `[1]`, "e", k, ErrMalformed},
		{"string", `"x"`, "e", k, ErrMalformed},
		{"float in strict mode", `{"a":1.5}`, "e", k, canonicaljson.ErrNumber},
		{"signatures not an object", `{"signatures":[]}`, "e", k, ErrMalformed},
		{"entity not an object", `{"signatures":{"e":"x"}}`, "e", k, ErrMalformed},
		{"empty entity", `{}`, "", k, nil},
		{"nil key", `{}`, "e", nil, nil},
		{"bad key ID", `{}`, "e", &SigningKey{ID: "ed25519:a-b", Private: k.Private}, ErrInvalidKeyID},
		{"short private key", `{}`, "e", &SigningKey{ID: k.ID, Private: k.Private[:10]}, nil},
	}
	for _, c := range cases {
		out, err := SignJSON([]byte(c.in), c.entity, c.key, canonicaljson.Strict)
		if err == nil {
			t.Errorf("%s: no error, output %s", c.name, out)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	// Lenient mode signs what strict mode refuses.
	if _, err := SignJSON([]byte(`{"a":1.5}`), "e", k, canonicaljson.Lenient); err != nil {
		t.Errorf("lenient: %v", err)
	}
}

func TestVerifyJSONErrors(t *testing.T) {
	k, other := testKey(t, "a", 1), testKey(t, "b", 2)
	keys := map[KeyID]ed25519.PublicKey{k.ID: k.Public()}
	signed, err := SignJSON([]byte(`{"x":1}`), "e.org", k, canonicaljson.Strict)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	json.Unmarshal(signed, &parsed)
	good := parsed.Signatures["e.org"]["ed25519:a"]
	sigBytes, _ := base64.DecodeString(good)
	wrong, _ := SignJSON([]byte(`{"x":2}`), "e.org", k, canonicaljson.Strict)
	json.Unmarshal(wrong, &parsed)
	bad := parsed.Signatures["e.org"]["ed25519:a"]

	doc := func(sigs string) []byte { return []byte(`{"x":1,"signatures":` + sigs + `}`) }
	cases := []struct {
		name string
		raw  []byte
		want error // nil: valid
	}{
		{"valid", signed, nil},
		{"valid with unsigned and another server", doc(`{"e.org":{"ed25519:a":"` + good + `"},"f.org":{"ed25519:a":"!!"}}`), nil},
		{"padded base64 accepted", doc(`{"e.org":{"ed25519:a":"` + good + `=="}}`), nil},
		{"unknown key skipped next to a good one", doc(`{"e.org":{"ed25519:a":"` + good + `","ed25519:zz":"!!"}}`), nil},
		{"other algorithm skipped next to a good one", doc(`{"e.org":{"ed25519:a":"` + good + `","curve25519:a":"!!"}}`), nil},
		{"no signatures", []byte(`{"x":1}`), ErrNoSignature},
		{"no entry for the entity", doc(`{"f.org":{"ed25519:a":"` + good + `"}}`), ErrNoSignature},
		{"empty entry", doc(`{"e.org":{}}`), ErrUnsupportedAlgorithm},
		{"only other algorithms", doc(`{"e.org":{"curve25519:a":"` + good + `","ed25519x:a":"x"}}`), ErrUnsupportedAlgorithm},
		{"ed25519 without a version is ed25519, and unknown", doc(`{"e.org":{"ed25519":"` + good + `"}}`), ErrUnknownKey},
		{"no known key", doc(`{"e.org":{"ed25519:b":"` + good + `"}}`), ErrUnknownKey},
		{"bad base64: 4n+1 characters", doc(`{"e.org":{"ed25519:a":"AAAAA"}}`), ErrBadBase64},
		{"bad base64: non-ASCII", doc(`{"e.org":{"ed25519:a":"` + good[:80] + `é"}}`), ErrBadBase64},
		{"bad base64: data after the closing padding", doc(`{"e.org":{"ed25519:a":"` + good + `==AA"}}`), ErrBadBase64},
		// Decoded as the reference server decodes (unpaddedbase64 with
		// Python's lenient decoder): URL-safe characters, and characters
		// outside both alphabets skipped.
		{"URL-safe alphabet accepted", doc(`{"e.org":{"ed25519:a":"` + base64.URL.EncodeToString(sigBytes) + `"}}`), nil},
		{"line breaks and spaces skipped", doc(`{"e.org":{"ed25519:a":"` + good[:20] + ` \n ` + good[20:] + `"}}`), nil},
		// Two skipped characters change the padding decode_base64 adds,
		// and Python then fails on it.
		{"junk that upsets the padding", doc(`{"e.org":{"ed25519:a":"` + good[:20] + ` \n` + good[20:] + `"}}`), ErrBadBase64},
		{"junk decoding to nothing", doc(`{"e.org":{"ed25519:a":"!!!"}}`), ErrBadSignature},
		{"signature not a string", doc(`{"e.org":{"ed25519:a":5}}`), ErrBadBase64},
		{"short signature", doc(`{"e.org":{"ed25519:a":"` + base64.EncodeToString(sigBytes[:63]) + `"}}`), ErrBadSignature},
		{"long signature", doc(`{"e.org":{"ed25519:a":"` + base64.EncodeToString(append(sigBytes, 0)) + `"}}`), ErrBadSignature},
		{"signature of other content", doc(`{"e.org":{"ed25519:a":"` + bad + `"}}`), ErrBadSignature},
		{"content changed", []byte(strings.Replace(string(signed), `"x":1`, `"x":2`, 1)), ErrBadSignature},
		{"signatures not an object", doc(`"x"`), ErrMalformed},
		{"entry not an object", doc(`{"e.org":["x"]}`), ErrMalformed},
		{"not JSON", []byte(`{"x":`), ErrMalformed},
		{"not an object", []byte(`["x"]`), ErrMalformed},
		{"duplicate signatures member", []byte(`{"signatures":{},"signatures":{}}`), canonicaljson.ErrDuplicateKey},
		{"float in strict mode", []byte(`{"x":1.5}`), canonicaljson.ErrNumber},
	}
	for _, c := range cases {
		err := VerifyJSON(c.raw, "e.org", keys, canonicaljson.Strict)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	// A bad signature by a second known key fails the check even when the
	// first verifies.
	both := map[KeyID]ed25519.PublicKey{k.ID: k.Public(), other.ID: other.Public()}
	twoSigs := doc(`{"e.org":{"ed25519:a":"` + good + `","ed25519:b":"` + good + `"}}`)
	if err := VerifyJSON(twoSigs, "e.org", both, canonicaljson.Strict); !errors.Is(err, ErrBadSignature) {
		t.Errorf("second key's bad signature: %v", err)
	} else if se := (*SignatureError)(nil); !errors.As(err, &se) || se.KeyID != "ed25519:b" {
		t.Errorf("error does not name ed25519:b: %v", err)
	}
	// The error of malformed JSON is also a *canonicaljson.Error.
	var cje *canonicaljson.Error
	if err := VerifyJSON([]byte(`{"x":}`), "e.org", keys, canonicaljson.Strict); !errors.As(err, &cje) {
		t.Errorf("not a *canonicaljson.Error: %v", err)
	}
}

// TestVerifyJSONUsesLibsodiumRules: an object whose signature crypto/ed25519
// accepts but libsodium refuses (identity R) must fail VerifyJSON.
func TestVerifyJSONUsesLibsodiumRules(t *testing.T) {
	var vec ed25519Vector
	for _, v := range loadEd25519Vectors(t) {
		if v.Name == `identity R with S = k*a, prime-order key, message {"one":1,"two":"Two"}` {
			vec = v
		}
	}
	if vec.Name == "" {
		t.Fatal("vector not found")
	}
	pub, msg, sig := mustHex(t, vec.PublicKey), mustHex(t, vec.Message), mustHex(t, vec.Signature)
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("crypto/ed25519 should accept this vector")
	}
	obj := `{"one":1,"signatures":{"domain":{"ed25519:1":"` + base64.EncodeToString(sig) + `"}},"two":"Two"}`
	err := VerifyJSON([]byte(obj), "domain", map[KeyID]ed25519.PublicKey{"ed25519:1": pub}, canonicaljson.Strict)
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifyJSON = %v, want ErrBadSignature", err)
	}
}

func FuzzVerifyJSON(f *testing.F) {
	v, key := loadSpecVectors(f)
	for _, c := range v.Cases {
		f.Add([]byte(c.Signed), v.ServerName)
		f.Add([]byte(c.Input), v.ServerName)
	}
	f.Add([]byte(v.SigningDetails.Object), "example.org")
	f.Add([]byte(`{"signatures":{"domain":{"ed25519:1":5,"ed25519":"x"}}}`), "domain")
	f.Add([]byte(`{"signatures":{"d\u006fmain":{"ed25519:\u0031":"AA=="}}}`), "domain")
	keys := map[KeyID]ed25519.PublicKey{v.KeyID: key.Public(), "ed25519:2": make([]byte, 32)}
	f.Fuzz(func(t *testing.T, raw []byte, entity string) {
		for _, mode := range []canonicaljson.Mode{canonicaljson.Strict, canonicaljson.Lenient} {
			err := VerifyJSON(raw, entity, keys, mode)
			if err == nil {
				continue
			}
			sentinels := []error{ErrNoSignature, ErrUnsupportedAlgorithm, ErrUnknownKey, ErrBadBase64, ErrBadSignature, ErrMalformed}
			ok := false
			for _, s := range sentinels {
				ok = ok || errors.Is(err, s)
			}
			if !ok {
				t.Fatalf("error without a sentinel: %v", err)
			}
		}
		// Whatever SignJSON accepts, VerifyJSON accepts once signed.
		if !validName(entity) {
			return
		}
		signed, err := SignJSON(raw, entity, key, canonicaljson.Lenient)
		if err != nil {
			return
		}
		if err := VerifyJSON(signed, entity, keys, canonicaljson.Lenient); err != nil {
			// Another signature by a known key in raw may be bad; only a
			// failure on our own key is a bug.
			var se *SignatureError
			if errors.As(err, &se) && se.KeyID == key.ID {
				t.Fatalf("own signature does not verify: %v\n%s", err, signed)
			}
		}
		if !canonicaljson.IsCanonical(signed, canonicaljson.Lenient) {
			t.Fatalf("SignJSON output not canonical: %s", signed)
		}
	})
}
