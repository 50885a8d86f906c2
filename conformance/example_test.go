package conformance_test

import (
	"fmt"

	"github.com/mxkit/mxkit/conformance"
)

// Example shows how a Go harness runs a case: build the command line and
// the standard input, run the implementation, and let Check judge.
func Example() {
	suites, err := conformance.Load()
	if err != nil {
		panic(err)
	}
	for _, s := range suites {
		if s.Area != "canonicaljson" {
			continue
		}
		c := s.Cases[0]
		args, _ := c.Args(nil)
		stdin, _ := c.Stdin()
		fmt.Printf("%s: %q < %s\n", c.Name, args, stdin)
		// An implementation's answer: the expected bytes and a newline.
		fmt.Println(c.Check(conformance.Result{Status: 0, Stdout: []byte("{}\n")}))
		// A wrong answer.
		fmt.Println(c.Check(conformance.Result{Status: 0, Stdout: []byte("{ }\n")}))
	}
	// Output:
	// appendix example 1/strict: ["canonical" "--strict"] < {}
	// <nil>
	// the output differs (byte for byte)
	// -want "{}"
	// +got  "{ }"
	// first difference at byte 1
}
