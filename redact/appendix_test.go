package redact_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
)

// TestAppendixSignedEvents checks redaction against the only redacted
// forms the specification pins down: the signatures of its two signed
// events ("Event Signing", content/appendices.md) are over the events
// redacted by the rules of room versions 1 to 10. They verify on our
// redaction under those rules, and not under the rules of 11 and 12, which
// drop the top-level origin the signatures cover.
func TestAppendixSignedEvents(t *testing.T) {
	data, err := os.ReadFile("testdata/appendix_signed_events.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Seed   string `json:"seed"`
		Server string `json:"server"`
		KeyID  string `json:"key_id"`
		Events []struct {
			Name     string          `json:"name"`
			Signed   json.RawMessage `json:"signed"`
			Redacted json.RawMessage `json:"redacted_v1_to_v10"`
		} `json:"events"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	seed, err := base64.DecodeString(f.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("seed: %v", err)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if got := base64.EncodeToString(pub); got != "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI" {
		t.Fatalf("public key %s", got)
	}
	for _, ev := range f.Events {
		var holder struct {
			Signatures map[string]map[string]string `json:"signatures"`
		}
		if err := json.Unmarshal(ev.Signed, &holder); err != nil {
			t.Fatal(err)
		}
		sig, err := base64.DecodeString(holder.Signatures[f.Server][f.KeyID])
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range roomversion.Known() {
			redacted, err := redact.Redact(v, ev.Signed)
			if err != nil {
				t.Fatalf("%s, v%s: %v", ev.Name, v.ID, err)
			}
			legacy := v.Redaction.KeepOriginMembershipPrevState
			if legacy && !bytes.Equal(redacted, ev.Redacted) {
				t.Errorf("%s, v%s:\n got %s\nwant %s", ev.Name, v.ID, redacted, ev.Redacted)
			}
			signed, err := canonicaljson.AppendWithout(nil, redacted, redact.Mode(v), "signatures", "unsigned")
			if err != nil {
				t.Fatal(err)
			}
			if ok := ed25519.Verify(pub, signed, sig); ok != legacy {
				t.Errorf("%s, v%s: signature verifies: %v, want %v", ev.Name, v.ID, ok, legacy)
			}
		}
	}
}
