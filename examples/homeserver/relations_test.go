package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestRelationsAndThreads: threads, edits and references are served by
// /relations (each form, both directions, pages, recurse) and /threads,
// and aggregated in unsigned["m.relations"] of the events clients get
// (thread summary, latest edit, references).
func TestRelationsAndThreads(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "rel.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var room struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &room)
	rp := "/rooms/" + url.PathEscape(room.RoomID)
	bob.must("POST", rp+"/join", map[string]any{}, nil)
	n := 0
	send := func(who *api, content map[string]any) string {
		n++
		var r struct {
			EventID string `json:"event_id"`
		}
		who.must("PUT", rp+"/send/m.room.message/"+string(rune('a'+n)), content, &r)
		return r.EventID
	}
	rel := func(relType, parent string) map[string]any {
		return map[string]any{"rel_type": relType, "event_id": parent}
	}
	root := send(alice, map[string]any{"msgtype": "m.text", "body": "root"})
	r1 := send(bob, map[string]any{"msgtype": "m.text", "body": "reply 1", "m.relates_to": rel("m.thread", root)})
	r2 := send(alice, map[string]any{"msgtype": "m.text", "body": "reply 2", "m.relates_to": rel("m.thread", root)})
	edit1 := send(alice, map[string]any{"msgtype": "m.text", "body": "* root!", "m.new_content": map[string]any{"msgtype": "m.text", "body": "root!"}, "m.relates_to": rel("m.replace", root)})
	edit2 := send(alice, map[string]any{"msgtype": "m.text", "body": "* root!!", "m.new_content": map[string]any{"msgtype": "m.text", "body": "root!!"}, "m.relates_to": rel("m.replace", root)})
	send(bob, map[string]any{"msgtype": "m.text", "body": "* hijack", "m.new_content": map[string]any{"msgtype": "m.text", "body": "hijacked"}, "m.relates_to": rel("m.replace", root)})
	ref := send(bob, map[string]any{"msgtype": "m.text", "body": "see above", "m.relates_to": rel("m.reference", root)})
	nested := send(bob, map[string]any{"msgtype": "m.text", "body": "ref of reply", "m.relates_to": rel("m.reference", r2)})
	other := send(alice, map[string]any{"msgtype": "m.text", "body": "other root"})
	r3 := send(bob, map[string]any{"msgtype": "m.text", "body": "reply to other", "m.relates_to": rel("m.thread", other)})
	_ = edit1

	get := func(who *api, path string, out any) int {
		req, _ := http.NewRequest("GET", who.base+"/_matrix/client/v1"+path, nil)
		req.Header.Set("Authorization", "Bearer "+who.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(out)
		return resp.StatusCode
	}
	type chunk struct {
		Chunk []struct {
			EventID  string `json:"event_id"`
			Unsigned struct {
				Relations map[string]json.RawMessage `json:"m.relations"`
			} `json:"unsigned"`
		} `json:"chunk"`
		NextBatch      string `json:"next_batch"`
		RecursionDepth *int   `json:"recursion_depth"`
	}
	ids := func(c chunk) (out []string) {
		for _, e := range c.Chunk {
			out = append(out, e.EventID)
		}
		return out
	}
	var c chunk
	get(bob, rp+"/relations/"+url.PathEscape(root)+"/m.thread", &c)
	if got := ids(c); len(got) != 2 || got[0] != r2 || got[1] != r1 {
		t.Fatalf("thread replies, newest first: %v", got)
	}
	c = chunk{}
	get(bob, rp+"/relations/"+url.PathEscape(root)+"/m.thread?dir=f&limit=1", &c)
	if got := ids(c); len(got) != 1 || got[0] != r1 || c.NextBatch == "" {
		t.Fatalf("first page forward: %v %q", got, c.NextBatch)
	}
	next := c.NextBatch
	c = chunk{}
	get(bob, rp+"/relations/"+url.PathEscape(root)+"/m.thread?dir=f&limit=1&from="+url.QueryEscape(next), &c)
	if got := ids(c); len(got) != 1 || got[0] != r2 {
		t.Fatalf("second page forward: %v", got)
	}
	c = chunk{}
	get(bob, rp+"/relations/"+url.PathEscape(root)+"/m.reference/m.room.message", &c)
	if got := ids(c); len(got) != 1 || got[0] != ref {
		t.Fatalf("references: %v", got)
	}
	c = chunk{}
	get(bob, rp+"/relations/"+url.PathEscape(root)+"?recurse=true&limit=20", &c)
	if got := ids(c); len(got) != 7 || c.RecursionDepth == nil || !contains(got, nested) {
		t.Fatalf("recursive: %v (depth %v)", got, c.RecursionDepth)
	}
	c = chunk{}
	get(bob, rp+"/relations/"+url.PathEscape(root)+"?limit=20", &c)
	if got := ids(c); len(got) != 6 || contains(got, nested) {
		t.Fatalf("one level: %v", got)
	}
	if code := get(bob, rp+"/relations/"+url.PathEscape("$nope"), &c); code != 404 {
		t.Fatalf("unknown parent: %d", code)
	}

	// The root as served carries the aggregations.
	var ev struct {
		Unsigned struct {
			Relations struct {
				Thread *struct {
					Count        int  `json:"count"`
					Participated bool `json:"current_user_participated"`
					Latest       struct {
						EventID string `json:"event_id"`
					} `json:"latest_event"`
				} `json:"m.thread"`
				Replace *struct {
					EventID string `json:"event_id"`
				} `json:"m.replace"`
				Reference *struct {
					Chunk []struct {
						EventID string `json:"event_id"`
					} `json:"chunk"`
				} `json:"m.reference"`
			} `json:"m.relations"`
		} `json:"unsigned"`
	}
	bob.must("GET", rp+"/event/"+url.PathEscape(root), nil, &ev)
	r := ev.Unsigned.Relations
	if r.Thread == nil || r.Thread.Count != 2 || !r.Thread.Participated || r.Thread.Latest.EventID != r2 {
		t.Fatalf("m.thread aggregation: %+v", r.Thread)
	}
	if r.Replace == nil || r.Replace.EventID != edit2 {
		t.Fatalf("m.replace aggregation (the newest edit by the sender, not bob's): %+v", r.Replace)
	}
	if r.Reference == nil || len(r.Reference.Chunk) != 1 || r.Reference.Chunk[0].EventID != ref {
		t.Fatalf("m.reference aggregation: %+v", r.Reference)
	}

	// Threads, most recently active first; participated for alice.
	var th chunk
	get(bob, rp+"/threads", &th)
	if got := ids(th); len(got) != 2 || got[0] != other || got[1] != root {
		t.Fatalf("threads: %v", got)
	}
	th = chunk{}
	get(alice, rp+"/threads?include=participated", &th)
	if got := ids(th); len(got) != 2 {
		t.Fatalf("alice's threads (she wrote both roots): %v", got)
	}
	carol := register(t, hs.hs.ClientURL(), "carol")
	carol.must("POST", rp+"/join", map[string]any{}, nil)
	carol.must("PUT", rp+"/send/m.room.message/c1", map[string]any{"msgtype": "m.text", "body": "me too", "m.relates_to": rel("m.thread", other)}, nil)
	th = chunk{}
	get(carol, rp+"/threads?include=participated", &th)
	if got := ids(th); len(got) != 1 || got[0] != other {
		t.Fatalf("carol's threads: %v", got)
	}
	th = chunk{}
	get(bob, rp+"/threads?limit=1", &th)
	if got := ids(th); len(got) != 1 || th.NextBatch == "" {
		t.Fatalf("threads page 1: %v", got)
	}
	_ = r3
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
