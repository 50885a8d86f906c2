package main

import (
	"encoding/json"
	"os"
	"testing"
)

// The README's first command runs `mxtool hashes --room-version 12` on
// examples/sample-event.json; keep it working and meaningful.
func TestReadmeSampleEvent(t *testing.T) {
	raw, err := os.ReadFile("../sample-event.json")
	if err != nil {
		t.Fatal(err)
	}
	r := runTool(t, string(raw), "hashes", "--room-version", "12")
	if r.code != 0 {
		t.Fatalf("status %d: %s", r.code, r.stderr)
	}
	var out struct {
		ContentHash   string `json:"content_hash"`
		ReferenceHash string `json:"reference_hash"`
		Valid         bool   `json:"content_hash_valid"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if !out.Valid || len(out.ContentHash) != 43 || len(out.ReferenceHash) != 43 {
		t.Fatalf("sample event hashes: %+v", out)
	}
	if r := runTool(t, string(raw), "event-id", "--room-version", "12"); r.code != 0 {
		t.Fatalf("event-id: status %d: %s", r.code, r.stderr)
	}
}
