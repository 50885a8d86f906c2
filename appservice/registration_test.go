package appservice

import (
	"errors"
	"os"
	"path/filepath"
	"regexp/syntax"
	"strings"
	"testing"
)

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRegistrationSpecExample(t *testing.T) {
	r, err := ParseRegistration(mustRead(t, "irc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "IRC Bridge" || r.URL != "http://127.0.0.1:1234" || r.SenderLocalpart != "_irc_bot" ||
		r.ASToken != "30c05ae90a248a4188e620216fa72e349803310ec83e2a77b34fe90be6081f46" ||
		r.HSToken != "312df522183efd404ec1cd22d2ffa4bbc76a8c1ccf541dd692eef281356bb74e" {
		t.Fatalf("fields: %+v", r)
	}
	if len(r.Namespaces.Users) != 1 || !r.Namespaces.Users[0].Exclusive || r.Namespaces.Users[0].Regex != "@_irc_bridge_.*" {
		t.Fatalf("users: %+v", r.Namespaces.Users)
	}
	if len(r.Namespaces.Aliases) != 1 || r.Namespaces.Aliases[0].Exclusive {
		t.Fatalf("aliases: %+v", r.Namespaces.Aliases)
	}
	if r.Namespaces.Rooms == nil || len(r.Namespaces.Rooms) != 0 {
		t.Fatalf("rooms: %#v", r.Namespaces.Rooms)
	}
	// No rate_limited key: Synapse's default, true.
	if !r.RateLimited || r.ReceiveEphemeral || r.Protocols != nil {
		t.Fatalf("defaults: %+v", r)
	}
	if got := r.SenderUserID("example.org"); got != "@_irc_bot:example.org" {
		t.Fatalf("sender %q", got)
	}
	if !r.UserInNamespace("@_irc_bridge_bob:example.org") || r.UserInNamespace("@bob:example.org") {
		t.Fatal("namespace matching")
	}
}

func TestParseRegistrationVariants(t *testing.T) {
	r, err := ParseRegistration(mustRead(t, "telegram.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The trailing slash goes, as in Synapse (url.rstrip("/")).
	if r.URL != "http://localhost:29317" {
		t.Fatalf("url %q", r.URL)
	}
	if r.RateLimited || !r.ReceiveEphemeral || len(r.Protocols) != 1 || r.Protocols[0] != "telegram" {
		t.Fatalf("options: %+v", r)
	}
	if len(r.Namespaces.Users) != 2 || !r.Namespaces.Aliases[0].Matches("#telegram_x:example.org") {
		t.Fatalf("namespaces: %+v", r.Namespaces)
	}
	if !r.ProvidesProtocol("telegram") || r.ProvidesProtocol("irc") {
		t.Fatal("ProvidesProtocol")
	}

	// JSON is YAML; url null means no traffic; YAML 1.1 booleans (PyYAML,
	// which Synapse uses) are booleans.
	r, err = ParseRegistration(mustRead(t, "synapse11.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if r.URL != "" || r.RateLimited || !r.Namespaces.Users[0].Exclusive || r.Namespaces.Rooms[0].Exclusive {
		t.Fatalf("%+v", r)
	}
}

const baseYAML = `id: bridge
url: "http://127.0.0.1:9000"
as_token: "as"
hs_token: "hs"
sender_localpart: "bot"
namespaces:
  users:
    - exclusive: true
      regex: "@b_.*"
`

// TestParseRegistrationErrors: every refusal names the field and the line.
func TestParseRegistrationErrors(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(baseYAML, old) {
			t.Fatalf("base has no %q", old)
		}
		return strings.Replace(baseYAML, old, new, 1)
	}
	tests := []struct {
		name  string
		in    string
		field string
		line  int
		cause error // optional errors.As/Is target check
	}{
		{"not yaml", "id: [", "", 0, nil},
		{"empty", "", "", 0, nil},
		{"not a mapping", "- a\n- b\n", "", 1, nil},
		{"missing id", replace("id: bridge\n", ""), "id", 1, nil},
		{"missing url", replace("url: \"http://127.0.0.1:9000\"\n", ""), "url", 1, nil},
		{"missing as_token", replace("as_token: \"as\"\n", ""), "as_token", 1, nil},
		{"missing hs_token", replace("hs_token: \"hs\"\n", ""), "hs_token", 1, nil},
		{"missing sender", replace("sender_localpart: \"bot\"\n", ""), "sender_localpart", 1, nil},
		{"missing namespaces", strings.SplitAfter(baseYAML, "\"bot\"\n")[0], "namespaces", 1, nil},
		{"id int", replace("id: bridge", "id: 12"), "id", 1, nil},
		{"id empty", replace("id: bridge", `id: ""`), "id", 1, nil},
		{"id pipe", replace("id: bridge", `id: "a|b"`), "id", 1, nil},
		{"url number", replace(`url: "http://127.0.0.1:9000"`, "url: 5"), "url", 2, nil},
		{"url no scheme", replace(`url: "http://127.0.0.1:9000"`, "url: 127.0.0.1:9000"), "url", 2, nil},
		{"url ftp", replace(`url: "http://127.0.0.1:9000"`, "url: ftp://h/"), "url", 2, nil},
		{"as_token empty", replace(`as_token: "as"`, `as_token: ""`), "as_token", 3, nil},
		{"as_token number", replace(`as_token: "as"`, `as_token: 1234`), "as_token", 3, nil},
		{"hs_token bool", replace(`hs_token: "hs"`, `hs_token: yes`), "hs_token", 4, nil},
		{"sender space", replace(`sender_localpart: "bot"`, `sender_localpart: "my bot"`), "sender_localpart", 5, nil},
		{"sender colon", replace(`sender_localpart: "bot"`, `sender_localpart: "bot:x"`), "sender_localpart", 5, nil},
		{"namespaces list", replace("namespaces:\n  users:\n    - exclusive: true\n      regex: \"@b_.*\"\n", "namespaces: []\n"), "namespaces", 6, nil},
		{"users null", replace("  users:\n    - exclusive: true\n      regex: \"@b_.*\"\n", "  users:\n"), "namespaces.users", 7, nil},
		{"users map", replace("  users:\n    - exclusive: true\n      regex: \"@b_.*\"\n", "  users: {a: b}\n"), "namespaces.users", 7, nil},
		{"entry scalar", replace("    - exclusive: true\n      regex: \"@b_.*\"\n", "    - \"@b_.*\"\n"), "namespaces.users[0]", 8, nil},
		{"regex missing", replace("      regex: \"@b_.*\"\n", ""), "namespaces.users[0].regex", 8, nil},
		{"exclusive missing", replace("    - exclusive: true\n      regex", "    - regex"), "namespaces.users[0].exclusive", 8, nil},
		{"exclusive string", replace("exclusive: true", `exclusive: "true"`), "namespaces.users[0].exclusive", 8, nil},
		{"regex number", replace(`regex: "@b_.*"`, "regex: 5"), "namespaces.users[0].regex", 9, nil},
		{"regex invalid", replace(`regex: "@b_.*"`, `regex: "@b_(.*"`), "namespaces.users[0].regex", 9, &syntax.Error{}},
		{"regex lookahead", replace(`regex: "@b_.*"`, `regex: "@(?!admin).*"`), "namespaces.users[0].regex", 9, &syntax.Error{}},
		{"duplicate key", baseYAML + "id: other\n", "id", 10, nil},
		{"rate_limited string", baseYAML + "rate_limited: \"no\"\n", "rate_limited", 10, nil},
		{"receive_ephemeral int", baseYAML + "receive_ephemeral: 1\n", "receive_ephemeral", 10, nil},
		{"protocols string", baseYAML + "protocols: irc\n", "protocols", 10, nil},
		{"protocols item", baseYAML + "protocols: [irc, 5]\n", "protocols[1]", 10, nil},
		{"protocols empty item", baseYAML + "protocols: [\"\"]\n", "protocols[0]", 10, nil},
		{"merge key", replace("    - exclusive: true\n      regex: \"@b_.*\"\n", "    - &a {exclusive: true, regex: \"@b_.*\"}\n    - <<: *a\n"), "namespaces.users[1]", 9, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRegistration([]byte(tc.in))
			if err == nil {
				t.Fatalf("accepted: %+v", r)
			}
			if !errors.Is(err, ErrInvalidRegistration) {
				t.Fatalf("not ErrInvalidRegistration: %v", err)
			}
			var re *RegistrationError
			if !errors.As(err, &re) {
				t.Fatalf("not a *RegistrationError: %T", err)
			}
			if re.Field != tc.field || re.Line != tc.line {
				t.Fatalf("field %q line %d, want %q line %d (%v)", re.Field, re.Line, tc.field, tc.line, err)
			}
			if tc.cause != nil {
				target := tc.cause.(*syntax.Error)
				if !errors.As(err, &target) {
					t.Fatalf("cause is not %T: %v", tc.cause, err)
				}
			}
			if strings.Contains(err.Error(), `"as"`) && tc.field != "as_token" {
				// Errors name fields, never echo tokens.
				t.Fatalf("token in message: %v", err)
			}
		})
	}
}

func TestValidateBuiltInGo(t *testing.T) {
	ns, err := NewNamespace("@x_.*", true)
	if err != nil {
		t.Fatal(err)
	}
	r := &Registration{ID: "x", URL: "https://as.example/", ASToken: "a", HSToken: "h", SenderLocalpart: "xbot",
		Namespaces: Namespaces{Users: []Namespace{ns}, Rooms: []Namespace{{Regex: "!a.*"}}}}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.URL != "https://as.example" || !r.RoomInNamespace("!abc:x") {
		t.Fatalf("%+v", r)
	}
	if _, err := NewNamespace("(", false); !errors.Is(err, ErrInvalidRegistration) {
		t.Fatalf("NewNamespace(\"(\"): %v", err)
	}
	bad := &Registration{ID: "x", ASToken: "a", HSToken: "h", SenderLocalpart: "b",
		Namespaces: Namespaces{Aliases: []Namespace{{Regex: "#[a"}}}}
	var re *RegistrationError
	if err := bad.Validate(); !errors.As(err, &re) || re.Field != "namespaces.aliases[0].regex" {
		t.Fatalf("Validate: %v", err)
	}
	// An unvalidated namespace never panics and matches nothing if broken.
	if (&Namespace{Regex: "#[a"}).Matches("#[a") {
		t.Fatal("broken regex matched")
	}
	for _, f := range []func(*Registration){
		func(r *Registration) { r.ASToken = "" },
		func(r *Registration) { r.HSToken = "" },
		func(r *Registration) { r.SenderLocalpart = "" },
		func(r *Registration) { r.ID = "" },
		func(r *Registration) { r.URL = "localhost:8080" },
		func(r *Registration) { r.URL = "http://h/?q=1" },
		func(r *Registration) { r.Protocols = []string{""} },
	} {
		c := &Registration{ID: "x", ASToken: "a", HSToken: "h", SenderLocalpart: "b"}
		f(c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidRegistration) {
			t.Errorf("%+v: Validate = %v", c, err)
		}
	}
}

// FuzzParseRegistration: never a panic; an accepted file has every
// required field, and parsing is deterministic.
func FuzzParseRegistration(f *testing.F) {
	for _, name := range []string{"irc.yaml", "telegram.yaml", "synapse11.yaml"} {
		f.Add(mustRead(f, name))
	}
	f.Add([]byte(baseYAML))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("id: !!binary aGk=\n"))
	f.Add([]byte("{id: x, url: ~, as_token: a, hs_token: b, sender_localpart: c, namespaces: {}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRegistration(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidRegistration) {
				t.Fatalf("error does not match ErrInvalidRegistration: %v", err)
			}
			return
		}
		if r.ID == "" || r.ASToken == "" || r.HSToken == "" || r.SenderLocalpart == "" {
			t.Fatalf("accepted with an empty required field: %+v", r)
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("parsed registration fails Validate: %v", err)
		}
		r2, _ := ParseRegistration(data)
		if r2 == nil || r2.ID != r.ID || r2.URL != r.URL || len(r2.Namespaces.Users) != len(r.Namespaces.Users) {
			t.Fatal("not deterministic")
		}
		for _, n := range r.Namespaces.Users {
			n.Matches("@x:y")
		}
	})
}
