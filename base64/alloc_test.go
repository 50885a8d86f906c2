//go:build !race

package base64

import "testing"

// Decoding into a buffer with room allocates nothing: the input is checked
// in place, not converted to a string.
func TestAppendDecodeAllocatesNothing(t *testing.T) {
	src := []byte(Std.EncodeToString(make([]byte, 64)))
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Std.AppendDecode(buf[:0], src); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("AppendDecode allocates %v times per call", n)
	}
}
