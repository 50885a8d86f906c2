// Package signing signs and checks Matrix JSON with ed25519 keys, and
// handles the keys: key IDs, the key file homeservers share, the server
// keys object that servers publish, and a key ring seam through which
// other packages find the keys of remote servers.
//
// # Signing JSON
//
// SignJSON and VerifyJSON implement the specification's algorithms
// ("Signing JSON", "Signing Details" and "Checking for a Signature",
// content/appendices.md). To sign, the members "signatures" and
// "unsigned" are removed, the rest is encoded as canonical JSON (package
// canonicaljson, in the mode the caller gives: Strict for room versions 6
// and later and for anything that is not an event of an older room
// version) and signed; the signature goes, in unpadded base64, under
// signatures[entity][key ID], next to any signatures already there, and
// "unsigned" is put back. To check, VerifyJSON follows the appendix's
// steps and fails, each with its own error, when the entity has not signed
// (ErrNoSignature), signed only with unknown algorithms
// (ErrUnsupportedAlgorithm), signed only with keys the caller does not know
// (ErrUnknownKey), wrote a signature that is not base64 (ErrBadBase64) or
// one that does not verify (ErrBadSignature). Every signature by a known
// key must verify, and at least one must.
//
// The specification's test vectors ("Cryptographic Test Vectors",
// content/appendices.md) are tests of this package. The example object of
// "Signing Details" is not a valid signature (its signature does not
// verify with the key it lists) and is a negative test.
//
// Signatures and keys in other servers' JSON are base64-decoded as the
// reference server decodes them (unpaddedbase64 on Python's lenient
// decoder): padded or not, standard or URL-safe alphabet, characters
// outside both alphabets skipped. Input on which Python versions disagree
// (alphabet characters after the padding that ends the data) is refused.
// Anything stricter would reject signatures that the reference server
// accepts.
//
// # Keys
//
// A KeyID is "ed25519:" and a version of [a-zA-Z0-9_]. ParseKeyFile and
// MarshalKeyFile read and write the one-line key file
// "ed25519 <version> <unpadded base64 seed>" that homeservers use for
// their signing key. ServerKeys is the answer of GET /_matrix/key/v2/server
// ("Retrieving server keys", content/server-server-api.md; schema
// data/api/server-server/definitions/keys.yaml): ParseServerKeys reads it
// and checks that the server signed it with a key it lists, MakeServerKeys
// produces a signed one. KeyRing is the seam through which the event
// package asks for the keys of other servers, in batches; MemoryKeyRing
// holds keys in memory. ValidAt applies the key validity rule of room
// versions 5 and later (content/rooms/fragments/v5-signing-requirements.md).
//
// # Which signatures are valid: libsodium's rules
//
// Every server in a room must accept exactly the same signatures: an event
// that one server accepts and another rejects splits the room. The
// reference homeserver verifies with libsodium (through PyNaCl, whose
// wheels bundle libsodium's stable branch: 1.0.18 in PyNaCl 1.5, 1.0.20 in
// 1.6). Ed25519 verifiers are not all alike at the edges, and Go's
// crypto/ed25519 accepts signatures that libsodium rejects. Verify (used
// by VerifyJSON) accepts exactly what libsodium's
// crypto_sign_verify_detached accepts, as its code reads in every release
// from 1.0.16 to 1.0.22 (crypto_sign/ed25519/ref10/open.c, with
// ge25519_is_canonical, ge25519_has_small_order and sc25519_is_canonical
// from crypto_core/ed25519/ref10/ed25519_ref10.c):
//
//   - Small-order public key A: libsodium rejects a key whose encoding is
//     one of the small-order points (the identity, the point of order 2,
//     the two of order 4, the four of order 8, and the non-canonical
//     encodings of y = 0 and y = 1), compared with the sign bit cleared.
//     crypto/ed25519 accepts such keys, and with them signatures that
//     verify for every message (A = identity, R = identity, S = 0).
//     Verify rejects them with the same blocklist.
//   - Small-order R: the same blocklist is applied to R, the first half of
//     the signature. crypto/ed25519 does not look: a key holder can make a
//     signature with R = identity (S = k·a mod L) that crypto/ed25519
//     accepts and libsodium rejects, so a malicious server could split
//     rooms between Go and Python servers. Verify rejects it.
//   - Non-canonical A (y ≥ p = 2^255-19): libsodium rejects it
//     (ge25519_is_canonical); crypto/ed25519 decodes it as y - p and
//     accepts. Verify rejects it.
//   - Non-canonical R (y ≥ p, or x = 0 with the sign bit set): both
//     reject, because both compare R byte for byte with the canonical
//     encoding of [S]B − [k]A.
//   - Non-canonical S (S ≥ L, including the high bits set): both reject.
//   - Cofactorless equation: both check R = [S]B − [k]A without
//     multiplying by the cofactor, so a signature that holds only in the
//     cofactored equation (mixed-order A and R whose torsion parts do not
//     cancel) is rejected by both, and one with mixed-order (not small)
//     A and R whose torsion parts cancel is accepted by both: libsodium
//     does not check that A or R lie in the prime-order subgroup.
//   - Lengths: a key that is not 32 bytes or a signature that is not 64
//     bytes is invalid (crypto/ed25519.Verify would panic on the key).
//
// So Verify is crypto/ed25519.Verify after three checks on the encodings
// of A and R, which cost a few byte comparisons. The vectors in
// testdata/ed25519_vectors.json (the twelve of "Taming the many EdDSAs",
// a selection of the C2SP CCTV Ed25519 vectors, the specification's, and
// ours) record both libsodium's answer, obtained by running libsodium
// 1.0.18, and crypto/ed25519's, and the tests hold Verify to the first.
//
// libsodium's development branch (not in any release up to 1.0.22)
// rewrites verification with a cofactored equation and checks on the
// decoded points; if a release ships it, the reference server's answers
// will change for mixed-order signatures, and so must these rules.
// libsodium built with ED25519_COMPAT (not the default) skips the
// blocklists; nobody ships it that way for a homeserver.
package signing
