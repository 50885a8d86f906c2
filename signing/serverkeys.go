package signing

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
)

// ServerKeys is a homeserver's published keys: the object that
// GET /_matrix/key/v2/server answers with, and that notaries return from
// /_matrix/key/v2/query (specification, "Retrieving server keys",
// content/server-server-api.md; schema "Server Keys",
// data/api/server-server/definitions/keys.yaml).
type ServerKeys struct {
	// ServerName is the server_name the object claims.
	ServerName string
	// ValidUntilTS is valid_until_ts: when the keys should be fetched
	// again, in milliseconds since the Unix epoch. It bounds the validity
	// of VerifyKeys for events (see ValidAt).
	ValidUntilTS int64
	// VerifyKeys are the keys the server signs with now.
	VerifyKeys map[KeyID]ed25519.PublicKey
	// OldVerifyKeys are keys it used to sign with, valid for events up to
	// their ExpiredTS.
	OldVerifyKeys map[KeyID]OldKey
	// Raw is the object as parsed (notaries serve it back, signed).
	Raw []byte
}

// OldKey is an entry of old_verify_keys.
type OldKey struct {
	Key       ed25519.PublicKey
	ExpiredTS int64 // when the server stopped using the key (ms since the epoch)
}

// ErrServerKeys is wrapped by every error of ParseServerKeys.
var ErrServerKeys = errors.New("invalid server keys")

// ServerKeysError says which field of a server keys object is wrong. Err,
// when set, is the underlying error (a *SignatureError for the
// self-signature, a *canonicaljson.Error for the JSON).
type ServerKeysError struct {
	Field  string
	Reason string
	Err    error
}

func (e *ServerKeysError) Error() string {
	s := "signing: invalid server keys"
	if e.Field != "" {
		s += ": " + e.Field
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrServerKeys and the underlying error, so that both
// errors.Is(err, ErrServerKeys) and, say, errors.Is(err, ErrBadSignature)
// work.
func (e *ServerKeysError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrServerKeys, e.Err}
	}
	return []error{ErrServerKeys}
}

// ParseServerKeys parses a server keys object and checks that the server
// signed it: signatures[server_name] must hold at least one signature by
// a key of verify_keys, and every such signature must verify.
//
// This is the reference server's rule (it looks for a signature by a
// listed verify key and refuses the object when there is none or when it
// does not verify); it does not require every listed key to have signed,
// so that a server that lists a key it does not sign with is still
// readable. Signatures by keys that are not in verify_keys (a notary's own
// key, say) are ignored here.
//
// Keys of algorithms other than ed25519 are skipped, as the specification
// says to ignore algorithms one does not understand. Numbers are read in
// canonicaljson.Lenient mode, as the reference server reads them; the
// timestamps must be integers.
func ParseServerKeys(raw []byte) (*ServerKeys, error) {
	c, err := canonicaljson.Canonicalize(raw, canonicaljson.Lenient)
	if err != nil {
		return nil, &ServerKeysError{Reason: "not acceptable JSON", Err: err}
	}
	if c[0] != '{' {
		return nil, &ServerKeysError{Reason: "not a JSON object"}
	}
	k := &ServerKeys{
		VerifyKeys:    map[KeyID]ed25519.PublicKey{},
		OldVerifyKeys: map[KeyID]OldKey{},
		Raw:           raw,
	}
	var fields struct {
		name, until, verify, old, sigs []byte
	}
	members(c, func(m member) bool {
		switch m.keyText() {
		case "server_name":
			fields.name = m.value
		case "valid_until_ts":
			fields.until = m.value
		case "verify_keys":
			fields.verify = m.value
		case "old_verify_keys":
			fields.old = m.value
		case "signatures":
			fields.sigs = m.value
		}
		return true
	})

	name, ok := stringValue(fields.name)
	if !ok || len(name) == 0 {
		return nil, missingOr(fields.name, "server_name", "not a non-empty string")
	}
	k.ServerName = string(name)
	if k.ValidUntilTS, err = intValue(fields.until); err != nil {
		return nil, missingOr(fields.until, "valid_until_ts", err.Error())
	}
	if fields.verify == nil || fields.verify[0] != '{' {
		return nil, missingOr(fields.verify, "verify_keys", "not an object")
	}
	if err := eachKey(fields.verify, "verify_keys", func(id KeyID, field string, obj []byte) error {
		pub, err := keyField(obj, field)
		if err != nil {
			return err
		}
		k.VerifyKeys[id] = pub
		return nil
	}); err != nil {
		return nil, err
	}
	if fields.old != nil {
		if fields.old[0] != '{' {
			return nil, &ServerKeysError{Field: "old_verify_keys", Reason: "not an object"}
		}
		if err := eachKey(fields.old, "old_verify_keys", func(id KeyID, field string, obj []byte) error {
			pub, err := keyField(obj, field)
			if err != nil {
				return err
			}
			var ts []byte
			members(obj, func(m member) bool {
				if m.keyIs("expired_ts") {
					ts = m.value
				}
				return true
			})
			expired, err := intValue(ts)
			if err != nil {
				return missingOr(ts, field+".expired_ts", err.Error())
			}
			k.OldVerifyKeys[id] = OldKey{Key: pub, ExpiredTS: expired}
			return nil
		}); err != nil {
			return nil, err
		}
	}

	signed, sigs, _ := signedParts(make([]byte, 0, len(c)), c)
	err = verifyParts(signed, sigs, k.ServerName, func(id KeyID) (ed25519.PublicKey, bool) {
		pub, ok := k.VerifyKeys[id]
		return pub, ok
	})
	if err != nil {
		return nil, &ServerKeysError{Field: "signatures", Reason: "not signed by the server with a key of verify_keys", Err: err}
	}
	return k, nil
}

// ParseServerKeysFor is ParseServerKeys for keys fetched for serverName:
// it also requires server_name to be serverName, as a server must check
// of the answer to its own request.
func ParseServerKeysFor(raw []byte, serverName string) (*ServerKeys, error) {
	k, err := ParseServerKeys(raw)
	if err != nil {
		return nil, err
	}
	if k.ServerName != serverName {
		return nil, &ServerKeysError{Field: "server_name", Reason: fmt.Sprintf("%q, but the keys of %q were asked for", truncate(k.ServerName), truncate(serverName))}
	}
	return k, nil
}

func missingOr(v []byte, field, reason string) error {
	if v == nil {
		return &ServerKeysError{Field: field, Reason: "missing"}
	}
	return &ServerKeysError{Field: field, Reason: reason}
}

// eachKey calls fn for each ed25519 entry of a verify_keys or
// old_verify_keys object, after checking that the entry is an object.
func eachKey(obj []byte, name string, fn func(id KeyID, field string, entry []byte) error) error {
	var err error
	members(obj, func(m member) bool {
		id := KeyID(m.keyText())
		// The reference server takes the entries whose ID starts with
		// "ed25519:" (even with an empty version) and ignores the rest.
		if !strings.HasPrefix(string(id), AlgorithmEd25519+":") {
			return true
		}
		field := name + "[" + strconv.Quote(string(id)) + "]"
		if m.value[0] != '{' {
			err = &ServerKeysError{Field: field, Reason: "not an object"}
			return false
		}
		err = fn(id, field, m.value)
		return err == nil
	})
	return err
}

// keyField decodes the "key" member of a verify key entry.
func keyField(entry []byte, field string) (ed25519.PublicKey, error) {
	var v []byte
	members(entry, func(m member) bool {
		if m.keyIs("key") {
			v = m.value
		}
		return true
	})
	s, ok := stringValue(v)
	if !ok {
		return nil, missingOr(v, field+".key", "not a string")
	}
	b, err := base64.AppendDecodeLenient(nil, s)
	if err != nil {
		return nil, &ServerKeysError{Field: field + ".key", Err: fmt.Errorf("%w: %v", ErrBadBase64, err)}
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, &ServerKeysError{Field: field + ".key", Reason: fmt.Sprintf("%d bytes, want %d", len(b), ed25519.PublicKeySize)}
	}
	return ed25519.PublicKey(b), nil
}

// intValue reads a canonical JSON integer that fits in an int64.
func intValue(v []byte) (int64, error) {
	if v == nil {
		return 0, errors.New("missing")
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer in the int64 range", truncate(string(v)))
	}
	return n, nil
}

// MakeServerKeys produces the server keys object of serverName, as
// canonical JSON, signed by each of keys (which become verify_keys) and
// listing old (may be nil) as old_verify_keys. validUntilTS is
// valid_until_ts; the specification asks that it be at least an hour
// ahead, and other servers will not trust it beyond seven days.
func MakeServerKeys(serverName string, validUntilTS int64, keys []*SigningKey, old map[KeyID]OldKey) ([]byte, error) {
	if !validName(serverName) {
		return nil, fmt.Errorf("signing: server name %q: must be non-empty UTF-8", serverName)
	}
	if len(keys) == 0 {
		return nil, errors.New("signing: no signing key for the server keys")
	}
	type keyJSON struct {
		Key string `json:"key"`
	}
	type oldJSON struct {
		ExpiredTS int64  `json:"expired_ts"`
		Key       string `json:"key"`
	}
	doc := struct {
		OldVerifyKeys map[KeyID]oldJSON `json:"old_verify_keys"`
		ServerName    string            `json:"server_name"`
		ValidUntilTS  int64             `json:"valid_until_ts"`
		VerifyKeys    map[KeyID]keyJSON `json:"verify_keys"`
	}{
		OldVerifyKeys: map[KeyID]oldJSON{},
		ServerName:    serverName,
		ValidUntilTS:  validUntilTS,
		VerifyKeys:    map[KeyID]keyJSON{},
	}
	for _, k := range keys {
		if err := k.check(); err != nil {
			return nil, err
		}
		if _, dup := doc.VerifyKeys[k.ID]; dup {
			return nil, fmt.Errorf("signing: key ID %s given twice", k.ID)
		}
		doc.VerifyKeys[k.ID] = keyJSON{Key: base64.EncodeToString(k.Public())}
	}
	for id, o := range old {
		if _, err := ParseKeyID(string(id)); err != nil {
			return nil, err
		}
		if len(o.Key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("signing: old key %s: %d bytes, want %d", id, len(o.Key), ed25519.PublicKeySize)
		}
		if _, dup := doc.VerifyKeys[id]; dup {
			return nil, fmt.Errorf("signing: key ID %s is both a verify key and an old key", id)
		}
		doc.OldVerifyKeys[id] = oldJSON{ExpiredTS: o.ExpiredTS, Key: base64.EncodeToString(o.Key)}
	}
	out, err := canonicaljson.Marshal(doc, canonicaljson.Strict)
	if err != nil {
		return nil, fmt.Errorf("signing: server keys: %w", err)
	}
	for _, k := range keys {
		if out, err = SignJSON(out, serverName, k, canonicaljson.Strict); err != nil {
			return nil, err
		}
	}
	return out, nil
}
