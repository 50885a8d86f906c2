package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/conformance"
)

// brokenFlag makes the test binary act as a deliberately broken mxtool, so
// that "conform --impl" can be tested against an implementation that gets
// answers wrong. It is read in init, before the testing package looks at
// the arguments.
const brokenFlag = "-mxtool-broken-impl"

func init() {
	// Here the running binary is the test binary: conform checks mxtool
	// in this process instead.
	conformSelf = func(args []string, stdin []byte) conformance.Result {
		var out, errb bytes.Buffer
		status := run(args, bytes.NewReader(stdin), &out, &errb)
		return conformance.Result{Status: status, Stdout: out.Bytes(), Stderr: errb.Bytes()}
	}
	if len(os.Args) > 2 && os.Args[1] == brokenFlag {
		os.Exit(brokenMain(os.Args[2], os.Args[3:]))
	}
}

// brokenMain is mxtool with one fault, chosen by mode.
func brokenMain(mode string, args []string) int {
	stdin, _ := readAllStdin()
	var out, errb bytes.Buffer
	status := run(args, bytes.NewReader(stdin), &out, &errb)
	answer := out.Bytes()
	switch {
	case mode == "flip-auth-v7" && len(args) > 0 && args[0] == "auth" && slices.Contains(args, "7"):
		// The verdict of the authorization rules is inverted in room
		// version 7 only.
		if bytes.Contains(answer, []byte(`"allowed":true`)) {
			answer = []byte("{\"allowed\":false,\"reason\":\"broken on purpose\"}\n")
		} else {
			answer = []byte("{\"allowed\":true}\n")
		}
	case mode == "spaced-canonical" && len(args) > 0 && args[0] == "canonical":
		// Not canonical: a space after every comma.
		answer = bytes.ReplaceAll(answer, []byte(","), []byte(", "))
	case mode == "crash-redact" && len(args) > 0 && args[0] == "redact":
		os.Stderr.WriteString("redact: internal error on purpose\n")
		return 1
	}
	os.Stdout.Write(answer)
	os.Stderr.Write(errb.Bytes())
	return status
}

func readAllStdin() ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(os.Stdin)
	return b.Bytes(), err
}

// brokenImpl returns the --impl command of the broken implementation, its
// path quoted as a shell would need it.
func brokenImpl(t *testing.T, mode string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A directory with a space and a quote in its name, to exercise the
	// splitting of the command.
	dir := filepath.Join(t.TempDir(), "broken impl's dir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "mxtool")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	return `"` + link + `" ` + brokenFlag + " " + mode
}

func suiteCases(t *testing.T, pattern string) []string {
	t.Helper()
	suites, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(pattern)
	var names []string
	for _, s := range suites {
		for _, c := range s.Cases {
			if re.MatchString(s.Area + "/" + c.Name) {
				names = append(names, s.Area+"/"+c.Name)
			}
		}
	}
	return names
}

// raceBuild reports whether the tests run under the race detector.
func raceBuild() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// TestConformSelf runs the whole suite through mxtool: every case passes.
// Under the race detector, which makes it many times slower, it runs the
// smaller areas only, with more workers than cases at once: the workers'
// concurrency is what the detector can check.
func TestConformSelf(t *testing.T) {
	args := []string{"conform"}
	suites, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	if raceBuild() {
		args = append(args, "--area", "signing,stateres,events", "-j", "8")
		suites = slices.DeleteFunc(suites, func(s conformance.Suite) bool {
			return s.Area != "signing" && s.Area != "stateres" && s.Area != "events"
		})
	}
	r := runTool(t, "", args...)
	if r.code != 0 {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, clipText(r.stderr))
	}
	total := 0
	for _, s := range suites {
		total += len(s.Cases)
		want := regexp.MustCompile(`(?m)^` + s.Area + ` +` + fmt.Sprint(len(s.Cases)) + ` +` + fmt.Sprint(len(s.Cases)) + ` +0  PASS$`)
		if !want.MatchString(r.stdout) {
			t.Errorf("no passing row for %s (%d cases) in:\n%s", s.Area, len(s.Cases), r.stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^total +` + fmt.Sprint(total) + ` +` + fmt.Sprint(total) + ` +0  PASS$`).MatchString(r.stdout) {
		t.Errorf("no total row in:\n%s", r.stdout)
	}
	all, _ := conformance.Load()
	for _, area := range []string{"auth", "canonicaljson", "events", "redaction", "signing", "stateres"} {
		if !slices.ContainsFunc(all, func(s conformance.Suite) bool { return s.Area == area && len(s.Cases) > 0 }) {
			t.Errorf("the suite has no %s cases", area)
		}
	}
}

// TestConformSubprocess runs a part of the suite through the test binary
// started as a subprocess with no fault: it passes, which shows that the
// broken runs below fail for the fault alone.
func TestConformSubprocess(t *testing.T) {
	r := runTool(t, "", "conform", "--impl", brokenImpl(t, "none"), "--run", `^(auth/member_join/creator_first_join/v(1|12)$|signing/appendix JSON signing: empty object/|canonicaljson/appendix example 2/)`)
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "PASS") {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestConformBrokenAuth: an implementation that inverts the verdict of the
// authorization rules in one room version fails exactly those cases, with
// the case, its command line and a diff, and a non-zero status.
func TestConformBrokenAuth(t *testing.T) {
	pattern := `^auth/member_join/(creator_first_join|other_first_join|content_creator_first_join)/v(6|7)$`
	all := suiteCases(t, pattern)
	var broken []string
	for _, n := range all {
		if strings.HasSuffix(n, "/v7") {
			broken = append(broken, n)
		}
	}
	if len(broken) == 0 || len(broken) == len(all) {
		t.Fatalf("pattern selects %d cases, %d of them in v7", len(all), len(broken))
	}
	keep := filepath.Join(t.TempDir(), "kept cases")
	r := runTool(t, "", "conform", "--impl", brokenImpl(t, "flip-auth-v7"), "--run", pattern, "--max-failures", "0", "--keep", keep)
	if r.code != 1 {
		t.Fatalf("status %d, want 1\nstderr:\n%s", r.code, r.stderr)
	}
	if r.stdout == "" {
		t.Error("no report on standard output")
	}
	if want := fmt.Sprintf("mxtool conform: %d of %d cases failed\n", len(broken), len(all)); r.stderr != want {
		t.Errorf("standard error %q, want the one line %q", r.stderr, want)
	}
	row := fmt.Sprintf(`(?m)^auth +%d +%d +%d  FAIL$`, len(all), len(all)-len(broken), len(broken))
	if !regexp.MustCompile(row).MatchString(r.stdout) {
		t.Errorf("no row %s in:\n%s", row, r.stdout)
	}
	for _, n := range all {
		failed := strings.Contains(r.stdout, "--- FAIL "+n+"\n")
		if failed != strings.HasSuffix(n, "/v7") {
			t.Errorf("%s: reported failed = %v", n, failed)
		}
	}
	for _, want := range []string{
		"command: auth --room-version 7",
		"the output differs (comparing allowed) (- want, + got)",
		`-   "allowed": true`, `+   "allowed": false`,
		`-   "allowed": false`, `+   "allowed": true`,
		"refused by rule (as mxkit names it): member.join.",
		`spec:    content/rooms/v7.md, "Authorisation rules"`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, clipText(r.stdout))
		}
	}
	// --keep keeps the failing cases only, and each reproduce line runs
	// the implementation on the case again (through a real shell, which
	// checks the quoting).
	kept, err := os.ReadDir(keep)
	if err != nil || len(kept) != len(broken) {
		t.Fatalf("%d cases kept (%v), want the %d failures", len(kept), err, len(broken))
	}
	repro := regexp.MustCompile(`(?m)^    reproduce: (.*)$`).FindAllStringSubmatch(r.stdout, -1)
	if len(repro) != len(broken) {
		t.Fatalf("%d reproduce lines, want %d", len(repro), len(broken))
	}
	out, err := exec.Command("sh", "-c", repro[0][1]).Output()
	if err != nil || !strings.HasPrefix(string(out), `{"allowed":`) {
		t.Errorf("reproducing with %s: %q, %v", repro[0][1], out, err)
	}
}

// TestConformBrokenCanonical: output that is the right JSON value but not
// canonical fails the byte-for-byte canonical JSON cases and shows where.
func TestConformBrokenCanonical(t *testing.T) {
	r := runTool(t, "", "conform", "--impl", brokenImpl(t, "spaced-canonical"), "--area", "canonicaljson", "--run", "appendix example [2-4]/", "--max-failures", "1")
	if r.code != 1 {
		t.Fatalf("status %d, want 1\nstderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"canonicaljson", "FAIL", "the output differs (byte for byte)", "first difference at byte",
		"… and ", "more failures",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestConformBrokenCrash: a command that fails with status 1 is reported
// with its standard error.
func TestConformBrokenCrash(t *testing.T) {
	r := runTool(t, "", "conform", "--impl", brokenImpl(t, "crash-redact"), "--area", "redaction", "--run", "^redaction/(type only|not JSON)/v11$", "--max-failures", "0")
	if r.code != 1 {
		t.Fatalf("status %d, want 1\nstderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"exit status 1 (standard error: \"redact: internal error on purpose\")", "redaction ", "must be refused with exit status 2"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestConformUsage(t *testing.T) {
	for _, c := range []struct {
		args    []string
		status  int
		mention string
	}{
		{[]string{"--area", "nope"}, 2, `no area "nope"`},
		{[]string{"--run", "("}, 2, "--run"},
		{[]string{"--run", "no such case at all"}, 2, "no case matches"},
		{[]string{"--impl", `"unterminated`}, 2, "unterminated double quote"},
		{[]string{"--impl", "  "}, 2, "empty command"},
		{[]string{"-j", "0"}, 2, "-j"},
		{[]string{"--suite", t.TempDir()}, 2, "no suite"},
		{[]string{"--impl", "/nonexistent/mxtool-impl", "--area", "signing"}, 1, "starting the implementation"},
	} {
		r := runTool(t, "", append([]string{"conform"}, c.args...)...)
		if r.code != c.status || r.stdout != "" || !strings.Contains(r.stderr, c.mention) {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want status %d mentioning %q", c.args, r.code, r.stdout, r.stderr, c.status, c.mention)
		}
	}
}

// TestConformSuiteDir: --suite reads the files of a directory, so that a
// harness author can try new cases without rebuilding.
func TestConformSuiteDir(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "suite"), 0o755)
	doc := `{"area":"mine","description":"","cases":[
{"name":"sorted","spec":"x","command":"canonical","input_text":"{\"b\":1,\"a\":2}","expect":{"output_text":"{\"a\":2,\"b\":1}"}},
{"name":"wrong on purpose","spec":"x","command":"canonical","input_text":"[1]","expect":{"output_text":"[2]"}}]}`
	os.WriteFile(filepath.Join(dir, "suite", "mine.json"), []byte(doc), 0o644)
	r := runTool(t, "", "conform", "--suite", dir, "-v")
	if r.code != 1 || !strings.Contains(r.stdout, "ok   mine/sorted") || !strings.Contains(r.stdout, "FAIL mine/wrong on purpose") || !strings.Contains(r.stdout, `-want "[2]"`) {
		t.Fatalf("status %d\nstderr:\n%s", r.code, r.stderr)
	}
}

func TestSplitCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  string
	}{
		{"mxtool", []string{"mxtool"}, ""},
		{"  python3  -m impl  ", []string{"python3", "-m", "impl"}, ""},
		{`'/a dir/x' "y z" w\ v`, []string{"/a dir/x", "y z", "w v"}, ""},
		{`"a\"b\\c\$d\e"`, []string{`a"b\c$d\e`}, ""},
		{`'it'\''s'`, []string{"it's"}, ""},
		{`""`, []string{""}, ""},
		{`a''b`, []string{"ab"}, ""},
		{"a\tb\nc", []string{"a", "b", "c"}, ""},
		{"", nil, ""},
		{`'open`, nil, "unterminated single quote at offset 0"},
		{`x "open`, nil, "unterminated double quote at offset 2"},
		{`x\`, nil, "backslash at the end"},
	} {
		got, err := splitCommand(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %q, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// FuzzSplitCommand: splitting never panics, and words joined back with
// single quotes split into the same words.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"mxtool", `'a b' "c\"d" e\ f`, `'`, `"`, `\`, "a\tb", `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitCommand(s)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again, err := splitCommand(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("%q -> %q -> %q, %v", s, words, again, err)
		}
	})
}

func clipText(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}
