package jsonraw

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValueEnd(t *testing.T) {
	for _, c := range []struct {
		in    string
		at    int
		end   int
		depth int
		ok    bool
	}{
		{`"abc"`, 0, 5, 0, true},
		{`"a\"b",`, 0, 6, 0, true},
		{`"a\\"b`, 0, 5, 0, true},
		{`"0123456789abcdef\"0123456789"x`, 0, 30, 0, true}, // escape found by the eight-byte scan
		{`123,`, 0, 3, 0, true},
		{`-1.5e3}`, 0, 6, 0, true},
		{`true]`, 0, 4, 0, true},
		{`null `, 0, 4, 0, true},
		{`{}`, 0, 2, 1, true},
		{`[]`, 0, 2, 1, true},
		{`{"a":[1,{"b":"}]"}]}x`, 0, 20, 3, true},
		{`[[[]],[]]`, 0, 9, 3, true},
		{`x{"a":1}`, 1, 8, 1, true},
		// Failures: end is where reading failed.
		{``, 0, 0, 0, false},
		{`"abc`, 0, 0, 0, false},
		{`"abc\"`, 0, 0, 0, false},
		{`{"a":"b`, 0, 5, 0, false},
		{`{"a":1`, 0, 0, 0, false},
		{`[[]`, 0, 0, 0, false},
		{`,`, 0, 0, 0, false},
		{`}`, 0, 0, 0, false},
		{`abc`, 3, 3, 0, false},
	} {
		end, depth, ok := ValueEnd([]byte(c.in), c.at)
		if end != c.end || depth != c.depth || ok != c.ok {
			t.Errorf("ValueEnd(%q, %d) = %d, %d, %v; want %d, %d, %v", c.in, c.at, end, depth, ok, c.end, c.depth, c.ok)
		}
	}
}

func TestStringEnd(t *testing.T) {
	for _, c := range []struct {
		in      string
		end     int
		esc, ok bool
	}{
		{`""`, 2, false, true},
		{`"abc"x`, 5, false, true},
		{`"a\nb"`, 6, true, true},
		{`"abcdefghijklmnop\\"`, 20, true, true},
		{`"abcdefghijklmnopqrstuvwxyz"`, 28, false, true},
		{`"`, 1, false, false},
		{`"abc\`, 5, false, false},
		{`"abcdefghijklmnopqrstuvwxyz\"`, 29, false, false},
	} {
		end, esc, ok := StringEnd([]byte(c.in), 0)
		if end != c.end || esc != c.esc || ok != c.ok {
			t.Errorf("StringEnd(%q) = %d, %v, %v; want %d, %v, %v", c.in, end, esc, ok, c.end, c.esc, c.ok)
		}
	}
}

func TestMembers(t *testing.T) {
	type m struct{ key, val string }
	for _, c := range []struct {
		in        string
		want      []m
		malformed bool
	}{
		{`{}`, nil, false},
		{` { } `, nil, false},
		{`{"a":1}`, []m{{"a", "1"}}, false},
		{` { "a" : 1 , "b\"c": "x\\\"y", "n": {"d": [1, {"e": "]"}]} } `, []m{{"a", "1"}, {`b\"c`, `"x\\\"y"`}, {"n", `{"d": [1, {"e": "]"}]}`}}, false},
		{`{"a":1,"a":2}`, []m{{"a", "1"}, {"a", "2"}}, false},
		{``, nil, true},
		{`[]`, nil, true},
		{`{`, nil, true},
		{`{"a"`, nil, true},
		{`{"a":`, nil, true},
		{`{"a":1`, []m{{"a", "1"}}, true},
		{`{"a" 1}`, nil, true},
		{`{"a":"x}`, nil, true},
		{`{"a":1 "b":2}`, []m{{"a", "1"}}, true},
		{`{,"a":1}`, nil, true},
		{`{"a":1,}`, []m{{"a", "1"}}, true},
	} {
		var got []m
		it := Members([]byte(c.in))
		for it.Next() {
			got = append(got, m{string(it.Key), string(it.Value)})
			if string(it.Value) != c.in[it.ValueStart:it.End] || c.in[it.Start] != '"' {
				t.Errorf("%q: offsets %d %d %d do not match the member", c.in, it.Start, it.ValueStart, it.End)
			}
		}
		if !reflect.DeepEqual(got, c.want) || it.Malformed() != c.malformed {
			t.Errorf("%q: %q, malformed %v; want %q, %v", c.in, got, it.Malformed(), c.want, c.malformed)
		}
		if !c.malformed && strings.TrimSpace(c.in[it.Rest():]) != "" {
			t.Errorf("%q: Rest %d is not after the closing brace", c.in, it.Rest())
		}
	}
}

func TestElements(t *testing.T) {
	for _, c := range []struct {
		in        string
		want      []string
		malformed bool
	}{
		{`[]`, nil, false},
		{` [ ] `, nil, false},
		{`[1]`, []string{"1"}, false},
		{`[ 1 , "a]" , {"b":[2]} ]`, []string{"1", `"a]"`, `{"b":[2]}`}, false},
		{`{}`, nil, true},
		{`[`, nil, true},
		{`[1`, []string{"1"}, true},
		{`[1 2]`, []string{"1"}, true},
		{`[,1]`, nil, true},
		{`["a]`, nil, true},
	} {
		var got []string
		it := Elements([]byte(c.in))
		for it.Next() {
			got = append(got, string(it.Elem))
			if string(it.Elem) != c.in[it.Start:it.End] {
				t.Errorf("%q: offsets %d %d do not match the element", c.in, it.Start, it.End)
			}
		}
		if !reflect.DeepEqual(got, c.want) || it.Malformed() != c.malformed {
			t.Errorf("%q: %q, malformed %v; want %q, %v", c.in, got, it.Malformed(), c.want, c.malformed)
		}
	}
}

func TestField(t *testing.T) {
	obj := []byte(`{"a":1,"b\u0022c":"x","\u00e9":true,"a":2,"n":{"m":null}}`)
	for _, c := range []struct {
		name, want string
		ok         bool
	}{
		{"a", "1", true}, // the first of duplicates: see Field
		{`b"c`, `"x"`, true},
		{"é", "true", true},
		{"n", `{"m":null}`, true},
		{"m", "", false},
		{"", "", false},
	} {
		v, ok := Field(obj, c.name)
		if string(v) != c.want || ok != c.ok {
			t.Errorf("Field(%q) = %s, %v; want %s, %v", c.name, v, ok, c.want, c.ok)
		}
	}
	if _, ok := Field([]byte(`[1]`), "a"); ok {
		t.Error("found a field in an array")
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct {
		in   string // a JSON value
		text string // its text; "" with ok false when it has none
		ok   bool
	}{
		{`""`, "", true},
		{`"abc"`, "abc", true},
		{`"a\"b\\c\/d"`, `a"b\c/d`, true},
		{`"\b\f\n\r\t"`, "\b\f\n\r\t", true},
		{`"\u00e9\u00E9"`, "éé", true},
		{`"\ud83d\ude00!"`, "😀!", true},
		{`"\ud83d"`, "\ufffd", true}, // lone surrogates read as encoding/json reads them
		{`"\ude00\ud83d"`, "\ufffd\ufffd", true},
		{`"\ud83dx"`, "\ufffdx", true},
		{`"\ud83d\u0041"`, "\ufffdA", true},
		{`"é"`, "é", true},
		{`"\x"`, "", false},
		{`"\u12"`, "", false},
		{`"\u12g4"`, "", false},
		{`"\"`, "", false},
		{`1`, "", false},
		{`"abc`, "", false},
		{`{}`, "", false},
	} {
		got, ok := Unquote([]byte(c.in))
		if got != c.text || ok != c.ok {
			t.Errorf("Unquote(%s) = %q, %v; want %q, %v", c.in, got, ok, c.text, c.ok)
		}
		if StringIs([]byte(c.in), c.text) != c.ok {
			t.Errorf("StringIs(%s, %q) = %v", c.in, c.text, !c.ok)
		}
		if c.ok && StringIs([]byte(c.in), c.text+"x") {
			t.Errorf("StringIs(%s, %q) is true", c.in, c.text+"x")
		}
		inner, esc, isStr := String([]byte(c.in))
		if !isStr || !c.ok {
			continue
		}
		if esc != strings.Contains(c.in, `\`) {
			t.Errorf("String(%s): escaped %v", c.in, esc)
		}
		for _, other := range []string{"", c.text, c.text + "\x00", "a", "\uffff", "😀", c.text[:len(c.text)/2]} {
			if got, want := Compare(inner, esc, other), strings.Compare(c.text, other); got != want {
				t.Errorf("Compare(%s, %q) = %d, want %d", c.in, other, got, want)
			}
			if got := Equal(inner, esc, other); got != (c.text == other) {
				t.Errorf("Equal(%s, %q) = %v", c.in, other, got)
			}
		}
	}
	if Equal([]byte(`a\x`), true, `a`) || Equal([]byte(`a\x`), true, `a\x`) {
		t.Error("an invalid escape is equal to something")
	}
}

func TestAppendString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{"a\"b\\c/d", `"a\"b\\c/d"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"é😀", `"é😀"`},
	} {
		got := AppendString([]byte("x"), c.in)
		if string(got) != "x"+c.want {
			t.Errorf("AppendString(%q) = %s, want x%s", c.in, got, c.want)
		}
		if back, ok := Unquote(got[1:]); !ok || back != c.in {
			t.Errorf("AppendString(%q) does not read back: %q %v", c.in, back, ok)
		}
	}
}

// FuzzJSONRaw checks the readers on any input: they never panic, and on
// valid JSON they read what encoding/json reads.
func FuzzJSONRaw(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `{"a":"x\"y","b":[1,{"c":"]"}],"a":2}`, `{"\u0061":true, "b" : [ ] }`,
		`[1, "two", {"3": [4]}]`, `"\ud83d\ude00\ud83d"`, `{"a":`, `{"a":[}`, ` { } `, `"\x"`, `-0.5e+3`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		i := SkipSpace(data, 0)
		end, _, ok := ValueEnd(data, i)
		if end < 0 || end > len(data) {
			t.Fatalf("ValueEnd = %d out of range", end)
		}
		walkAll(data)
		// encoding/json replaces invalid UTF-8: compare on valid input.
		if !utf8.Valid(data) || !json.Valid(data) {
			return
		}
		if !ok || strings.TrimSpace(string(data[end:])) != "" {
			t.Fatalf("ValueEnd(%q) = %d, %v on valid JSON", data, end, ok)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		checkSame(t, data[i:end], v)
	})
}

// walkAll runs every reader over b, for the fuzzer's never-panics check.
func walkAll(b []byte) {
	o := Members(b)
	for o.Next() {
		Equal(o.Key, o.KeyEscaped, "a")
		Compare(o.Key, o.KeyEscaped, "a")
		Unquote(o.Value)
		walkAll(o.Value)
	}
	a := Elements(b)
	for a.Next() {
		walkAll(a.Elem)
	}
	Unescape(nil, b)
	Compare(b, true, "a")
	Field(b, "a")
}

// checkSame checks that raw, a valid JSON value, reads as v (what
// encoding/json decodes) with the readers of this package.
func checkSame(t *testing.T, raw []byte, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		o := Members(raw)
		last := map[string][]byte{}
		for o.Next() {
			k, ok := Unquote(append(append([]byte{'"'}, o.Key...), '"'))
			if !ok {
				t.Fatalf("key %q does not unescape", o.Key)
			}
			last[k] = o.Value
			if !Equal(o.Key, o.KeyEscaped, k) || Compare(o.Key, o.KeyEscaped, k) != 0 {
				t.Fatalf("key %q is not equal to its text %q", o.Key, k)
			}
			if _, ok := Field(raw, k); !ok {
				t.Fatalf("Field %q not found", k)
			}
		}
		if o.Malformed() || len(last) != len(v) {
			t.Fatalf("%s: %d keys, malformed %v; encoding/json reads %d", raw, len(last), o.Malformed(), len(v))
		}
		for k, want := range v {
			got, ok := last[k]
			if !ok {
				t.Fatalf("%s: key %q not found", raw, k)
			}
			checkSame(t, got, want)
		}
	case []any:
		a := Elements(raw)
		n := 0
		for a.Next() {
			if n >= len(v) {
				t.Fatalf("%s: more elements than encoding/json reads", raw)
			}
			checkSame(t, a.Elem, v[n])
			n++
		}
		if a.Malformed() || n != len(v) {
			t.Fatalf("%s: %d elements, malformed %v; encoding/json reads %d", raw, n, a.Malformed(), len(v))
		}
	case string:
		s, ok := Unquote(raw)
		if !ok || s != v {
			t.Fatalf("%s: %q %v; encoding/json reads %q", raw, s, ok, v)
		}
		inner, esc, _ := String(raw)
		if !Equal(inner, esc, v) || Compare(inner, esc, v) != 0 {
			t.Fatalf("%s is not equal to its text %q", raw, v)
		}
	default:
		var w any
		if err := json.Unmarshal(raw, &w); err != nil || !reflect.DeepEqual(w, v) {
			t.Fatalf("%s: reads as %v (%v), want %v", raw, w, err, v)
		}
	}
}

// benchObject is a member event's content with the field looked for last.
var benchObject = []byte(`{"avatar_url":"mxc://example.org/SEsfnsuifSDFSSEF","displayname":"Alice Margatroid","is_direct":false,"reason":"Looking for support","third_party_invite":{"display_name":"alice","signed":{"mxid":"@alice:example.org","token":"abc123"}},"membership":"join"}`)

func BenchmarkField(b *testing.B) {
	b.Run("jsonraw", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchObject)))
		for b.Loop() {
			if v, ok := Field(benchObject, "membership"); !ok || !StringIs(v, "join") {
				b.Fatal("not found")
			}
		}
	})
	b.Run("baseline=encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchObject)))
		for b.Loop() {
			var c struct {
				Membership string `json:"membership"`
			}
			if err := json.Unmarshal(benchObject, &c); err != nil || c.Membership != "join" {
				b.Fatal("not found", err)
			}
		}
	})
}

func BenchmarkValueEnd(b *testing.B) {
	b.Run("jsonraw", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchObject)))
		for b.Loop() {
			if end, _, ok := ValueEnd(benchObject, 0); !ok || end != len(benchObject) {
				b.Fatal("bad end")
			}
		}
	})
	b.Run("baseline=json.Valid", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchObject)))
		for b.Loop() {
			if !json.Valid(benchObject) {
				b.Fatal("invalid")
			}
		}
	})
}

func BenchmarkUnquote(b *testing.B) {
	s := []byte(`"Alice \"the admin\" Margatroid \u00e9\ud83d\ude00"`)
	b.Run("jsonraw", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			inner, _, _ := String(s)
			if _, ok := Unescape(buf[:0], inner); !ok {
				b.Fatal("bad string")
			}
		}
	})
	b.Run("baseline=encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out string
			if err := json.Unmarshal(s, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
