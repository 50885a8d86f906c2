package client

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzDecodeSync: DecodeSync never panics, errors wrap ErrBadSync, and a
// decoded response encodes and decodes to the same value.
func FuzzDecodeSync(f *testing.F) {
	seed, err := os.ReadFile("testdata/sync.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, s := range []string{`{}`, `{"next_batch":"x"}`, `{"next_batch":"x","rooms":{"join":{"!r":{"timeline":{"events":[null]}}}}}`,
		`{"next_batch":"x","rooms":{"invite":{"!r":{"invite_state":{"events":[{"type":""}]}}}}}`, `[]`, `null`, ``,
		`{"next_batch":"x","presence":{"events":[{"type":"m.presence","content":{}}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeSync(data)
		if err != nil {
			if !errors.Is(err, ErrBadSync) {
				t.Fatalf("error %v does not wrap ErrBadSync", err)
			}
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeSync(b)
		if err != nil {
			t.Fatalf("re-encoded response does not decode: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(normalize(t, r), normalize(t, r2)) {
			t.Fatalf("round trip changed the response\n%s", b)
		}
	})
}

// normalize compacts raw contents so that whitespace does not count.
func normalize(t *testing.T, r *SyncResponse) string {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
