package main

import (
	"strings"
	"testing"
)

// The specification's signed events reproduce with the redaction rules
// of room versions 1 to 10 (they keep the top-level origin).
func TestSignEventVectors(t *testing.T) {
	key := eventTestFile(t, "key", eventSpecKeyFile)
	for _, v := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"} {
		wantOutput(t, runTool(t, specMinimalInput, "sign", "--key", key, "--server", "domain", "--room-version", v), specMinimalOutput)
		wantOutput(t, runTool(t, specMessageInput, "sign", "--key", key, "--server", "domain", "--room-version", v), specMessageOutput)
	}
	// Version 11 drops origin when redacting: another signature.
	r := runTool(t, specMinimalInput, "sign", "--key", key, "--server", "domain", "--room-version", "11")
	if r.code != 0 || r.stdout == specMinimalOutput+"\n" || !strings.Contains(r.stdout, `"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"`) {
		t.Errorf("v11: status %d output %s", r.code, r.stdout)
	}
}

// A second server's signature is merged with the first.
func TestSignEventCosign(t *testing.T) {
	key := eventTestFile(t, "key", eventSpecKeyFile)
	r := runTool(t, specMinimalOutput, "sign", "--key", key, "--server", "other.example", "--room-version", "10")
	if r.code != 0 {
		t.Fatalf("status %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `"signatures":{"domain":{"ed25519:1":"KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"},"other.example":{"ed25519:1":"KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}}`) {
		t.Errorf("signatures not merged: %s", r.stdout)
	}
}

// Without --room-version the input is signed as plain JSON (the
// appendix's JSON signing vector).
func TestSignWithoutRoomVersion(t *testing.T) {
	key := eventTestFile(t, "key", eventSpecKeyFile)
	wantOutput(t, runTool(t, `{"one":1,"two":"Two"}`, "sign", "--key", key, "--server", "domain"),
		`{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}`)
}

func TestSignUsage(t *testing.T) {
	key := eventTestFile(t, "key", eventSpecKeyFile)
	bad := eventTestFile(t, "bad", "ed25519 1 nope\n")
	for _, c := range []struct {
		input   string
		args    []string
		mention string
	}{
		{specMinimalInput, []string{"sign", "--server", "domain", "--room-version", "4"}, "--key"},
		{specMinimalInput, []string{"sign", "--key", key, "--room-version", "4"}, "--server"},
		{specMinimalInput, []string{"sign", "--key", key, "--server", "domain", "--room-version", "0"}, "unknown room version"},
		{specMinimalInput, []string{"sign", "--key", bad, "--server", "domain", "--room-version", "4"}, "--key"},
		{specMinimalInput, []string{"sign", "--key", key + ".missing", "--server", "domain", "--room-version", "4"}, "--key"},
		{`{"a":1`, []string{"sign", "--key", key, "--server", "domain", "--room-version", "4"}, "offset"},
		{`{"a":1,"a":2}`, []string{"sign", "--key", key, "--server", "domain", "--room-version", "4"}, "duplicate"},
		{`[]`, []string{"sign", "--key", key, "--server", "domain", "--room-version", "4"}, "object"},
		{`{"content":{},"type":"X","n":1.5}`, []string{"sign", "--key", key, "--server", "domain", "--room-version", "6"}, "number"},
		{`{"content":[],"type":"X"}`, []string{"sign", "--key", key, "--server", "domain", "--room-version", "6"}, "content"},
	} {
		wantUsage(t, runTool(t, c.input, c.args...), "sign", c.mention)
	}
}
