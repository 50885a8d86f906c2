package roomversion_test

import (
	"fmt"

	"github.com/mxkit/mxkit/roomversion"
)

func ExampleLookup() {
	v, ok := roomversion.Lookup("10")
	if !ok {
		fmt.Println("unknown room version")
		return
	}
	// Code reads rules, never version numbers.
	fmt.Println(v.Auth.KnockRestricted, v.Event.StrictCanonicalJSON, v.StateRes)
	// Output: true true v2
}

func ExampleNewSet() {
	custom := roomversion.V12
	custom.ID = "org.example.v12-test"
	custom.Stable = false
	set := roomversion.NewSet(append(roomversion.Known(), custom)...)
	v, _ := set.Lookup("org.example.v12-test")
	fmt.Println(v.ID, v.Stable, v.Auth.PrivilegedCreators)
	_, std := roomversion.Lookup("org.example.v12-test")
	fmt.Println(std)
	// Output:
	// org.example.v12-test false true
	// false
}
