package eventauth

import (
	"strings"
	"unicode/utf8"
)

// domainOf returns what follows the first colon of a Matrix identifier
// (user ID, room ID of room versions 1-11, event ID of versions 1-2):
// "@alice:example.org:8448" has the domain "example.org:8448". An
// identifier without a colon has the domain "".
func domainOf(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		return id[i+1:]
	}
	return ""
}

// validUserID reports whether s is a user ID that servers must accept
// (specification, content/appendices.md, "User Identifiers" and "Historical
// User IDs"): "@", a localpart of any code points except ":" and NUL (the
// historical set, possibly empty), ":", a server name, at most 255 bytes.
func validUserID[S ~string | ~[]byte](s S) bool {
	if len(s) < 3 || len(s) > 255 || s[0] != '@' {
		return false
	}
	i := -1
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == ':' {
			i = j
			break
		}
		if c == 0 {
			return false
		}
	}
	if i < 0 {
		return false
	}
	// The localpart may hold any code points (historical IDs), but they
	// must be UTF-8.
	for j := 1; j < i; j++ {
		if s[j] >= utf8.RuneSelf {
			r, size := decodeRune(s[j:i])
			if r == utf8.RuneError && size <= 1 {
				return false
			}
			j += size - 1
		}
	}
	return validServerName(s[i+1:])
}

func decodeRune[S ~string | ~[]byte](s S) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	return utf8.RuneError, 0
}

// validServerName checks the server name grammar of content/appendices.md,
// "Server Name": hostname [ ":" port ], where hostname is an IPv4 literal,
// a bracketed IPv6 literal or a DNS name.
func validServerName[S ~string | ~[]byte](s S) bool {
	host := s
	if len(s) > 0 && s[0] == '[' {
		end := -1
		for j := 0; j < len(s); j++ {
			if s[j] == ']' {
				end = j
				break
			}
		}
		if end < 0 {
			return false
		}
		host = s[:end+1]
		rest := s[end+1:]
		if len(rest) > 0 {
			if rest[0] != ':' || !validPort(rest[1:]) {
				return false
			}
		}
		ip := host[1 : len(host)-1]
		if len(ip) < 2 || len(ip) > 45 {
			return false
		}
		for i := 0; i < len(ip); i++ {
			c := ip[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			host = s[:i]
			if !validPort(s[i+1:]) {
				return false
			}
			break
		}
	}
	if len(host) == 0 || len(host) > 255 {
		return false
	}
	// A dotted-quad IPv4 literal is also a valid dns-name by the grammar,
	// so one character check covers both.
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func validPort[S ~string | ~[]byte](p S) bool {
	if len(p) < 1 || len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}
