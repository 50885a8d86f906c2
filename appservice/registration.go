package appservice

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalidRegistration is matched (errors.Is) by every error that
// ParseRegistration and Registration.Validate return.
var ErrInvalidRegistration = errors.New("invalid application service registration")

// RegistrationError says what is wrong in a registration: the field (a path
// such as "namespaces.users[1].regex"), where it is in the file (1-based
// line and column; 0 when unknown, e.g. for a Registration built in Go), and
// why. Err, when set, is the underlying cause (a *regexp/syntax.Error for a
// bad regex, a YAML syntax error).
type RegistrationError struct {
	Field  string
	Line   int
	Column int
	Msg    string
	Err    error
}

func (e *RegistrationError) Error() string {
	var b strings.Builder
	b.WriteString("appservice registration: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d column %d: ", e.Line, e.Column)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *RegistrationError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidRegistration.
func (e *RegistrationError) Is(target error) bool { return target == ErrInvalidRegistration }

// Registration is an application service's registration: what the
// homeserver knows of it and the application service knows of itself
// (content/application-service-api.md, "Registration";
// data/api/application-service/definitions/registration.yaml).
//
// A Registration made by ParseRegistration is valid and has its namespace
// regular expressions compiled. One built in Go must go through Validate
// (NewRegistry calls it) before the matching methods are used.
type Registration struct {
	// ID identifies the application service; unique per homeserver.
	ID string
	// URL is where the homeserver reaches the application service, without a
	// trailing slash; "" when the file says null: no traffic is sent.
	URL string
	// ASToken authenticates the application service to the homeserver.
	ASToken string
	// HSToken authenticates the homeserver to the application service.
	HSToken string
	// SenderLocalpart is the localpart of the application service's own user.
	SenderLocalpart string
	// Namespaces are the users, aliases and rooms it is interested in.
	Namespaces Namespaces
	// RateLimited says whether requests of its masqueraded users are rate
	// limited (the sender never is). The specification gives no default;
	// ParseRegistration takes an absent key as true, as Synapse does.
	RateLimited bool
	// Protocols are the third-party protocols it provides, e.g. "irc".
	Protocols []string
	// ReceiveEphemeral asks for ephemeral data (typing, receipts, presence)
	// in transactions (specification v1.13, MSC2409).
	ReceiveEphemeral bool
}

// Namespaces are the three namespace lists of a registration.
type Namespaces struct {
	Users   []Namespace
	Aliases []Namespace
	Rooms   []Namespace
}

// Namespace is one entry of a namespace list: a regular expression and
// whether the application service claims what it matches exclusively.
type Namespace struct {
	Exclusive bool
	Regex     string
	re        *regexp.Regexp
}

// NewNamespace compiles a namespace entry, for registrations built in Go.
func NewNamespace(regex string, exclusive bool) (Namespace, error) {
	re, err := compileNamespace(regex)
	if err != nil {
		return Namespace{}, &RegistrationError{Field: "regex", Msg: "invalid regular expression " + quoteClip(regex), Err: err}
	}
	return Namespace{Exclusive: exclusive, Regex: regex, re: re}, nil
}

// compileNamespace compiles a namespace regex with the matching rule of
// Synapse: Python's re.match, which anchors the match at the start of the
// string but not at its end. "@_irc_" therefore matches "@_irc_bob:example.org"
// and "@_irc_.*:example\.org" matches "@_irc_bob:example.org.evil" too; write
// a "$" to anchor the end. The specification says only "a POSIX regular
// expression"; Go's RE2 syntax is used, so Python-only constructs
// (backreferences, lookaround) are refused at parse time.
func compileNamespace(regex string) (*regexp.Regexp, error) {
	// Compiled alone first so that an error speaks of the file's regex,
	// not of the anchored form.
	if _, err := regexp.Compile(regex); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + regex + `)`)
}

// Matches reports whether s is in the namespace.
func (n *Namespace) Matches(s string) bool {
	if n.re == nil {
		// Built in Go and never validated: compile on the fly rather than
		// panic; Validate reports the error.
		re, err := compileNamespace(n.Regex)
		if err != nil {
			return false
		}
		return re.MatchString(s)
	}
	return n.re.MatchString(s)
}

// ParseRegistration parses and validates a registration file (YAML; JSON is
// YAML too). It refuses, with a *RegistrationError naming the field and line:
// a missing required field (id, url, as_token, hs_token, sender_localpart,
// namespaces), a value of the wrong type (url must be a string or an
// explicit null, not absent, so that push is not turned off by accident, as
// in Synapse), a duplicate key, an empty id or token, an id with "|" (Synapse
// reserves it), a sender_localpart with characters that need URL encoding
// (Synapse's rule), a url that is not http or https, and a namespace entry
// without a string regex and a boolean exclusive or whose regex does not
// compile. Unknown keys are ignored, as are unknown namespace lists.
//
// Scalars resolve as YAML 1.2 does, except that the YAML 1.1 booleans
// (yes/no/on/off, any case form PyYAML knows) are booleans as well: Synapse
// reads registrations with PyYAML, and files written for it use them.
func ParseRegistration(data []byte) (*Registration, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &RegistrationError{Msg: "not valid YAML", Err: err}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &RegistrationError{Msg: "empty document"}
	}
	p := parser{}
	reg := p.registration(resolve(doc.Content[0]))
	if p.err != nil {
		return nil, p.err
	}
	return reg, nil
}

// Validate checks a registration built in Go with the rules of
// ParseRegistration, compiles its namespaces and drops a trailing "/" from
// URL. It returns the first problem as a *RegistrationError.
func (r *Registration) Validate() error {
	if err := checkID(r.ID); err != nil {
		return &RegistrationError{Field: "id", Msg: err.Error()}
	}
	if r.URL != "" {
		if err := checkURL(r.URL); err != nil {
			return &RegistrationError{Field: "url", Msg: err.Error()}
		}
		r.URL = strings.TrimRight(r.URL, "/")
	}
	if r.ASToken == "" {
		return &RegistrationError{Field: "as_token", Msg: "must not be empty"}
	}
	if r.HSToken == "" {
		return &RegistrationError{Field: "hs_token", Msg: "must not be empty"}
	}
	if err := checkLocalpart(r.SenderLocalpart); err != nil {
		return &RegistrationError{Field: "sender_localpart", Msg: err.Error()}
	}
	for _, l := range []struct {
		name string
		list []Namespace
	}{{"users", r.Namespaces.Users}, {"aliases", r.Namespaces.Aliases}, {"rooms", r.Namespaces.Rooms}} {
		for i := range l.list {
			n := &l.list[i]
			re, err := compileNamespace(n.Regex)
			if err != nil {
				return &RegistrationError{Field: fmt.Sprintf("namespaces.%s[%d].regex", l.name, i), Msg: "invalid regular expression " + quoteClip(n.Regex), Err: err}
			}
			n.re = re
		}
	}
	for i, p := range r.Protocols {
		if p == "" {
			return &RegistrationError{Field: fmt.Sprintf("protocols[%d]", i), Msg: "must not be empty"}
		}
	}
	return nil
}

func checkID(id string) error {
	if id == "" {
		return errors.New("must not be empty")
	}
	if strings.Contains(id, "|") {
		return errors.New(`must not contain "|"`)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must not have a query or fragment")
	}
	return nil
}

// checkLocalpart applies Synapse's rule that the sender localpart needs no
// URL encoding (urllib.parse.quote leaves it unchanged): ASCII letters and
// digits, "_.-~", and "/" (quote's default safe character).
func checkLocalpart(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '.' || c == '-' || c == '~' || c == '/':
		default:
			return fmt.Errorf("character %q at offset %d needs URL encoding", c, i)
		}
	}
	return nil
}

func quoteClip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// parser walks the YAML node tree; it keeps the first error.
type parser struct {
	err error
}

func (p *parser) fail(n *yaml.Node, field, msg string, cause error) {
	if p.err != nil {
		return
	}
	e := &RegistrationError{Field: field, Msg: msg, Err: cause}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.err = e
}

// resolve follows aliases (bounded: an alias of an alias chain is short in
// any real file, and a cycle is impossible in yaml.v3's tree).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// fields maps the keys of a mapping node to their value nodes, refusing
// duplicate and non-string keys.
func (p *parser) fields(n *yaml.Node, field string) map[string]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		p.fail(n, field, "must be a mapping (key: value pairs), got "+kindName(n), nil)
		return nil
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode {
			p.fail(k, field, "keys must be strings", nil)
			return nil
		}
		if k.Tag == "!!merge" {
			p.fail(k, field, "merge keys (<<) are not supported", nil)
			return nil
		}
		if _, dup := m[k.Value]; dup {
			p.fail(k, join(field, k.Value), "duplicate key", nil)
			return nil
		}
		m[k.Value] = v
	}
	return m
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch {
		case isNull(n):
			return "null"
		case n.Tag == "!!str":
			return "a string"
		case n.Tag == "!!bool", yaml11Bool(n) != nil:
			return "a boolean"
		case n.Tag == "!!int":
			return "an integer"
		case n.Tag == "!!float":
			return "a number"
		}
		return "a scalar tagged " + n.Tag
	}
	return "something else"
}

func isNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// yaml11Bool returns the boolean value of a plain scalar that PyYAML (YAML
// 1.1) reads as a boolean, or nil.
func yaml11Bool(n *yaml.Node) *bool {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return nil
	}
	if n.Tag != "!!bool" && n.Tag != "!!str" {
		return nil
	}
	var v bool
	switch n.Value {
	case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		v = true
	case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		v = false
	default:
		return nil
	}
	return &v
}

func (p *parser) str(n *yaml.Node, field string) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" || yaml11Bool(n) != nil {
		p.fail(n, field, "must be a string, got "+kindName(n)+" (quote it if it looks like a number or boolean)", nil)
		return ""
	}
	return n.Value
}

func (p *parser) boolean(n *yaml.Node, field string) bool {
	if n != nil {
		if b := yaml11Bool(n); b != nil {
			return *b
		}
	}
	p.fail(n, field, "must be true or false, got "+kindName(n), nil)
	return false
}

func (p *parser) registration(root *yaml.Node) *Registration {
	m := p.fields(root, "")
	if p.err != nil {
		return nil
	}
	r := &Registration{RateLimited: true}
	required := func(key string) *yaml.Node {
		v, ok := m[key]
		if !ok {
			p.fail(root, key, "required field is missing", nil)
			return nil
		}
		return v
	}
	if v := required("id"); v != nil {
		r.ID = p.str(v, "id")
		if err := checkID(r.ID); err != nil && p.err == nil {
			p.fail(v, "id", err.Error(), nil)
		}
	}
	if v := required("url"); v != nil && !isNull(v) {
		r.URL = p.str(v, "url")
		if r.URL != "" && p.err == nil {
			if err := checkURL(r.URL); err != nil {
				p.fail(v, "url", err.Error(), nil)
			}
			r.URL = strings.TrimRight(r.URL, "/")
		}
	}
	for _, tok := range []struct {
		key string
		dst *string
	}{{"as_token", &r.ASToken}, {"hs_token", &r.HSToken}} {
		if v := required(tok.key); v != nil {
			*tok.dst = p.str(v, tok.key)
			if *tok.dst == "" && p.err == nil {
				p.fail(v, tok.key, "must not be empty", nil)
			}
		}
	}
	if v := required("sender_localpart"); v != nil {
		r.SenderLocalpart = p.str(v, "sender_localpart")
		if p.err == nil {
			if err := checkLocalpart(r.SenderLocalpart); err != nil {
				p.fail(v, "sender_localpart", err.Error(), nil)
			}
		}
	}
	if v := required("namespaces"); v != nil {
		ns := p.fields(v, "namespaces")
		if p.err == nil {
			r.Namespaces.Users = p.namespaceList(ns, "users")
			r.Namespaces.Aliases = p.namespaceList(ns, "aliases")
			r.Namespaces.Rooms = p.namespaceList(ns, "rooms")
		}
	}
	if v, ok := m["rate_limited"]; ok {
		r.RateLimited = p.boolean(v, "rate_limited")
	}
	if v, ok := m["receive_ephemeral"]; ok {
		r.ReceiveEphemeral = p.boolean(v, "receive_ephemeral")
	}
	if v, ok := m["protocols"]; ok && !isNull(v) {
		if v.Kind != yaml.SequenceNode {
			p.fail(v, "protocols", "must be a list of strings, got "+kindName(v), nil)
		} else {
			for i, item := range v.Content {
				f := fmt.Sprintf("protocols[%d]", i)
				s := p.str(resolve(item), f)
				if s == "" && p.err == nil {
					p.fail(item, f, "must not be empty", nil)
				}
				r.Protocols = append(r.Protocols, s)
			}
		}
	}
	if p.err != nil {
		return nil
	}
	return r
}

func (p *parser) namespaceList(ns map[string]*yaml.Node, name string) []Namespace {
	v, ok := ns[name]
	if !ok || p.err != nil {
		return nil
	}
	field := "namespaces." + name
	if v.Kind != yaml.SequenceNode {
		// Synapse refuses null here too (it iterates the value).
		p.fail(v, field, "must be a list, got "+kindName(v), nil)
		return nil
	}
	out := make([]Namespace, 0, len(v.Content))
	for i, item := range v.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		m := p.fields(resolve(item), f)
		if p.err != nil {
			return nil
		}
		re, ok := m["regex"]
		if !ok {
			p.fail(item, f+".regex", "required field is missing", nil)
			return nil
		}
		ex, ok := m["exclusive"]
		if !ok {
			p.fail(item, f+".exclusive", "required field is missing", nil)
			return nil
		}
		n := Namespace{Regex: p.str(re, f+".regex"), Exclusive: p.boolean(ex, f+".exclusive")}
		if p.err != nil {
			return nil
		}
		compiled, err := compileNamespace(n.Regex)
		if err != nil {
			p.fail(re, f+".regex", "invalid regular expression "+quoteClip(n.Regex), err)
			return nil
		}
		n.re = compiled
		out = append(out, n)
	}
	return out
}
