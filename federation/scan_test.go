package federation

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestTopLevelString(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		ok   bool
	}{
		{`{"room_id":"!a:b"}`, "!a:b", true},
		{` { "content" : {"room_id":"!inner:x","a":[1,"]}",{"b":"}"}]} , "room_id" : "!outer:x" } `, "!outer:x", true},
		{`{"room\u005fid":"!esc:x"}`, "!esc:x", true},
		{`{"room_id":"!a\"b:x"}`, `!a"b:x`, true},
		{`{"depth":12,"room_id":"!n:x"}`, "!n:x", true},
		{`{"room_id":5}`, "", false},
		{`{"content":{"room_id":"!inner:x"}}`, "", false},
		{`["room_id","!a:b"]`, "", false},
		{`{"room_id":"!cut`, "", false},
		{`{"a":"x\\"}`, "", false},
		{``, "", false},
		{`{"a" "room_id":"!x"}`, "", false},
	} {
		got, ok := topLevelString([]byte(c.in), "room_id")
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// FuzzTopLevelString: on JSON objects the scanner agrees with encoding/json
// about the top-level room_id, and it never panics on anything.
func FuzzTopLevelString(f *testing.F) {
	for _, s := range []string{`{"room_id":"!a:b"}`, `{"content":{"room_id":"x"},"room_id":"!y:z"}`, `{"room_id":1}`, `{"a":[{"b":"]"}],"room_id":"\u0021q"}`, `{`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := topLevelString(raw, "room_id")
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		// Duplicate keys: encoding/json keeps the last, the scanner the
		// first; the pipeline refuses such PDUs when it parses them.
		var want string
		wantOK := json.Unmarshal(m["room_id"], &want) == nil && len(m["room_id"]) > 0 && m["room_id"][0] == '"'
		if ok != wantOK || ok && got != want {
			if dup(raw) {
				return
			}
			t.Fatalf("%s: scanner %q %v, encoding/json %q %v", raw, got, ok, want, wantOK)
		}
	})
}

// dup reports whether the top-level object has a repeated key.
func dup(raw []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := tok.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
	}
	return false
}

// FuzzSplitTransaction: on bodies encoding/json reads as a transaction, the
// scanner finds the same PDUs and EDUs, byte for byte. Keys are matched
// exactly, as the reference server reads them (transaction_data["pdus"]):
// the oracle decodes the top level into a map, not a struct, whose fields
// encoding/json would also match case-insensitively ("PDUS").
func FuzzSplitTransaction(f *testing.F) {
	for _, s := range []string{
		`{"origin":"a","origin_server_ts":1,"pdus":[{"a":"]"},[1,{"b":[]}],"x\\"y"],"edus":[{"edu_type":"m.typing","content":{}}]}`,
		`{"pdus":[],"origin_server_ts":-1.5e3}`, `{"pdus" : [ 1 , 2 ] , "origin_server_ts" : 0 , "edus" : null }`,
		`{"pdus":{}}`, `[]`, `{"pdus":[1],"pdus":[2,3],"origin_server_ts":1}`,
		`{"Pdus":[1],"origin_server_ts":1}`, `{"pdus":[1],"ORIGIN_server_ts":1}`, `{"pd\u0075s":[1],"origin_server_ts":1,"EDUS":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := splitTransaction(body)
		var want struct {
			PDUs []json.RawMessage
			EDUs []json.RawMessage
			TS   *float64
		}
		var top map[string]json.RawMessage
		ok := json.Unmarshal(body, &top) == nil &&
			top["pdus"] != nil && json.Unmarshal(top["pdus"], &want.PDUs) == nil && want.PDUs != nil &&
			top["origin_server_ts"] != nil && json.Unmarshal(top["origin_server_ts"], &want.TS) == nil && want.TS != nil &&
			(top["edus"] == nil || json.Unmarshal(top["edus"], &want.EDUs) == nil)
		if !ok {
			if err == nil && !dup(body) {
				// encoding/json refuses it (or it lacks pdus or a numeric
				// origin_server_ts): the scanner must refuse it too.
				t.Fatalf("%s accepted", body)
			}
			return
		}
		if err != nil {
			if dup(body) {
				return
			}
			t.Fatalf("%s refused: %v", body, err)
		}
		if len(got.PDUs) != len(want.PDUs) || len(got.EDUs) != len(want.EDUs) {
			t.Fatalf("%s: %d/%d PDUs, %d/%d EDUs", body, len(got.PDUs), len(want.PDUs), len(got.EDUs), len(want.EDUs))
		}
		for i := range got.PDUs {
			if !bytes.Equal(got.PDUs[i], want.PDUs[i]) {
				t.Fatalf("PDU %d: %s, want %s", i, got.PDUs[i], want.PDUs[i])
			}
		}
		for i := range got.EDUs {
			if !bytes.Equal(got.EDUs[i], want.EDUs[i]) {
				t.Fatalf("EDU %d: %s, want %s", i, got.EDUs[i], want.EDUs[i])
			}
		}
	})
}
