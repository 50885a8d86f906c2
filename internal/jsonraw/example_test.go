package jsonraw_test

import (
	"fmt"

	"github.com/mxkit/mxkit/internal/jsonraw"
)

func Example() {
	content := []byte(`{"membership": "join", "displayname": "Al\u00efce", "avatar_url": null}`)
	if v, ok := jsonraw.Field(content, "membership"); ok && jsonraw.StringIs(v, "join") {
		fmt.Println("a join")
	}
	it := jsonraw.Members(content)
	for it.Next() {
		text, _ := jsonraw.Unquote(it.Value)
		fmt.Printf("%s = %s (%q)\n", it.Key, it.Value, text)
	}
	// Output:
	// a join
	// membership = "join" ("join")
	// displayname = "Al\u00efce" ("Alïce")
	// avatar_url = null ("")
}
