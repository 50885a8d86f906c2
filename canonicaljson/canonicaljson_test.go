package canonicaljson_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mxkit/mxkit/canonicaljson"
)

var sentinels = map[string]error{
	"ErrSyntax":       canonicaljson.ErrSyntax,
	"ErrDuplicateKey": canonicaljson.ErrDuplicateKey,
	"ErrInvalidUTF8":  canonicaljson.ErrInvalidUTF8,
	"ErrNumber":       canonicaljson.ErrNumber,
	"ErrTooDeep":      canonicaljson.ErrTooDeep,
}

var modes = []canonicaljson.Mode{canonicaljson.Strict, canonicaljson.Lenient}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// check canonicalizes in through every entry point and compares with want
// (or the sentinel wantErr).
func check(t *testing.T, in []byte, mode canonicaljson.Mode, want string, wantErr error) {
	t.Helper()
	got, err := canonicaljson.Canonicalize(in, mode)
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("%s: Canonicalize(%q) = %q, %v; want error %v", mode, in, got, err, wantErr)
		}
		var e *canonicaljson.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: error %T is not *Error", mode, err)
		}
		if e.Offset < 0 || e.Offset > int64(len(in)) || e.Msg == "" {
			t.Fatalf("%s: bad error %#v", mode, e)
		}
		if got != nil {
			t.Fatalf("%s: Canonicalize returned output %q with an error", mode, got)
		}
		if err := canonicaljson.Valid(in, mode); !errors.Is(err, wantErr) {
			t.Fatalf("%s: Valid = %v, want %v", mode, err, wantErr)
		}
		if canonicaljson.IsCanonical(in, mode) {
			t.Fatalf("%s: IsCanonical(%q) = true for refused input", mode, in)
		}
		dst := []byte("prefix")
		out, err := canonicaljson.Append(dst, in, mode)
		if err == nil || string(out) != "prefix" {
			t.Fatalf("%s: Append on error = %q, %v", mode, out, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: Canonicalize(%q): %v", mode, in, err)
	}
	if string(got) != want {
		t.Fatalf("%s: Canonicalize(%q)\n got %q\nwant %q", mode, in, got, want)
	}
	if out, err := canonicaljson.Append([]byte("prefix"), in, mode); err != nil || string(out) != "prefix"+want {
		t.Fatalf("%s: Append = %q, %v", mode, out, err)
	}
	if err := canonicaljson.Valid(in, mode); err != nil {
		t.Fatalf("%s: Valid: %v", mode, err)
	}
	if is := canonicaljson.IsCanonical(in, mode); is != (string(in) == want) {
		t.Fatalf("%s: IsCanonical(%q) = %v", mode, in, is)
	}
	if !canonicaljson.IsCanonical(got, mode) {
		t.Fatalf("%s: IsCanonical(output %q) = false", mode, got)
	}
	if !json.Valid(got) {
		t.Fatalf("%s: output %q is not JSON", mode, got)
	}
}

// TestSpecExamples runs every example of the specification appendix
// "Canonical JSON". In Lenient mode 1e10 is a float, written 10000000000.0
// as the reference server writes it; the spec's example is the Strict
// (room version 6+) answer.
func TestSpecExamples(t *testing.T) {
	var file struct {
		Examples []struct{ Input, Canonical, Lenient string }
	}
	readJSON(t, "spec_examples.json", &file)
	if len(file.Examples) != 10 {
		t.Fatalf("%d examples, the appendix has 10", len(file.Examples))
	}
	for _, ex := range file.Examples {
		check(t, []byte(ex.Input), canonicaljson.Strict, ex.Canonical, nil)
		check(t, []byte(ex.Input), canonicaljson.Lenient, ex.Lenient, nil)
	}
}

// TestVectors runs the grammar table: escapes, key orders, whitespace,
// numbers in both modes and every kind of refusal.
func TestVectors(t *testing.T) {
	// Each case: input (or input_hex), and for each mode either the
	// output (strict, lenient) or the sentinel (strict_error,
	// lenient_error).
	var file struct{ Cases []map[string]string }
	readJSON(t, "vectors.json", &file)
	if len(file.Cases) < 150 {
		t.Fatalf("only %d vectors", len(file.Cases))
	}
	for _, c := range file.Cases {
		t.Run(c["name"], func(t *testing.T) {
			in, ok := []byte(c["input"]), true
			if _, ok = c["input"]; !ok {
				var err error
				if in, err = hex.DecodeString(c["input_hex"]); err != nil {
					t.Fatal(err)
				}
			}
			for _, mode := range modes {
				want, hasWant := c[mode.String()]
				errName, hasErr := c[mode.String()+"_error"]
				switch {
				case hasErr:
					s, ok := sentinels[errName]
					if !ok {
						t.Fatalf("unknown error %q", errName)
					}
					check(t, in, mode, "", s)
				case hasWant:
					check(t, in, mode, want, nil)
				default:
					t.Fatalf("vector has no %s expectation", mode)
				}
			}
		})
	}
}

// TestErrorOffsets checks that errors point at the offending byte.
func TestErrorOffsets(t *testing.T) {
	for _, c := range []struct {
		in     string
		mode   canonicaljson.Mode
		err    error
		offset int64
		msg    string
	}{
		{`{"a":1,"a":2}`, canonicaljson.Strict, canonicaljson.ErrDuplicateKey, 7, `duplicate object key "a"`},
		{`{"b":1,"a":2,"b":3}`, canonicaljson.Strict, canonicaljson.ErrDuplicateKey, 13, `duplicate object key "b"`},
		{`{"a":1, "\u0061":2}`, canonicaljson.Strict, canonicaljson.ErrDuplicateKey, 8, `duplicate object key "a"`},
		{`[1, 2.5]`, canonicaljson.Strict, canonicaljson.ErrNumber, 4, "not an integer"},
		{`[9007199254740992]`, canonicaljson.Strict, canonicaljson.ErrNumber, 1, "outside"},
		{`{"a": 1e400}`, canonicaljson.Lenient, canonicaljson.ErrNumber, 6, "too large"},
		{`{"a": x}`, canonicaljson.Strict, canonicaljson.ErrSyntax, 6, "invalid character 'x'"},
		{`[1] 2`, canonicaljson.Strict, canonicaljson.ErrSyntax, 4, "after the top-level value"},
		{`"ab` + "\xff" + `"`, canonicaljson.Strict, canonicaljson.ErrInvalidUTF8, 3, "invalid UTF-8"},
		{`["x\ud800"]`, canonicaljson.Strict, canonicaljson.ErrInvalidUTF8, 3, `\ud800`},
		{`["x\udc00"]`, canonicaljson.Strict, canonicaljson.ErrInvalidUTF8, 3, "lone low surrogate"},
		{"\"a\nb\"", canonicaljson.Strict, canonicaljson.ErrSyntax, 2, "control character"},
		{`{"a":1`, canonicaljson.Strict, canonicaljson.ErrSyntax, 6, "end of input"},
		{`{"a":tru}`, canonicaljson.Strict, canonicaljson.ErrSyntax, 8, "literal true"},
		{`  `, canonicaljson.Strict, canonicaljson.ErrSyntax, 2, "end of input"},
		{strings.Repeat("[", canonicaljson.MaxDepth+1), canonicaljson.Strict, canonicaljson.ErrTooDeep, canonicaljson.MaxDepth, "nesting"},
	} {
		_, err := canonicaljson.Canonicalize([]byte(c.in), c.mode)
		var e *canonicaljson.Error
		if !errors.As(err, &e) || !errors.Is(err, c.err) {
			t.Errorf("%q: error %v, want %v", c.in, err, c.err)
			continue
		}
		if e.Offset != c.offset || !strings.Contains(e.Error(), c.msg) {
			t.Errorf("%q: got offset %d %q, want offset %d and %q", c.in, e.Offset, e.Error(), c.offset, c.msg)
		}
		if !strings.HasPrefix(e.Error(), "canonicaljson: ") || !strings.HasSuffix(e.Error(), " at offset "+itoa(c.offset)) {
			t.Errorf("%q: message %q", c.in, e.Error())
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestDepth: MaxDepth levels are fine, one more is refused, and a very
// deep document is refused without exhausting the stack.
func TestDepth(t *testing.T) {
	for _, mode := range modes {
		ok := strings.Repeat(`{"a":[`, canonicaljson.MaxDepth/2) + strings.Repeat(`]}`, canonicaljson.MaxDepth/2)
		check(t, []byte(ok), mode, ok, nil)
		deep := strings.Repeat(`[`, canonicaljson.MaxDepth+1) + strings.Repeat(`]`, canonicaljson.MaxDepth+1)
		check(t, []byte(deep), mode, "", canonicaljson.ErrTooDeep)
		huge := strings.Repeat(`[`, 1<<20)
		check(t, []byte(huge), mode, "", canonicaljson.ErrTooDeep)
	}
}

// TestKeyOrderCodePoint: keys sort by code point, which for U+FF61 and
// U+1F600 differs from UTF-16 order (0xFF61 > 0xD83D).
func TestKeyOrderCodePoint(t *testing.T) {
	keys := []string{"\U0001F600", "\uFF61", "\u00e9", "z", "\u007f", "\uFFFF", "\U00010000", "\u0800", "\u07FF", "A", ""}
	obj := map[string]int{}
	for i, k := range keys {
		obj[k] = i
	}
	got, err := canonicaljson.Marshal(obj, canonicaljson.Strict)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"":10,"A":9,"z":3,"` + "\u007f" + `":4,"é":2,"` + "\u07FF" + `":8,"` + "\u0800" + `":7,"` + "\uFF61" + `":1,"` + "\uFFFF" + `":5,"` + "\U00010000" + `":6,"` + "\U0001F600" + `":0}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestAppendWithout(t *testing.T) {
	in := []byte(`{"unsigned":{"age":1},"b":1,"signatures":{"x":{}},"a":{"signatures":2},"hashes":{"sha256":"x"},"\u0073ignatures2":0}`)
	for _, c := range []struct {
		drop []string
		want string
	}{
		{nil, `{"a":{"signatures":2},"b":1,"hashes":{"sha256":"x"},"signatures":{"x":{}},"signatures2":0,"unsigned":{"age":1}}`},
		{[]string{"signatures", "unsigned"}, `{"a":{"signatures":2},"b":1,"hashes":{"sha256":"x"},"signatures2":0}`},
		{[]string{"signatures", "unsigned", "hashes"}, `{"a":{"signatures":2},"b":1,"signatures2":0}`},
		{[]string{"a", "b", "hashes", "signatures", "signatures2", "unsigned"}, `{}`},
		{[]string{"absent"}, `{"a":{"signatures":2},"b":1,"hashes":{"sha256":"x"},"signatures":{"x":{}},"signatures2":0,"unsigned":{"age":1}}`},
	} {
		got, err := canonicaljson.AppendWithout([]byte("<"), in, canonicaljson.Strict, c.drop...)
		if err != nil || string(got) != "<"+c.want {
			t.Errorf("drop %q: got %s, %v\nwant <%s", c.drop, got, err, c.want)
		}
	}
	// Escaped keys are matched after unescaping; dropped members still
	// count for duplicates and are still checked.
	for _, c := range []struct {
		in, want string
		err      error
	}{
		{`{"\u0075nsigned":1,"x\"y":2}`, `{"x\"y":2}`, nil},
		{`{"a\nb":1,"c":2}`, `{"c":2}`, nil},
		{`{"unsigned":1,"unsigned":2}`, "", canonicaljson.ErrDuplicateKey},
		{`{"unsigned":1.5}`, "", canonicaljson.ErrNumber},
		{`{"unsigned":{"a":1,"a":2}}`, "", canonicaljson.ErrDuplicateKey},
		{`[1]`, "", canonicaljson.ErrSyntax},
		{`"unsigned"`, "", canonicaljson.ErrSyntax},
		{``, "", canonicaljson.ErrSyntax},
	} {
		got, err := canonicaljson.AppendWithout(nil, []byte(c.in), canonicaljson.Strict, "unsigned", "a\nb")
		if !errors.Is(err, c.err) || (c.err == nil && string(got) != c.want) {
			t.Errorf("%s: got %s, %v; want %s, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestMarshal(t *testing.T) {
	type content struct {
		Body string `json:"body"`
		Type string `json:"msgtype"`
	}
	type ev struct {
		Type    string          `json:"type"`
		Content content         `json:"content"`
		Depth   int64           `json:"depth"`
		Raw     json.RawMessage `json:"raw,omitempty"`
		F       float64         `json:"f"`
	}
	v := ev{Type: "m.room.message", Content: content{Body: "<b>&\u2028", Type: "m.text"}, Depth: 12, Raw: json.RawMessage(`{"z":1,"a":[1e2]}`), F: 3}
	got, err := canonicaljson.Marshal(v, canonicaljson.Strict)
	want := `{"content":{"body":"<b>&` + "\u2028" + `","msgtype":"m.text"},"depth":12,"f":3,"raw":{"a":[100],"z":1},"type":"m.room.message"}`
	if err != nil || string(got) != want {
		t.Fatalf("got %s, %v\nwant %s", got, err, want)
	}
	v.F = 0.5
	if _, err := canonicaljson.Marshal(v, canonicaljson.Strict); !errors.Is(err, canonicaljson.ErrNumber) {
		t.Fatalf("float 0.5 in Strict: %v", err)
	}
	got, err = canonicaljson.Marshal(v, canonicaljson.Lenient)
	if err != nil || !bytes.Contains(got, []byte(`"f":0.5`)) || !bytes.Contains(got, []byte(`"a":[100.0]`)) {
		t.Fatalf("Lenient: %s, %v", got, err)
	}
	if _, err := canonicaljson.Marshal(math.Inf(1), canonicaljson.Lenient); err == nil {
		t.Fatal("Marshal(+Inf) succeeded")
	}
	if _, err := canonicaljson.Marshal(func() {}, canonicaljson.Strict); err == nil {
		t.Fatal("Marshal(func) succeeded")
	}
	got, err = canonicaljson.Marshal(map[string]any{"b": []any{int64(1<<53 - 1), nil, true}, "a": "x"}, canonicaljson.Strict)
	if err != nil || string(got) != `{"a":"x","b":[9007199254740991,null,true]}` {
		t.Fatalf("map: %s, %v", got, err)
	}
}

func TestModeString(t *testing.T) {
	if canonicaljson.Strict.String() != "strict" || canonicaljson.Lenient.String() != "lenient" || canonicaljson.Mode(9).String() != "Mode(9)" {
		t.Fatal("Mode.String")
	}
	var zero canonicaljson.Mode
	if zero != canonicaljson.Strict {
		t.Fatal("the zero Mode must be Strict")
	}
}

// TestAgainstReference compares the scanner with a slow, independent
// canonicalizer built on encoding/json's tokenizer, on the vectors and on
// the benchmark events.
func TestAgainstReference(t *testing.T) {
	var inputs [][]byte
	for _, name := range []string{"event_1k.json", "event_32k.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
	}
	var file struct{ Cases []struct{ Input *string } }
	readJSON(t, "vectors.json", &file)
	for _, c := range file.Cases {
		if c.Input != nil {
			inputs = append(inputs, []byte(*c.Input))
		}
	}
	for _, in := range inputs {
		for _, mode := range modes {
			got, err := canonicaljson.Canonicalize(in, mode)
			if err != nil {
				continue // refusals are covered by the vectors
			}
			want, err := reference(in, mode)
			if err != nil {
				t.Errorf("%s %q: reference failed: %v", mode, in, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s %q:\n got %s\nwant %s", mode, in, got, want)
			}
		}
	}
}

// TestLargeObjects exercises the sort of large objects (radix on key
// prefixes, then whole keys where prefixes tie) against the reference:
// keys with long common prefixes, escaped keys, non-ASCII keys, prefixes
// of other keys, in a random order; and a duplicate hidden among them.
func TestLargeObjects(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	parts := []string{"@user", "@user:", "a", "\u00e9", "\U0001F600", "\uff61", "x\"", "\\", "\n", "0", "server.example.org"}
	for _, n := range []int{15, 16, 17, 40, 300, 3000} {
		seen := map[string]bool{}
		var keys []string
		for len(keys) < n {
			var k strings.Builder
			for range rng.IntN(5) {
				k.WriteString(parts[rng.IntN(len(parts))])
			}
			if !seen[k.String()] {
				seen[k.String()] = true
				keys = append(keys, k.String())
			}
		}
		var doc strings.Builder
		doc.WriteString("{")
		for i, k := range keys {
			if i > 0 {
				doc.WriteString(", ")
			}
			enc, _ := json.Marshal(k) // escapes <, >, & and the controls as \u00XX
			if rng.IntN(2) == 0 {
				enc = []byte(strings.ReplaceAll(string(enc), "a", `\u0061`))
			}
			doc.Write(enc)
			doc.WriteString(":")
			doc.WriteString(strconv.Itoa(i))
		}
		doc.WriteString("}")
		in := []byte(doc.String())
		got, err := canonicaljson.Canonicalize(in, canonicaljson.Strict)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		want, err := reference(in, canonicaljson.Strict)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("n=%d: differs from the reference (%v)\n got %s\nwant %s", n, err, got, want)
		}
		// The same document with one key repeated at the end.
		dup := keys[rng.IntN(len(keys))]
		enc, _ := json.Marshal(dup)
		in = append(in[:len(in)-1], []byte(`,`+string(enc)+`:0}`)...)
		_, err = canonicaljson.Canonicalize(in, canonicaljson.Strict)
		var e *canonicaljson.Error
		if !errors.As(err, &e) || !errors.Is(err, canonicaljson.ErrDuplicateKey) || e.Offset != int64(len(in)-len(enc)-3) {
			t.Fatalf("n=%d: duplicate %q: %v", n, dup, err)
		}
	}
}

// TestPythonDocuments compares Lenient mode with the reference server's
// encoder (Python's json module as the canonicaljson package configures
// it) on random documents it produced.
func TestPythonDocuments(t *testing.T) {
	var file struct{ Cases []struct{ In, Want string } }
	readJSON(t, "python_documents.json", &file)
	if len(file.Cases) < 100 {
		t.Fatalf("only %d documents", len(file.Cases))
	}
	for _, c := range file.Cases {
		check(t, []byte(c.In), canonicaljson.Lenient, c.Want, nil)
	}
}

// TestPythonFloats: in Lenient mode a number with a fraction or exponent
// is written as Python's repr of the double it reads as (fixed notation
// for decimal exponents in [-4, 16), scientific otherwise, shortest
// round-trip digits, ties as CPython breaks them). These are the rules of
// CPython's float_repr_style "short" (Python/pystrtod.c, mode 'r': an
// exponent when the decimal point position is <= -4 or > 16, ".0" added to
// integral values, exponent signed and at least two digits; its own format
// test cases include 1e15 -> 1000000000000000.0 and 1e16 -> 1e+16, and
// give values below 1e-4 an exponent). The vectors were produced by
// CPython 3.11; json.dumps writes floats with float.__repr__.
func TestPythonFloats(t *testing.T) {
	var file struct {
		Cases []struct{ Input, Python string }
	}
	readJSON(t, "python_floats.json", &file)
	if len(file.Cases) < 1000 {
		t.Fatalf("only %d cases", len(file.Cases))
	}
	for _, c := range file.Cases {
		got, err := canonicaljson.Canonicalize([]byte(c.Input), canonicaljson.Lenient)
		if err != nil || string(got) != c.Python {
			t.Errorf("%s: got %s, %v; Python writes %s", c.Input, got, err, c.Python)
		}
	}
}

// TestErrorMessagesClipped: a long key or number is not copied whole into
// the message.
func TestErrorMessagesClipped(t *testing.T) {
	long := strings.Repeat("é", 1000)
	for _, in := range []string{
		`{"` + long + `":1,"` + long + `":2}`,
		`[` + strings.Repeat("9", 5000) + `]`,
	} {
		_, err := canonicaljson.Canonicalize([]byte(in), canonicaljson.Strict)
		if err == nil || len(err.Error()) > 200 || !utf8.ValidString(err.Error()) {
			t.Errorf("error %q", err)
		}
	}
}
