// Package conformance is mxkit's language-neutral conformance suite: test
// cases for canonical JSON, redaction, event IDs and hashes, signing, the
// authorization rules and state resolution, written as JSON so that any
// implementation can be checked against them.
//
// The suite is the set of files under suite/, one per area, embedded in
// Files so that programs built with this package (mxtool conform) carry
// them. Each case names an operation of the mxtool command-line contract
// (the subcommands canonical, redact, event-id, hashes, sign, verify, auth,
// auth-events and resolve), its room version, its input and the expected answer, and
// cites the section of the specification it checks:
//
//   - canonical JSON: content/appendices.md, "Canonical JSON";
//   - redaction: content/rooms/v1.md … v12.md, "Redactions"
//     (content/rooms/fragments/v1-redactions.md, v6-, v9-, v11-redactions.md);
//   - event IDs and hashes: content/server-server-api.md, "Calculating the
//     reference hash for an event" and "Calculating the content hash for an
//     event", and each room version's "Event IDs";
//   - signing: content/appendices.md, "Signing JSON", "Checking for a
//     Signature", "Cryptographic Test Vectors";
//   - authorization rules: content/server-server-api.md, "Authorisation
//     rules" and "Auth events selection", and each room version's
//     "Authorisation rules";
//   - state resolution: content/rooms/v1.md, "State resolution";
//     content/rooms/fragments/v2-state-res.md; content/rooms/v12.md,
//     "State resolution".
//
// The cases are generated from the test vectors that mxkit's own package
// tests use (go test ./conformance -update rewrites the files), and a test
// of this package fails when the files differ from what the generator
// makes, so the suite never drifts from the library. README.md beside this
// file documents the format for harness authors.
package conformance

import (
	"bytes"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/mxkit/mxkit/canonicaljson"
)

// Files holds the suite: suite/<area>.json, one file per area.
//
//go:embed suite/*.json
var Files embed.FS

// Suite is one area's file.
type Suite struct {
	// Area names the area ("canonicaljson", "redaction", ...); it is also
	// the file's base name.
	Area        string `json:"area"`
	Description string `json:"description"`
	Cases       []Case `json:"cases"`
}

// Case is one conformance case: an operation of the mxtool command-line
// contract, its parameters and input, and the expected answer.
type Case struct {
	// Name is unique within the area.
	Name string `json:"name"`
	// Spec is the specification section the case checks (file and
	// heading).
	Spec string `json:"spec"`
	// Command is the mxtool subcommand: canonical, redact, event-id,
	// hashes, sign, verify, auth, auth-events or resolve.
	Command string `json:"command"`
	// RoomVersion, when set, is passed as --room-version.
	RoomVersion string `json:"room_version,omitempty"`
	// Strict asks canonical for the number rules of room versions 6 and
	// later (--strict).
	Strict bool `json:"strict,omitempty"`
	// Server is the signing server name of sign (--server).
	Server string `json:"server,omitempty"`
	// Key is the content of the signing key file of sign (--key FILE).
	Key string `json:"key,omitempty"`
	// Keys is the content of the public keys file of verify (--keys FILE).
	Keys json.RawMessage `json:"keys,omitempty"`
	// Exactly one of Input (a JSON document), InputText (the exact text)
	// and InputHex (bytes in hex, for input that is not UTF-8) is the
	// standard input.
	Input     json.RawMessage `json:"input,omitempty"`
	InputText *string         `json:"input_text,omitempty"`
	InputHex  string          `json:"input_hex,omitempty"`
	Expect    Expect          `json:"expect"`
	Comment   string          `json:"comment,omitempty"`
}

// Expect is a case's expected answer.
type Expect struct {
	// Output is the expected answer as a JSON document, compared as
	// canonical JSON. When Compare is set only those top-level keys are
	// compared (the others, such as a free-text reason, may differ).
	Output  json.RawMessage `json:"output,omitempty"`
	Compare []string        `json:"compare,omitempty"`
	// OutputText is the expected standard output, byte for byte, without
	// the final newline (canonical JSON cases, where the bytes are the
	// point).
	OutputText *string `json:"output_text,omitempty"`
	// Error "usage": the input must be refused with exit status 2 and
	// nothing on standard output.
	Error string `json:"error,omitempty"`
	// Rule is, for auth cases that refuse the event, the identifier of
	// the rule mxkit reports (package eventauth). Informational: other
	// implementations name their rules differently.
	Rule string `json:"rule,omitempty"`
}

// ErrorUsage is the value of Expect.Error for input that must be refused.
const ErrorUsage = "usage"

// Load reads every area of the embedded suite, sorted by area.
func Load() ([]Suite, error) {
	return LoadFS(Files)
}

// LoadFS reads every suite/*.json file of fsys, sorted by area, and checks
// that each case is well formed.
func LoadFS(fsys fs.FS) ([]Suite, error) {
	names, err := fs.Glob(fsys, "suite/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Suite
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var s Suite
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("conformance: %s: %w", name, err)
		}
		if want := strings.TrimSuffix(path.Base(name), ".json"); s.Area != want {
			return nil, fmt.Errorf("conformance: %s: area %q, want %q", name, s.Area, want)
		}
		seen := map[string]bool{}
		for i := range s.Cases {
			c := &s.Cases[i]
			if seen[c.Name] {
				return nil, fmt.Errorf("conformance: %s: case %q appears twice", name, c.Name)
			}
			seen[c.Name] = true
			if err := c.validate(); err != nil {
				return nil, fmt.Errorf("conformance: %s: case %q: %w", name, c.Name, err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *Case) validate() error {
	inputs := 0
	if c.Input != nil {
		inputs++
	}
	if c.InputText != nil {
		inputs++
	}
	if c.InputHex != "" {
		inputs++
	}
	if inputs != 1 {
		return errors.New("needs exactly one of input, input_text and input_hex")
	}
	if _, err := c.Stdin(); err != nil {
		return err
	}
	outs := 0
	if c.Expect.Output != nil {
		outs++
	}
	if c.Expect.OutputText != nil {
		outs++
	}
	if c.Expect.Error != "" {
		if c.Expect.Error != ErrorUsage {
			return fmt.Errorf("expect.error %q (only %q is defined)", c.Expect.Error, ErrorUsage)
		}
		outs++
	}
	if outs != 1 {
		return errors.New("expect needs exactly one of output, output_text and error")
	}
	if c.Command == "" {
		return errors.New("no command")
	}
	return nil
}

// Stdin returns the bytes to write on the implementation's standard input.
func (c *Case) Stdin() ([]byte, error) {
	switch {
	case c.InputText != nil:
		return []byte(*c.InputText), nil
	case c.InputHex != "":
		b, err := hex.DecodeString(c.InputHex)
		if err != nil {
			return nil, fmt.Errorf("input_hex: %w", err)
		}
		return b, nil
	default:
		return c.Input, nil
	}
}

// Args returns the command-line arguments of the case: the subcommand and
// its flags. Flags that name a file (--key, --keys) get the path that
// writeFile returns after writing the file's content.
func (c *Case) Args(writeFile func(name string, content []byte) (string, error)) ([]string, error) {
	args := []string{c.Command}
	if c.RoomVersion != "" {
		args = append(args, "--room-version", c.RoomVersion)
	}
	if c.Strict {
		args = append(args, "--strict")
	}
	if c.Key != "" {
		p, err := writeFile("signing.key", []byte(c.Key))
		if err != nil {
			return nil, err
		}
		args = append(args, "--key", p)
	}
	if c.Server != "" {
		args = append(args, "--server", c.Server)
	}
	if c.Keys != nil {
		p, err := writeFile("keys.json", c.Keys)
		if err != nil {
			return nil, err
		}
		args = append(args, "--keys", p)
	}
	return args, nil
}

// Result is what an implementation did with a case.
type Result struct {
	Status int
	Stdout []byte
	Stderr []byte
}

// Mismatch is the error Check returns when an answer is not the expected
// one. Want and Got are the two sides as text (indented JSON where the
// answer is JSON), and Diff a line diff of them.
type Mismatch struct {
	What string
	Want string
	Got  string
	Diff string
}

func (m *Mismatch) Error() string {
	if m.Diff != "" {
		return m.What + "\n" + m.Diff
	}
	return fmt.Sprintf("%s\nwant: %s\n got: %s", m.What, m.Want, m.Got)
}

// Check compares an implementation's result with the expected answer. It
// returns nil when the case passes and a *Mismatch otherwise.
func (c *Case) Check(r Result) error {
	stderr := strings.TrimSpace(string(r.Stderr))
	if c.Expect.Error == ErrorUsage {
		if r.Status != 2 {
			return &Mismatch{What: "the input must be refused with exit status 2", Want: "exit status 2, no output", Got: fmt.Sprintf("exit status %d, output %s", r.Status, clip(r.Stdout))}
		}
		if len(r.Stdout) != 0 {
			return &Mismatch{What: "exit status 2 with output on standard output", Want: "no output", Got: clip(r.Stdout)}
		}
		return nil
	}
	if r.Status != 0 {
		return &Mismatch{What: fmt.Sprintf("exit status %d (standard error: %s)", r.Status, clip([]byte(stderr))), Want: "exit status 0", Got: fmt.Sprintf("exit status %d", r.Status)}
	}
	out, ok := bytes.CutSuffix(r.Stdout, []byte("\n"))
	if !ok {
		return &Mismatch{What: "the answer does not end with a newline", Want: "a newline at the end", Got: clip(r.Stdout)}
	}
	if c.Expect.OutputText != nil {
		if string(out) != *c.Expect.OutputText {
			w, g := quoteJSON(*c.Expect.OutputText), quoteJSON(string(out))
			return &Mismatch{What: "the output differs (byte for byte)", Want: w, Got: g, Diff: fmt.Sprintf("-want %s\n+got  %s\n%s", w, g, firstDifference(*c.Expect.OutputText, string(out)))}
		}
		return nil
	}
	want, got, err := comparable(c.Expect.Output, out, c.Expect.Compare)
	if err != nil {
		return &Mismatch{What: "the output is not usable JSON: " + err.Error(), Want: string(c.Expect.Output), Got: clip(out)}
	}
	if want != got {
		what := "the output differs"
		if len(c.Expect.Compare) > 0 {
			what = fmt.Sprintf("the output differs (comparing %s)", strings.Join(c.Expect.Compare, ", "))
		}
		return &Mismatch{What: what + " (- want, + got)", Want: want, Got: got, Diff: LineDiff(want, got)}
	}
	return nil
}

// comparable returns both documents as indented canonical JSON, limited to
// the keys of compare when it is set.
func comparable(want, got []byte, compare []string) (string, string, error) {
	norm := func(raw []byte) (string, error) {
		if compare != nil {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return "", err
			}
			kept := map[string]json.RawMessage{}
			for _, k := range compare {
				if v, ok := m[k]; ok {
					kept[k] = v
				}
			}
			var err error
			if raw, err = json.Marshal(kept); err != nil {
				return "", err
			}
		}
		c, err := canonicaljson.Canonicalize(raw, canonicaljson.Lenient)
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		if err := json.Indent(&b, c, "", "  "); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	w, err := norm(want)
	if err != nil {
		return "", "", fmt.Errorf("expected output: %w", err)
	}
	g, err := norm(got)
	if err != nil {
		return w, "", err
	}
	return w, g, nil
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func clip(b []byte) string {
	const max = 300
	if len(b) > max {
		return fmt.Sprintf("%q… (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func firstDifference(want, got string) string {
	n := min(len(want), len(got))
	i := 0
	for i < n && want[i] == got[i] {
		i++
	}
	return fmt.Sprintf("first difference at byte %d", i)
}

// LineDiff returns a line diff of want and got: lines only in want start
// with "-", lines only in got with "+", common lines with " ". Long runs of
// common lines are shortened.
func LineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	if len(a)*len(b) > 4_000_000 {
		return "-" + strings.Join(a, "\n-") + "\n+" + strings.Join(b, "\n+")
	}
	// Longest common subsequence, by dynamic programming from the end.
	lcs := make([][]int32, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', a[i]})
			i++
		default:
			lines = append(lines, line{'+', b[j]})
			j++
		}
	}
	// Keep two lines of context around changes.
	var out strings.Builder
	const context = 2
	near := func(k int) bool {
		for d := -context; d <= context; d++ {
			if k+d >= 0 && k+d < len(lines) && lines[k+d].op != ' ' {
				return true
			}
		}
		return false
	}
	skipped := false
	for k, l := range lines {
		if l.op == ' ' && !near(k) {
			if !skipped {
				out.WriteString("  …\n")
				skipped = true
			}
			continue
		}
		skipped = false
		out.WriteByte(l.op)
		out.WriteByte(' ')
		out.WriteString(l.text)
		out.WriteByte('\n')
	}
	return strings.TrimSuffix(out.String(), "\n")
}
