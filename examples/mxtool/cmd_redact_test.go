package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/canonicaljson"
)

// TestRedactVectors runs the redact package's hand-derived vectors through
// the tool for every room version: the redacted event and a newline with
// status 0, or status 2 with one line on standard error for input the
// algorithm refuses.
func TestRedactVectors(t *testing.T) {
	data, err := os.ReadFile("../../redact/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []struct {
			Name      string
			Input     json.RawMessage
			InputText *string `json:"input_text"`
			Expect    []struct {
				Versions string
				Output   json.RawMessage
				Error    string
			}
		}
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no vectors")
	}
	runs := 0
	for _, c := range file.Cases {
		in := string(c.Input)
		if c.InputText != nil {
			in = *c.InputText
		}
		for _, e := range c.Expect {
			lo, hi, found := strings.Cut(e.Versions, "-")
			if !found {
				hi = lo
			}
			a, _ := strconv.Atoi(lo)
			b, _ := strconv.Atoi(hi)
			for n := a; n <= b; n++ {
				runs++
				id := strconv.Itoa(n)
				r := runTool(t, in, "redact", "--room-version", id)
				if e.Error != "" {
					if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "mxtool redact: redact: ") {
						t.Errorf("%s, v%s: status %d, stdout %q, stderr %q; want status 2", c.Name, id, r.code, r.stdout, r.stderr)
					}
					continue
				}
				mode := canonicaljson.Strict
				if n <= 5 {
					mode = canonicaljson.Lenient
				}
				want, err := canonicaljson.Canonicalize(e.Output, mode)
				if err != nil {
					t.Fatal(err)
				}
				if r.code != 0 || r.stdout != string(want)+"\n" || r.stderr != "" {
					t.Errorf("%s, v%s: status %d, stdout %q, stderr %q; want %s", c.Name, id, r.code, r.stdout, r.stderr, want)
				}
			}
		}
	}
	if runs != 12*len(file.Cases) {
		t.Errorf("%d runs for %d cases, want 12 each", runs, len(file.Cases))
	}
}

func TestRedact(t *testing.T) {
	// The appendix's signed message event, redacted by the rules of room
	// version 1 (origin kept) and 11 (origin dropped).
	appendix := `{"content":{"body":"Here is the message content"},"event_id":"$0:domain",` +
		`"hashes":{"sha256":"onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},"origin":"domain",` +
		`"origin_server_ts":1000000,"type":"m.room.message","room_id":"!r:domain","sender":"@u:domain",` +
		`"signatures":{"domain":{"ed25519:1":"Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"}},` +
		`"unsigned":{"age_ts":1000000}}`
	for _, c := range []struct {
		name, in, version, want string
	}{
		{"appendix event, v1", appendix, "1",
			`{"content":{},"event_id":"$0:domain","hashes":{"sha256":"onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},"origin":"domain","origin_server_ts":1000000,"room_id":"!r:domain","sender":"@u:domain","signatures":{"domain":{"ed25519:1":"Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"}},"type":"m.room.message"}`},
		{"appendix event, v11", appendix, "11",
			`{"content":{},"event_id":"$0:domain","hashes":{"sha256":"onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},"origin_server_ts":1000000,"room_id":"!r:domain","sender":"@u:domain","signatures":{"domain":{"ed25519:1":"Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"}},"type":"m.room.message"}`},
		{"a depth of 2^60 survives in v1", `{"type":"m.room.message","depth":1152921504606846976,"content":{"x":1}}`, "1",
			`{"content":{},"depth":1152921504606846976,"type":"m.room.message"}`},
		{"flag with =", `{"type":"m.room.redaction","content":{"redacts":"$e","reason":"r"},"redacts":"$e"}`, "--room-version=12",
			`{"content":{"redacts":"$e"},"type":"m.room.redaction"}`},
		{"redacting the output changes nothing", `{"content":{"membership":"join"},"type":"m.room.member"}`, "9",
			`{"content":{"membership":"join"},"type":"m.room.member"}`},
	} {
		args := []string{"redact", "--room-version", c.version}
		if strings.HasPrefix(c.version, "--") {
			args = []string{"redact", c.version}
		}
		r := runTool(t, c.in, args...)
		if r.code != 0 || r.stdout != c.want+"\n" || r.stderr != "" {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want %s", c.name, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

func TestRedactRefusals(t *testing.T) {
	event := `{"type":"m.room.message","content":{}}`
	for _, c := range []struct {
		name, in string
		args     []string
		stderr   string
	}{
		{"no room version", event, nil, "--room-version is required"},
		{"unknown room version", event, []string{"--room-version", "13"}, `unknown room version "13"`},
		{"room versions are exact strings", event, []string{"--room-version", "01"}, `unknown room version "01"`},
		{"empty room version", event, []string{"--room-version="}, "--room-version is required"},
		{"unknown flag", event, []string{"--room-version", "1", "--strict"}, "flag provided but not defined"},
		{"positional argument", event, []string{"--room-version", "1", "x"}, `unexpected argument "x"`},
		{"not JSON", `{"type":`, []string{"--room-version", "1"}, "unexpected end of input"},
		{"not JSON either", `{"type":"a",}`, []string{"--room-version", "1"}, "offset 12"},
		{"empty input", ``, []string{"--room-version", "11"}, "offset 0"},
		{"not an object", `["m.room.message"]`, []string{"--room-version", "1"}, "not a JSON object"},
		{"duplicate keys", `{"type":"a","type":"b","content":{}}`, []string{"--room-version", "1"}, `duplicate key "type"`},
		{"strict numbers in v6+", `{"type":"a","content":{},"depth":1152921504606846976}`, []string{"--room-version", "6"}, `"depth"`},
		{"a float in v6+", `{"type":"a","content":{"x":0.5}}`, []string{"--room-version", "10"}, `"content"`},
		{"no type", `{"content":{}}`, []string{"--room-version", "1"}, "type is missing or not a string"},
		{"content not an object", `{"type":"a","content":[]}`, []string{"--room-version", "1"}, "content is not a JSON object"},
	} {
		r := runTool(t, c.in, append([]string{"redact"}, c.args...)...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, c.stderr) {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want status 2 and %q", c.name, r.code, r.stdout, r.stderr, c.stderr)
		}
	}
}
