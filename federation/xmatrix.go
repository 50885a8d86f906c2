package federation

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/signing"
)

// XMatrix is the content of an "Authorization: X-Matrix ..." header
// (specification, "Request Authentication", content/server-server-api.md).
type XMatrix struct {
	// Origin is the server name of the sender (before delegation).
	Origin string
	// Destination is the server name of the receiver; empty when the
	// header did not carry it (older servers).
	Destination string
	// Key is the ID of the key that made Sig.
	Key signing.KeyID
	// Sig is the signature, unpadded base64 as sent.
	Sig string
}

// ErrXMatrix is wrapped by every error of ParseXMatrix.
var ErrXMatrix = errors.New("invalid X-Matrix authorization header")

// XMatrixError says what is wrong with an X-Matrix header and where.
type XMatrixError struct {
	Offset int    // byte offset in the header value
	Param  string // the parameter concerned, if any
	Reason string
}

func (e *XMatrixError) Error() string {
	s := fmt.Sprintf("federation: invalid X-Matrix header at offset %d", e.Offset)
	if e.Param != "" {
		s += ": parameter " + e.Param
	}
	return s + ": " + e.Reason
}

// Unwrap returns ErrXMatrix.
func (e *XMatrixError) Unwrap() error { return ErrXMatrix }

// maxXMatrixLen bounds the header parsed; real headers are a few hundred bytes.
const maxXMatrixLen = 8192

// ParseXMatrix parses the value of an Authorization header with the
// X-Matrix scheme, following RFC 9110 section 11.4 as the specification
// asks: the scheme name is case-insensitive and followed by one or more
// spaces; parameters are name=value pairs separated by commas with optional
// spaces and tabs around them (empty list elements are skipped); names are
// case-insensitive; values are tokens or quoted strings whose backslash
// escapes are undone. As the specification asks of recipients, unquoted
// values may contain colons (and, since older senders do not quote them,
// the other characters of server names and base64: '/', '+', '=' , '[', ']').
//
// The parameters read are origin, destination, key and sig. The
// specification's list of parameters calls the signature "signature", but
// its example, its sample code and every implementation (Synapse, ruma,
// gomatrixserverlib) use "sig": ParseXMatrix reads "sig" and, only when it is
// absent, "signature". Unknown parameters are ignored. A parameter given
// twice is an error (RFC 9110: each name at most once), as are a missing
// origin, key or signature, and an origin that is not a server name.
func ParseXMatrix(header string) (XMatrix, error) {
	var x XMatrix
	if len(header) > maxXMatrixLen {
		return x, &XMatrixError{Reason: fmt.Sprintf("longer than %d bytes", maxXMatrixLen)}
	}
	const scheme = "X-Matrix"
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return x, &XMatrixError{Reason: "scheme is not X-Matrix"}
	}
	i := len(scheme)
	if i >= len(header) || header[i] != ' ' {
		return x, &XMatrixError{Offset: i, Reason: "expected a space after the scheme"}
	}
	for i < len(header) && header[i] == ' ' {
		i++
	}
	var seen [5]bool // origin, destination, key, sig, signature
	var sigAlt string
	for {
		// OWS and empty list elements.
		for i < len(header) && (header[i] == ' ' || header[i] == '\t' || header[i] == ',') {
			i++
		}
		if i >= len(header) {
			break
		}
		start := i
		for i < len(header) && isTchar(header[i]) {
			i++
		}
		if i == start {
			return x, &XMatrixError{Offset: i, Reason: fmt.Sprintf("unexpected %q where a parameter name should be", header[i])}
		}
		name := header[start:i]
		for i < len(header) && (header[i] == ' ' || header[i] == '\t') {
			i++
		}
		if i >= len(header) || header[i] != '=' {
			return x, &XMatrixError{Offset: i, Param: name, Reason: "expected '='"}
		}
		i++
		for i < len(header) && (header[i] == ' ' || header[i] == '\t') {
			i++
		}
		var value string
		if i < len(header) && header[i] == '"' {
			v, n, err := unquote(header, i)
			if err != nil {
				err.Param = name
				return x, err
			}
			value, i = v, n
		} else {
			vs := i
			for i < len(header) && isValueChar(header[i]) {
				i++
			}
			if i == vs {
				return x, &XMatrixError{Offset: i, Param: name, Reason: "empty value"}
			}
			value = header[vs:i]
		}
		for i < len(header) && (header[i] == ' ' || header[i] == '\t') {
			i++
		}
		if i < len(header) && header[i] != ',' {
			return x, &XMatrixError{Offset: i, Param: name, Reason: fmt.Sprintf("unexpected %q after the value", header[i])}
		}
		slot := -1
		switch {
		case strings.EqualFold(name, "origin"):
			slot, x.Origin = 0, value
		case strings.EqualFold(name, "destination"):
			slot, x.Destination = 1, value
		case strings.EqualFold(name, "key"):
			slot, x.Key = 2, signing.KeyID(value)
		case strings.EqualFold(name, "sig"):
			slot, x.Sig = 3, value
		case strings.EqualFold(name, "signature"):
			slot, sigAlt = 4, value
		}
		if slot >= 0 {
			if seen[slot] {
				return x, &XMatrixError{Offset: start, Param: name, Reason: "given more than once"}
			}
			seen[slot] = true
		}
	}
	if !seen[3] && seen[4] {
		x.Sig, seen[3] = sigAlt, true
	}
	switch {
	case !seen[0]:
		return x, &XMatrixError{Offset: len(header), Param: "origin", Reason: "missing"}
	case !seen[2]:
		return x, &XMatrixError{Offset: len(header), Param: "key", Reason: "missing"}
	case !seen[3]:
		return x, &XMatrixError{Offset: len(header), Param: "sig", Reason: "missing"}
	}
	if x.Key == "" {
		return x, &XMatrixError{Param: "key", Reason: "empty"}
	}
	if x.Sig == "" {
		return x, &XMatrixError{Param: "sig", Reason: "empty"}
	}
	if !validServerName(x.Origin) {
		return x, &XMatrixError{Param: "origin", Reason: fmt.Sprintf("%q is not a server name", truncate(x.Origin))}
	}
	if seen[1] && !validServerName(x.Destination) {
		return x, &XMatrixError{Param: "destination", Reason: fmt.Sprintf("%q is not a server name", truncate(x.Destination))}
	}
	return x, nil
}

// unquote reads the quoted-string starting at h[i] == '"'.
func unquote(h string, i int) (string, int, *XMatrixError) {
	start := i
	i++
	var b []byte // nil until an escape is met
	seg := i
	for i < len(h) {
		c := h[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			i++
			continue
		}
		switch {
		case c == '"':
			if b == nil {
				return h[seg:i], i + 1, nil
			}
			b = append(b, h[seg:i]...)
			return string(b), i + 1, nil
		case c == '\\':
			if i+1 >= len(h) {
				return "", i, &XMatrixError{Offset: i, Reason: "backslash at the end of the header"}
			}
			if e := h[i+1]; e < 0x20 && e != '\t' || e == 0x7f {
				return "", i, &XMatrixError{Offset: i + 1, Reason: fmt.Sprintf("control character %q escaped in a quoted value", e)}
			}
			b = append(b, h[seg:i]...)
			b = append(b, h[i+1])
			i += 2
			seg = i
			continue
		case c < 0x20 && c != '\t' || c == 0x7f:
			return "", i, &XMatrixError{Offset: i, Reason: fmt.Sprintf("control character %q in a quoted value", c)}
		}
		i++
	}
	return "", start, &XMatrixError{Offset: start, Reason: "unterminated quoted value"}
}

// Character classes of the header grammar, as tables: the parser looks
// at every byte of a header on each federation request.
var tchars, valueChars [256]bool

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
		tchars[c] = t
		valueChars[c] = t || b == ':' || b == '/' || b == '=' || b == '[' || b == ']'
	}
}

// isTchar reports whether c is a tchar of RFC 9110 section 5.6.2.
func isTchar(c byte) bool { return tchars[c] }

// isValueChar is what an unquoted value may hold: a tchar, or one of the
// characters that server names, key IDs and base64 signatures use and that
// older senders leave unquoted.
func isValueChar(c byte) bool { return valueChars[c] }

// String returns the header value, as the specification asks senders to
// write it: one space after the scheme, lower-case names, no space around
// commas, every value quoted. Quotes and backslashes in values are escaped
// (they never occur in valid server names, key IDs or base64).
func (x XMatrix) String() string {
	b := make([]byte, 0, 48+len(x.Origin)+len(x.Destination)+len(x.Key)+len(x.Sig))
	b = append(b, "X-Matrix origin="...)
	b = appendQuoted(b, x.Origin)
	if x.Destination != "" {
		b = append(b, ",destination="...)
		b = appendQuoted(b, x.Destination)
	}
	b = append(b, ",key="...)
	b = appendQuoted(b, string(x.Key))
	b = append(b, ",sig="...)
	b = appendQuoted(b, x.Sig)
	return string(b)
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// requestJSON appends the canonical JSON object that X-Matrix signs:
// {"content":...,"destination":...,"method":...,"origin":...,"uri":...}
// with "content" left out when content is empty. The keys are written in
// canonical order and the string values are encoded by canonicaljson, so
// one pass over content is all the work.
//
// Numbers in content are written as the reference server writes them
// (canonicaljson.Lenient): request bodies are not events of a room version,
// and Synapse signs and checks them with its canonical JSON encoder, which
// accepts floats.
func requestJSON(dst []byte, method, uri, origin, destination string, content []byte) ([]byte, error) {
	dst = append(dst, '{')
	if len(content) > 0 {
		dst = append(dst, `"content":`...)
		var err error
		dst, err = canonicaljson.Append(dst, content, canonicaljson.Lenient)
		if err != nil {
			return dst, fmt.Errorf("federation: request body: %w", err)
		}
		dst = append(dst, ',')
	}
	dst = append(dst, `"destination":`...)
	dst = appendJSONString(dst, destination)
	dst = append(dst, `,"method":`...)
	dst = appendJSONString(dst, method)
	dst = append(dst, `,"origin":`...)
	dst = appendJSONString(dst, origin)
	dst = append(dst, `,"uri":`...)
	dst = appendJSONString(dst, uri)
	return append(dst, '}'), nil
}

// appendJSONString appends s as a canonical JSON string. Invalid UTF-8 is
// replaced by U+FFFD, as a JSON encoder of the peer would have to do.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"':
			dst = append(dst, '\\', '"')
		case r == '\\':
			dst = append(dst, '\\', '\\')
		case r < 0x20:
			switch r {
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
			}
		default:
			dst = append(dst, string(r)...)
		}
	}
	return append(dst, '"')
}

// SignRequest signs an outgoing request and returns the Authorization
// header value. method is the HTTP method, requestURI the path with "?"
// and the query if any (no scheme, no host: "/_matrix/federation/v1/..."),
// origin and destination the server names before delegation, and content
// the JSON body (nil or empty when there is none).
func SignRequest(method, requestURI, origin, destination string, content []byte, key *signing.SigningKey) (string, error) {
	if key == nil {
		return "", errors.New("federation: SignRequest: nil key")
	}
	msg, err := requestJSON(make([]byte, 0, 128+len(content)), method, requestURI, origin, destination, content)
	if err != nil {
		return "", err
	}
	if len(key.Private) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("federation: SignRequest: private key of %d bytes", len(key.Private))
	}
	sig := ed25519.Sign(key.Private, msg)
	return XMatrix{Origin: origin, Destination: destination, Key: key.ID, Sig: base64.EncodeToString(sig)}.String(), nil
}
