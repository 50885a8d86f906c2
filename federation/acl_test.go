package federation

import "testing"

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

// FuzzParseServerACL: any content parses; a server matching its own name as
// the only allow entry (and no deny) is allowed, unless it is an IP literal
// and those are denied.
func FuzzParseServerACL(f *testing.F) {
	f.Add([]byte(`{"allow":["*"],"deny":["evil.com"],"allow_ip_literals":false}`), "evil.com:8448")
	f.Add([]byte(`{"allow":["a?c*"]}`), "abcdef")
	f.Add([]byte(`{`), "x")
	f.Fuzz(func(t *testing.T, content []byte, server string) {
		acl := ParseServerACL(content)
		acl.Allowed(server)
		host := hostOf(server)
		self := ServerACL{allow: []string{host}, allowIPLiterals: true}
		if !self.Allowed(server) {
			t.Fatalf("%q not allowed by its own host %q", server, host)
		}
	})
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
