package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mxkit/mxkit/conformance"
)

func init() {
	register(command{
		name:    "conform",
		summary: "run the conformance suite against an implementation (--impl COMMAND)",
		run:     runConform,
	})
}

// conformSelf, when not nil, runs a case's arguments in this process
// instead of starting the running binary: the tests of this package set
// it, since there the running binary is the test binary.
var conformSelf func(args []string, stdin []byte) conformance.Result

// conformCase is one case of one area, with what the implementation did.
type conformCase struct {
	area string
	c    *conformance.Case
	args []string
	dir  string // the case's files
	err  error  // nil: passed
}

// caseDir names a case's directory: its index, area and name in
// characters that every file system takes.
func caseDir(i int, cc *conformCase) string {
	name := []byte(cc.area + "-" + cc.c.Name)
	for k, ch := range name {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '-') {
			name[k] = '_'
		}
	}
	if len(name) > 80 {
		name = name[:80]
	}
	return strconv.Itoa(i) + "-" + string(name)
}

// runConform is "conform [--impl COMMAND] [--area A,B] [--run REGEXP]": it
// runs every case of the conformance suite (package conformance) through
// an implementation of this command-line contract, started as a
// subprocess once per case, and prints a table of passed and failed cases
// per area and, for each failure, the case, its command line and a diff.
// Without --impl the implementation is this binary.
//
// The exit status is 0 only when every case selected passes. Since mxtool
// writes nothing on standard output when a command fails, the report of a
// run with failures goes to standard error.
func runConform(e *env, args []string) error {
	fs := newFlags("conform")
	impl := fs.String("impl", "", "the implementation's command, split as a shell would (quotes and backslashes); default: this mxtool")
	areas := fs.String("area", "", "comma-separated areas to run (default: all)")
	pattern := fs.String("run", "", "run only the cases whose area/name matches this regular expression")
	jobs := fs.Int("j", runtime.GOMAXPROCS(0), "cases run at the same time")
	timeout := fs.Duration("timeout", time.Minute, "time allowed for one case")
	maxShown := fs.Int("max-failures", 20, "failures shown in detail (0: all)")
	suiteDir := fs.String("suite", "", "read the suite from DIR/suite/*.json instead of the built-in copy")
	verbose := fs.Bool("v", false, "list every case with its verdict")
	keep := fs.String("keep", "", "keep each failing case's input and files in `DIR` and show the command that reproduces it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *jobs < 1 {
		return usagef("-j must be at least 1")
	}
	var runner func(ctx context.Context, args []string, stdin []byte) (conformance.Result, error)
	// implArgv is the implementation's command, for the reproduce lines.
	implArgv := []string{"mxtool"}
	switch {
	case *impl != "":
		argv, err := splitCommand(*impl)
		if err != nil {
			return usagef("--impl: %v", err)
		}
		if len(argv) == 0 {
			return usagef("--impl: empty command")
		}
		runner = subprocess(argv)
		implArgv = argv
	case conformSelf != nil:
		runner = func(_ context.Context, args []string, stdin []byte) (conformance.Result, error) {
			return conformSelf(args, stdin), nil
		}
	default:
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this program to run it: %w", err)
		}
		runner = subprocess([]string{self})
		implArgv = []string{self}
	}

	var suites []conformance.Suite
	var err error
	if *suiteDir != "" {
		suites, err = conformance.LoadFS(os.DirFS(*suiteDir))
		if err == nil && len(suites) == 0 {
			err = fmt.Errorf("no suite/*.json files in %s", *suiteDir)
		}
		if err != nil {
			return usagef("--suite: %v", err)
		}
	} else if suites, err = loadSuites(); err != nil {
		return err
	}
	if *areas != "" {
		want := strings.Split(*areas, ",")
		var kept []conformance.Suite
		for _, s := range suites {
			if slices.Contains(want, s.Area) {
				kept = append(kept, s)
			}
		}
		for _, a := range want {
			if !slices.ContainsFunc(suites, func(s conformance.Suite) bool { return s.Area == a }) {
				names := make([]string, len(suites))
				for i, s := range suites {
					names[i] = s.Area
				}
				return usagef("--area: no area %q (areas: %s)", a, strings.Join(names, ", "))
			}
		}
		suites = kept
	}
	var re *regexp.Regexp
	if *pattern != "" {
		if re, err = regexp.Compile(*pattern); err != nil {
			return usagef("--run: %v", err)
		}
	}
	var cases []*conformCase
	for i := range suites {
		for j := range suites[i].Cases {
			c := &suites[i].Cases[j]
			if re != nil && !re.MatchString(suites[i].Area+"/"+c.Name) {
				continue
			}
			cases = append(cases, &conformCase{area: suites[i].Area, c: c})
		}
	}
	if len(cases) == 0 {
		return usagef("no case matches")
	}

	dir := *keep
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return usagef("--keep: %v", err)
		}
	} else {
		if dir, err = os.MkdirTemp("", "mxtool-conform-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}

	// A command that cannot be started at all stops the run: every case
	// would report the same thing.
	var fatal error
	var fatalOnce sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(*jobs, len(cases)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				cc := cases[i]
				cc.dir = filepath.Join(dir, caseDir(i, cc))
				err := runCase(ctx, runner, cc, *keep != "", *timeout)
				var se *startError
				if errors.As(err, &se) {
					fatalOnce.Do(func() { fatal = se; cancel() })
				}
				cc.err = err
			}
		}()
	}
feed:
	for i := range cases {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if fatal != nil {
		return fatal
	}

	if *keep != "" {
		// Only the failures are kept.
		for _, cc := range cases {
			if cc.err == nil {
				os.RemoveAll(cc.dir)
			}
		}
	}
	report, failed := conformReport(cases, *verbose, *maxShown, implArgv, *keep != "")
	if _, err := io.WriteString(e.stdout, report); err != nil {
		return err
	}
	if failed > 0 {
		return &failedWithReport{fmt.Sprintf("%d of %d cases failed", failed, len(cases))}
	}
	return nil
}

// loadSuites parses the built-in suite once per process; conform never
// changes the cases.
var loadSuites = sync.OnceValues(conformance.Load)

// startError: the implementation could not be started.
type startError struct{ err error }

func (e *startError) Error() string { return "starting the implementation: " + e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// subprocess returns a runner that starts argv with the case's arguments
// appended.
func subprocess(argv []string) func(ctx context.Context, args []string, stdin []byte) (conformance.Result, error) {
	return func(ctx context.Context, args []string, stdin []byte) (conformance.Result, error) {
		cmd := exec.CommandContext(ctx, argv[0], append(slices.Clone(argv[1:]), args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		r := conformance.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
		var exit *exec.ExitError
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return r, ctx.Err()
		case errors.As(err, &exit) && exit.Exited():
			r.Status = exit.ExitCode()
		case errors.As(err, &exit):
			return r, fmt.Errorf("the implementation did not exit normally: %v (standard error: %s)", exit, strings.TrimSpace(stderr.String()))
		default:
			return r, &startError{err}
		}
		return r, nil
	}
}

// runCase runs one case; dir holds the files its flags name.
func runCase(parent context.Context, runner func(context.Context, []string, []byte) (conformance.Result, error), cc *conformCase, keep bool, timeout time.Duration) error {
	dir := cc.dir
	args, err := cc.c.Args(func(name string, content []byte) (string, error) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, content, 0o600)
	})
	if err != nil {
		return err
	}
	cc.args = args
	stdin, err := cc.c.Stdin()
	if err != nil {
		return err
	}
	if keep {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "stdin"), stdin, 0o644); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	r, err := runner(ctx, args, stdin)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %v", timeout)
		}
		return err
	}
	return cc.c.Check(r)
}

// conformReport writes the table of areas and the failures.
func conformReport(cases []*conformCase, verbose bool, maxShown int, implArgv []string, keep bool) (string, int) {
	type counts struct{ total, failed int }
	var order []string
	per := map[string]*counts{}
	failed := 0
	for _, cc := range cases {
		n := per[cc.area]
		if n == nil {
			n = &counts{}
			per[cc.area] = n
			order = append(order, cc.area)
		}
		n.total++
		if cc.err != nil {
			n.failed++
			failed++
		}
	}
	var b strings.Builder
	if verbose {
		for _, cc := range cases {
			verdict := "ok  "
			if cc.err != nil {
				verdict = "FAIL"
			}
			fmt.Fprintf(&b, "%s %s/%s\n", verdict, cc.area, cc.c.Name)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%-16s %7s %7s %7s\n", "area", "cases", "passed", "failed")
	for _, a := range order {
		n := per[a]
		verdict := "PASS"
		if n.failed > 0 {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%-16s %7d %7d %7d  %s\n", a, n.total, n.total-n.failed, n.failed, verdict)
	}
	verdict := "PASS"
	if failed > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%-16s %7d %7d %7d  %s\n", "total", len(cases), len(cases)-failed, failed, verdict)
	if failed == 0 {
		return b.String(), 0
	}
	fmt.Fprintf(&b, "\nfailures:\n")
	shown := 0
	for _, cc := range cases {
		if cc.err == nil {
			continue
		}
		if maxShown > 0 && shown == maxShown {
			fmt.Fprintf(&b, "\n… and %d more failures (--max-failures 0 shows all, --run selects cases)\n", failed-shown)
			break
		}
		shown++
		fmt.Fprintf(&b, "\n--- FAIL %s/%s\n", cc.area, cc.c.Name)
		fmt.Fprintf(&b, "    spec:    %s\n", cc.c.Spec)
		if cc.args != nil {
			fmt.Fprintf(&b, "    command: %s\n", strings.Join(cc.args, " "))
		}
		if keep && cc.args != nil {
			fmt.Fprintf(&b, "    reproduce: %s < %s\n", shellJoin(append(slices.Clone(implArgv), cc.args...)), shellQuote(filepath.Join(cc.dir, "stdin")))
		}
		if cc.c.Expect.Rule != "" {
			fmt.Fprintf(&b, "    refused by rule (as mxkit names it): %s\n", cc.c.Expect.Rule)
		}
		for _, line := range strings.Split(cc.err.Error(), "\n") {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	return b.String(), failed
}

// splitCommand splits a command line into words as a POSIX shell would
// for the simple cases: words separated by blanks, single quotes keep
// everything literally, double quotes keep everything except that a
// backslash escapes ", \, $ and `, and a backslash outside quotes escapes
// the next character. Nothing is expanded.
func splitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\\':
			inWord = true
			if i+1 == len(s) {
				return nil, errors.New("a backslash at the end")
			}
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
			}
		case ch == '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote at offset %d", i)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case ch == '"':
			inWord = true
			start := i
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, fmt.Errorf("unterminated double quote at offset %d", start)
			}
		default:
			inWord = true
			cur.WriteByte(ch)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}
