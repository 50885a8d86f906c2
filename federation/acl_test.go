package federation

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

func TestServerACL(t *testing.T) {
	for _, c := range []struct {
		name, content string
		allowed       []string
		denied        []string
	}{
		{"allow all, deny one", `{"allow":["*"],"deny":["evil.com"]}`,
			[]string{"good.com", "evil.com.au", "x.evil.com"}, []string{"evil.com", "evil.com:8448", "EVIL.COM"}},
		{"deny wins over allow", `{"allow":["*.example.org"],"deny":["bad.example.org"]}`,
			[]string{"a.example.org", "a.example.org:1234"}, []string{"bad.example.org", "example.org", "other.com"}},
		{"no allow denies all", `{"deny":[]}`, nil, []string{"any.com"}},
		{"? matches one character", `{"allow":["s?.example"]}`, []string{"s1.example", "s2.example:80"}, []string{"s.example", "s12.example"}},
		{"stars", `{"allow":["*a*b*"]}`, []string{"ab", "xaxbx", "aab"}, []string{"ba", "a", "xyz"}},
		{"IP literals allowed by default", `{"allow":["*"]}`, []string{"1.2.3.4", "[::1]", "[::1]:8448", "1.2.3.4:80"}, nil},
		{"IP literals denied", `{"allow":["*"],"allow_ip_literals":false}`, []string{"one.com", "1.2.3.4.example"}, []string{"1.2.3.4", "1.2.3.4:8448", "[2001:db8::1]", "[::1]:80"}},
		// Not a boolean: the default (true), as the schema says.
		{"allow_ip_literals not a boolean", `{"allow":["*"],"allow_ip_literals":"false"}`, []string{"1.2.3.4"}, nil},
		{"allow_ip_literals null", `{"allow":["*"],"allow_ip_literals":null}`, []string{"1.2.3.4"}, nil},
		{"entries that are not strings are ignored", `{"allow":[1,"ok.com",null],"deny":{"evil":1}}`, []string{"ok.com"}, []string{"evil", "other.com"}},
		{"deny by IP glob", `{"allow":["*"],"deny":["10.*"]}`, []string{"11.0.0.1"}, []string{"10.0.0.1", "10.0.0.1:8448"}},
		{"content not an object", `[]`, nil, []string{"a.com"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			acl := ParseServerACL([]byte(c.content))
			for _, s := range c.allowed {
				if !acl.Allowed(s) {
					t.Errorf("%s denied, want allowed", s)
				}
			}
			for _, s := range c.denied {
				if acl.Allowed(s) {
					t.Errorf("%s allowed, want denied", s)
				}
			}
		})
	}
}

// FuzzParseServerACL checks ParseServerACL and Allowed against a model
// written from the specification ("Server Access Control Lists (ACLs)",
// m.room.server_acl) with other means: the content decoded by encoding/json
// into generic values with exact keys, each glob turned into an anchored
// regular expression (content/appendices.md, "Glob-style matching": *
// any sequence, ? one character; case-insensitive, as server names are),
// and the schema's order of checks. It also keeps the property that a
// server is allowed by an ACL whose only entry is its own host.
func FuzzParseServerACL(f *testing.F) {
	f.Add([]byte(`{"allow":["*"],"deny":["evil.com"],"allow_ip_literals":false}`), "evil.com:8448")
	f.Add([]byte(`{"allow":["a?c*"]}`), "abcdef")
	f.Add([]byte(`{"allow":["*"],"allow_ip_literals":false}`), "[::1]:8448")
	f.Add([]byte(`{"ALLOW":["*"]}`), "a.com")
	f.Add([]byte(`{"allow":["*.Example.org"],"deny":["b?d.*"]}`), "bad.example.org")
	f.Add([]byte(`{"allow":["\u00e4*"],"allow_ip_literals":"no"}`), "Äx")
	f.Add([]byte(`{`), "x")
	f.Fuzz(func(t *testing.T, content []byte, server string) {
		if len(content) > 4096 || len(server) > 512 {
			return
		}
		acl := ParseServerACL(content)
		if got, want := acl.Allowed(server), modelACLAllowed(t, content, server); got != want {
			t.Fatalf("ParseServerACL(%s).Allowed(%q) = %v, the model says %v", content, server, got, want)
		}
		host := hostOf(server)
		self := ServerACL{allow: []string{host}, allowIPLiterals: true}
		if !self.Allowed(server) {
			t.Fatalf("%q not allowed by its own host %q", server, host)
		}
	})
}

// modelACLAllowed is the model of FuzzParseServerACL.
func modelACLAllowed(t *testing.T, content []byte, server string) bool {
	var m map[string]any
	if json.Unmarshal(content, &m) != nil {
		m = nil // not an object: no allow entry, so nothing is allowed
	}
	globs := func(key string) []string {
		list, _ := m[key].([]any)
		var out []string
		for _, x := range list {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	allowIP := true
	if b, ok := m["allow_ip_literals"].(bool); ok {
		allowIP = b
	}
	host := server
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i >= 0 {
			host = host[:i+1]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	ipHost := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(ipHost); err == nil && !allowIP && (ipHost == host || "["+ipHost+"]" == host) {
		return false
	}
	matches := func(glob string) bool {
		var re strings.Builder
		re.WriteString(`(?s)\A`)
		for _, r := range strings.ToLower(glob) {
			switch r {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString(`\z`)
		ok, err := regexp.MatchString(re.String(), string([]rune(strings.ToLower(host))))
		if err != nil {
			t.Fatalf("model: %v", err)
		}
		return ok
	}
	for _, g := range globs("deny") {
		if matches(g) {
			return false
		}
	}
	for _, g := range globs("allow") {
		if matches(g) {
			return true
		}
	}
	return false
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		g, s string
		want bool
	}{
		{"", "", true}, {"*", "", true}, {"?", "", false}, {"a*", "a", true},
		{"*.com", ".com", true}, {"*.com", "x.co", false}, {"**a", "a", true},
		{"ä?", "äb", true}, {"?", "ä", true}, {"A", "a", true},
	} {
		if got := globMatch(c.g, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.g, c.s, got)
		}
	}
}
