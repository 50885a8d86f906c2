package federation

import (
	"encoding/json"
	"net/netip"
	"strings"
)

// ServerACL is the content of a room's m.room.server_acl state event, as the
// servers of the room apply it to requests (content/client-server-api, module
// "Server Access Control Lists (ACLs) for rooms", and the event's schema;
// content/server-server-api.md, "Server Access Control Lists (ACLs)").
type ServerACL struct {
	allow, deny     []string
	allowIPLiterals bool
}

// ParseServerACL reads the content of an m.room.server_acl event. It never
// fails: entries that are not strings are ignored, an allow or deny that is
// not a list is empty, and allow_ip_literals that is not a boolean is true,
// as the schema says ("Defaults to true if missing or otherwise not a
// boolean") and as the reference server reads them.
func ParseServerACL(content []byte) ServerACL {
	// A map, not a struct: encoding/json matches struct fields without
	// regard to case, and "ALLOW" is not the allow key.
	var raw map[string]json.RawMessage
	acl := ServerACL{allowIPLiterals: true}
	if json.Unmarshal(content, &raw) != nil {
		return acl
	}
	acl.allow = stringEntries(raw["allow"])
	acl.deny = stringEntries(raw["deny"])
	var b bool
	if ip := raw["allow_ip_literals"]; json.Unmarshal(ip, &b) == nil && len(ip) > 0 && ip[0] != 'n' {
		acl.allowIPLiterals = b
	}
	return acl
}

func stringEntries(raw json.RawMessage) []string {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// Allowed reports whether serverName may take part in the room, in the
// schema's order: an IP literal is denied when allow_ip_literals is false;
// then a deny match denies; then an allow match allows; else deny. The port is
// not considered. Globs are matched case-insensitively (server names are DNS
// names), as the reference server does.
func (a ServerACL) Allowed(serverName string) bool {
	host := hostOf(serverName)
	if !a.allowIPLiterals && isIPLiteral(host) {
		return false
	}
	for _, g := range a.deny {
		if globMatch(g, host) {
			return false
		}
	}
	for _, g := range a.allow {
		if globMatch(g, host) {
			return true
		}
	}
	return false
}

// hostOf strips the port of a server name: "h:8448" -> "h", "[::1]:8448" -> "[::1]".
func hostOf(name string) string {
	if strings.HasPrefix(name, "[") {
		if i := strings.IndexByte(name, ']'); i >= 0 {
			return name[:i+1]
		}
		return name
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		return name[:i]
	}
	return name
}

func isIPLiteral(host string) bool {
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		_, err := netip.ParseAddr(host[1 : len(host)-1])
		return err == nil
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// globMatch matches s against the glob g of content/appendices.md, "Glob-style
// matching": * any sequence (also empty), ? exactly one character;
// case-insensitive. Iterative with backtracking to the last star, so the cost
// is at most len(g)*len(s).
func globMatch(g, s string) bool {
	g, s = strings.ToLower(g), strings.ToLower(s)
	gr, sr := []rune(g), []rune(s)
	gi, si := 0, 0
	star, mark := -1, 0
	for si < len(sr) {
		switch {
		case gi < len(gr) && (gr[gi] == '?' || gr[gi] == sr[si]):
			gi++
			si++
		case gi < len(gr) && gr[gi] == '*':
			star, mark = gi, si
			gi++
		case star >= 0:
			gi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for gi < len(gr) && gr[gi] == '*' {
		gi++
	}
	return gi == len(gr)
}
