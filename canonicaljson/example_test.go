package canonicaljson_test

import (
	"errors"
	"fmt"

	"github.com/mxkit/mxkit/canonicaljson"
)

func ExampleCanonicalize() {
	out, err := canonicaljson.Canonicalize([]byte(`{"b": "\u65E5", "a": [1e3, -0]}`), canonicaljson.Strict)
	fmt.Println(string(out), err)

	// The same value in a room version before 6: 1e3 is a float there.
	out, err = canonicaljson.Canonicalize([]byte(`{"b": "\u65E5", "a": [1e3, -0]}`), canonicaljson.Lenient)
	fmt.Println(string(out), err)

	_, err = canonicaljson.Canonicalize([]byte(`{"a": 1, "\u0061": 2}`), canonicaljson.Strict)
	fmt.Println(err, errors.Is(err, canonicaljson.ErrDuplicateKey))
	// Output:
	// {"a":[1000,0],"b":"日"} <nil>
	// {"a":[1000.0,0],"b":"日"} <nil>
	// canonicaljson: duplicate object key "a" at offset 9 true
}

func ExampleAppendWithout() {
	event := []byte(`{"type":"m.room.message","unsigned":{"age":5},"signatures":{},"content":{}}`)
	signed, err := canonicaljson.AppendWithout(nil, event, canonicaljson.Strict, "signatures", "unsigned")
	fmt.Println(string(signed), err)
	// Output:
	// {"content":{},"type":"m.room.message"} <nil>
}

func ExampleMarshal() {
	type content struct {
		Body    string `json:"body"`
		MsgType string `json:"msgtype"`
	}
	out, err := canonicaljson.Marshal(content{Body: "<hi>", MsgType: "m.text"}, canonicaljson.Strict)
	fmt.Println(string(out), err)
	// Output:
	// {"body":"<hi>","msgtype":"m.text"} <nil>
}

func ExampleIsCanonical() {
	fmt.Println(canonicaljson.IsCanonical([]byte(`{"a":1,"b":2}`), canonicaljson.Strict))
	fmt.Println(canonicaljson.IsCanonical([]byte(`{"b":2,"a":1}`), canonicaljson.Strict))
	// Output:
	// true
	// false
}
