package eventauth

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mxkit/mxkit/roomversion"
)

func TestParseLevel(t *testing.T) {
	v1 := rulesFor(false, false) // strings and floats
	v6 := rulesFor(true, false)  // strings, no floats
	v10 := rulesFor(true, true)  // integers only
	tests := []struct {
		in   string
		r    levelRules
		n    string // the exact value, in decimal
		null bool
		ok   bool
	}{
		{`50`, v10, "50", false, true},
		{`-50`, v10, "-50", false, true},
		{`0`, v10, "0", false, true},
		{`-0`, v10, "0", false, true},
		{`9007199254740991`, v10, "9007199254740991", false, true},
		{`"50"`, v10, "0", false, false},
		{`null`, v10, "0", false, false},
		{`true`, v10, "0", false, false},
		{`{}`, v10, "0", false, false},
		{`1e2`, v10, "0", false, false},   // strict JSON: integers only
		{`50.5`, v10, "0", false, false},  // not an integer
		{`1e300`, v10, "0", false, false}, // beyond 2^53
		{`01`, v10, "0", false, false},    // not JSON
		{`0x10`, v10, "0", false, false},  // not JSON
		{`1_0`, v10, "0", false, false},   // not JSON
		{`"50"`, v6, "50", false, true},   // v1-stringy-power-levels.md
		{`"000100"`, v6, "100", false, true},
		{`"+100"`, v6, "100", false, true},
		{`"-100"`, v6, "-100", false, true},
		{`" 100 "`, v6, "100", false, true},
		{`" 00100 "`, v6, "100", false, true},
		{`" +100 "`, v6, "100", false, true},
		{`"\t-100\n"`, v6, "-100", false, true},
		{`"+-1"`, v6, "0", false, false},
		{`"1 0"`, v6, "0", false, false},
		{`""`, v6, "0", false, false},
		{`" "`, v6, "0", false, false},
		{`"+"`, v6, "0", false, false},
		{`"50.0"`, v6, "0", false, false},
		{`"5e1"`, v6, "0", false, false},
		{`"1_000"`, v6, "0", false, false},
		{`"\u0035\u0030"`, v6, "50", false, true}, // escapes are read
		{`"99999999999999999999"`, v6, "99999999999999999999", false, true},
		{`"-99999999999999999999"`, v6, "-99999999999999999999", false, true},
		{`null`, v6, "0", true, true},
		{`50.57`, v6, "0", false, false}, // floats need non-strict JSON
		{`50.57`, v1, "50", false, true}, // v1-floaty-power-levels.md
		{`-50.57`, v1, "-50", false, true},
		{`5.114698E4`, v1, "51146", false, true}, // the spec's example
		{`1e400`, v1, "0", false, false},         // outside binary64: rejected
		{`1e300`, v1, "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160", false, true},
		{`-1e300`, v1, "-1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160", false, true},
		{`123456789012345678901234567890`, v1, "123456789012345678901234567890", false, true},
		{`-123456789012345678901234567890`, v1, "-123456789012345678901234567890", false, true},
		{`9223372036854775807`, v1, "9223372036854775807", false, true},
		{`-9223372036854775808`, v1, "-9223372036854775808", false, true},
		{``, v1, "0", false, false},
		{`-`, v1, "0", false, false},
		{`"50`, v6, "0", false, false},
	}
	for _, tc := range tests {
		n, null, ok := parseLevel([]byte(tc.in), tc.r)
		if n.String() != tc.n || null != tc.null || ok != tc.ok {
			t.Errorf("parseLevel(%s, %+v) = %s, %v, %v; want %s, %v, %v", tc.in, tc.r, n, null, ok, tc.n, tc.null, tc.ok)
		}
	}
}

func TestValidUserID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"@alice:example.org", true},
		{"@alice:example.org:8448", true},
		{"@alice:1.2.3.4", true},
		{"@alice:1.2.3.4:1234", true},
		{"@alice:[1234:5678::abcd]", true},
		{"@alice:[1234:5678::abcd]:443", true},
		{"@Alice!#:example.org", true}, // historical localpart
		{"@:example.org", true},        // historical: empty localpart
		{"@al\u00e9:example.org", true},
		{"alice:example.org", false},
		{"@alice", false},
		{"@alice:", false},
		{"@alice:exa_mple.org", false},
		{"@alice:example.org:", false},
		{"@alice:example.org:123456", false},
		{"@alice:example.org:80a", false},
		{"@alice:[1234", false},
		{"@alice:[zz]", false},
		{"@alice:[1234::1]x", false},
		{"@al\x00ice:example.org", false},
		{"@al\xffice:example.org", false},
		{"@" + string(make([]byte, 250)) + ":a.b", false},
	}
	for _, tc := range tests {
		if got := validUserID(tc.id); got != tc.ok {
			t.Errorf("validUserID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestScanner(t *testing.T) {
	obj := []byte(` { "a" : 1 , "b\"c": "x\\\"y", "n": {"m.federate": false, "d": [1, {"e": "]"}]}, "u": "\u00e9\ud83d\ude00", "a": 2 } `)
	if v, ok := field(obj, "a"); !ok || string(v) != "2" {
		t.Errorf("a = %s %v, want the last value 2", v, ok)
	}
	if v, ok := field(obj, `b"c`); !ok || !stringIs(v, `x\"y`) {
		t.Errorf(`b"c = %s %v`, v, ok)
	}
	if v, ok := path(obj, "n", "m.federate"); !ok || string(v) != "false" {
		t.Errorf("n.m.federate = %s %v", v, ok)
	}
	if v, ok := field(obj, "u"); !ok || !stringIs(v, "é😀") {
		t.Errorf("u = %s %v", v, ok)
	}
	d, _ := path(obj, "n", "d")
	var elems []string
	if !arrayEach(d, func(e []byte) bool { elems = append(elems, string(e)); return true }) || len(elems) != 2 || elems[1] != `{"e": "]"}` {
		t.Errorf("array elements %q", elems)
	}
	if _, ok := field(obj, "missing"); ok {
		t.Error("found a missing key")
	}
	for _, bad := range []string{``, `[]`, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a" 1}`, `{"a":"x}`, `{"a":[1,2}`} {
		if v, ok := field([]byte(bad), "a"); ok && bad != `{"a":1` {
			t.Errorf("field(%q) = %q, want absent", bad, v)
		}
	}
	if s, ok := unescape([]byte(`\ud83d`)); !ok || s != "\ufffd" {
		t.Errorf("lone surrogate: %q %v", s, ok)
	}
	if _, ok := unescape([]byte(`\x`)); ok {
		t.Error("bad escape accepted")
	}
}

// FuzzScanner checks the content reader against encoding/json on any
// input: it never panics, and on a valid JSON object every member it
// finds is the one encoding/json finds (the last of duplicates).
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `{"a":"x\"y","b":[1,{"c":"]"}],"a":2}`, `{"users":{"@a:b":"50"},"ban":1.5e1}`,
		`{"\u0061":true}`, `[1]`, `{"a":`, `{"a":[}`, ` { } `, `{"m.federate":false}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range []levelRules{rulesFor(false, false), rulesFor(true, false), rulesFor(true, true)} {
			c, _ := parseContent(data, r, true)
			_ = c
		}
		var top map[string]json.RawMessage
		// Events are valid UTF-8 (the event package checks it), and
		// encoding/json rewrites invalid bytes: compare on valid input.
		if !utf8.Valid(data) || json.Unmarshal(data, &top) != nil {
			it, _ := newObjIter(data)
			for {
				if _, _, _, ok := it.next(); !ok {
					break
				}
			}
			arrayEach(data, func([]byte) bool { return true })
			return
		}
		for k, want := range top {
			got, ok := field(data, k)
			if !ok {
				t.Fatalf("key %q not found", k)
			}
			var a, b any
			if json.Unmarshal(got, &a) != nil || json.Unmarshal(want, &b) != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("key %q: got %s, want %s", k, got, want)
			}
			if s, ok := stringValue(got); ok {
				var ws string
				if json.Unmarshal(want, &ws) == nil && ws != s && utf8.ValidString(ws) {
					t.Fatalf("key %q: string %q, want %q", k, s, ws)
				}
			}
		}
	})
}

// BenchmarkPowerLevelsChange times the power levels change rules on the
// content alone, for sizes no valid event can reach (the 65,536-byte event
// limit allows about 2,500 users): it shows the cost is linear in the
// number of users. The baseline is json.Valid over the same content.
func BenchmarkPowerLevelsChange(b *testing.B) {
	v := roomversion.V10
	r := rulesFor(v.Event.StrictCanonicalJSON, v.Auth.IntegerPowerLevels)
	for _, n := range []int{50, 1000, 10000} {
		content := func(changed int) []byte {
			var sb strings.Builder
			sb.WriteString(`{"ban":50,"events":{"m.room.name":50,"m.room.power_levels":100},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@alice:a.test":100,"@bob:a.test":100`)
			for i := 0; i < n-2; i++ {
				lvl := i % 50
				if i == changed {
					lvl = 75
				}
				fmt.Fprintf(&sb, `,"@user%05d:a.test":%d`, i, lvl)
			}
			sb.WriteString(`},"users_default":0}`)
			return []byte(sb.String())
		}
		old, rej := parseContent(content(-1), r, true)
		if rej != nil {
			b.Fatal(rej)
		}
		next := content(n / 2)
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(next)))
			for b.Loop() {
				if rej := checkPowerLevelsContent(v, next, "@bob:a.test", nil, old, LevelOf(100)); rej != nil {
					b.Fatal(rej)
				}
			}
		})
		b.Run(fmt.Sprintf("users=%d/baseline=json.Valid", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(next)))
			for b.Loop() {
				if !json.Valid(next) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
