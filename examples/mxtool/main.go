// Command mxtool exposes mxkit on the command line, so that other
// implementations and test harnesses can use the library without Go.
//
// Every subcommand reads one JSON document on standard input and writes its
// answer, canonical JSON and a newline, on standard output. The exit status
// is 0 when the command did its job (also when its verdict is "not allowed"
// or "not valid"), 2 when the input or flags were unusable (with one line
// on standard error and nothing on standard output), and 1 for any other
// failure. The contract is kept in the project's CLI documentation; test
// harnesses depend on it.
//
// Usage:
//
//	mxtool SUBCOMMAND [flags] < input.json
//
// Run "mxtool help" for the list of subcommands.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// maxInput bounds what a subcommand reads from standard input. A room for
// "resolve" can be large; anything beyond this is refused, not truncated.
const maxInput = 256 << 20

// command is one subcommand. Each lives in a file of its own (cmd_*.go)
// and registers itself from init.
type command struct {
	name    string
	summary string
	// run parses its flags from args and does the work. Errors made with
	// usagef end the program with status 2; any other error with status 1.
	run func(env *env, args []string) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("mxtool: subcommand registered twice: " + c.name)
	}
	commands[c.name] = c
}

// env is what a subcommand may touch.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// usageError marks input or flags that cannot be used: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// failedWithReport marks a command that did its work and wrote a report
// on standard output, but whose verdict is a failure (as conform's is when
// a case fails): the report is written and the status is 1.
type failedWithReport struct{ msg string }

func (e *failedWithReport) Error() string { return e.msg }

// usagef returns an error that ends the program with status 2.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: tests call it directly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "mxtool: no subcommand; run \"mxtool help\" for the list")
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		printHelp(stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "mxtool: unknown subcommand %q; run \"mxtool help\" for the list\n", name)
		return 2
	}
	// Buffer the answer, so that nothing reaches standard output when the
	// command fails part-way.
	var out strings.Builder
	err := c.run(&env{stdin: stdin, stdout: &out, stderr: stderr}, args[1:])
	status := 0
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		fmt.Fprintf(stderr, "mxtool %s: %s\n", name, msg)
		var ue *usageError
		var fr *failedWithReport
		switch {
		case errors.As(err, &ue):
			return 2
		case errors.As(err, &fr):
			status = 1 // the report still goes out
		default:
			return 1
		}
	}
	w := bufio.NewWriter(stdout)
	w.WriteString(out.String())
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "mxtool %s: writing the answer: %v\n", name, err)
		return 1
	}
	return status
}

func printHelp(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: mxtool SUBCOMMAND [flags] < input.json")
	fmt.Fprintln(w, "\nsubcommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
}

// newFlags returns a flag set that reports errors as usage errors instead
// of printing and exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args and refuses positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() != 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// readInput reads all of standard input, up to maxInput bytes.
func readInput(e *env) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(e.stdin, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading standard input: %w", err)
	}
	if len(data) > maxInput {
		return nil, usagef("input is larger than %d bytes", maxInput)
	}
	return data, nil
}
