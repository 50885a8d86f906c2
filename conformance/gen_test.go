package conformance_test

// The generator: it reads the test vectors of mxkit's packages (the files
// their own tests read), turns each into cases of the mxtool contract,
// checks every expectation that the vectors state against the library,
// and computes with the library only what the vectors leave implicit (an
// event ID, a reference hash, the state keys that no fork changed).
//
//	go test ./conformance -run TestSuiteUpToDate -update
//
// rewrites suite/*.json; without -update the test fails when the files
// differ from what the generator makes.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/conformance"
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/eventauth"
	"github.com/mxkit/mxkit/internal/testvectors"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
	"github.com/mxkit/mxkit/stateres"
)

var update = flag.Bool("update", false, "rewrite suite/*.json from the packages' test vectors")

const (
	specCanonical = `content/appendices.md, "Canonical JSON"`
	specRefHash   = `content/server-server-api.md, "Calculating the reference hash for an event"`
	specConHash   = `content/server-server-api.md, "Calculating the content hash for an event"`
	specSignJSON  = `content/appendices.md, "Signing JSON" and "Cryptographic Test Vectors"`
	specCheckSig  = `content/appendices.md, "Checking for a Signature"`
	specSignEvent = `content/server-server-api.md, "Signing Events"; content/appendices.md, "Cryptographic Test Vectors", "Event Signing"`
)

func specRedact(v string) string  { return fmt.Sprintf(`content/rooms/v%s.md, "Redactions"`, v) }
func specEventID(v string) string { return fmt.Sprintf(`content/rooms/v%s.md, "Event IDs"`, v) }
func specAuth(v string) string {
	return fmt.Sprintf(`content/rooms/v%s.md, "Authorisation rules"; content/server-server-api.md, "Authorisation rules"`, v)
}

func specStateRes(v roomversion.Version) string {
	switch v.StateRes {
	case roomversion.StateResV1:
		return `content/rooms/v1.md, "State resolution"`
	case roomversion.StateResV21:
		return `content/rooms/v12.md, "State resolution"; content/rooms/fragments/v2-state-res.md`
	}
	return fmt.Sprintf(`content/rooms/v%s.md, "State resolution"; content/rooms/fragments/v2-state-res.md`, v.ID)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func ptr[T any](v T) *T { return &v }

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// versionList parses "1-10", "3" or "1-5,8" into room versions.
func versionList(t *testing.T, s string) []roomversion.Version {
	t.Helper()
	vs, err := testvectors.ParseVersions(s)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// --- canonical JSON ----------------------------------------------------

func genCanonical(t *testing.T) conformance.Suite {
	s := conformance.Suite{
		Area:        "canonicaljson",
		Description: "Canonical JSON (command canonical). Without strict, numbers are kept as the spec's canonical JSON of room versions 1-5 allows them, written as the reference server writes them (Python's repr of the double for numbers with a fraction or exponent); with strict, the rules of room versions 6 and later (integers in [-(2^53)+1, 2^53-1] only). Outputs are compared byte for byte. Sources: the appendix examples, mxkit's grammar vectors, and documents and floats rendered by the reference server's encoder.",
	}
	add := func(name string, in []byte, strict bool, want *string, refuse bool, comment string) {
		mode := canonicaljson.Lenient
		if strict {
			mode = canonicaljson.Strict
		}
		got, err := canonicaljson.Canonicalize(in, mode)
		if refuse {
			if err == nil {
				t.Fatalf("%s: the library accepts what the vector refuses: %s", name, got)
			}
		} else if err != nil || string(got) != *want {
			t.Fatalf("%s: the library gives %q, %v; the vector says %q", name, got, err, *want)
		}
		c := conformance.Case{Name: name, Spec: specCanonical, Command: "canonical", Strict: strict, Comment: comment}
		if utf8Valid(in) {
			c.InputText = ptr(string(in))
		} else {
			c.InputHex = hex.EncodeToString(in)
		}
		if refuse {
			c.Expect.Error = conformance.ErrorUsage
		} else {
			c.Expect.OutputText = want
		}
		s.Cases = append(s.Cases, c)
	}
	modeName := func(strict bool) string {
		if strict {
			return "strict"
		}
		return "lenient"
	}

	var spec struct {
		Examples []struct{ Input, Canonical, Lenient string }
	}
	readJSON(t, "../canonicaljson/testdata/spec_examples.json", &spec)
	for i, ex := range spec.Examples {
		add(fmt.Sprintf("appendix example %d/strict", i+1), []byte(ex.Input), true, ptr(ex.Canonical), false, "")
		add(fmt.Sprintf("appendix example %d/lenient", i+1), []byte(ex.Input), false, ptr(ex.Lenient), false, "")
	}

	var vectors struct{ Cases []map[string]string }
	readJSON(t, "../canonicaljson/testdata/vectors.json", &vectors)
	seen := map[string]int{}
	for _, c := range vectors.Cases {
		in := []byte(c["input"])
		if _, ok := c["input"]; !ok {
			var err error
			if in, err = hex.DecodeString(c["input_hex"]); err != nil {
				t.Fatal(err)
			}
		}
		name := "grammar/" + c["name"]
		if seen[name]++; seen[name] > 1 {
			name += fmt.Sprintf(" (%d)", seen[name])
		}
		for _, strict := range []bool{true, false} {
			m := modeName(strict)
			if e, ok := c[m+"_error"]; ok {
				add(name+"/"+m, in, strict, nil, true, "refused: "+e)
			} else {
				want := c[m]
				add(name+"/"+m, in, strict, &want, false, "")
			}
		}
	}

	var docs struct{ Cases []struct{ In, Want string } }
	readJSON(t, "../canonicaljson/testdata/python_documents.json", &docs)
	for i, d := range docs.Cases {
		add(fmt.Sprintf("reference encoder document %d/lenient", i+1), []byte(d.In), false, ptr(d.Want), false, "")
	}
	var floats struct {
		Cases []struct{ Input, Python string }
	}
	readJSON(t, "../canonicaljson/testdata/python_floats.json", &floats)
	for i, f := range floats.Cases {
		add(fmt.Sprintf("reference encoder float %d/lenient", i+1), []byte(f.Input), false, ptr(f.Python), false, "")
	}
	return s
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// --- redaction ---------------------------------------------------------

func genRedaction(t *testing.T) conformance.Suite {
	s := conformance.Suite{
		Area:        "redaction",
		Description: "The redaction algorithm of each room version (command redact). The output is the redacted event, compared as canonical JSON; input that is not a usable event (not JSON, duplicate keys, not an object, no usable type or content) must be refused.",
	}
	var file struct {
		Cases []struct {
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
			InputText *string         `json:"input_text"`
			Expect    []struct {
				Versions string          `json:"versions"`
				Output   json.RawMessage `json:"output"`
				Error    string          `json:"error"`
			} `json:"expect"`
		} `json:"cases"`
	}
	readJSON(t, "../redact/testdata/vectors.json", &file)
	for _, vc := range file.Cases {
		in := []byte(vc.Input)
		if vc.InputText != nil {
			in = []byte(*vc.InputText)
		}
		for _, e := range vc.Expect {
			for _, v := range versionList(t, e.Versions) {
				c := conformance.Case{Name: vc.Name + "/v" + v.ID, Spec: specRedact(v.ID), Command: "redact", RoomVersion: v.ID}
				if vc.InputText != nil {
					c.InputText = vc.InputText
				} else {
					c.Input = vc.Input
				}
				got, err := redact.Redact(v, in)
				if e.Error != "" {
					if err == nil {
						t.Fatalf("%s: the library redacts what the vector refuses", c.Name)
					}
					c.Expect.Error = conformance.ErrorUsage
					c.Comment = "refused: " + e.Error
				} else {
					want, werr := canonicaljson.Canonicalize(e.Output, redact.Mode(v))
					if err != nil || werr != nil || !bytes.Equal(got, want) {
						t.Fatalf("%s: library %s %v, vector %s %v", c.Name, got, err, want, werr)
					}
					c.Expect.Output = e.Output
				}
				s.Cases = append(s.Cases, c)
			}
		}
	}
	return s
}

// --- event IDs, hashes and signing --------------------------------------

type specEventVector struct {
	Name     string          `json:"name"`
	Versions []string        `json:"versions"`
	Input    json.RawMessage `json:"input"`
	Output   json.RawMessage `json:"output"`
}

// hashCases adds the event-id and hashes cases of one event in version v.
// claimed is the content hash the vector states ("" when it states none);
// valid the expected content_hash_valid.
func hashCases(t *testing.T, s *conformance.Suite, name string, v roomversion.Version, raw json.RawMessage, claimed string, valid bool, comment string) {
	ch, err := event.ContentHash(v, raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if claimed != "" && base64.EncodeToString(ch[:]) != claimed {
		t.Fatalf("%s: the library's content hash %s is not the vector's %s", name, base64.EncodeToString(ch[:]), claimed)
	}
	ok, err := event.ContentHashValid(v, raw)
	if err != nil || ok != valid {
		t.Fatalf("%s: ContentHashValid %v %v, want %v", name, ok, err, valid)
	}
	rh, err := event.ReferenceHash(v, raw)
	if err != nil {
		t.Fatal(err)
	}
	s.Cases = append(s.Cases, conformance.Case{
		Name: name + "/hashes", Spec: specConHash + "; " + specRefHash, Command: "hashes", RoomVersion: v.ID, Input: raw,
		Expect:  conformance.Expect{Output: mustJSON(t, map[string]any{"content_hash": base64.EncodeToString(ch[:]), "reference_hash": base64.EncodeToString(rh[:]), "content_hash_valid": valid})},
		Comment: comment,
	})
	id, err := event.EventID(v, raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if v.Event.EventID != roomversion.EventIDGiven {
		enc := base64.Std
		if v.Event.EventID == roomversion.EventIDHashURL {
			enc = base64.URL
		}
		if id != "$"+enc.EncodeToString(rh[:]) {
			t.Fatalf("%s: event ID %s is not the reference hash", name, id)
		}
	}
	s.Cases = append(s.Cases, conformance.Case{
		Name: name + "/event-id", Spec: specEventID(v.ID) + "; " + specRefHash, Command: "event-id", RoomVersion: v.ID, Input: raw,
		Expect: conformance.Expect{Output: mustJSON(t, map[string]string{"event_id": id})},
	})
}

// specSeed is the signing key seed of the specification's test vectors.
const specSeed = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"

func specKey(t *testing.T) *signing.SigningKey {
	seed, err := base64.DecodeString(specSeed)
	if err != nil {
		t.Fatal(err)
	}
	k, err := signing.NewSigningKey("ed25519:1", seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func genEvents(t *testing.T) conformance.Suite {
	s := conformance.Suite{
		Area:        "events",
		Description: "Event IDs and hashes (commands event-id and hashes): the content hash, the reference hash, whether the event's own hashes.sha256 is its content hash, and the event ID (the event's own for room versions 1 and 2, the reference hash in standard (v3) or URL-safe (v4+) unpadded base64 after). Sources: the specification's signed events and mxkit's valid-event table.",
	}
	var vecs []specEventVector
	readJSON(t, "../event/testdata/spec_vectors.json", &vecs)
	for _, vec := range vecs {
		var out struct {
			Hashes struct{ SHA256 string } `json:"hashes"`
		}
		json.Unmarshal(vec.Output, &out)
		for _, id := range vec.Versions {
			v := mustVersion(t, id)
			hashCases(t, &s, "appendix: "+vec.Name+"/unsigned/v"+id, v, vec.Input, out.Hashes.SHA256, false, "the input before hashing: no hashes.sha256")
			hashCases(t, &s, "appendix: "+vec.Name+"/signed/v"+id, v, vec.Output, out.Hashes.SHA256, true, "")
		}
	}
	type tableCase struct {
		Name      string         `json:"name"`
		Versions  []string       `json:"versions"`
		Set       map[string]any `json:"set"`
		Delete    []string       `json:"delete"`
		Raw       *string        `json:"raw"`
		Replace   []*string      `json:"raw_replace"`
		PadTo     int            `json:"pad_to"`
		HashValid *bool          `json:"hash_valid"`
	}
	var table []tableCase
	readJSON(t, "../event/testdata/valid.json", &table)
	const (
		baseV1 = `{"auth_events":[["$a:x",{"sha256":"aGFzaA"}]],"content":{"body":"hello","msgtype":"m.text"},"depth":5,"event_id":"$e:x","hashes":{"sha256":"aGFzaA"},"origin_server_ts":1000,"prev_events":[["$p:x",{"sha256":"aGFzaA"}]],"room_id":"!r:x","sender":"@u:x","signatures":{"x":{"ed25519:1":"c2ln"}},"type":"m.room.message"}`
		baseV3 = `{"auth_events":["$a"],"content":{"body":"hello","msgtype":"m.text"},"depth":5,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1000,"prev_events":["$p"],"room_id":"!r:x","sender":"@u:x","signatures":{"x":{"ed25519:1":"c2ln"}},"type":"m.room.message"}`
	)
	for _, tc := range table {
		if tc.Raw != nil || len(tc.Replace) > 0 || tc.PadTo > 0 {
			continue // byte-level edits of the table; the set/delete cases cover the fields
		}
		for _, id := range tc.Versions {
			v := mustVersion(t, id)
			base := baseV3
			if v.Event.Format == roomversion.EventFormatV1 {
				base = baseV1
			}
			dec := json.NewDecoder(strings.NewReader(base))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			for k, val := range tc.Set {
				m[k] = val
			}
			for _, k := range tc.Delete {
				delete(m, k)
			}
			raw := mustJSON(t, m)
			if _, err := event.Parse(v, raw); err != nil && v.Event.EventID != roomversion.EventIDGiven {
				t.Fatalf("valid table %s v%s: %v", tc.Name, id, err)
			}
			valid, err := event.ContentHashValid(v, raw)
			if err != nil {
				t.Fatal(err)
			}
			if tc.HashValid != nil && *tc.HashValid != valid {
				t.Fatalf("valid table %s v%s: content hash valid %v, the table says %v", tc.Name, id, valid, *tc.HashValid)
			}
			hashCases(t, &s, "valid event: "+tc.Name+"/v"+id, v, raw, "", valid, "")
		}
	}
	return s
}

func genSigning(t *testing.T) conformance.Suite {
	s := conformance.Suite{
		Area:        "signing",
		Description: "Signing JSON and events (commands sign and verify). key is the signing key file (\"ed25519 <version> <unpadded base64 seed>\"), keys the public keys file of verify. sign outputs are compared as canonical JSON (ed25519 signatures are deterministic); for verify only \"valid\" (and \"content_hash_valid\" for events) are compared, not the error text.",
	}
	key := specKey(t)
	keyFile := "ed25519 1 " + specSeed + "\n"
	var js struct {
		Description string `json:"description"`
		Seed        string `json:"seed"`
		PublicKey   string `json:"public_key"`
		ServerName  string `json:"server_name"`
		KeyID       string `json:"key_id"`
		Cases       []struct {
			Name   string          `json:"name"`
			Input  json.RawMessage `json:"input"`
			Signed json.RawMessage `json:"signed"`
		} `json:"cases"`
		SigningDetails struct {
			ServerName string          `json:"server_name"`
			KeyID      string          `json:"key_id"`
			PublicKey  string          `json:"public_key"`
			Object     json.RawMessage `json:"object"`
		} `json:"signing_details"`
	}
	readJSON(t, "../signing/testdata/spec_json_signing.json", &js)
	if base64.EncodeToString(key.Public()) != js.PublicKey {
		t.Fatalf("the spec seed gives public key %s, the vectors say %s", base64.EncodeToString(key.Public()), js.PublicKey)
	}
	keysFile := mustJSON(t, map[string]map[string]string{js.ServerName: {js.KeyID: js.PublicKey}})
	pubs := map[signing.KeyID]ed25519.PublicKey{signing.KeyID(js.KeyID): key.Public()}
	for _, c := range js.Cases {
		got, err := signing.SignJSON(c.Input, js.ServerName, key, canonicaljson.Strict)
		want, _ := canonicaljson.Canonicalize(c.Signed, canonicaljson.Strict)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("sign %s: %s %v", c.Name, got, err)
		}
		s.Cases = append(s.Cases,
			conformance.Case{Name: "appendix JSON signing: " + c.Name + "/sign", Spec: specSignJSON, Command: "sign", Key: keyFile, Server: js.ServerName, Input: c.Input, Expect: conformance.Expect{Output: c.Signed}},
			conformance.Case{Name: "appendix JSON signing: " + c.Name + "/verify", Spec: specCheckSig, Command: "verify", Keys: keysFile, Input: c.Signed, Expect: conformance.Expect{Output: mustJSON(t, map[string]bool{"valid": true}), Compare: []string{"valid"}}},
		)
		if err := signing.VerifyJSON(c.Signed, js.ServerName, pubs, canonicaljson.Strict); err != nil {
			t.Fatal(err)
		}
		// The same object with one value changed no longer verifies.
		var m map[string]any
		json.Unmarshal(c.Signed, &m)
		m["tampered"] = true
		tampered := mustJSON(t, m)
		if signing.VerifyJSON(tampered, js.ServerName, pubs, canonicaljson.Strict) == nil {
			t.Fatal("tampered object verifies")
		}
		s.Cases = append(s.Cases, conformance.Case{Name: "appendix JSON signing: " + c.Name + "/verify tampered", Spec: specCheckSig, Command: "verify", Keys: keysFile, Input: tampered, Expect: conformance.Expect{Output: mustJSON(t, map[string]bool{"valid": false}), Compare: []string{"valid"}}, Comment: "a key added after signing"})
	}
	sd := js.SigningDetails
	sdPub, _ := base64.DecodeString(sd.PublicKey)
	if signing.VerifyJSON(sd.Object, sd.ServerName, map[signing.KeyID]ed25519.PublicKey{signing.KeyID(sd.KeyID): sdPub}, canonicaljson.Strict) == nil {
		t.Fatal("the Signing Details illustration verifies")
	}
	s.Cases = append(s.Cases, conformance.Case{Name: "appendix Signing Details illustration/verify", Spec: `content/appendices.md, "Signing Details"`, Command: "verify",
		Keys: mustJSON(t, map[string]map[string]string{sd.ServerName: {sd.KeyID: sd.PublicKey}}), Input: sd.Object,
		Expect: conformance.Expect{Output: mustJSON(t, map[string]bool{"valid": false}), Compare: []string{"valid"}}, Comment: "the appendix's illustration carries a signature that does not verify with the key it lists"})

	var vecs []specEventVector
	readJSON(t, "../event/testdata/spec_vectors.json", &vecs)
	for _, vec := range vecs {
		want, _ := canonicaljson.Canonicalize(vec.Output, canonicaljson.Lenient)
		for _, id := range vec.Versions {
			v := mustVersion(t, id)
			got, err := event.Sign(v, vec.Input, "domain", key)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("sign event %s v%s: %s %v", vec.Name, id, got, err)
			}
			s.Cases = append(s.Cases, conformance.Case{Name: "appendix event signing: " + vec.Name + "/sign/v" + id, Spec: specSignEvent, Command: "sign", RoomVersion: id, Key: keyFile, Server: "domain", Input: vec.Input, Expect: conformance.Expect{Output: vec.Output}})
			if _, err := event.Parse(v, vec.Output); err != nil {
				continue // not a valid PDU of v: only its signature is a vector
			}
			s.Cases = append(s.Cases, conformance.Case{Name: "appendix event signing: " + vec.Name + "/verify/v" + id, Spec: specSignEvent + `; content/server-server-api.md, "Validating hashes and signatures on received events"`, Command: "verify", RoomVersion: id,
				Keys: mustJSON(t, map[string]map[string]string{"domain": {"ed25519:1": js.PublicKey}}), Input: vec.Output,
				Expect: conformance.Expect{Output: mustJSON(t, map[string]bool{"valid": true, "content_hash_valid": true}), Compare: []string{"valid", "content_hash_valid"}}})
		}
	}
	return s
}

// --- authorization rules -----------------------------------------------

// authWorld writes the version-neutral events of eventauth's cases in the
// format of one room version, as eventauth's own test harness does (see
// eventauth/cases_test.go): readable IDs, room "!room:a.test" (the create
// event's ID with the "!" sigil in version 12), content.creator where the
// version needs it.
type authWorld struct {
	t     *testing.T
	v     roomversion.Version
	specs map[string]*testvectors.AuthEvent
}

func (w *authWorld) idOf(name string) string {
	if strings.HasPrefix(name, "$") {
		return name
	}
	s, ok := w.specs[name]
	if !ok {
		w.t.Fatalf("unknown fixture %q", name)
	}
	if s.ID != "" {
		return s.ID
	}
	return "$" + name
}

func (w *authWorld) raw(s *testvectors.AuthEvent, id string, authIDs []string) json.RawMessage {
	roomID := "!room:a.test"
	if w.v.Event.RoomID == roomversion.RoomIDCreateHash {
		roomID = "!create"
	}
	m, err := s.Fields(w.v, roomID, w.idOf, authIDs)
	if err != nil {
		w.t.Fatal(err)
	}
	// The mxtool contract: every event of an auth input carries its ID.
	m["event_id"] = id
	return mustJSON(w.t, m)
}

func genAuth(t *testing.T) conformance.Suite {
	s := conformance.Suite{
		Area:        "auth",
		Description: "The authorization rules (command auth): the checks on the event's own auth_events list, then the rules with the auth events as the state they read. Only \"allowed\" is compared; expect.rule names the rule mxkit reports (package eventauth). Events carry readable IDs in \"event_id\", taken as given whatever the room version; hashes and signatures are placeholders that the rules do not read. The selection/ cases are the auth events selection (command auth-events) of the same events: the state keys the rules need, sorted by type then state key.",
	}
	seenSelection := map[string]bool{}
	files, err := testvectors.LoadAuthCases("../eventauth/testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, cf := range files {
		specs := cf.Events
		group := cf.Group
		for _, c := range cf.Cases {
			if c.AllowedOnly {
				// These check a rule with the auth events taken as the
				// state directly; through the full check the list rules
				// come first, so the command cannot show them.
				continue
			}
			for _, v := range versionList(t, c.Versions) {
				ac := authCaseFor(t, &authWorld{t: t, v: v, specs: specs}, group, c)
				s.Cases = append(s.Cases, ac)
				// One selection case per distinct input of the selection:
				// the event's type, sender, state key and content.
				if sc, ok := selectionCase(t, v, ac); ok {
					var k struct {
						Type     string          `json:"type"`
						Sender   string          `json:"sender"`
						StateKey *string         `json:"state_key"`
						Content  json.RawMessage `json:"content"`
					}
					json.Unmarshal(sc.Input, &k)
					key := v.ID + "\x00" + string(mustJSON(t, k))
					if !seenSelection[key] {
						seenSelection[key] = true
						s.Cases = append(s.Cases, sc)
					}
				}
			}
		}
	}
	return s
}

func authCaseFor(t *testing.T, w *authWorld, group string, c testvectors.AuthCase) conformance.Case {
	v := w.v
	var auth []*event.Event
	var authRaw []json.RawMessage
	for _, n := range c.Auth {
		s := w.specs[n]
		if s == nil {
			t.Fatalf("unknown fixture %q", n)
		}
		raw := w.raw(s, w.idOf(n), nil)
		ev, err := event.ParseWithID(v, raw, w.idOf(n))
		if err != nil {
			t.Fatalf("fixture %s v%s: %v", n, v.ID, err)
		}
		auth = append(auth, ev)
		authRaw = append(authRaw, raw)
	}
	id := "$event"
	name, spec, err := c.CaseEvent(w.specs)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case name != "":
		id = w.idOf(name)
	case spec.ID != "":
		id = spec.ID
	}
	var list []string
	if c.AuthList != nil {
		for _, n := range c.AuthList {
			list = append(list, w.idOf(n))
		}
	} else {
		probe, err := event.ParseWithID(v, w.raw(spec, id, nil), id)
		if err != nil {
			t.Fatalf("%s v%s: %v", c.Name, v.ID, err)
		}
		if need, err := eventauth.Needed(v, probe); err == nil {
			for _, a := range auth {
				sk, _ := a.StateKey()
				if slices.Contains(need, eventauth.StateKey{Type: a.Type(), StateKey: sk}) {
					list = append(list, a.ID())
				}
			}
		}
	}
	raw := w.raw(spec, id, list)
	ev, err := event.ParseWithID(v, raw, id)
	if err != nil {
		t.Fatalf("%s v%s: %v", c.Name, v.ID, err)
	}
	rejected := []string{}
	for _, n := range c.Rejected {
		rejected = append(rejected, w.idOf(n))
	}
	err = eventauth.Check(v, ev, auth, func(id string) bool { return slices.Contains(rejected, id) })
	var rej *eventauth.Rejection
	switch {
	case c.Expect == "allow" && err != nil:
		t.Fatalf("%s v%s: the library refuses (%v) what the case allows", c.Name, v.ID, err)
	case c.Expect != "allow" && (!errors.As(err, &rej) || rej.Rule != c.Expect):
		t.Fatalf("%s v%s: the library gives %v, the case expects %s", c.Name, v.ID, err, c.Expect)
	}
	input := map[string]any{"event": raw, "auth_events": authRaw}
	if authRaw == nil {
		input["auth_events"] = []any{}
	}
	if len(rejected) > 0 {
		input["rejected"] = rejected
	}
	out := conformance.Case{
		Name: group + "/" + c.Name + "/v" + v.ID, Spec: specAuth(v.ID), Command: "auth", RoomVersion: v.ID,
		Input: mustJSON(t, input), Comment: c.Comment,
	}
	if c.Expect == "allow" {
		out.Expect = conformance.Expect{Output: mustJSON(t, map[string]bool{"allowed": true}), Compare: []string{"allowed"}}
	} else {
		out.Expect = conformance.Expect{Output: mustJSON(t, map[string]bool{"allowed": false}), Compare: []string{"allowed"}, Rule: c.Expect}
	}
	return out
}

// selectionCase is the auth events selection of an auth case's event.
// Its expectation is the library's: the rule's vectors are Go tables in
// package eventauth, which check the same function.
func selectionCase(t *testing.T, v roomversion.Version, ac conformance.Case) (conformance.Case, bool) {
	var in struct {
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(ac.Input, &in); err != nil {
		t.Fatal(err)
	}
	var head struct {
		EventID string `json:"event_id"`
	}
	json.Unmarshal(in.Event, &head)
	ev, err := event.ParseWithID(v, in.Event, head.EventID)
	if err != nil {
		return conformance.Case{}, false
	}
	keys, err := eventauth.Needed(v, ev)
	if err != nil {
		return conformance.Case{}, false
	}
	needed := make([]map[string]string, len(keys))
	for i, k := range keys {
		needed[i] = map[string]string{"type": k.Type, "state_key": k.StateKey}
	}
	return conformance.Case{
		Name: "selection/" + ac.Name, Spec: `content/server-server-api.md, "Auth events selection"`, Command: "auth-events", RoomVersion: v.ID,
		Input: in.Event, Expect: conformance.Expect{Output: mustJSON(t, map[string]any{"needed": needed})},
	}, true
}

// --- state resolution --------------------------------------------------

func stateOutput(m stateres.StateMap) map[string]any {
	out := map[string]map[string]string{}
	for k, id := range m {
		if out[k.Type] == nil {
			out[k.Type] = map[string]string{}
		}
		out[k.Type][k.StateKey] = id
	}
	return map[string]any{"state": out}
}

func genStateRes(t *testing.T) conformance.Suite {
	s := conformance.Suite{
		Area:        "stateres",
		Description: "State resolution (command resolve): the state sets (event IDs) and every event they name or their auth chains hold; the output is the resolved state, compared as canonical JSON. Sources: mxkit's state set cases and its DAG cases (the reference implementation's scenarios), where each DAG is built in the room version, with auth events chosen by the auth events selection from the state before each event, and the case is the resolution at the DAG's last merge.",
	}
	files, _ := filepath.Glob("../stateres/testdata/sets/*.json")
	sort.Strings(files)
	for _, f := range files {
		sf, err := testvectors.LoadSets(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(sf.Rejected) > 0 {
			// The command's input has no way to mark events rejected.
			continue
		}
		v := mustVersion(t, sf.RoomVersion)
		store := stateres.NewMemoryStore()
		byID := map[string]*event.Event{}
		for _, raw := range sf.Events {
			var head struct {
				EventID string `json:"event_id"`
			}
			json.Unmarshal(raw, &head)
			ev, err := event.ParseWithID(v, raw, head.EventID)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			store.Add(ev)
			byID[head.EventID] = ev
		}
		var sets []stateres.StateMap
		for _, ids := range sf.StateSets {
			m := stateres.StateMap{}
			for _, id := range ids {
				sk, _ := byID[id].StateKey()
				m[stateres.StateKey{Type: byID[id].Type(), StateKey: sk}] = id
			}
			sets = append(sets, m)
		}
		got, err := stateres.Resolve(context.Background(), v, sets, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := mustJSON(t, map[string]any{"state": sf.Expected})
		if g := mustJSON(t, stateOutput(got)); !bytes.Equal(g, want) {
			t.Fatalf("%s: the library gives %s, the case expects %s", f, g, want)
		}
		s.Cases = append(s.Cases, conformance.Case{
			Name: "sets/" + strings.TrimSuffix(filepath.Base(f), ".json"), Spec: specStateRes(v), Command: "resolve", RoomVersion: v.ID,
			Input: mustJSON(t, map[string]any{"state_sets": sf.StateSets, "events": sf.Events}), Expect: conformance.Expect{Output: want}, Comment: sf.Name + ": " + sf.Comment,
		})
	}

	initial, err := testvectors.LoadDAG("../stateres/testdata/dag/initial.json")
	if err != nil {
		t.Fatal(err)
	}
	files, _ = filepath.Glob("../stateres/testdata/dag/*.json")
	sort.Strings(files)
	for _, f := range files {
		if filepath.Base(f) == "initial.json" {
			continue
		}
		c, err := testvectors.LoadDAG(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, vid := range c.RoomVersions {
			v := mustVersion(t, vid)
			r := runDAG(t, v, initial, c)
			if len(r.parents["END"]) < 2 {
				continue
			}
			var sets []stateres.StateMap
			var setIDs [][]string
			for _, p := range r.parents["END"] {
				sets = append(sets, r.stateAt[p])
				var ids []string
				for _, id := range r.stateAt[p] {
					ids = append(ids, id)
				}
				sort.Strings(ids)
				setIDs = append(setIDs, ids)
			}
			got, err := stateres.Resolve(context.Background(), v, sets, r.store, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The DAG case states the events expected at END and that
			// every other key is as it was at START.
			for _, n := range c.Expected {
				ev := r.store.Event(r.ids[n])
				sk, _ := ev.StateKey()
				if got[stateres.StateKey{Type: ev.Type(), StateKey: sk}] != ev.ID() {
					t.Fatalf("%s v%s: the library's state lacks %s", f, vid, n)
				}
			}
			for k, id := range got {
				expected := false
				for _, n := range c.Expected {
					expected = expected || r.ids[n] == id
				}
				if !expected && r.stateAt["START"][k] != id {
					t.Fatalf("%s v%s: %v changed to %s, which the case does not expect", f, vid, k, id)
				}
			}
			s.Cases = append(s.Cases, conformance.Case{
				Name: "dag/" + strings.TrimSuffix(filepath.Base(f), ".json") + "/v" + vid, Spec: specStateRes(v), Command: "resolve", RoomVersion: vid,
				Input: mustJSON(t, map[string]any{"state_sets": setIDs, "events": r.raws}), Expect: conformance.Expect{Output: mustJSON(t, stateOutput(got))}, Comment: c.Name + ": " + c.Comment,
			})
		}
	}
	return s
}

type dagRun struct {
	store   *stateres.MemoryStore
	ids     map[string]string
	parents map[string][]string
	stateAt map[string]stateres.StateMap
	raws    []json.RawMessage
}

// runDAG builds a DAG case's room as stateres's own harness does (see
// stateres/dag_test.go): parents first (ties by name), the next
// origin_server_ts for each event, the state before an event from its one
// parent or by resolving its parents' states, its auth events from that
// state by the auth events selection.
func runDAG(t *testing.T, v roomversion.Version, initial, c testvectors.DAGFile) *dagRun {
	dag, err := testvectors.BuildDAG(initial, c)
	if err != nil {
		t.Fatal(err)
	}
	nodes, prevs, order := dag.Nodes, dag.Prevs, dag.Order
	r := &dagRun{store: stateres.NewMemoryStore(), ids: map[string]string{}, parents: map[string][]string{}, stateAt: map[string]stateres.StateMap{}}
	for n := range nodes {
		r.ids[n] = "$" + n + ":example.com"
	}
	roomID := "!test:example.com"
	if v.Event.RoomID == roomversion.RoomIDCreateHash {
		roomID = "!CREATE:example.com"
	}
	depth := map[string]int64{}
	var ts int64
	for _, n := range order {
		ne := nodes[n]
		var parents, prevIDs []string
		var d int64
		for p := range prevs[n] {
			parents = append(parents, p)
			d = max(d, depth[p]+1)
		}
		slices.Sort(parents)
		for _, p := range parents {
			prevIDs = append(prevIDs, r.ids[p])
		}
		slices.Sort(prevIDs)
		r.parents[n] = parents
		depth[n] = d
		var before stateres.StateMap
		switch len(parents) {
		case 0:
			before = stateres.StateMap{}
		case 1:
			before = clone(r.stateAt[parents[0]])
		default:
			var sets []stateres.StateMap
			for _, p := range parents {
				sets = append(sets, r.stateAt[p])
			}
			var err error
			if before, err = stateres.Resolve(context.Background(), v, sets, r.store, nil); err != nil {
				t.Fatalf("resolving before %s: %v", n, err)
			}
		}
		content, rid := ne.ContentAndRoom(v, roomID)
		probe, err := event.ParseWithID(v, pduJSON(v, r.ids[n], rid, ne, content, prevIDs, nil, d, ts), r.ids[n])
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		needed, err := eventauth.Needed(v, probe)
		if err != nil {
			t.Fatal(err)
		}
		var auth []string
		for _, k := range needed {
			if id, ok := before[k]; ok {
				auth = append(auth, id)
			}
		}
		raw := pduJSON(v, r.ids[n], rid, ne, content, prevIDs, auth, d, ts)
		ev, err := event.ParseWithID(v, raw, r.ids[n])
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		ts++
		r.store.Add(ev)
		r.raws = append(r.raws, raw)
		after := clone(before)
		if ne.StateKey != nil {
			after[stateres.StateKey{Type: ne.Type, StateKey: *ne.StateKey}] = ev.ID()
		}
		r.stateAt[n] = after
	}
	return r
}

func clone(m stateres.StateMap) stateres.StateMap {
	out := make(stateres.StateMap, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// pduJSON writes a PDU of version v with its ID in "event_id" (the mxtool
// contract). Hashes and signatures are placeholders: state resolution does
// not check them.
func pduJSON(v roomversion.Version, id, roomID string, ne testvectors.DAGEvent, content []byte, prev, auth []string, depth, ts int64) json.RawMessage {
	refs := func(ids []string) any {
		if v.Event.Format == roomversion.EventFormatV1 {
			out := make([]any, len(ids))
			for k, x := range ids {
				out[k] = []any{x, map[string]string{"sha256": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}
			}
			return out
		}
		if ids == nil {
			return []string{}
		}
		return ids
	}
	if len(content) == 0 {
		content = []byte("{}")
	}
	m := map[string]any{
		"event_id": id, "sender": ne.Sender, "type": ne.Type, "content": json.RawMessage(content),
		"depth": depth, "origin_server_ts": ts, "prev_events": refs(prev), "auth_events": refs(auth),
		"hashes": map[string]string{"sha256": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "signatures": map[string]any{},
	}
	if roomID != "" {
		m["room_id"] = roomID
	}
	if ne.StateKey != nil {
		m["state_key"] = *ne.StateKey
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(m)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// --- the files ---------------------------------------------------------

func generate(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	for _, s := range []conformance.Suite{genCanonical(t), genRedaction(t), genEvents(t), genSigning(t), genAuth(t), genStateRes(t)} {
		// One case per line: readable, greppable, and small diffs.
		var b bytes.Buffer
		fmt.Fprintf(&b, "{\"area\": %s,\n\"description\": %s,\n\"cases\": [\n", mustJSON(t, s.Area), mustJSON(t, s.Description))
		for i, c := range s.Cases {
			b.Write(mustJSON(t, c))
			if i < len(s.Cases)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("]}\n")
		out["suite/"+s.Area+".json"] = b.Bytes()
	}
	return out
}

// TestSuiteUpToDate regenerates the suite from the packages' test vectors
// and fails when the files differ (run with -update to rewrite them).
func TestSuiteUpToDate(t *testing.T) {
	if raceBuild() && !*update {
		// Generation is sequential code that the plain run checks; under
		// the race detector it only costs time.
		t.Skip("the drift check runs without the race detector only")
	}
	files := generate(t)
	if *update {
		os.MkdirAll("suite", 0o755)
		for name, data := range files {
			if err := os.WriteFile(filepath.FromSlash(name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for name, data := range files {
		got, err := conformance.Files.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v (run go test ./conformance -update)", name, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s differs from what the packages' vectors give (run go test ./conformance -update)", name)
		}
	}
	names, _ := filepath.Glob("suite/*.json")
	if len(names) != len(files) {
		t.Errorf("suite/ holds %d files, the generator makes %d", len(names), len(files))
	}
}

func mustVersion(t *testing.T, id string) roomversion.Version {
	t.Helper()
	v, err := roomversion.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// raceBuild reports whether the tests run under the race detector.
func raceBuild() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}
