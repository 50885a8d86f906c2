package main

import (
	"strings"
	"testing"
)

func TestVerifyEvent(t *testing.T) {
	keys := eventTestFile(t, "keys", eventSpecKeysFile)
	otherKeys := eventTestFile(t, "other", `{"domain":{"ed25519:1":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}`)
	unknownKeys := eventTestFile(t, "unknown", `{"domain":{"ed25519:2":"XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"}}`)
	tamperedBody := strings.Replace(specMinimalOutput, `"content":{}`, `"content":{"body":"added"}`, 1)
	tamperedType := strings.Replace(specMinimalOutput, `"type":"X"`, `"type":"Y"`, 1)
	for _, c := range []struct {
		name, input, version, keys, want string
	}{
		{"the specification's minimal event", specMinimalOutput, "3", keys, `{"content_hash_valid":true,"valid":true}`},
		{"key validity (v5+) does not apply to the keys file", specMinimalOutput, "10", keys, `{"content_hash_valid":true,"valid":true}`},
		// Content is not signed, only hashed: the event is accepted in its
		// redacted form.
		{"content changed", tamperedBody, "10", keys, `{"content_hash_valid":false,"valid":true}`},
		{"type changed", tamperedType, "10", keys, `{"content_hash_valid":false,"error":"signing: domain ed25519:1: bad signature","valid":false}`},
		{"wrong key", specMinimalOutput, "10", otherKeys, `{"content_hash_valid":true,"error":"signing: domain ed25519:1: bad signature","valid":false}`},
		{"no known key", specMinimalOutput, "10", unknownKeys, `{"content_hash_valid":true,"error":"signing: domain: no known key for the signatures: no known key valid at the event's origin_server_ts","valid":false}`},
		// Version 11 redaction drops origin, which the signature covers.
		{"v11 rules", specMinimalOutput, "11", keys, `{"content_hash_valid":true,"error":"signing: domain ed25519:1: bad signature","valid":false}`},
		{"an event_id in a hash-ID version is left out", strings.Replace(specMinimalOutput, `"depth":3`, `"depth":3,"event_id":"$readable"`, 1), "10", keys, `{"content_hash_valid":true,"valid":true}`},
	} {
		r := runTool(t, c.input, "verify", "--keys", c.keys, "--room-version", c.version)
		if r.code != 0 {
			t.Fatalf("%s: status %d, stderr %q", c.name, r.code, r.stderr)
		}
		if r.stdout != c.want+"\n" {
			t.Errorf("%s:\n got %s\nwant %s", c.name, r.stdout, c.want)
		}
	}
}

// Signed by the sign subcommand, checked by verify: both versions 1 and 12.
func TestSignThenVerify(t *testing.T) {
	key := eventTestFile(t, "key", eventSpecKeyFile)
	keys := eventTestFile(t, "keys", eventSpecKeysFile)
	for version, ev := range map[string]string{
		"1":  `{"auth_events":[],"content":{"body":"hi"},"depth":1,"event_id":"$e:domain","hashes":{},"origin_server_ts":5,"prev_events":[],"room_id":"!r:domain","sender":"@u:domain","signatures":{},"type":"m.room.message"}`,
		"12": `{"auth_events":[],"content":{"room_version":"12"},"depth":1,"hashes":{},"origin_server_ts":5,"prev_events":[],"sender":"@u:domain","signatures":{},"state_key":"","type":"m.room.create"}`,
	} {
		s := runTool(t, ev, "sign", "--key", key, "--server", "domain", "--room-version", version)
		if s.code != 0 {
			t.Fatalf("v%s sign: %d %s", version, s.code, s.stderr)
		}
		wantOutput(t, runTool(t, s.stdout, "verify", "--keys", keys, "--room-version", version), `{"content_hash_valid":true,"valid":true}`)
	}
	// In version 1 the event_id's server signs too.
	ev := `{"auth_events":[],"content":{},"depth":1,"event_id":"$e:elsewhere","hashes":{},"origin_server_ts":5,"prev_events":[],"room_id":"!r:domain","sender":"@u:domain","signatures":{},"type":"m.room.message"}`
	s := runTool(t, ev, "sign", "--key", key, "--server", "domain", "--room-version", "1")
	wantOutput(t, runTool(t, s.stdout, "verify", "--keys", keys, "--room-version", "1"), `{"content_hash_valid":true,"error":"signing: elsewhere: no signature by the entity","valid":false}`)
}

func TestVerifyWithoutRoomVersion(t *testing.T) {
	keys := eventTestFile(t, "keys", eventSpecKeysFile)
	wantOutput(t, runTool(t, `{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}`, "verify", "--keys", keys), `{"valid":true}`)
}

func TestVerifyUsage(t *testing.T) {
	keys := eventTestFile(t, "keys", eventSpecKeysFile)
	badKeys := eventTestFile(t, "bad", `{"domain":{"ed25519:1":"short"}}`)
	for _, c := range []struct {
		input   string
		args    []string
		mention string
	}{
		{specMinimalOutput, []string{"verify", "--room-version", "4"}, "--keys"},
		{specMinimalOutput, []string{"verify", "--keys", keys, "--room-version", "99"}, "unknown room version"},
		{specMinimalOutput, []string{"verify", "--keys", badKeys, "--room-version", "4"}, "--keys"},
		{specMinimalOutput, []string{"verify", "--keys", keys + ".missing", "--room-version", "4"}, "--keys"},
		{"<html>", []string{"verify", "--keys", keys, "--room-version", "4"}, "json.syntax"},
		{`{"a":1,"a":1}`, []string{"verify", "--keys", keys, "--room-version", "4"}, "json.duplicate_key"},
		// Not a valid event of the version: wrong shape.
		{specMessageOutput, []string{"verify", "--keys", keys, "--room-version", "1"}, "depth.missing"},
		{specMinimalOutput, []string{"verify", "--keys", keys, "--room-version", "1"}, "event_id.missing"},
		{strings.Replace(specMinimalOutput, `"content":{}`, `"content":{"x":"`+strings.Repeat("a", 70000)+`"}`, 1), []string{"verify", "--keys", keys, "--room-version", "4"}, "size.event"},
	} {
		wantUsage(t, runTool(t, c.input, c.args...), "verify", c.mention)
	}
}
