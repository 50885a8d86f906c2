package signing

import "crypto/ed25519"

// Verify reports whether sig is a valid ed25519 signature of message by
// pub, accepting exactly the signatures that libsodium's
// crypto_sign_verify_detached accepts in every released libsodium
// (1.0.18 to 1.0.22). See the package documentation for the rules and why
// crypto/ed25519.Verify alone is not enough.
//
// Unlike crypto/ed25519.Verify, Verify never panics: a public key or a
// signature of the wrong length is simply not valid.
func Verify(pub ed25519.PublicKey, message, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	// libsodium rejects these before any curve arithmetic; crypto/ed25519
	// would accept some of them. The checks work on the encodings only,
	// as libsodium's do, so they cost a few comparisons.
	if !isCanonicalPoint(pub) || hasSmallOrder(pub) || hasSmallOrder(sig[:32]) {
		return false
	}
	// What is left is the same in both: S must be below the group order L
	// (libsodium's sc25519_is_canonical, crypto/ed25519's
	// SetCanonicalBytes), A must decode to a curve point, and the
	// cofactorless equation R == [S]B - [k]A is checked by comparing the
	// canonical encoding of the right-hand side with the bytes of R.
	return ed25519.Verify(pub, message, sig)
}

// smallOrderEncodings are the encodings, sign bit cleared, of the points of
// order 1, 2, 4 and 8 on edwards25519: the y coordinates 0, 1, p-1, the two
// y coordinates of the order-8 points, and the non-canonical encodings
// p (y = 0) and p+1 (y = 1). With the sign bit ignored they cover all
// fourteen encodings of the eight small-order points. This is libsodium's
// ge25519_has_small_order list.
var smallOrderEncodings = [7][32]byte{
	// y = 0: the two points of order 4.
	{},
	// y = 1: the identity (order 1).
	{0x01},
	// The order-8 points with y = 2707385501144840649318225287225658788936804267575313519463743609750303402022.
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	// The order-8 points with y = p - that value.
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	// y = p-1: the point of order 2.
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// y = p, a non-canonical 0.
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// y = p+1, a non-canonical 1.
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}

// hasSmallOrder reports whether the 32-byte point encoding p is one of the
// small-order encodings, ignoring the sign bit.
func hasSmallOrder(p []byte) bool {
	// Every entry differs in its first byte, so one comparison rules out
	// all but at most one entry; signatures and keys in the wild never get
	// past it.
	var e *[32]byte
	switch p[0] {
	case 0x00:
		e = &smallOrderEncodings[0]
	case 0x01:
		e = &smallOrderEncodings[1]
	case 0x26:
		e = &smallOrderEncodings[2]
	case 0xc7:
		e = &smallOrderEncodings[3]
	case 0xec:
		e = &smallOrderEncodings[4]
	case 0xed:
		e = &smallOrderEncodings[5]
	case 0xee:
		e = &smallOrderEncodings[6]
	default:
		return false
	}
	for i := 1; i < 31; i++ {
		if p[i] != e[i] {
			return false
		}
	}
	return p[31]&0x7f == e[31]
}

// isCanonicalPoint reports whether the y coordinate of the point encoding
// p (its low 255 bits) is below the field prime p = 2^255 - 19, as
// libsodium's ge25519_is_canonical does. The sign bit is not looked at.
func isCanonicalPoint(p []byte) bool {
	// y >= 2^255-19 exactly when bytes 1..30 are 0xff, the top byte is
	// 0x7f (sign bit cleared) and the lowest byte is at least 0xed.
	if p[31]&0x7f != 0x7f || p[0] < 0xed {
		return true
	}
	for i := 1; i < 31; i++ {
		if p[i] != 0xff {
			return true
		}
	}
	return false
}
