package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

func TestMutualRooms(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "mr.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	bob := register(t, hs.hs.ClientURL(), "bob")
	var shared, alone struct {
		RoomID string `json:"room_id"`
	}
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &shared)
	alice.must("POST", "/createRoom", map[string]any{"preset": "public_chat"}, &alone)
	bob.must("POST", "/rooms/"+url.PathEscape(shared.RoomID)+"/join", map[string]any{}, nil)
	get := func(q string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", hs.hs.ClientURL()+"/_matrix/client/v1/mutual_rooms"+q, nil)
		req.Header.Set("Authorization", "Bearer "+alice.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, m := get("?user_id=" + url.QueryEscape("@bob:mr.test"))
	if code != 200 || m["count"] != float64(1) || m["joined"].([]any)[0] != shared.RoomID {
		t.Fatalf("mutual rooms: %d %v", code, m)
	}
	if code, m := get("?user_id=" + url.QueryEscape("@nobody:mr.test")); code != 200 || m["count"] != float64(0) {
		t.Fatalf("an unknown user: %d %v", code, m)
	}
	for _, q := range []string{"", "?user_id=" + url.QueryEscape("@alice:mr.test"), "?user_id=bob", "?user_id=%40bob%3Amr.test&from=x"} {
		if code, _ := get(q); code != 400 {
			t.Errorf("%q: %d, want 400", q, code)
		}
	}
}
