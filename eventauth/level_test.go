package eventauth

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"strconv"
	"testing"
	"unicode/utf8"
)

// TestStringLevelsPython checks string power levels against vectors taken
// from Python's int(), which the reference server applies to them.
//
// Decisions (recorded with the vectors' notes):
//   - White space around the value is what int() strips: Unicode's
//     White_Space (ASCII tab to carriage return and space, U+0085, U+00A0,
//     U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). The
//     specification says "any number of leading or trailing whitespace
//     characters"; ruma's trim strips the same set. U+001C-U+001F, which
//     Python's str.isspace counts, are refused, as int() refuses them.
//   - Digits are ASCII only and "_" is refused: the specification's format
//     is "a single base 10 integer" with the examples "100" and "000100",
//     and ruma parses ASCII digits only. Python's int() also takes other
//     scripts' decimal digits and "1_000"; the reference server follows it
//     there by accident of its language, and we do not.
//   - Values have no range: they are compared exactly, as Python's
//     integers are.
func TestStringLevelsPython(t *testing.T) {
	var file struct {
		Strippable []string `json:"strippable"`
		Vectors    []struct {
			In     string  `json:"in"`
			Python *string `json:"python"`
			Want   *string `json:"want"`
			Note   string  `json:"note"`
		} `json:"vectors"`
	}
	data, err := os.ReadFile("testdata/string_levels.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for _, v := range file.Vectors {
		if v.Note == "" && !samePtr(v.Python, v.Want) {
			t.Errorf("%q: want differs from Python's int() without a note", v.In)
		}
		raw, _ := json.Marshal(v.In)
		n, null, ok := parseLevel(raw, levelRules{strings: true})
		got := (*string)(nil)
		if ok && !null {
			s := n.String()
			got = &s
		}
		if !samePtr(got, v.Want) {
			t.Errorf("parseLevel(%s) = %s; want %s (Python: %s) %s", raw, show(got), show(v.Want), show(v.Python), v.Note)
		}
	}

	// Every code point: stripped around digits exactly when int() strips it.
	strip := make(map[rune]bool)
	for _, s := range file.Strippable {
		r, err := strconv.ParseUint(s[2:], 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		strip[rune(r)] = true
	}
	if len(strip) != 25 {
		t.Fatalf("%d strippable code points in the vectors; want 25", len(strip))
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		s := string(r) + "5" + string(r)
		n, ok := parseStringLevel(s)
		if got := ok && n.Cmp(LevelOf(5)) == 0; got != strip[r] {
			t.Errorf("parseStringLevel(%q) accepted = %v; Python's int() strips U+%04X: %v", s, got, r, strip[r])
		}
	}
}

func samePtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func show(s *string) string {
	if s == nil {
		return "refused"
	}
	return *s
}

func TestLevelCmp(t *testing.T) {
	big1 := func(s string) Level {
		n, ok := parseStringLevel(s)
		if !ok {
			t.Fatalf("parseStringLevel(%q) failed", s)
		}
		return n
	}
	// In ascending order; equal neighbours are listed together.
	order := [][]Level{
		{big1("-99999999999999999999"), big1("-000099999999999999999999")},
		{big1("-99999999999999999998")},
		{big1("-9223372036854775809")},
		{LevelOf(math.MinInt64), big1("-9223372036854775808")},
		{LevelOf(-1)},
		{LevelOf(0), {}},
		{LevelOf(100)},
		{LevelOf(math.MaxInt64), big1("9223372036854775807")},
		{big1("9223372036854775808")},
		{big1("99999999999999999998")},
		{big1("99999999999999999999"), big1(" +99999999999999999999 ")},
		{InfiniteLevel, LevelOf(Infinite).infinite()},
	}
	for i, gi := range order {
		for j, gj := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			for _, a := range gi {
				for _, b := range gj {
					if got := a.Cmp(b); got != want {
						t.Errorf("%s.Cmp(%s) = %d; want %d", a, b, got, want)
					}
				}
			}
		}
	}
	if s := InfiniteLevel.String(); s != "infinite (creator)" {
		t.Errorf("InfiniteLevel.String() = %q", s)
	}
	if s := LevelOf(Infinite).String(); s != "9223372036854775807" {
		t.Errorf("LevelOf(Infinite).String() = %q: a finite level must not read as a creator's", s)
	}
	if n := big1("99999999999999999999"); n.Int64() != math.MaxInt64 || n.IsInt64() || n.Big().String() != "99999999999999999999" {
		t.Errorf("huge level: Int64 %d, IsInt64 %v, Big %v", n.Int64(), n.IsInt64(), n.Big())
	}
	if InfiniteLevel.Big() != nil || !InfiniteLevel.IsInfinite() || InfiniteLevel.Int64() != Infinite {
		t.Error("InfiniteLevel accessors")
	}
	// A float beyond int64 (v1-v5) is its binary64 value, exactly.
	want := new(big.Int)
	want.SetString("1000000000000000019884624838656", 10) // Python: int(1e30)
	if n, _, ok := parseLevel([]byte("1e30"), levelRules{floats: true}); !ok || n.Big().Cmp(want) != 0 {
		t.Errorf("parseLevel(1e30) = %s, %v; want %s", n, ok, want)
	}
}

// infinite is a test helper: the infinite level built apart from the
// package variable, to show that Cmp reads the mark, not the variable.
func (l Level) infinite() Level { return Level{n: l.n, x: infMark} }

func TestPowerLevelsExact(t *testing.T) {
	// The v1-v9 string form and the v1-v5 number form of a huge level.
	for _, users := range []string{`"99999999999999999999"`, `99999999999999999999`} {
		p := &PowerLevels{}
		c, rej := parseContent([]byte(fmt.Sprintf(`{"users":{"@a:x.test":%s,"@b:x.test":"99999999999999999998"}}`, users)), levelRules{strings: true, floats: true}, false)
		if rej != nil {
			t.Fatal(rej)
		}
		p.c = c
		a, b := p.UserLevelExact("@a:x.test"), p.UserLevelExact("@b:x.test")
		if a.Cmp(b) <= 0 || p.UserLevel("@a:x.test") != math.MaxInt64 {
			t.Errorf("users %s: a %s, b %s, UserLevel %d", users, a, b, p.UserLevel("@a:x.test"))
		}
	}
}

// FuzzParseLevel feeds arbitrary values to the power level parser under
// every encoding rule: it must not panic, and an accepted value must read
// back the same from its decimal form, agree with big.Int on it, and
// compare with itself as equal.
func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{`50`, `-0`, `"\u00a0 +0099999999999999999999\u3000"`, `"-9223372036854775809"`, `1e30`, `-5.114698E4`, `null`, `"1_000"`, `"\u0665"`, `"\u001c5"`, `99999999999999999999`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, r := range []levelRules{{}, {strings: true}, {strings: true, floats: true}} {
			n, null, ok := parseLevel(raw, r)
			if !ok || null {
				continue
			}
			if n.Cmp(n) != 0 || n.IsInfinite() {
				t.Fatalf("%s: %s does not compare equal to itself", raw, n)
			}
			back, ok := parseStringLevel(n.String())
			if !ok || back.Cmp(n) != 0 || back.IsInt64() != n.IsInt64() {
				t.Fatalf("%s: %s reads back as %s, %v", raw, n, back, ok)
			}
			if x, ok := new(big.Int).SetString(n.String(), 10); !ok || x.Cmp(n.Big()) != 0 {
				t.Fatalf("%s: Big %v, String %s", raw, n.Big(), n)
			}
		}
	})
}
