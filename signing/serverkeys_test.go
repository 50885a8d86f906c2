package signing

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
)

func TestMakeAndParseServerKeys(t *testing.T) {
	k1, k2, k3 := testKey(t, "a1", 1), testKey(t, "b2", 2), testKey(t, "old", 3)
	old := map[KeyID]OldKey{k3.ID: {Key: k3.Public(), ExpiredTS: 1532645052628}}
	raw, err := MakeServerKeys("example.org", 1652262000000, []*SigningKey{k1, k2}, old)
	if err != nil {
		t.Fatal(err)
	}
	if !canonicaljson.IsCanonical(raw, canonicaljson.Strict) {
		t.Errorf("not canonical: %s", raw)
	}
	sk, err := ParseServerKeysFor(raw, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if sk.ServerName != "example.org" || sk.ValidUntilTS != 1652262000000 || string(sk.Raw) != string(raw) {
		t.Errorf("parsed %+v", sk)
	}
	if len(sk.VerifyKeys) != 2 || !sk.VerifyKeys[k1.ID].Equal(k1.Public()) || !sk.VerifyKeys[k2.ID].Equal(k2.Public()) {
		t.Errorf("verify keys %v", sk.VerifyKeys)
	}
	if o := sk.OldVerifyKeys[k3.ID]; len(sk.OldVerifyKeys) != 1 || !o.Key.Equal(k3.Public()) || o.ExpiredTS != 1532645052628 {
		t.Errorf("old keys %v", sk.OldVerifyKeys)
	}
	// Each verify key signed it.
	for _, k := range []*SigningKey{k1, k2} {
		if err := VerifyJSON(raw, "example.org", map[KeyID]ed25519.PublicKey{k.ID: k.Public()}, canonicaljson.Strict); err != nil {
			t.Errorf("%s: %v", k.ID, err)
		}
	}
	if _, err := ParseServerKeysFor(raw, "other.org"); !errors.Is(err, ErrServerKeys) {
		t.Errorf("wrong server name accepted: %v", err)
	}

	if _, err := MakeServerKeys("example.org", 1, nil, nil); err == nil {
		t.Error("no keys accepted")
	}
	if _, err := MakeServerKeys("", 1, []*SigningKey{k1}, nil); err == nil {
		t.Error("empty server name accepted")
	}
	if _, err := MakeServerKeys("e", 1, []*SigningKey{k1, k1}, nil); err == nil {
		t.Error("duplicate key accepted")
	}
	if _, err := MakeServerKeys("e", 1, []*SigningKey{k1}, map[KeyID]OldKey{k1.ID: {Key: k1.Public()}}); err == nil {
		t.Error("key both current and old accepted")
	}
}

// TestParseServerKeysSpecExample: the specification's example response
// (data/api/server-server/examples/server_key.json) has the right shape,
// but its keys and signature are placeholders: the "key" is the base64 of
// a 37-byte English sentence, which is refused with the field named.
func TestParseServerKeysSpecExample(t *testing.T) {
	raw, err := os.ReadFile("testdata/spec_server_key.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseServerKeys(raw)
	var ske *ServerKeysError
	if !errors.As(err, &ske) || ske.Field != `verify_keys["ed25519:abc123"].key` {
		t.Fatalf("error %v, want an error on verify_keys[\"ed25519:abc123\"].key", err)
	}
}

func TestParseServerKeysErrors(t *testing.T) {
	k := testKey(t, "a", 1)
	pub := base64.EncodeToString(k.Public())
	sign := func(s string) []byte {
		out, err := SignJSON([]byte(s), "e.org", k, canonicaljson.Lenient)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return out
	}
	vk := `"verify_keys":{"ed25519:a":{"key":"` + pub + `"}}`
	base := `"server_name":"e.org","valid_until_ts":100,`
	cases := []struct {
		name  string
		raw   []byte
		field string // "": accepted
		want  error
	}{
		{"minimal", sign(`{` + base + vk + `}`), "", nil},
		{"other algorithms ignored", sign(`{` + base + `"verify_keys":{"ed25519:a":{"key":"` + pub + `"},"curve25519:x":{"key":5}}}`), "", nil},
		{"signature by another server's key ignored", func() []byte {
			other := testKey(t, "n", 9)
			b := sign(`{` + base + vk + `}`)
			b, _ = SignJSON(b, "notary.org", other, canonicaljson.Lenient)
			return b
		}(), "", nil},
		{"not JSON", []byte(`{`), "", canonicaljson.ErrSyntax},
		{"not an object", []byte(`[]`), "", nil},
		{"no server_name", sign(`{"valid_until_ts":1,` + vk + `}`), "server_name", nil},
		{"empty server_name", sign(`{"server_name":"","valid_until_ts":1,` + vk + `}`), "server_name", nil},
		{"no valid_until_ts", sign(`{"server_name":"e.org",` + vk + `}`), "valid_until_ts", nil},
		{"float valid_until_ts", sign(`{"server_name":"e.org","valid_until_ts":1.5,` + vk + `}`), "valid_until_ts", nil},
		{"huge valid_until_ts", sign(`{"server_name":"e.org","valid_until_ts":99999999999999999999,` + vk + `}`), "valid_until_ts", nil},
		{"no verify_keys", sign(`{"server_name":"e.org","valid_until_ts":1}`), "verify_keys", nil},
		{"verify_keys not an object", sign(`{` + base + `"verify_keys":[]}`), "verify_keys", nil},
		{"key entry not an object", sign(`{` + base + `"verify_keys":{"ed25519:a":"x"}}`), `verify_keys["ed25519:a"]`, nil},
		// As the reference server: entries are taken when their ID starts
		// with "ed25519:", whatever follows; "ed25519" alone is ignored.
		{"ed25519: with an empty version taken", sign(`{` + base + `"verify_keys":{"ed25519:a":{"key":"` + pub + `"},"ed25519:":{"key":"` + pub + `"}}}`), "", nil},
		{"ed25519 without colon ignored", sign(`{` + base + `"verify_keys":{"ed25519:a":{"key":"` + pub + `"},"ed25519":{"key":5}}}`), "", nil},
		{"no key", sign(`{` + base + `"verify_keys":{"ed25519:a":{}}}`), `verify_keys["ed25519:a"].key`, nil},
		{"key not base64", sign(`{` + base + `"verify_keys":{"ed25519:a":{"key":"A"}}}`), `verify_keys["ed25519:a"].key`, ErrBadBase64},
		{"short key", sign(`{` + base + `"verify_keys":{"ed25519:a":{"key":"AAAA"}}}`), `verify_keys["ed25519:a"].key`, nil},
		{"old key without expired_ts", sign(`{` + base + vk + `,"old_verify_keys":{"ed25519:o":{"key":"` + pub + `"}}}`), `old_verify_keys["ed25519:o"].expired_ts`, nil},
		{"old_verify_keys not an object", sign(`{` + base + vk + `,"old_verify_keys":5}`), `old_verify_keys`, nil},
		{"unsigned", []byte(`{` + base + vk + `}`), "signatures", ErrNoSignature},
		{"signed by another server name", func() []byte {
			b, _ := SignJSON([]byte(`{`+base+vk+`}`), "f.org", k, canonicaljson.Lenient)
			return b
		}(), "signatures", ErrNoSignature},
		{"signed by a key it does not list", func() []byte {
			other := testKey(t, "z", 7)
			b, _ := SignJSON([]byte(`{`+base+vk+`}`), "e.org", other, canonicaljson.Lenient)
			return b
		}(), "signatures", ErrUnknownKey},
		{"content changed after signing", []byte(strings.Replace(string(sign(`{`+base+vk+`}`)), `"valid_until_ts":100`, `"valid_until_ts":999`, 1)), "signatures", ErrBadSignature},
	}
	for _, c := range cases {
		sk, err := ParseServerKeys(c.raw)
		if c.field == "" && c.want == nil && c.name != "not an object" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else if !sk.VerifyKeys[k.ID].Equal(k.Public()) {
				t.Errorf("%s: keys %v", c.name, sk.VerifyKeys)
			}
			continue
		}
		var ske *ServerKeysError
		if !errors.As(err, &ske) || !errors.Is(err, ErrServerKeys) {
			t.Errorf("%s: error %v, want a *ServerKeysError", c.name, err)
			continue
		}
		if ske.Field != c.field {
			t.Errorf("%s: field %q, want %q (%v)", c.name, ske.Field, c.field, err)
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
}

func FuzzParseServerKeys(f *testing.F) {
	k := testKey(f, "a", 1)
	good, err := MakeServerKeys("example.org", 1652262000000, []*SigningKey{k}, map[KeyID]OldKey{"ed25519:o": {Key: k.Public(), ExpiredTS: 5}})
	if err != nil {
		f.Fatal(err)
	}
	spec, err := os.ReadFile("testdata/spec_server_key.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(spec)
	f.Add([]byte(`{"server_name":"e","valid_until_ts":1,"verify_keys":{"ed25519:a":{"key":"AAAA"}},"signatures":{"e":{"ed25519:a":"AA"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		sk, err := ParseServerKeys(raw)
		if err != nil {
			if !errors.Is(err, ErrServerKeys) {
				t.Fatalf("error does not wrap ErrServerKeys: %v", err)
			}
			return
		}
		// What parses is signed by one of its verify keys.
		keys := map[KeyID]ed25519.PublicKey{}
		for id, pub := range sk.VerifyKeys {
			if len(pub) != ed25519.PublicKeySize {
				t.Fatalf("key %s of %d bytes", id, len(pub))
			}
			keys[id] = pub
		}
		if err := VerifyJSON(raw, sk.ServerName, keys, canonicaljson.Lenient); err != nil {
			t.Fatalf("parsed, but VerifyJSON says %v", err)
		}
	})
}

func TestValidAt(t *testing.T) {
	now := time.UnixMilli(1_000_000_000_000)
	week := MaxKeyValidity.Milliseconds()
	nowMS := now.UnixMilli()
	cases := []struct {
		name    string
		key     PublicKey
		eventTS int64
		want    bool
	}{
		{"event before valid_until_ts", PublicKey{ValidUntilTS: nowMS + 1000}, nowMS, true},
		{"event at valid_until_ts (>= in the spec)", PublicKey{ValidUntilTS: nowMS + 1000}, nowMS + 1000, true},
		{"event after valid_until_ts", PublicKey{ValidUntilTS: nowMS + 1000}, nowMS + 1001, false},
		{"key that expired in the past, older event", PublicKey{ValidUntilTS: nowMS - 5000}, nowMS - 6000, true},
		{"valid_until_ts capped at now+7d: event at the cap", PublicKey{ValidUntilTS: nowMS + 100*week}, nowMS + week, true},
		{"valid_until_ts capped at now+7d: event past the cap", PublicKey{ValidUntilTS: nowMS + 100*week}, nowMS + week + 1, false},
		{"zero valid_until_ts", PublicKey{}, 1, false},
		{"old key, event before expiry", PublicKey{ExpiredTS: nowMS - 100, ValidUntilTS: nowMS + week}, nowMS - 101, true},
		{"old key, event at expiry", PublicKey{ExpiredTS: nowMS - 100}, nowMS - 100, true},
		{"old key, event after expiry (valid_until_ts ignored)", PublicKey{ExpiredTS: nowMS - 100, ValidUntilTS: nowMS + week}, nowMS - 99, false},
		{"old key expiring in the future, capped", PublicKey{ExpiredTS: nowMS + 100*week}, nowMS + week + 1, false},
	}
	for _, c := range cases {
		if got := ValidAt(c.key, c.eventTS, now); got != c.want {
			t.Errorf("%s: ValidAt = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMemoryKeyRing(t *testing.T) {
	k1, k2, old := testKey(t, "a", 1), testKey(t, "b", 2), testKey(t, "o", 3)
	raw, err := MakeServerKeys("e.org", 5000, []*SigningKey{k1}, map[KeyID]OldKey{old.ID: {Key: old.Public(), ExpiredTS: 4000}})
	if err != nil {
		t.Fatal(err)
	}
	sk, err := ParseServerKeys(raw)
	if err != nil {
		t.Fatal(err)
	}
	var r MemoryKeyRing // the zero value works
	r.AddServerKeys(sk)
	r.Add("f.org", k2.ID, PublicKey{Key: k2.Public(), ValidUntilTS: 7})
	got, err := r.PublicKeys(context.Background(), []KeyRequest{
		{ServerName: "e.org", KeyID: k1.ID, MinimumValidUntilTS: 10_000},
		{ServerName: "e.org", KeyID: old.ID},
		{ServerName: "e.org", KeyID: k2.ID}, // f.org's key, not e.org's
		{ServerName: "f.org", KeyID: k2.ID},
		{ServerName: "g.org", KeyID: k1.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("got %d keys, want 3: %v", len(got), got)
	}
	if g := got[ServerKeyID{"e.org", k1.ID}]; !g.Key.Equal(k1.Public()) || g.ValidUntilTS != 5000 || g.ExpiredTS != 0 {
		t.Errorf("e.org %s: %+v", k1.ID, g)
	}
	if g := got[ServerKeyID{"e.org", old.ID}]; !g.Key.Equal(old.Public()) || g.ExpiredTS != 4000 {
		t.Errorf("e.org %s: %+v", old.ID, g)
	}
	if g := got[ServerKeyID{"f.org", k2.ID}]; !g.Key.Equal(k2.Public()) || g.ValidUntilTS != 7 {
		t.Errorf("f.org %s: %+v", k2.ID, g)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.PublicKeys(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	var _ KeyRing = &r
}

func TestMemoryKeyRingConcurrent(t *testing.T) {
	r := NewMemoryKeyRing()
	k := testKey(t, "a", 1)
	done := make(chan bool)
	for i := range 4 {
		go func() {
			for j := range 200 {
				r.Add("s", k.ID, PublicKey{Key: k.Public(), ValidUntilTS: int64(i*1000 + j)})
				if _, err := r.PublicKeys(context.Background(), []KeyRequest{{ServerName: "s", KeyID: k.ID}}); err != nil {
					t.Error(err)
				}
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
}
