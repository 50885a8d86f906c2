package redact_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
)

// TestKeptValuesAsCanonicaljson checks that a kept value comes out exactly
// as canonicaljson encodes it, or is refused exactly when canonicaljson
// refuses it, in both modes: at the top level, in filtered content, and in
// content kept whole. Kept values that are already canonical are copied
// by a faster path; these cases sit on both sides of its edges.
func TestKeptValuesAsCanonicaljson(t *testing.T) {
	values := []string{
		`"plain"`, `""`, `"a b/c"`, "\"\x7f\"", `"\/"`, `"é"`, `"\u00e9"`, `"\u0000"`, `"tab	in"`,
		`"` + strings.Repeat("x", 100) + `"`, `"` + strings.Repeat("x", 100) + `é"`,
		`0`, `-0`, `-1`, `7`, `01`, `-`, `123456789012345`, `-123456789012345`, `1234567890123456`,
		`9007199254740991`, `9007199254740992`, `-9007199254740992`, `1.0`, `1.5`, `1e2`, `1E2`, `2e-1`,
		`true`, `false`, `null`, `truex`, `nul`, `tru`,
		`{}`, `{ }`, `[]`, `[ ]`, `[1,2,3]`, `[ 1 , "a" , null ]`, `[1,]`, `[,1]`, `[1 2]`,
		`{"a":1,"b":2}`, `{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"":1,"a":2}`, `{"a":1,"":2}`,
		`{ "a" : [ {"z":1,"y":2} ] , "b" : {} }`, `{"a" 1}`, `{"a":}`, `{,}`, `{"a":1,}`, `{"a":1 "b":2}`,
		`{"é":1,"z":2}`, `{"z":1,"é":2}`, `{"ab":1,"a":2}`, `{"a":1,"ab":2}`,
		`{"sha256":"aGFzaA"}`, `{"example.org":{"ed25519:1":"c2ln"}}`,
		strings.Repeat("[", 20) + strings.Repeat("]", 20),
		strings.Repeat(`{"a":`, 20) + "1" + strings.Repeat("}", 20),
		`[1]]`, `[[1]`, `{"a":1}}`,
	}
	places := []struct {
		name, typ, before, after string
	}{
		{"top level", "x", `{"type":"x","content":{},"signatures":`, `}`},
		{"filtered content", "m.room.power_levels", `{"type":"m.room.power_levels","content":{"kick":1,"users":`, `}}`},
		{"content kept whole", "m.room.create", `{"type":"m.room.create","content":{"x":`, `}}`},
	}
	// Room version 1's numbers, with create content kept whole.
	lenient := roomversion.V1
	lenient.Redaction.KeepAllCreateContent = true
	for _, mode := range []struct {
		v    roomversion.Version
		mode canonicaljson.Mode
	}{{lenient, canonicaljson.Lenient}, {roomversion.V12, canonicaljson.Strict}} {
		for _, val := range values {
			want, wantErr := canonicaljson.Canonicalize([]byte(val), mode.mode)
			for _, p := range places {
				in := p.before + val + p.after
				got, err := redact.Redact(mode.v, []byte(in))
				if wantErr != nil {
					if err == nil {
						t.Errorf("v%s, %s, %s: got %s, want an error like %v", mode.v.ID, p.name, val, got, wantErr)
					}
					continue
				}
				if err != nil {
					t.Errorf("v%s, %s, %s: %v", mode.v.ID, p.name, val, err)
					continue
				}
				var expect string
				switch p.name {
				case "top level":
					expect = `{"content":{},"signatures":` + string(want) + `,"type":"x"}`
				case "filtered content":
					expect = `{"content":{"kick":1,"users":` + string(want) + `},"type":"m.room.power_levels"}`
				default:
					expect = `{"content":{"x":` + string(want) + `},"type":"m.room.create"}`
				}
				if !bytes.Equal(got, []byte(expect)) {
					t.Errorf("v%s, %s, %s:\n got %s\nwant %s", mode.v.ID, p.name, val, got, expect)
				}
			}
		}
	}
}
