package clientapi

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidID is wrapped by the errors of the identifier validators.
var ErrInvalidID = errors.New("clientapi: invalid identifier")

// Size limits of content/client-server-api/_index.md "Size limits" and
// content/appendices.md "Identifier Grammar".
const (
	// MaxIDLength is the longest user ID, room ID, alias, event ID,
	// event type or state key, in bytes.
	MaxIDLength = 255
	// MaxEventSize is the largest event a client may cause the server to
	// send, in bytes of its JSON. The adapters reject event content that
	// alone exceeds it; the backend's event builder checks the full event.
	MaxEventSize = 65536
)

func idError(kind, id, rule string) error {
	if len(id) > 64 {
		id = id[:64] + "…"
	}
	return fmt.Errorf("%w: %s %q: %s", ErrInvalidID, kind, id, rule)
}

// ValidServerName checks a server name: hostname[:port] where hostname
// is a dotted IPv4 address, a bracketed IPv6 literal or a DNS name
// (content/appendices.md, "Server Name").
func ValidServerName(s string) error {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return idError("server name", s, "unterminated IPv6 literal")
		}
		host, port = s[:end+1], s[end+1:]
		inner := host[1 : len(host)-1]
		if len(inner) < 2 || len(inner) > 45 {
			return idError("server name", s, "IPv6 literal must be 2-45 characters")
		}
		for i := 0; i < len(inner); i++ {
			c := inner[i]
			if !(isHex(c) || c == ':' || c == '.') {
				return idError("server name", s, "bad character in IPv6 literal")
			}
		}
		if port != "" {
			if port[0] != ':' {
				return idError("server name", s, "garbage after IPv6 literal")
			}
			port = port[1:]
			if port == "" {
				return idError("server name", s, "empty port")
			}
		}
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i+1:]
			if port == "" {
				return idError("server name", s, "empty port")
			}
		}
		if host == "" || len(host) > 255 {
			return idError("server name", s, "hostname must be 1-255 characters")
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !(isAlnum(c) || c == '-' || c == '.') {
				return idError("server name", s, "hostname may contain only A-Z a-z 0-9 . -")
			}
		}
	}
	if len(port) > 5 {
		return idError("server name", s, "port must be 1-5 digits")
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return idError("server name", s, "port must be 1-5 digits")
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// splitID splits sigil+local:server at the first colon.
func splitID(kind string, sigil byte, id string) (local, server string, err error) {
	if len(id) > MaxIDLength {
		return "", "", idError(kind, id, "longer than 255 bytes")
	}
	if len(id) == 0 || id[0] != sigil {
		return "", "", idError(kind, id, fmt.Sprintf("must start with %q", sigil))
	}
	i := strings.IndexByte(id, ':')
	if i < 0 {
		return "", "", idError(kind, id, "missing ':' and server name")
	}
	local, server = id[1:i], id[i+1:]
	if err := ValidServerName(server); err != nil {
		return "", "", idError(kind, id, "bad server name")
	}
	return local, server, nil
}

// historicalLocal reports whether s is a localpart under the historical
// rule: any non-surrogate code point except ':' and NUL.
func historicalLocal(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsAny(s, ":\x00")
}

// ValidLocalpart checks a user ID localpart against the current grammar:
// one or more of a-z 0-9 . _ = - / + (content/appendices.md "User
// Identifiers").
func ValidLocalpart(local string) error {
	if local == "" {
		return idError("localpart", local, "empty")
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("._=-/+", c) >= 0) {
			return idError("localpart", local, "may contain only a-z 0-9 . _ = - / +")
		}
	}
	return nil
}

// ValidUserID checks a user ID. With historical true the localpart may be
// anything the spec's "Historical User IDs" rule accepts (any non-surrogate
// code point except ':' and NUL, even empty), as servers must for users
// that already exist; with false it must follow the current grammar, as a
// new user's ID must.
func ValidUserID(id string, historical bool) error {
	local, _, err := splitID("user ID", '@', id)
	if err != nil {
		return err
	}
	if historical {
		if !historicalLocal(local) {
			return idError("user ID", id, "localpart contains NUL or invalid UTF-8")
		}
		return nil
	}
	if err := ValidLocalpart(local); err != nil {
		return idError("user ID", id, "localpart may contain only a-z 0-9 . _ = - / +")
	}
	return nil
}

// ValidRoomID checks a room ID: "!" opaque ":" server name for room
// versions 1-11, or "!" followed by the create event's reference hash
// (no server name) for version 12 (content/appendices.md "Room IDs").
func ValidRoomID(id string) error {
	if len(id) > MaxIDLength {
		return idError("room ID", id, "longer than 255 bytes")
	}
	if len(id) < 2 || id[0] != '!' {
		return idError("room ID", id, "must start with '!' and have a localpart")
	}
	if strings.IndexByte(id, ':') < 0 {
		// Version 12: "!" + 43 unpadded URL-safe base64 characters.
		if len(id) != 44 {
			return idError("room ID", id, "missing ':' and server name")
		}
		for i := 1; i < len(id); i++ {
			c := id[i]
			if !(isAlnum(c) || c == '-' || c == '_') {
				return idError("room ID", id, "bad character in room ID hash")
			}
		}
		return nil
	}
	local, _, err := splitID("room ID", '!', id)
	if err != nil {
		return err
	}
	if !historicalLocal(local) {
		return idError("room ID", id, "localpart contains NUL or invalid UTF-8")
	}
	return nil
}

// ValidRoomAlias checks a room alias: "#" localpart ":" server name, the
// localpart any code point except ':' and NUL (content/appendices.md
// "Room Aliases").
func ValidRoomAlias(alias string) error {
	local, _, err := splitID("room alias", '#', alias)
	if err != nil {
		return err
	}
	if !historicalLocal(local) {
		return idError("room alias", alias, "localpart contains NUL or invalid UTF-8")
	}
	return nil
}

// ValidEventID checks an event ID: "$" followed by at least one
// character, at most 255 bytes, valid UTF-8 without NUL. Event IDs are
// opaque; the format by room version is the event package's business.
func ValidEventID(id string) error {
	if len(id) > MaxIDLength {
		return idError("event ID", id, "longer than 255 bytes")
	}
	if len(id) < 2 || id[0] != '$' {
		return idError("event ID", id, "must start with '$'")
	}
	if !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0 {
		return idError("event ID", id, "NUL or invalid UTF-8")
	}
	return nil
}

// ValidEventType checks an event type: non-empty, at most 255 bytes,
// valid UTF-8 without NUL.
func ValidEventType(t string) error {
	if t == "" {
		return idError("event type", t, "empty")
	}
	if len(t) > MaxIDLength {
		return idError("event type", t, "longer than 255 bytes")
	}
	if !utf8.ValidString(t) || strings.IndexByte(t, 0) >= 0 {
		return idError("event type", t, "NUL or invalid UTF-8")
	}
	return nil
}

// ValidStateKey checks a state key: at most 255 bytes of valid UTF-8
// without NUL; empty is allowed.
func ValidStateKey(k string) error {
	if len(k) > MaxIDLength {
		return idError("state key", k, "longer than 255 bytes")
	}
	if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
		return idError("state key", k, "NUL or invalid UTF-8")
	}
	return nil
}

// ServerNameOf returns the server name part of a user ID, room ID (v1-11),
// alias or event ID (v1-2): everything after the first colon.
func ServerNameOf(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		return id[i+1:]
	}
	return ""
}

// paramError turns a validator's error into 400 M_INVALID_PARAM.
func paramError(err error) *Error {
	return InvalidParam(strings.TrimPrefix(err.Error(), ErrInvalidID.Error()+": "))
}
