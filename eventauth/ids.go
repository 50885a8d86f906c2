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
func validUserID(s string) bool {
	if len(s) < 3 || len(s) > 255 || s[0] != '@' || !utf8.ValidString(s) {
		return false
	}
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return false
	}
	if strings.IndexByte(s[1:i], 0) >= 0 {
		return false
	}
	return validServerName(s[i+1:])
}

// validServerName checks the server name grammar of content/appendices.md,
// "Server Name": hostname [ ":" port ], where hostname is an IPv4 literal,
// a bracketed IPv6 literal or a DNS name.
func validServerName(s string) bool {
	host := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host = s[:end+1]
		rest := s[end+1:]
		if rest != "" {
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
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host = s[:i]
		if !validPort(s[i+1:]) {
			return false
		}
	}
	if host == "" || len(host) > 255 {
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

func validPort(p string) bool {
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
