package signing

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/internal/jsonraw"
)

// Errors of VerifyJSON (and of SignJSON for ErrMalformed), for errors.Is.
// Each follows a step of the specification's "Checking for a Signature".
var (
	// ErrNoSignature: the object has no "signatures" entry for the entity.
	ErrNoSignature = errors.New("no signature by the entity")
	// ErrUnsupportedAlgorithm: the entity's signatures all use algorithms
	// other than ed25519.
	ErrUnsupportedAlgorithm = errors.New("no signature with a supported algorithm")
	// ErrUnknownKey: none of the entity's ed25519 signatures is by a key
	// that the caller knows.
	ErrUnknownKey = errors.New("no known key for the signatures")
	// ErrBadBase64: a signature is not valid unpadded base64.
	ErrBadBase64 = errors.New("signature is not valid base64")
	// ErrBadSignature: a signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrMalformed: the object cannot be signed or checked: it is not
	// acceptable canonical JSON input (the error also wraps the
	// *canonicaljson.Error), or "signatures" does not have the shape
	// {entity: {key ID: "base64"}}.
	ErrMalformed = errors.New("malformed signed JSON")
)

// SignatureError is the error of VerifyJSON: which entity and (when
// known) which key, and the sentinel error of the step that failed.
type SignatureError struct {
	Entity string
	KeyID  KeyID // empty when no single key is at fault
	Err    error // one of the sentinel errors above
	Detail string
}

func (e *SignatureError) Error() string {
	s := "signing: " + e.Entity
	if e.KeyID != "" {
		s += " " + string(e.KeyID)
	}
	s += ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the sentinel error.
func (e *SignatureError) Unwrap() error { return e.Err }

// bufPool holds the canonical JSON buffers of signing and verifying.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooledBuf = 1 << 20

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// canonicalObject canonicalizes raw, which must be a JSON object, into
// dst.
func canonicalObject(dst, raw []byte, mode canonicaljson.Mode) ([]byte, error) {
	out, err := canonicaljson.Append(dst, raw, mode)
	if err != nil {
		return dst, fmt.Errorf("signing: %w: %w", ErrMalformed, err)
	}
	if len(out) == len(dst) || out[len(dst)] != '{' {
		return dst, fmt.Errorf("signing: %w: not a JSON object", ErrMalformed)
	}
	return out, nil
}

// signedParts splits the canonical object c into what the signature
// covers (appended to dst: c without "signatures" and "unsigned") and the
// raw canonical values of "signatures" and "unsigned" (nil when absent).
func signedParts(dst, c []byte) (signed, signatures, unsigned []byte) {
	dst = append(dst, '{')
	first := true
	members(c, func(m member) bool {
		switch {
		case m.keyIs("signatures"):
			signatures = m.value
		case m.keyIs("unsigned"):
			unsigned = m.value
		default:
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, c[m.start:m.end]...)
		}
		return true
	})
	return append(dst, '}'), signatures, unsigned
}

// Signature returns the raw 64-byte ed25519 signature by key of the JSON
// object raw: of its canonical JSON in mode without its "signatures" and
// "unsigned" members (specification, "Signing Details",
// content/appendices.md).
func Signature(raw []byte, key *SigningKey, mode canonicaljson.Mode) ([]byte, error) {
	if err := key.check(); err != nil {
		return nil, err
	}
	bp := getBuf()
	defer putBuf(bp)
	signed, err := canonicaljson.AppendWithout((*bp)[:0], raw, mode, "signatures", "unsigned")
	if err != nil {
		return nil, fmt.Errorf("signing: %w: %w", ErrMalformed, err)
	}
	*bp = signed
	if len(signed) == 0 || signed[0] != '{' {
		return nil, fmt.Errorf("signing: %w: not a JSON object", ErrMalformed)
	}
	return ed25519.Sign(key.Private, signed), nil
}

// SignJSON signs the JSON object raw for entity (a server name) with key,
// by the specification's algorithm ("Signing JSON", content/appendices.md):
// the "signatures" and "unsigned" members are removed, the rest is encoded
// as canonical JSON in mode and signed; the signature, in unpadded base64,
// is added as signatures[entity][key ID], keeping every signature already
// there (one by the same key ID is replaced), and "unsigned" is put back.
//
// The result is the whole object as canonical JSON in mode. raw is not
// modified.
func SignJSON(raw []byte, entity string, key *SigningKey, mode canonicaljson.Mode) ([]byte, error) {
	if err := key.check(); err != nil {
		return nil, err
	}
	if !validName(entity) {
		return nil, fmt.Errorf("signing: entity name %q: must be non-empty UTF-8", entity)
	}
	cp, sp := getBuf(), getBuf()
	defer putBuf(cp)
	defer putBuf(sp)
	c, err := canonicalObject((*cp)[:0], raw, mode)
	*cp = c
	if err != nil {
		return nil, err
	}
	signed, oldSigs, _ := signedParts((*sp)[:0], c)
	*sp = signed
	var sig [ed25519.SignatureSize]byte
	copy(sig[:], ed25519.Sign(key.Private, signed))

	out := make([]byte, 0, len(c)+len(entity)+len(key.ID)+120)
	out = append(out, '{')
	wroteSigs, first := false, true
	sep := func() {
		if !first {
			out = append(out, ',')
		}
		first = false
	}
	writeSigs := func() error {
		sep()
		out = append(out, `"signatures":`...)
		var err error
		out, err = mergeSignatures(out, oldSigs, entity, key.ID, sig[:])
		wroteSigs = true
		return err
	}
	var mergeErr error
	members(c, func(m member) bool {
		if m.keyIs("signatures") {
			mergeErr = writeSigs()
			return mergeErr == nil
		}
		if !wroteSigs && m.compareKey("signatures") > 0 {
			if mergeErr = writeSigs(); mergeErr != nil {
				return false
			}
		}
		sep()
		out = append(out, c[m.start:m.end]...)
		return true
	})
	if mergeErr != nil {
		return nil, mergeErr
	}
	if !wroteSigs {
		if err := writeSigs(); err != nil {
			return nil, err
		}
	}
	return append(out, '}'), nil
}

// mergeSignatures appends the canonical "signatures" object: old (the
// canonical value already there, or nil) with sig added as
// [entity][keyID].
func mergeSignatures(dst, old []byte, entity string, keyID KeyID, sig []byte) ([]byte, error) {
	if old != nil && old[0] != '{' {
		return dst, fmt.Errorf("signing: %w: \"signatures\" is not an object", ErrMalformed)
	}
	writeEntity := func(dst, oldEntity []byte) ([]byte, error) {
		if oldEntity != nil && oldEntity[0] != '{' {
			return dst, fmt.Errorf("signing: %w: signatures[%q] is not an object", ErrMalformed, entity)
		}
		dst = jsonraw.AppendString(dst, entity)
		dst = append(dst, ':', '{')
		wrote, first := false, true
		writeSig := func() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = jsonraw.AppendString(dst, string(keyID))
			dst = append(dst, ':', '"')
			dst = base64.Std.AppendEncode(dst, sig)
			dst = append(dst, '"')
			wrote = true
		}
		members(oldEntity, func(m member) bool {
			cmp := m.compareKey(string(keyID))
			if !wrote && cmp >= 0 {
				writeSig()
			}
			if cmp == 0 {
				return true // replaced
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, oldEntity[m.start:m.end]...)
			return true
		})
		if !wrote {
			writeSig()
		}
		return append(dst, '}'), nil
	}

	dst = append(dst, '{')
	wrote, first := false, true
	var err error
	members(old, func(m member) bool {
		cmp := m.compareKey(entity)
		if !wrote && cmp >= 0 {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			var prev []byte
			if cmp == 0 {
				prev = m.value
			}
			if dst, err = writeEntity(dst, prev); err != nil {
				return false
			}
			wrote = true
			if cmp == 0 {
				return true
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, old[m.start:m.end]...)
		return true
	})
	if err != nil {
		return dst, err
	}
	if !wrote {
		if !first {
			dst = append(dst, ',')
		}
		if dst, err = writeEntity(dst, nil); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// VerifyJSON checks the signatures by entity on the JSON object raw with
// keys (key ID to public key), following the specification's "Checking
// for a Signature" (content/appendices.md):
//
//  1. signatures[entity] must exist, else ErrNoSignature;
//  2. key IDs whose algorithm is not ed25519 are ignored; if none is left,
//     ErrUnsupportedAlgorithm;
//  3. key IDs without a key in keys are skipped; if none is left,
//     ErrUnknownKey;
//  4. each remaining signature must be base64 that the reference server
//     can decode (ErrBadBase64; see the package documentation) and
//  5. to 7. verify, with Verify, over the canonical JSON in mode of raw
//     without "signatures" and "unsigned" (ErrBadSignature).
//
// Every signature by a known key must verify, and at least one must exist:
// that is what the reference server requires of an event's signatures
// (a signature by a key it cannot find is skipped, a bad one fails the
// check). Errors are *SignatureError, or wrap ErrMalformed when raw is not
// an acceptable JSON object.
func VerifyJSON(raw []byte, entity string, keys map[KeyID]ed25519.PublicKey, mode canonicaljson.Mode) error {
	cp, sp := getBuf(), getBuf()
	defer putBuf(cp)
	defer putBuf(sp)
	c, err := canonicalObject((*cp)[:0], raw, mode)
	*cp = c
	if err != nil {
		return err
	}
	signed, sigs, _ := signedParts((*sp)[:0], c)
	*sp = signed
	return verifyParts(signed, sigs, entity, func(id KeyID) (ed25519.PublicKey, bool) {
		k, ok := keys[id]
		return k, ok
	})
}

// verifyParts is VerifyJSON on the parts of the canonical object: the
// signed bytes and the canonical "signatures" value (nil when absent).
func verifyParts(signed, sigs []byte, entity string, lookup func(KeyID) (ed25519.PublicKey, bool)) error {
	fail := func(id KeyID, sentinel error, detail string) error {
		return &SignatureError{Entity: entity, KeyID: id, Err: sentinel, Detail: detail}
	}
	if sigs == nil {
		return fail("", ErrNoSignature, `no "signatures" member`)
	}
	if sigs[0] != '{' {
		return fail("", ErrMalformed, `"signatures" is not an object`)
	}
	var mine []byte
	members(sigs, func(m member) bool {
		if m.keyIs(entity) {
			mine = m.value
			return false
		}
		return true
	})
	if mine == nil {
		return fail("", ErrNoSignature, "")
	}
	if mine[0] != '{' {
		return fail("", ErrMalformed, "the entity's signatures are not an object")
	}
	var (
		supported, verified int
		result              error
		sigBuf              [ed25519.SignatureSize + 2]byte
	)
	members(mine, func(m member) bool {
		id := KeyID(m.keyText())
		// The algorithm is what precedes the first colon, as the reference
		// server splits it: "ed25519" alone counts (and is then unknown).
		if id.Algorithm() != AlgorithmEd25519 {
			return true
		}
		supported++
		pub, ok := lookup(id)
		if !ok {
			return true
		}
		s, ok := stringValue(m.value)
		if !ok {
			result = fail(id, ErrBadBase64, "the signature is not a string")
			return false
		}
		// Decoded as the reference server decodes it (see base64.AppendDecodeLenient).
		sig, err := base64.AppendDecodeLenient(sigBuf[:0], s)
		if err != nil {
			result = fail(id, ErrBadBase64, err.Error())
			return false
		}
		if len(sig) != ed25519.SignatureSize {
			result = fail(id, ErrBadSignature, fmt.Sprintf("signature of %d bytes, want %d", len(sig), ed25519.SignatureSize))
			return false
		}
		if !Verify(pub, signed, sig) {
			result = fail(id, ErrBadSignature, "")
			return false
		}
		verified++
		return true
	})
	switch {
	case result != nil:
		return result
	case supported == 0:
		return fail("", ErrUnsupportedAlgorithm, "")
	case verified == 0:
		return fail("", ErrUnknownKey, "")
	}
	return nil
}
