package testvectors_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/internal/testvectors"
	"github.com/mxkit/mxkit/roomversion"
)

func versionIDs(t *testing.T, s string) ([]string, error) {
	t.Helper()
	vs, err := testvectors.ParseVersions(s)
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.ID)
	}
	return ids, err
}

func TestParseVersions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // nil: an error
	}{
		{"3", []string{"3"}},
		{"1-3", []string{"1", "2", "3"}},
		{"1-2, 7,11-12", []string{"1", "2", "7", "11", "12"}},
		{"12", []string{"12"}},
		{"", nil},
		{"0", nil},
		{"13", nil},
		{"11-13", nil},
		{"3-1", nil},
		{"a-2", nil},
		{"1,,2", nil},
	} {
		got, err := versionIDs(t, tc.in)
		if tc.want == nil {
			if !errors.Is(err, testvectors.ErrFormat) {
				t.Errorf("ParseVersions(%q) = %v, %v; want ErrFormat", tc.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseVersions(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseVersions(f *testing.F) {
	for _, s := range []string{"1-12", "3", "1-2,7", "", "-", "12-1", "1-99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vs, err := testvectors.ParseVersions(s)
		if err != nil && !errors.Is(err, testvectors.ErrFormat) {
			t.Fatalf("%q: error %v is not ErrFormat", s, err)
		}
		if err == nil && len(vs) == 0 {
			t.Fatalf("%q: no versions and no error", s)
		}
	})
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDecodeFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ok.json":       `{"name": "x"}`,
		"unknown.json":  `{"name": "x", "nmae": "y"}`,
		"trailing.json": `{"name": "x"} {}`,
		"broken.json":   `{"name": `,
	})
	var v struct {
		Name string `json:"name"`
	}
	if err := testvectors.DecodeFile(filepath.Join(dir, "ok.json"), &v); err != nil || v.Name != "x" {
		t.Fatalf("ok.json: %+v, %v", v, err)
	}
	for _, name := range []string{"unknown.json", "trailing.json", "broken.json", "missing.json"} {
		if err := testvectors.DecodeFile(filepath.Join(dir, name), &v); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLoadAuthCases(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"fixtures.json": `{"create": {"type": "m.room.create", "sender": "@a:x", "state_key": ""}}`,
		"cases/b.json":  `{"description": "b", "events": {"msg": {"type": "m.room.message", "sender": "@a:x"}}, "cases": [{"name": "one", "versions": "1-2", "auth": ["create"], "event": "msg", "expect": "allow"}]}`,
		"cases/a.json":  `{"description": "a", "cases": [{"name": "two", "versions": "3", "event": {"type": "m.room.message", "sender": "@a:x"}, "expect": "sender.joined", "allowed_only": true}]}`,
	})
	files, err := testvectors.LoadAuthCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Group != "a" || files[1].Group != "b" {
		t.Fatalf("files out of name order: %+v", files)
	}
	a, b := files[0], files[1]
	if a.Events["create"] == nil || a.Events["msg"] != nil {
		t.Errorf("a.json's events = %v; want only the fixtures", a.Events)
	}
	if b.Events["create"] == nil || b.Events["msg"] == nil || b.Events["msg"].Type != "m.room.message" {
		t.Errorf("b.json's events = %v; want the fixtures and its own", b.Events)
	}
	if c := a.Cases[0]; c.Expect != "sender.joined" || !c.AllowedOnly || !strings.HasPrefix(string(c.Event), "{") {
		t.Errorf("a.json's case = %+v", c)
	}
	if c := b.Cases[0]; c.Versions != "1-2" || !slices.Equal(c.Auth, []string{"create"}) || string(c.Event) != `"msg"` {
		t.Errorf("b.json's case = %+v", c)
	}

	for name, files := range map[string]map[string]string{
		"shadowing": {
			"fixtures.json": `{"create": {"type": "m.room.create"}}`,
			"cases/a.json":  `{"events": {"create": {"type": "m.room.create"}}, "cases": []}`,
		},
		"no cases":      {"fixtures.json": `{}`},
		"no fixtures":   {"cases/a.json": `{"cases": []}`},
		"unknown field": {"fixtures.json": `{}`, "cases/a.json": `{"cases": [{"name": "x", "expected": "allow"}]}`},
	} {
		if _, err := testvectors.LoadAuthCases(writeFiles(t, files)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The real vectors must load: they are what the suites read.
func TestRealVectors(t *testing.T) {
	files, err := testvectors.LoadAuthCases(filepath.Join("..", "..", "eventauth", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		for _, c := range f.Cases {
			if _, err := testvectors.ParseVersions(c.Versions); err != nil {
				t.Errorf("%s/%s: %v", f.Group, c.Name, err)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("no authorization rule cases")
	}
	dags, _ := filepath.Glob(filepath.Join("..", "..", "stateres", "testdata", "dag", "*.json"))
	initial, err := testvectors.LoadDAG(filepath.Join("..", "..", "stateres", "testdata", "dag", "initial.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dags {
		c, err := testvectors.LoadDAG(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := testvectors.BuildDAG(initial, c); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	sets, _ := filepath.Glob(filepath.Join("..", "..", "stateres", "testdata", "sets", "*.json"))
	for _, p := range sets {
		if _, err := testvectors.LoadSets(p); err != nil {
			t.Error(err)
		}
	}
	if len(dags) < 2 || len(sets) == 0 {
		t.Errorf("%d DAG files, %d state set files", len(dags), len(sets))
	}
}

func TestBuildDAG(t *testing.T) {
	sk := ""
	base := testvectors.DAGFile{
		Name: "base",
		Events: []testvectors.DAGEvent{
			{ID: "CREATE", Type: "m.room.create", StateKey: &sk},
			{ID: "START", Type: "m.room.message"},
			{ID: "OLD", Type: "m.room.topic", StateKey: &sk},
		},
		Edges: [][]string{{"START", "OLD", "CREATE"}},
	}
	c := testvectors.DAGFile{
		Name: "case",
		Events: []testvectors.DAGEvent{
			{ID: "B", Type: "m.room.message"},
			{ID: "A", Type: "m.room.message"},
			{ID: "END", Type: "m.room.message"},
			{ID: "OLD", Type: "m.room.name", StateKey: &sk}, // replaces base's
		},
		Edges: [][]string{{"END", "B", "START"}, {"END", "A", "START"}},
	}
	d, err := testvectors.BuildDAG(base, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"CREATE", "OLD", "START", "A", "B", "END"}; !slices.Equal(d.Order, want) {
		t.Errorf("order %v; want %v", d.Order, want)
	}
	if d.Nodes["OLD"].Type != "m.room.name" {
		t.Errorf("OLD is %s; the case's node should replace the base's", d.Nodes["OLD"].Type)
	}
	if !d.Prevs["END"]["A"] || !d.Prevs["END"]["B"] || len(d.Prevs["END"]) != 2 || len(d.Prevs["CREATE"]) != 0 {
		t.Errorf("prevs %v", d.Prevs)
	}

	cycle := testvectors.DAGFile{Events: []testvectors.DAGEvent{{ID: "X"}, {ID: "Y"}}, Edges: [][]string{{"X", "Y", "X"}}}
	if _, err := testvectors.BuildDAG(cycle); !errors.Is(err, testvectors.ErrFormat) {
		t.Errorf("cycle: %v; want ErrFormat", err)
	}
	unknown := testvectors.DAGFile{Events: []testvectors.DAGEvent{{ID: "X"}}, Edges: [][]string{{"X", "Z"}}}
	if _, err := testvectors.BuildDAG(unknown); !errors.Is(err, testvectors.ErrFormat) {
		t.Errorf("unknown node: %v; want ErrFormat", err)
	}
}

func ExampleParseVersions() {
	vs, err := testvectors.ParseVersions("1-3,10")
	if err != nil {
		panic(err)
	}
	for _, v := range vs {
		fmt.Print(v.ID, " ")
	}
	fmt.Println()
	// Output: 1 2 3 10
}

func TestAuthEventFields(t *testing.T) {
	v1, _ := roomversion.Get("1")
	v12, _ := roomversion.Get("12")
	idOf := func(name string) string { return "$" + name }
	sk := ""
	create := &testvectors.AuthEvent{Type: "m.room.create", Sender: "@alice:a.test", StateKey: &sk}
	msg := &testvectors.AuthEvent{Type: "m.room.message", Sender: "@bob:b.test", Content: json.RawMessage(`{"body":"hi"}`), Redacts: "other"}

	for _, tc := range []struct {
		name string
		e    *testvectors.AuthEvent
		v    roomversion.Version
		auth []string
		want string
	}{
		{"create v1", create, v1, nil, `{"auth_events":[],"content":{"creator":"@alice:a.test"},"depth":5,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1700000000000,"prev_events":[],"room_id":"!r:a.test","sender":"@alice:a.test","signatures":{"a.test":{"ed25519:1":"c2ln"}},"state_key":"","type":"m.room.create"}`},
		{"create v12", create, v12, nil, `{"auth_events":[],"content":{},"depth":5,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1700000000000,"prev_events":[],"sender":"@alice:a.test","signatures":{"a.test":{"ed25519:1":"c2ln"}},"state_key":"","type":"m.room.create"}`},
		{"message v1", msg, v1, []string{"$create"}, `{"auth_events":[["$create",{"sha256":"aGFzaA"}]],"content":{"body":"hi"},"depth":5,"hashes":{"sha256":"aGFzaA"},"origin_server_ts":1700000000000,"prev_events":[["$previous",{"sha256":"aGFzaA"}]],"redacts":"$other","room_id":"!r:a.test","sender":"@bob:b.test","signatures":{"b.test":{"ed25519:1":"c2ln"}},"type":"m.room.message"}`},
	} {
		m, err := tc.e.Fields(tc.v, "!r:a.test", idOf, tc.auth)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, _ := json.Marshal(m)
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if _, err := msg.Fields(v12, "!r:a.test", idOf, nil); !errors.Is(err, testvectors.ErrFormat) {
		t.Errorf("top-level redacts in v12: %v; want ErrFormat", err)
	}
}

func TestCaseEvent(t *testing.T) {
	events := map[string]*testvectors.AuthEvent{"msg": {Type: "m.room.message"}}
	for _, tc := range []struct {
		event    string
		wantName string
		wantType string // "": an error
	}{
		{`"msg"`, "msg", "m.room.message"},
		{`{"id": "$x", "type": "m.room.topic"}`, "", "m.room.topic"},
		{`"nope"`, "", ""},
		{`{"tpye": "m.room.topic"}`, "", ""},
		{`"unterminated`, "", ""},
	} {
		c := &testvectors.AuthCase{Name: "c", Event: json.RawMessage(tc.event)}
		name, e, err := c.CaseEvent(events)
		if tc.wantType == "" {
			if !errors.Is(err, testvectors.ErrFormat) {
				t.Errorf("%s: %v; want ErrFormat", tc.event, err)
			}
			continue
		}
		if err != nil || name != tc.wantName || e.Type != tc.wantType {
			t.Errorf("%s: %q, %+v, %v", tc.event, name, e, err)
		}
	}
}

func TestDAGEventContentAndRoom(t *testing.T) {
	v1, _ := roomversion.Get("1")
	v11, _ := roomversion.Get("11")
	v12, _ := roomversion.Get("12")
	create := testvectors.DAGEvent{Type: "m.room.create", Sender: "@a:x", Content: json.RawMessage(`{"x":1}`)}
	msg := testvectors.DAGEvent{Type: "m.room.message", Content: json.RawMessage(`{"body":"hi"}`)}
	for _, tc := range []struct {
		e           testvectors.DAGEvent
		v           roomversion.Version
		content, id string
	}{
		{create, v1, `{"creator":"@a:x","room_version":"1"}`, "!r:x"},
		{create, v11, `{"room_version":"11"}`, "!r:x"},
		{create, v12, `{"room_version":"12"}`, ""},
		{msg, v12, `{"body":"hi"}`, "!r:x"},
	} {
		content, id := tc.e.ContentAndRoom(tc.v, "!r:x")
		if string(content) != tc.content || id != tc.id {
			t.Errorf("%s v%s: %s, %q; want %s, %q", tc.e.Type, tc.v.ID, content, id, tc.content, tc.id)
		}
	}
}
