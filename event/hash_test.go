package event

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// specKey is the key of the specification's test vectors
// (content/appendices.md, "Cryptographic Test Vectors").
func specKey(t testing.TB) *signing.SigningKey {
	t.Helper()
	seed, err := base64.DecodeString("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := signing.NewSigningKey("ed25519:1", seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type specVector struct {
	Name     string          `json:"name"`
	Versions []string        `json:"versions"`
	Input    json.RawMessage `json:"input"`
	Output   json.RawMessage `json:"output"`
}

func loadSpecVectors(t *testing.T) []specVector {
	t.Helper()
	data, err := os.ReadFile("testdata/spec_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []specVector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func canon(t testing.TB, raw []byte) []byte {
	t.Helper()
	c, err := canonicaljson.Canonicalize(raw, canonicaljson.Lenient)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The specification's two signed events. They reproduce with the
// redaction rules of room versions 1 to 10, which keep the top-level
// origin; the first is shaped like an event of version 3 and later, the
// second carries a version 1 event_id and lacks depth, prev_events and
// auth_events, so it is not a valid PDU of any version. Signing works on
// any object, as the specification's example code does.
func TestSpecEventSigningVectors(t *testing.T) {
	key := specKey(t)
	for _, vec := range loadSpecVectors(t) {
		want := canon(t, vec.Output)
		var wantHash struct {
			Hashes struct{ SHA256 string } `json:"hashes"`
		}
		json.Unmarshal(vec.Output, &wantHash)
		for _, v := range versions(t, vec.Versions) {
			got, err := Sign(v, vec.Input, "domain", key)
			if err != nil {
				t.Fatalf("%s v%s: %v", vec.Name, v.ID, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s v%s:\n got %s\nwant %s", vec.Name, v.ID, got, want)
			}
			h, err := ContentHash(v, vec.Input)
			if err != nil {
				t.Fatal(err)
			}
			if base64.EncodeToString(h[:]) != wantHash.Hashes.SHA256 {
				t.Errorf("%s v%s: content hash %s", vec.Name, v.ID, base64.EncodeToString(h[:]))
			}
			if ok, err := ContentHashValid(v, vec.Output); !ok || err != nil {
				t.Errorf("%s v%s: ContentHashValid(output) = %v %v", vec.Name, v.ID, ok, err)
			}
			if ok, err := ContentHashValid(v, vec.Input); ok || err != nil {
				t.Errorf("%s v%s: ContentHashValid(input) = %v %v", vec.Name, v.ID, ok, err)
			}
			urlSafe := bytes.Replace(vec.Output, []byte(wantHash.Hashes.SHA256), []byte(strings.NewReplacer("+", "-", "/", "_").Replace(wantHash.Hashes.SHA256)), 1)
			if ok, err := ContentHashValid(v, urlSafe); !ok || err != nil {
				t.Errorf("%s v%s: URL-safe claimed hash: %v %v", vec.Name, v.ID, ok, err)
			}
			// Signing a signed event again gives it back.
			again, err := Sign(v, got, "domain", key)
			if err != nil || !bytes.Equal(again, want) {
				t.Errorf("%s v%s: re-signing changed it: %s %v", vec.Name, v.ID, again, err)
			}
		}
		// The version 11 redaction drops origin: the signature changes.
		got, err := Sign(roomversion.V11, vec.Input, "domain", key)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, want) {
			t.Errorf("%s: the version 11 rules reproduced the vector; they should not", vec.Name)
		}
	}
}

func TestSpecVectorsVerify(t *testing.T) {
	key := specKey(t)
	ring := signing.NewMemoryKeyRing()
	ring.Add("domain", "ed25519:1", signing.PublicKey{Key: key.Public(), ValidUntilTS: 1 << 50})
	vr := &Verifier{KeyRing: ring}
	vecs := loadSpecVectors(t)

	// The minimal event is a valid PDU of versions 3 to 10 and verifies.
	for _, v := range versions(t, vecs[0].Versions) {
		e, err := Parse(v, vecs[0].Output)
		if err != nil {
			t.Fatalf("v%s: %v", v.ID, err)
		}
		if r := vr.Verify(t.Context(), e); r.Verdict != Valid {
			t.Errorf("v%s: %v %v", v.ID, r.Verdict, r.Err)
		}
		if !e.ContentHashValid() {
			t.Errorf("v%s: content hash not valid", v.ID)
		}
	}
	// In version 11 it parses, but its signature covers origin, which the
	// version 11 redaction drops.
	e, err := Parse(roomversion.V11, vecs[0].Output)
	if err != nil {
		t.Fatal(err)
	}
	if r := vr.Verify(t.Context(), e); r.Verdict != Invalid || !errors.Is(r.Err, signing.ErrBadSignature) {
		t.Errorf("v11: %v %v, want a bad signature", r.Verdict, r.Err)
	}

	// The second is not a PDU (no depth); its signature still checks as
	// signed JSON over its redacted form.
	if _, err := Parse(roomversion.V1, vecs[1].Output); err == nil {
		t.Error("the second vector parsed as a PDU; it has no depth")
	}
	red, err := redact.Redact(roomversion.V1, vecs[1].Output)
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.VerifyJSON(red, "domain", map[signing.KeyID]ed25519.PublicKey{"ed25519:1": key.Public()}, canonicaljson.Lenient); err != nil {
		t.Error(err)
	}
}

// Reference hashes and event IDs, against values computed independently
// (Python's hashlib and json.dumps(sort_keys=True, separators=(",", ":"),
// ensure_ascii=False) over the redacted form written out by hand).
func TestEventIDs(t *testing.T) {
	minimal := []byte(`{"auth_events":[],"content":{},"depth":3,"hashes":{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},"origin":"domain","origin_server_ts":1000000,"prev_events":[],"room_id":"!x:domain","sender":"@a:domain","signatures":{"domain":{"ed25519:1":"KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},"type":"X","unsigned":{"age_ts":1000000}}`)
	depth5 := bytes.Replace(minimal, []byte(`"depth":3`), []byte(`"depth":5`), 1)
	for _, c := range []struct {
		raw  []byte
		v    roomversion.Version
		want string
	}{
		{minimal, roomversion.V3, "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc"},
		{minimal, roomversion.V10, "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc"},
		{minimal, roomversion.V11, "$70O_oKlXzFbkfu0KE88USi98DjSWrOELrPj-8tisl8I"}, // origin not kept
		{minimal, roomversion.V12, "$70O_oKlXzFbkfu0KE88USi98DjSWrOELrPj-8tisl8I"},
		{depth5, roomversion.V3, "$Dst8nddHyB+rq/NxCgoksQtbOXBhAX8zIOGo/f9ak8o"}, // standard alphabet
		{depth5, roomversion.V4, "$Dst8nddHyB-rq_NxCgoksQtbOXBhAX8zIOGo_f9ak8o"}, // URL-safe from 4
	} {
		e, err := Parse(c.v, c.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.ID(); got != c.want {
			t.Errorf("v%s: ID %s, want %s", c.v.ID, got, c.want)
		}
		id, err := EventID(c.v, c.raw)
		if err != nil || id != c.want {
			t.Errorf("v%s: EventID %s %v, want %s", c.v.ID, id, err, c.want)
		}
		h, err := ReferenceHash(c.v, c.raw)
		eh, err2 := e.ReferenceHash()
		if err != nil || err2 != nil || h != eh {
			t.Errorf("v%s: ReferenceHash %x %v, event's %x %v", c.v.ID, h, err, eh, err2)
		}
	}
}

// A room version 12 create event has no room_id; its room ID is "!" and
// its reference hash (content/rooms/v12.md).
func TestV12CreateRoomID(t *testing.T) {
	raw := []byte(`{"auth_events":[],"content":{"room_version":"12"},"depth":1,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1000,"prev_events":[],"sender":"@creator:example.org","signatures":{},"state_key":"","type":"m.room.create"}`)
	e, err := Parse(roomversion.V12, raw)
	if err != nil {
		t.Fatal(err)
	}
	const want = "Kg1loGKBFfftWhFg5-5tA9ywUYgmTPv7j3GOY-xTVSY"
	if e.ID() != "$"+want || e.RoomID() != "!"+want {
		t.Errorf("ID %s RoomID %s, want $/! %s", e.ID(), e.RoomID(), want)
	}
	if id, ok := e.RoomIDField(); ok || id != "" {
		t.Errorf("RoomIDField = %q, %v", id, ok)
	}
	// Version 11 needs the room_id.
	if _, err := Parse(roomversion.V11, raw); err == nil {
		t.Error("version 11 accepted a create event without room_id")
	}
}

var (
	idV1  = regexp.MustCompile(`^\$[A-Za-z]{18}:example\.org$`)
	idStd = regexp.MustCompile(`^\$[A-Za-z0-9+/]{43}$`)
	idURL = regexp.MustCompile(`^\$[A-Za-z0-9_-]{43}$`)
)

// The shape of IDs in every room version, over events built here.
func TestEventIDShapes(t *testing.T) {
	key := specKey(t)
	for _, v := range roomversion.Known() {
		b := Builder{Type: "m.room.message", Sender: "@u:example.org", RoomID: "!r:example.org", Content: []byte(`{"body":"x"}`), OriginServerTS: 1}
		e, err := b.Build(v, "example.org", key)
		if err != nil {
			t.Fatalf("v%s: %v", v.ID, err)
		}
		re := idURL
		switch v.Event.EventID {
		case roomversion.EventIDGiven:
			re = idV1
		case roomversion.EventIDHashStd:
			re = idStd
		}
		if !re.MatchString(e.ID()) {
			t.Errorf("v%s: ID %q does not match %s", v.ID, e.ID(), re)
		}
		if len(e.ID()) > MaxIDSize {
			t.Errorf("v%s: ID over the size limit", v.ID)
		}
	}
}

// The hashing fast path over canonical bytes agrees with canonicalizing,
// for events whose unsigned, signatures and hashes sit in every position.
func TestHashFastPath(t *testing.T) {
	for _, raw := range []string{
		baseV3,
		strings.Replace(baseV3, `"type":"m.room.message"}`, `"type":"m.room.message","unsigned":{"age":1}}`, 1),
		`{"auth_events":[],"content":{},"depth":1,"hashes":{},"origin_server_ts":1,"prev_events":[],"room_id":"!r:x","sender":"@u:x","signatures":{},"type":"t","unsigned":{}}`,
		`{"auth_events":[],"content":{},"depth":1,"hashes":{},"origin_server_ts":1,"prev_events":[],"room_id":"!r:x","sender":"@u:x","signatures":{},"type":"t","unsigned":{},"zzz":1}`,
	} {
		for _, v := range roomversion.Known()[2:] {
			e, err := Parse(v, []byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			if !e.canonical {
				t.Fatalf("test input is not canonical: %s", raw)
			}
			checkHashes(t, e)
			// The same event with whitespace takes the slow path.
			spaced := []byte(strings.ReplaceAll(raw, ",", ", "))
			e2, err := Parse(v, spaced)
			if err != nil {
				t.Fatal(err)
			}
			if e2.canonical {
				t.Fatal("spaced input marked canonical")
			}
			if e2.ContentHash() != e.ContentHash() || e2.ID() != e.ID() {
				t.Errorf("v%s: hashes differ between spaced and compact input", v.ID)
			}
		}
	}
}

// checkHashes compares the event's hashes with the package functions,
// which canonicalize.
func checkHashes(t testing.TB, e *Event) {
	t.Helper()
	want, err := ContentHash(e.v, e.raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.ContentHash(); got != want {
		t.Errorf("content hash %x, want %x (%s)", got, want, e.raw)
	}
	wantRef, err := ReferenceHash(e.v, e.raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.ReferenceHash(); err != nil || got != wantRef {
		t.Errorf("reference hash %x %v, want %x", got, err, wantRef)
	}
}

// An event parsed with a given ID in a hash-ID room version is hashed
// without its event_id key.
func TestParseWithIDHashesWithoutEventID(t *testing.T) {
	plain := []byte(baseV3)
	withID := []byte(strings.Replace(baseV3, `"depth"`, `"event_id":"$readable","depth"`, 1))
	e1, err := Parse(roomversion.V10, plain)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := ParseWithID(roomversion.V10, withID, "$readable")
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := e1.ReferenceHash()
	r2, _ := e2.ReferenceHash()
	if e1.ContentHash() != e2.ContentHash() || r1 != r2 {
		t.Error("the given event_id changed the hashes")
	}
	if e2.ID() != "$readable" {
		t.Errorf("ID = %s", e2.ID())
	}
}

func TestContentHashValid(t *testing.T) {
	key := specKey(t)
	b := Builder{Type: "m.room.message", Sender: "@u:example.org", RoomID: "!r:example.org", Content: []byte(`{"body":"x"}`), OriginServerTS: 1}
	e, err := b.Build(roomversion.V10, "example.org", key)
	if err != nil {
		t.Fatal(err)
	}
	if !e.ContentHashValid() {
		t.Fatal("built event's content hash is not valid")
	}
	for name, mutate := range map[string]func([]byte) []byte{
		"content changed": func(r []byte) []byte { return bytes.Replace(r, []byte(`"body":"x"`), []byte(`"body":"y"`), 1) },
		"hash absent": func(r []byte) []byte {
			return regexp.MustCompile(`"hashes":\{[^}]*\}`).ReplaceAll(r, []byte(`"hashes":{}`))
		},
		"hash not a string": func(r []byte) []byte {
			return regexp.MustCompile(`"hashes":\{[^}]*\}`).ReplaceAll(r, []byte(`"hashes":{"sha256":5}`))
		},
		"hash not base64": func(r []byte) []byte {
			return regexp.MustCompile(`"hashes":\{[^}]*\}`).ReplaceAll(r, []byte(`"hashes":{"sha256":"!!"}`))
		},
		"hashes not an object": func(r []byte) []byte {
			return regexp.MustCompile(`"hashes":\{[^}]*\}`).ReplaceAll(r, []byte(`"hashes":"x"`))
		},
	} {
		e2, err := Parse(roomversion.V10, mutate(e.JSON()))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e2.ContentHashValid() {
			t.Errorf("%s: content hash valid", name)
		}
	}
	// The claimed hash is decoded as the reference server decodes it:
	// padded, URL-safe or with junk, it is still the hash.
	claimed := regexp.MustCompile(`"sha256":"([^"]*)"`).FindSubmatch(e.JSON())[1]
	for _, alt := range []string{
		string(claimed) + "=",
		strings.NewReplacer("+", "-", "/", "_").Replace(string(claimed)),
		string(claimed[:8]) + "\\n" + string(claimed[8:]) + "   ", // an escaped newline and spaces: 4 skipped bytes
	} {
		e2, err := Parse(roomversion.V10, bytes.Replace(e.JSON(), claimed, []byte(alt), 1))
		if err != nil {
			t.Fatal(err)
		}
		if !e2.ContentHashValid() {
			t.Errorf("claimed hash %q not accepted", alt)
		}
	}

	// unsigned is not covered.
	withUnsigned := append(bytes.TrimSuffix(e.JSON(), []byte("}")), `,"unsigned":{"age":5}}`...)
	e3, err := Parse(roomversion.V10, withUnsigned)
	if err != nil || !e3.ContentHashValid() {
		t.Errorf("unsigned added: %v %v", err, e3 != nil && e3.ContentHashValid())
	}
}
