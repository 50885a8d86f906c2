package clientapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

type nopSender struct{}

func (nopSender) Send(context.Context, Identity, OutgoingEvent) (string, error) { return "$x", nil }

type oneToken struct{}

func (oneToken) LookupToken(_ context.Context, token string, _ Masquerade) (Identity, error) {
	if token == "t" {
		return Identity{UserID: "@alice:example.org", DeviceID: "D"}, nil
	}
	return Identity{}, ErrUnknownToken
}

// BenchmarkSend measures PUT /send through the whole adapter (routing,
// token lookup, body checks, transaction store) beside a bare
// http.ServeMux handler that reads the body and answers the same JSON.
func BenchmarkSend(b *testing.B) {
	body := `{"msgtype":"m.text","body":"hello world"}`
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			r := httptest.NewRequest("PUT", "/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/"+strconv.Itoa(i), strings.NewReader(body))
			r.Header.Set("Authorization", "Bearer t")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatal(w.Body.String())
			}
		}
	}
	b.Run("adapter", func(b *testing.B) {
		run(b, &Server{ServerName: "example.org", Tokens: oneToken{}, Sender: nopSender{}})
	})
	b.Run("baseline=http.ServeMux", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.HandleFunc("PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}", func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"event_id":"$x"}`))
		})
		run(b, mux)
	})
}

// BenchmarkPlanCreateRoom measures the plan of a typical createRoom
// beside decoding the same request body.
func BenchmarkPlanCreateRoom(b *testing.B) {
	body := []byte(`{"preset":"private_chat","name":"Room","topic":"About","invite":["@bob:example.org"],"is_direct":true,"initial_state":[{"type":"m.room.encryption","content":{"algorithm":"m.megolm.v1.aes-sha2"}}]}`)
	b.Run("plan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req CreateRoomRequest
			json.Unmarshal(body, &req)
			if _, err := PlanCreateRoom(&req, "@alice:example.org", "example.org", nil, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req CreateRoomRequest
			json.Unmarshal(body, &req)
		}
	})
}

// BenchmarkValidUserID measures the grammar check beside utf8.ValidString
// on the same ID.
func BenchmarkValidUserID(b *testing.B) {
	id := "@alice.smith-jones:matrix.example.org:8448"
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ValidUserID(id, false) != nil {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("baseline=utf8.ValidString", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !utf8.ValidString(id) {
				b.Fatal("invalid")
			}
		}
	})
}

type staticSync struct{ resp *SyncResponse }

func (s staticSync) Sync(context.Context, Identity, SyncRequest) (*SyncResponse, error) {
	return s.resp, nil
}
func (staticSync) Wait(ctx context.Context, _ Identity, _ string) error { return nil }

// BenchmarkSync measures GET /sync through the adapter (auth, parameter
// parsing, encoding of a response with one room and 20 timeline events)
// beside json.Marshal of the same response.
func BenchmarkSync(b *testing.B) {
	var events EventList
	for i := range 20 {
		events = append(events, json.RawMessage(`{"type":"m.room.message","sender":"@bob:example.org","event_id":"$ev`+strconv.Itoa(i)+`","origin_server_ts":1700000000000,"content":{"msgtype":"m.text","body":"hello there"}}`))
	}
	resp := &SyncResponse{NextBatch: "s42", Rooms: &SyncRooms{Join: map[string]*JoinedRoom{
		"!room:example.org": {Timeline: &Timeline{Events: events, PrevBatch: "p1"}},
	}}}
	b.Run("adapter", func(b *testing.B) {
		s := &Server{ServerName: "example.org", Tokens: oneToken{}, Syncer: staticSync{resp}}
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest("GET", "/_matrix/client/v3/sync?since=s41&timeout=0&set_presence=online", nil)
			r.Header.Set("Authorization", "Bearer t")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatal(w.Body.String())
			}
		}
	})
	b.Run("baseline=json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}
