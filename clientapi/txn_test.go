package clientapi

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSendIdempotent(t *testing.T) {
	f, s, room := setup(t)
	p := "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/send/m.room.message/"
	first := do(t, s, "PUT", p+"txn1", "tok_alice", `{"body":"a"}`)
	again := do(t, s, "PUT", p+"txn1", "tok_alice", `{"body":"a"}`)
	if first.status != 200 || again.raw != first.raw {
		t.Fatalf("retransmission: %s then %s", first.raw, again.raw)
	}
	// r0 and v3 are the same endpoint.
	if r0 := do(t, s, "PUT", "/_matrix/client/r0/rooms/"+url.PathEscape(room)+"/send/m.room.message/txn1", "tok_alice", `{"body":"a"}`); r0.raw != first.raw {
		t.Fatalf("r0 retransmission: %s", r0.raw)
	}
	sends := f.sends
	// Another txnId, another event type and another device are distinct.
	other := do(t, s, "PUT", p+"txn2", "tok_alice", `{"body":"a"}`)
	otherType := do(t, s, "PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/send/m.reaction/txn1", "tok_alice", `{}`)
	creds := do(t, s, "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","user":"alice","password":"secret"}`)
	otherDev := do(t, s, "PUT", p+"txn1", creds.body["access_token"].(string), `{"body":"a"}`)
	for _, r := range []result{other, otherType, otherDev} {
		if r.status != 200 || r.raw == first.raw {
			t.Fatalf("distinct request replayed: %s", r.raw)
		}
	}
	if f.sends != sends+3 {
		t.Fatalf("sends %d, want %d", f.sends, sends+3)
	}
	// A failed request is not remembered: the retry runs again.
	bad := do(t, s, "PUT", "/_matrix/client/v3/rooms/!nope:example.org/send/m.room.message/t9", "tok_alice", `{}`)
	if bad.status != 404 {
		t.Fatalf("unknown room: %d", bad.status)
	}
}

func TestSendIdempotentConcurrent(t *testing.T) {
	f, s, room := setup(t)
	p := "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/send/m.room.message/same"
	sends := f.sends
	var wg sync.WaitGroup
	out := make([]string, 8)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = do(t, s, "PUT", p, "tok_alice", `{"body":"x"}`).raw
		}()
	}
	wg.Wait()
	for _, o := range out {
		if o != out[0] {
			t.Fatalf("answers differ: %q vs %q", o, out[0])
		}
	}
	if f.sends != sends+1 {
		t.Fatalf("%d sends for one transaction", f.sends-sends)
	}
}

func TestRedactIdempotent(t *testing.T) {
	f, s, room := setup(t)
	p := "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/redact/$e3/r1"
	a := do(t, s, "PUT", p, "tok_alice", `{"reason":"x"}`)
	b := do(t, s, "PUT", p, "tok_alice", `{"reason":"x"}`)
	if a.status != 200 || a.raw != b.raw {
		t.Fatalf("%s / %s", a.raw, b.raw)
	}
	ev := f.rooms[room].events[len(f.rooms[room].events)-1]
	if want := `"content":{"reason":"x","redacts":"$e3"}`; !strings.Contains(string(ev), want) {
		t.Fatalf("redaction event %s lacks %s", ev, want)
	}
}

func TestAppServiceTransactionsAndTimestamp(t *testing.T) {
	// An application service without a device has its own transaction
	// scope; ts is passed to the backend only for application services.
	var got []OutgoingEvent
	rec := &recordSender{got: &got}
	f := newFake()
	tok := f.addUser("alice", "pw")
	s := &Server{ServerName: "example.org", Tokens: f, Sender: rec}
	do(t, s, "PUT", "/_matrix/client/v3/rooms/!r:example.org/send/m.room.message/t?ts=1234&user_id=%40bridge_a%3Aexample.org", "as_token", `{}`)
	do(t, s, "PUT", "/_matrix/client/v3/rooms/!r:example.org/send/m.room.message/t?ts=1234", tok, `{}`)
	if len(got) != 2 || got[0].Timestamp != 1234 || got[1].Timestamp != 0 {
		t.Fatalf("events: %+v", got)
	}
	if r := do(t, s, "PUT", "/_matrix/client/v3/rooms/!r:example.org/state/m.room.name?ts=x", "as_token", `{}`); r.body["errcode"] != "M_INVALID_PARAM" {
		t.Fatalf("bad ts: %s", r.raw)
	}
}

type recordSender struct{ got *[]OutgoingEvent }

func (r *recordSender) Send(_ context.Context, _ Identity, ev OutgoingEvent) (string, error) {
	*r.got = append(*r.got, ev)
	return "$x", nil
}

func TestMemoryTransactionsExpire(t *testing.T) {
	m := NewMemoryTransactions(time.Hour)
	now := time.Unix(0, 0)
	m.now = func() time.Time { return now }
	k := TxnKey{UserID: "@a:b", DeviceID: "D", Endpoint: "send", TxnID: "1"}
	m.Put(context.Background(), k, []byte(`{}`))
	if _, ok, _ := m.Get(context.Background(), k); !ok {
		t.Fatal("lost")
	}
	now = now.Add(2 * time.Hour)
	if _, ok, _ := m.Get(context.Background(), k); ok {
		t.Fatal("kept past its time to live")
	}
	// The next put drops the expired entry from memory.
	k2 := k
	k2.TxnID = "2"
	m.Put(context.Background(), k2, []byte(`{}`))
	if len(m.m) != 1 || len(m.order) != 1 {
		t.Fatalf("%d entries, %d in order", len(m.m), len(m.order))
	}
}
