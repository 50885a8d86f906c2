package main

import (
	"strings"
	"testing"
)

// The expected hashes were computed independently, with Python's hashlib
// and json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
// over the events stripped and redacted by hand.
func TestHashes(t *testing.T) {
	for _, c := range []struct {
		input, version, want string
	}{
		{specMinimalOutput, "3", `{"content_hash":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos","content_hash_valid":true,"reference_hash":"8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc"}`},
		// The reference hash in standard base64 even where IDs are URL-safe.
		{strings.Replace(specMinimalOutput, `"depth":3`, `"depth":5`, 1), "10", `{"content_hash":"bM7ejD6Tw2LDlkqq2O46IJ/pUo5jzoFLPG1bOnZON38","content_hash_valid":false,"reference_hash":"Dst8nddHyB+rq/NxCgoksQtbOXBhAX8zIOGo/f9ak8o"}`},
		// No hashes.sha256: not valid.
		{specMinimalInput, "10", `{"content_hash":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos","content_hash_valid":false,"reference_hash":"GznJ7AhFWldAKVFf2pXjJPsdJRXC2WSSZsudqLgRjmg"}`},
		{specMessageOutput, "1", `{"content_hash":"onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g","content_hash_valid":true,"reference_hash":"oFAil2fHTGY66j9PIsC3hnc+/6r2SQGxCzd1/FUgtOE"}`},
		// A hashes.sha256 of the wrong type is not valid either.
		{strings.Replace(specMinimalOutput, `{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"}`, `{"sha256":5}`, 1), "3", `{"content_hash":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos","content_hash_valid":false,"reference_hash":"EjsGGPxFmUcYBe9Yv/T95UpeexW6TEQPsBJl5shLvxw"}`},
	} {
		r := runTool(t, c.input, "hashes", "--room-version", c.version)
		wantOutput(t, r, c.want)
	}
}

func TestHashesUsage(t *testing.T) {
	wantUsage(t, runTool(t, specMinimalOutput, "hashes"), "hashes", "--room-version")
	wantUsage(t, runTool(t, specMinimalOutput, "hashes", "--room-version", "x"), "hashes", "unknown room version")
	wantUsage(t, runTool(t, `{"a":1,"a":1}`, "hashes", "--room-version", "4"), "hashes", "duplicate")
	wantUsage(t, runTool(t, `{"content":{"n":1.5},"type":"X"}`, "hashes", "--room-version", "7"), "hashes", "number")
	wantUsage(t, runTool(t, `"string"`, "hashes", "--room-version", "7"), "hashes", "object")
}
