package redact_test

import (
	"errors"
	"testing"

	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
)

// TestChoicesWhereTheSpecIsSilent pins down what the specification leaves
// open, each choice following the reference server, Synapse
// (synapse/events/utils.py, prune_event_dict).
func TestChoicesWhereTheSpecIsSilent(t *testing.T) {
	cases := []struct {
		name    string
		v       roomversion.Version
		in      string
		want    string
		wantErr error
	}{
		// v11 keeps "the signed key of the third_party_invite key". When
		// third_party_invite is an object without signed, Synapse still
		// writes third_party_invite as an empty object; ruma leaves it
		// out. The two give different reference hashes; we follow Synapse.
		{"third_party_invite without signed", roomversion.V11,
			`{"type":"m.room.member","content":{"membership":"invite","third_party_invite":{"display_name":"d"}}}`,
			`{"content":{"membership":"invite","third_party_invite":{}},"type":"m.room.member"}`, nil},
		{"third_party_invite empty", roomversion.V12,
			`{"type":"m.room.member","content":{"membership":"invite","third_party_invite":{}}}`,
			`{"content":{"membership":"invite","third_party_invite":{}},"type":"m.room.member"}`, nil},
		// When it is not an object, Synapse drops it (ruma refuses the
		// event); we drop it.
		{"third_party_invite a string", roomversion.V11,
			`{"type":"m.room.member","content":{"membership":"invite","third_party_invite":"x"}}`,
			`{"content":{"membership":"invite"},"type":"m.room.member"}`, nil},
		{"third_party_invite an array holding signed", roomversion.V11,
			`{"type":"m.room.member","content":{"membership":"invite","third_party_invite":[{"signed":{}}]}}`,
			`{"content":{"membership":"invite"},"type":"m.room.member"}`, nil},
		// An event without content: Synapse writes "content": {} (ruma
		// leaves it out). Every valid PDU has a content, so this only
		// shows in tools fed raw input.
		{"content missing", roomversion.V1,
			`{"type":"m.room.message","sender":"@a:example.org"}`,
			`{"content":{},"sender":"@a:example.org","type":"m.room.message"}`, nil},
		// A content that is not an object is refused, as ruma does; Synapse
		// does not reach its redaction with such an event.
		{"content a number", roomversion.V1, `{"type":"m.room.message","content":1}`, "", redact.ErrContent},
		// Without a type the rules cannot be chosen; both servers refuse.
		{"type missing", roomversion.V1, `{"content":{"membership":"join"}}`, "", redact.ErrType},
		// unsigned is not in the lists, so it goes. Synapse keeps
		// unsigned.age_ts and replaces_state in the events it stores, for
		// its own use; hashes and signatures leave unsigned out anyway.
		{"unsigned dropped", roomversion.V1,
			`{"type":"m.room.message","content":{},"unsigned":{"age_ts":1,"replaces_state":"$x"}}`,
			`{"content":{},"type":"m.room.message"}`, nil},
	}
	for _, c := range cases {
		got, err := redact.Redact(c.v, []byte(c.in))
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%s: got %s, %v; want error %v", c.name, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("%s: got %s, %v; want %s", c.name, got, err, c.want)
		}
	}
}
