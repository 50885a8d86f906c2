package redact_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
)

type vectorFile struct {
	Cases []vectorCase `json:"cases"`
}

type vectorCase struct {
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	InputText *string         `json:"input_text"`
	Expect    []struct {
		Versions string          `json:"versions"`
		Output   json.RawMessage `json:"output"`
		Error    string          `json:"error"`
	} `json:"expect"`
}

func (c vectorCase) input() []byte {
	if c.InputText != nil {
		return []byte(*c.InputText)
	}
	return c.Input
}

func loadVectors(t testing.TB) []vectorCase {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no vectors")
	}
	return f.Cases
}

// versionRange parses "3" or "1-10" into the room version identifiers it
// names.
func versionRange(t *testing.T, s string) []string {
	t.Helper()
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 1 || b > 12 || a > b {
		t.Fatalf("bad version range %q", s)
	}
	var ids []string
	for n := a; n <= b; n++ {
		ids = append(ids, strconv.Itoa(n))
	}
	return ids
}

var sentinels = map[string]error{
	"syntax":     canonicaljson.ErrSyntax,
	"duplicate":  canonicaljson.ErrDuplicateKey,
	"number":     canonicaljson.ErrNumber,
	"utf8":       canonicaljson.ErrInvalidUTF8,
	"depth":      canonicaljson.ErrTooDeep,
	"not_object": redact.ErrNotObject,
	"type":       redact.ErrType,
	"content":    redact.ErrContent,
}

func TestVectors(t *testing.T) {
	for _, c := range loadVectors(t) {
		t.Run(c.Name, func(t *testing.T) {
			in := c.input()
			seen := map[string]bool{}
			for _, e := range c.Expect {
				for _, id := range versionRange(t, e.Versions) {
					if seen[id] {
						t.Fatalf("version %s listed twice", id)
					}
					seen[id] = true
					v, err := roomversion.Get(id)
					if err != nil {
						t.Fatal(err)
					}
					got, err := redact.Redact(v, in)
					if e.Error != "" {
						want, ok := sentinels[e.Error]
						if !ok {
							t.Fatalf("unknown error name %q", e.Error)
						}
						if got != nil || !errors.Is(err, want) {
							t.Errorf("v%s: got (%s, %v), want no output and error %s", id, got, err, e.Error)
						}
						var re *redact.Error
						if err != nil && !errors.As(err, &re) {
							t.Errorf("v%s: error %T is not a *redact.Error", id, err)
						}
						continue
					}
					if err != nil {
						t.Errorf("v%s: %v", id, err)
						continue
					}
					want, err := canonicaljson.Canonicalize(e.Output, redact.Mode(v))
					if err != nil {
						t.Fatalf("v%s: expected output: %v", id, err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("v%s:\n got %s\nwant %s", id, got, want)
					}
					checkProperties(t, v, in, got)
				}
			}
			if len(seen) != 12 {
				t.Errorf("the case covers %d room versions, want all 12", len(seen))
			}
		})
	}
}

// checkProperties checks what must hold of every successful redaction.
func checkProperties(t *testing.T, v roomversion.Version, in, out []byte) {
	t.Helper()
	mode := redact.Mode(v)
	if !canonicaljson.IsCanonical(out, mode) {
		t.Errorf("v%s: output is not canonical JSON: %s", v.ID, out)
	}
	again, err := redact.Redact(v, out)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("v%s: not idempotent:\n once  %s\n twice %s (%v)", v.ID, out, again, err)
	}
	// Append adds to what dst holds and gives the same bytes.
	prefix := []byte("prefix")
	app, err := redact.Append(prefix, v, in)
	if err != nil || !bytes.Equal(app, append([]byte("prefix"), out...)) {
		t.Errorf("v%s: Append gave %s (%v)", v.ID, app, err)
	}
	// The fast path agrees on input that is valid.
	if canonicaljson.Valid(in, mode) == nil {
		fast, err := redact.AppendValidated(nil, v, in)
		if err != nil || !bytes.Equal(fast, out) {
			t.Errorf("v%s: AppendValidated gave %s (%v)", v.ID, fast, err)
		}
		// And the canonical path, on the input made canonical.
		canon, err := canonicaljson.Canonicalize(in, mode)
		if err != nil {
			t.Fatalf("v%s: canonicalize: %v", v.ID, err)
		}
		got, err := redact.AppendCanonical([]byte("prefix"), v, canon)
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), out...)) {
			t.Errorf("v%s: AppendCanonical gave %s (%v)", v.ID, got, err)
		}
	}
}

// TestRulesFromFieldsOnly shows that the version's fields, not its
// identifier, choose the rules: a version called "11" with the rules of
// room version 1 redacts as room version 1 does, and the reverse.
func TestRulesFromFieldsOnly(t *testing.T) {
	v1AsEleven := roomversion.V1
	v1AsEleven.ID = "11"
	v11AsOne := roomversion.V11
	v11AsOne.ID = "1"
	for _, c := range loadVectors(t) {
		in := c.input()
		for _, pair := range []struct{ fake, real roomversion.Version }{
			{v1AsEleven, roomversion.V1}, {v11AsOne, roomversion.V11},
		} {
			got, gotErr := redact.Redact(pair.fake, in)
			want, wantErr := redact.Redact(pair.real, in)
			if !bytes.Equal(got, want) || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("%s: rules of v%s under ID %q: got %s (%v), want %s (%v)",
					c.Name, pair.real.ID, pair.fake.ID, got, gotErr, want, wantErr)
			}
		}
	}
}

// TestEachRuleField flips one redaction field at a time on room version 1
// and checks that exactly the content it names changes.
func TestEachRuleField(t *testing.T) {
	type fieldCase struct {
		field string
		set   func(*roomversion.RedactionRules)
		event string
		off   string // content (or top level) without the rule
		on    string // with it
	}
	cases := []fieldCase{
		{"KeepOriginMembershipPrevState", func(r *roomversion.RedactionRules) { r.KeepOriginMembershipPrevState = false },
			`{"type":"x","origin":"o","membership":"m","prev_state":[],"content":{}}`,
			`{"content":{},"membership":"m","origin":"o","prev_state":[],"type":"x"}`,
			`{"content":{},"type":"x"}`},
		{"KeepAliases", func(r *roomversion.RedactionRules) { r.KeepAliases = false },
			`{"type":"m.room.aliases","content":{"aliases":["#a:b"]}}`,
			`{"content":{"aliases":["#a:b"]},"type":"m.room.aliases"}`,
			`{"content":{},"type":"m.room.aliases"}`},
		{"KeepJoinRulesAllow", func(r *roomversion.RedactionRules) { r.KeepJoinRulesAllow = true },
			`{"type":"m.room.join_rules","content":{"join_rule":"restricted","allow":[]}}`,
			`{"content":{"join_rule":"restricted"},"type":"m.room.join_rules"}`,
			`{"content":{"allow":[],"join_rule":"restricted"},"type":"m.room.join_rules"}`},
		{"KeepJoinAuthorisedVia", func(r *roomversion.RedactionRules) { r.KeepJoinAuthorisedVia = true },
			`{"type":"m.room.member","content":{"membership":"join","join_authorised_via_users_server":"@a:b"}}`,
			`{"content":{"membership":"join"},"type":"m.room.member"}`,
			`{"content":{"join_authorised_via_users_server":"@a:b","membership":"join"},"type":"m.room.member"}`},
		{"KeepAllCreateContent", func(r *roomversion.RedactionRules) { r.KeepAllCreateContent = true },
			`{"type":"m.room.create","content":{"creator":"@a:b","room_version":"1"}}`,
			`{"content":{"creator":"@a:b"},"type":"m.room.create"}`,
			`{"content":{"creator":"@a:b","room_version":"1"},"type":"m.room.create"}`},
		{"KeepPowerLevelsInvite", func(r *roomversion.RedactionRules) { r.KeepPowerLevelsInvite = true },
			`{"type":"m.room.power_levels","content":{"invite":0,"kick":50}}`,
			`{"content":{"kick":50},"type":"m.room.power_levels"}`,
			`{"content":{"invite":0,"kick":50},"type":"m.room.power_levels"}`},
		{"KeepRedactionRedacts", func(r *roomversion.RedactionRules) { r.KeepRedactionRedacts = true },
			`{"type":"m.room.redaction","content":{"redacts":"$e"}}`,
			`{"content":{},"type":"m.room.redaction"}`,
			`{"content":{"redacts":"$e"},"type":"m.room.redaction"}`},
		{"KeepThirdPartyInviteSigned", func(r *roomversion.RedactionRules) { r.KeepThirdPartyInviteSigned = true },
			`{"type":"m.room.member","content":{"membership":"invite","third_party_invite":{"signed":{"token":"t"},"display_name":"d"}}}`,
			`{"content":{"membership":"invite"},"type":"m.room.member"}`,
			`{"content":{"membership":"invite","third_party_invite":{"signed":{"token":"t"}}},"type":"m.room.member"}`},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			base := roomversion.V1
			flipped := base
			c.set(&flipped.Redaction)
			before, err := redact.Redact(base, []byte(c.event))
			if err != nil || string(before) != c.off {
				t.Errorf("room version 1: got %s (%v), want %s", before, err, c.off)
			}
			after, err := redact.Redact(flipped, []byte(c.event))
			if err != nil || string(after) != c.on {
				t.Errorf("with %s flipped: got %s (%v), want %s", c.field, after, err, c.on)
			}
		})
	}
}

// deep returns an event whose unsigned value nests n arrays.
func deep(n int) []byte {
	return []byte(`{"type":"m.room.message","content":{},"unsigned":` +
		strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
}

// TestAgreesWithValid checks that Redact refuses exactly the inputs that
// canonicaljson refuses, on inputs where the event's shape is right, at
// the edges: nesting at the limit, bad UTF-8 and control characters in
// keys and values that are dropped.
func TestAgreesWithValid(t *testing.T) {
	inputs := map[string][]byte{
		"nesting at the limit":      deep(canonicaljson.MaxDepth - 1),
		"nesting over the limit":    deep(canonicaljson.MaxDepth),
		"deep kept value at limit":  []byte(`{"type":"x","content":{},"signatures":` + strings.Repeat("[", canonicaljson.MaxDepth-1) + strings.Repeat("]", canonicaljson.MaxDepth-1) + `}`),
		"deep kept value over":      []byte(`{"type":"x","content":{},"signatures":` + strings.Repeat("[", canonicaljson.MaxDepth) + strings.Repeat("]", canonicaljson.MaxDepth) + `}`),
		"deep content":              []byte(`{"type":"m.room.member","content":{"membership":"join","x":` + strings.Repeat("[", canonicaljson.MaxDepth-1) + strings.Repeat("]", canonicaljson.MaxDepth-1) + `}}`),
		"deep kept content value":   []byte(`{"type":"m.room.member","content":{"membership":` + strings.Repeat("[", canonicaljson.MaxDepth-1) + strings.Repeat("]", canonicaljson.MaxDepth-1) + `}}`),
		"bad UTF-8 in dropped key":  []byte("{\"type\":\"x\",\"content\":{},\"\xff\":1}"),
		"bad UTF-8 in dropped val":  []byte("{\"type\":\"x\",\"content\":{},\"unsigned\":\"\xc3\"}"),
		"bad UTF-8 in content key":  []byte("{\"type\":\"m.room.member\",\"content\":{\"membership\":\"join\",\"\xed\xa0\x80\":1}}"),
		"control char in a key":     []byte("{\"type\":\"x\",\"content\":{},\"a\x01\":1}"),
		"control char in a value":   []byte("{\"type\":\"x\",\"content\":{\"body\":\"a\nb\"}}"),
		"lone surrogate escape":     []byte(`{"type":"x","content":{"body":"\ud800"}}`),
		"lone surrogate in key":     []byte(`{"type":"x","content":{},"\udc00":1}`),
		"bad escape":                []byte(`{"type":"x","content":{},"unsigned":"\q"}`),
		"valid escapes everywhere":  []byte(`{"type":"x","content":{"b\u00e9":"\"\\\/\b\f\n\r\t\u0001\ud83d\ude00"},"u\"":1}`),
		"number forms":              []byte(`{"type":"x","content":{"a":-0,"b":1e2,"c":1E+2,"d":10.0}}`),
		"leading zero":              []byte(`{"type":"x","content":{"a":01}}`),
		"many dropped keys":         manyKeys(40, false),
		"many dropped keys, a dup":  manyKeys(40, true),
		"whitespace around":         []byte(" \t\r\n{ \"type\" : \"x\" , \"content\" : { } } \n"),
		"non-JSON whitespace":       []byte("\v{\"type\":\"x\"}"),
		"unterminated in container": []byte(`{"type":"x","content":{"a":["]}}`),
	}
	for name, in := range inputs {
		for _, v := range roomversion.Known() {
			mode := redact.Mode(v)
			validErr := canonicaljson.Valid(in, mode)
			out, err := redact.Redact(v, in)
			if (err == nil) != (validErr == nil) {
				t.Errorf("%s, v%s: Redact error %v, canonicaljson.Valid error %v", name, v.ID, err, validErr)
				continue
			}
			if err == nil {
				checkProperties(t, v, in, out)
				continue
			}
			// Same reason as canonicaljson gives.
			var want, got *canonicaljson.Error
			errors.As(validErr, &want)
			if !errors.As(err, &got) || !errors.Is(err, want.Err) {
				t.Errorf("%s, v%s: error %v, want one wrapping %v", name, v.ID, err, want.Err)
			}
		}
	}
}

func manyKeys(n int, dup bool) []byte {
	var b strings.Builder
	b.WriteString(`{"type":"x","content":{}`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}
	if dup {
		b.WriteString(`,"k17":0`)
	}
	b.WriteString("}")
	return []byte(b.String())
}

func TestErrorsSayWhereAndWhat(t *testing.T) {
	cases := []struct {
		in     string
		field  string
		offset int64
		text   string
	}{
		{`{"type":"m.room.message","content":{},"unsigned":{"a":tru}}`, "unsigned", 57, `redact: "unsigned": canonicaljson:`},
		{`{"type":"m.room.message","content":{},"type":"x"}`, "type", 38, `duplicate key "type"`},
		{`{"type":"m.room.member","content":{"membership":"join","reason":1,"reason":2}}`, "content.reason", 66, `"content.reason"`},
		{`{"type":"m.room.message","content":"hi"}`, "content", 35, `redact: "content": the event's content is not a JSON object at offset 35`},
		{`{"content":{}}`, "type", 0, `type is missing`},
		{`[]`, "", 0, `not a JSON object at offset 0`},
		{`{"type":"x","content":{},"depth":1.5}`, "depth", 33, `redact: "depth": canonicaljson:`},
		{`{"type":"m.room.power_levels","content":{"users":{"@a:b":1.5}}}`, "content.users", 57, `redact: "content.users": canonicaljson:`},
		{`{"type":"m.room.create","content":{"x":1.5}}`, "content", 39, `redact: "content": canonicaljson:`},
		{`{"type":"x",`, "", 12, `at offset 12`},
		{`{"type":"x","content":{"a":"unterminated}`, "content", 27, `unterminated string`},
	}
	for _, c := range cases {
		_, err := redact.Redact(roomversion.V11, []byte(c.in))
		var re *redact.Error
		if !errors.As(err, &re) {
			t.Errorf("%s: error %v, want a *redact.Error", c.in, err)
			continue
		}
		if re.Field != c.field || re.Offset != c.offset || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got field %q offset %d %q; want field %q offset %d, text with %q",
				c.in, re.Field, re.Offset, err, c.field, c.offset, c.text)
		}
		var ce *canonicaljson.Error
		if errors.As(err, &ce) && ce.Offset != re.Offset {
			t.Errorf("%s: canonicaljson offset %d, redact offset %d", c.in, ce.Offset, re.Offset)
		}
	}
}

func TestAppendKeepsDstOnError(t *testing.T) {
	dst := []byte("keep")
	for _, f := range []func([]byte, roomversion.Version, []byte) ([]byte, error){redact.Append, redact.AppendValidated} {
		got, err := f(dst, roomversion.V12, []byte(`{"type":"x","content":{},"sender":01}`))
		if err == nil || string(got) != "keep" {
			t.Errorf("got %q, %v; want dst unchanged and an error", got, err)
		}
	}
}

func TestAppendValidatedDoesNotAllocateIntoBuffer(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	msg, err := os.ReadFile("testdata/bench_message.json")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := redact.AppendValidated(buf[:0], roomversion.V11, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := redact.Append(buf[:0], roomversion.V11, msg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

// TestTruncatedInputs cuts every vector and benchmark event at every
// byte: what canonicaljson refuses Redact must refuse, and neither Redact
// nor AppendValidated may panic on the way.
func TestTruncatedInputs(t *testing.T) {
	var inputs [][]byte
	for _, c := range loadVectors(t) {
		inputs = append(inputs, c.input())
	}
	for _, name := range []string{"testdata/bench_message.json", "testdata/bench_power_levels.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, bytes.TrimSpace(data))
	}
	for _, in := range inputs {
		in = bytes.TrimSpace(in)
		for n := 0; n < len(in); n++ {
			for _, v := range []roomversion.Version{roomversion.V1, roomversion.V11} {
				if out, err := redact.Redact(v, in[:n]); err == nil && canonicaljson.Valid(in[:n], redact.Mode(v)) != nil {
					t.Errorf("v%s: %q accepted: %s", v.ID, in[:n], out)
				}
				redact.AppendValidated(nil, v, in[:n])
				redact.AppendCanonical(nil, v, in[:n])
			}
		}
	}
}

// TestAppendCanonicalTypeGuess covers the type AppendCanonical guesses
// from the end of the text: right, wrong (a later member holds an object
// with a "type" key, whose rules would keep other content), escaped, and
// absent. Every case must give Redact's bytes.
func TestAppendCanonicalTypeGuess(t *testing.T) {
	for _, in := range []string{
		`{"content":{"ban":5,"body":"x","membership":"join"},"type":"m.room.power_levels"}`,
		`{"content":{"ban":5,"body":"x","membership":"join"},"type":"m.room.member","zzz":{"type":"m.room.power_levels"}}`,
		`{"content":{"ban":5,"body":"x","membership":"join"},"type":"m.room.power_levels","zzz":{"type":"m.room.member"}}`,
		`{"content":{"ban":5,"body":"x","membership":"join"},"type":"m.room.member","zzz":["type",{"type":"m.room.member"}]}`,
		`{"content":{"ban":5,"body":"x","membership":"join"},"type":"m.room.\u0001member"}`,
		`{"content":{"ban":5,"body":"x","join_rule":"public"},"type":"m.room.join_rules","zzz":"\"type\":\"m.room.member"}`,
		`{"content":{"ban":5},"zzz":{"type":"m.room.power_levels"}}`,
		`{"content":{"ban":5},"type":5,"zzz":{"type":"m.room.power_levels"}}`,
		`{"content":"x","type":"m.room.power_levels"}`,
		`{"type":"m.room.power_levels"}`,
	} {
		for _, v := range []roomversion.Version{roomversion.V1, roomversion.V11} {
			want, wantErr := redact.Redact(v, []byte(in))
			canon, err := canonicaljson.Canonicalize([]byte(in), redact.Mode(v))
			if err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			got, err := redact.AppendCanonical(nil, v, canon)
			if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
				t.Errorf("v%s %s:\n got %s (%v)\nwant %s (%v)", v.ID, in, got, err, want, wantErr)
			}
		}
	}
}
