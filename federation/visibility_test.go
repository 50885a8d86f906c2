package federation

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

// TestServerHistoryVisibility: /event, /backfill and /get_missing_events
// apply the history visibility rules for the requesting server. The room
// is joined-only; remote.test leaves, alice speaks, remote.test joins again:
// the message sent while it was out is served redacted (as the reference
// server serves it: the graph needs the event), the others as they are; a
// server never in the room gets 403 for a joined event and the event itself
// once the room is world_readable.
func TestServerHistoryVisibility(t *testing.T) {
	f := newFixture(t, roomversion.V10)
	other, _ := signing.GenerateKey("o1")
	f.ring.Add("other.test", other.ID, signing.PublicKey{Key: other.Public(), ValidUntilTS: 1 << 50})
	f.keys = map[string]*signing.SigningKey{"other.test": other}
	room := esc2(f.roomID)
	v1 := "/_matrix/federation/v1"

	vis := f.local(event.Builder{Type: "m.room.history_visibility", StateKey: strp(""), Sender: alice, Content: []byte(`{"history_visibility":"joined"}`)})
	before := f.local(event.Builder{Type: "m.room.message", Sender: alice, Content: []byte(`{"body":"while bob is in"}`)})
	leave := f.remote(event.Builder{Type: event.TypeMember, StateKey: strp(bob), Sender: bob, Content: []byte(`{"membership":"leave"}`)})
	f.expect(f.receive("leave", leave), leave, "")
	secret := f.local(event.Builder{Type: "m.room.message", Sender: alice, Content: []byte(`{"body":"secret"}`)})

	getEvent := func(id, origin string) (int, []byte) {
		status, body, _ := f.call("GET", v1+"/event/"+esc2(id), origin, nil, nil)
		return status, body
	}
	pdu := func(body []byte) json.RawMessage {
		var tx transactionBody
		if err := json.Unmarshal(body, &tx); err != nil || len(tx.PDUs) != 1 {
			t.Fatalf("answer %s", body)
		}
		return tx.PDUs[0]
	}
	redacted := func(e *event.Event) []byte {
		r, err := redact.Redact(e.Version(), e.JSON())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// Out of the room: the case, a private event served to a
	// server with no member in the room.
	if status, body := getEvent(secret.ID(), "remote.test"); status != 403 || errcode(body) != "M_FORBIDDEN" {
		t.Errorf("event of a joined room to a server that left: %d %s, want 403", status, body)
	}
	if status, body := getEvent(before.ID(), "other.test"); status != 403 {
		t.Errorf("event of a joined room to a server never in it: %d %s, want 403", status, body)
	}

	rejoin := f.remote(event.Builder{Type: event.TypeMember, StateKey: strp(bob), Sender: bob, Content: []byte(`{"membership":"join"}`)})
	f.expect(f.receive("rejoin", rejoin), rejoin, "")
	after := f.local(event.Builder{Type: "m.room.message", Sender: alice, Content: []byte(`{"body":"bob is back"}`)})

	for _, c := range []struct {
		ev      *event.Event
		visible bool
	}{
		{before, true},
		{vis, true}, // bob was joined when it was sent
		{leave, true},
		{secret, false},
		{rejoin, true},
		{after, true},
	} {
		status, body := getEvent(c.ev.ID(), "remote.test")
		if status != 200 {
			t.Fatalf("event %s: %d %s", c.ev.ID(), status, body)
		}
		want := c.ev.JSON()
		if !c.visible {
			want = redacted(c.ev)
		}
		if got := pdu(body); !bytes.Equal(got, want) {
			t.Errorf("event %s (visible %v): got %s, want %s", c.ev.ID(), c.visible, got, want)
		}
	}

	// /state_ids, /state and /event_auth at the hidden event still answer a
	// server in the room: they serve the state and auth chain it needs to
	// check events, not history, and the reference server does not filter
	// them either.
	for _, target := range []string{
		v1 + "/state_ids/" + room + "?event_id=" + url.QueryEscape(secret.ID()),
		v1 + "/state/" + room + "?event_id=" + url.QueryEscape(secret.ID()),
		v1 + "/event_auth/" + room + "/" + esc2(secret.ID()),
	} {
		if status, body, _ := f.call("GET", target, "remote.test", nil, nil); status != 200 {
			t.Errorf("%s: %d %s", target, status, body)
		}
	}

	// /backfill and /get_missing_events serve the same events the same way.
	status, body, _ := f.call("GET", v1+"/backfill/"+room+"?v="+url.QueryEscape(after.ID())+"&limit=4", "remote.test", nil, nil)
	if status != 200 {
		t.Fatalf("backfill: %d %s", status, body)
	}
	var tx transactionBody
	json.Unmarshal(body, &tx)
	gmBody, _ := json.Marshal(map[string]any{"earliest_events": []string{before.ID()}, "latest_events": []string{after.ID()}, "limit": 10})
	status, gm, _ := f.call("POST", v1+"/get_missing_events/"+room, "remote.test", gmBody, nil)
	if status != 200 {
		t.Fatalf("get_missing_events: %d %s", status, gm)
	}
	var missing struct{ Events []json.RawMessage }
	json.Unmarshal(gm, &missing)
	for name, list := range map[string][]json.RawMessage{"backfill": tx.PDUs, "get_missing_events": missing.Events} {
		found := 0
		for _, raw := range list {
			switch {
			case bytes.Equal(raw, secret.JSON()):
				t.Errorf("%s served the secret event in full", name)
			case bytes.Equal(raw, redacted(secret)):
				found++
			case bytes.Equal(raw, leave.JSON()), bytes.Equal(raw, rejoin.JSON()), bytes.Equal(raw, after.JSON()):
			default:
				if name == "backfill" {
					t.Errorf("%s served an unexpected event %s", name, raw)
				}
			}
		}
		if found != 1 {
			t.Errorf("%s: the secret event redacted %d times in %d events, want once", name, found, len(list))
		}
	}

	// A world_readable room: a server never in it may have its events.
	f.local(event.Builder{Type: "m.room.history_visibility", StateKey: strp(""), Sender: alice, Content: []byte(`{"history_visibility":"world_readable"}`)})
	public := f.local(event.Builder{Type: "m.room.message", Sender: alice, Content: []byte(`{"body":"public"}`)})
	if status, body := getEvent(public.ID(), "other.test"); status != 200 || !bytes.Equal(pdu(body), public.JSON()) {
		t.Errorf("world_readable event to a server not in the room: %d %s", status, body)
	}
	if status, _ := getEvent(secret.ID(), "other.test"); status != 403 {
		t.Errorf("an earlier joined event stays refused to a server not in the room: %d", status)
	}
}

// TestSendUnknownRoomResult: a PDU of a room this server does not know gets
// an error result in /send under its event ID (whichever room version the
// sender used), not silence.
func TestSendUnknownRoomResult(t *testing.T) {
	for _, v := range []roomversion.Version{roomversion.V1, roomversion.V3, roomversion.V10, roomversion.V11, roomversion.V12} {
		f := newFixture(t, roomversion.V10)
		b := event.Builder{Type: "m.room.message", Sender: bob, RoomID: "!nowhere:remote.test", Content: []byte(`{"body":"?"}`),
			PrevRefs: []event.Reference{{EventID: "$p", Hashes: []byte(`{"sha256":"aGFzaA"}`)}}, AuthRefs: []event.Reference{{EventID: "$a", Hashes: []byte(`{"sha256":"aGFzaA"}`)}}, PrevDepth: 3}
		if v.Event.EventID == roomversion.EventIDGiven {
			b.PrevRefs[0].EventID, b.AuthRefs[0].EventID = "$p:remote.test", "$a:remote.test"
		}
		ev, err := b.Build(v, "remote.test", f.remoteKey)
		if err != nil {
			t.Fatalf("v%s: %v", v.ID, err)
		}
		res := f.receive("unknown-"+v.ID, ev)
		r, ok := res[ev.ID()]
		if !ok || !strings.Contains(r.Error, "unknown room") {
			t.Errorf("v%s: result for %s: %+v in %v", v.ID, ev.ID(), r, res)
		}
	}
}
