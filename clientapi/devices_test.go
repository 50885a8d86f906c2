package clientapi

import (
	"testing"
)

func TestDevices(t *testing.T) {
	f, s, _ := setup(t)
	r := do(t, s, "GET", "/_matrix/client/v3/devices", "tok_alice", "")
	if r.status != 200 || r.raw != `{"devices":[{"device_id":"DEValice"}]}` {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "PUT", "/_matrix/client/v3/devices/DEValice", "tok_alice", `{"display_name":"Laptop"}`); r.status != 200 {
		t.Fatalf("rename: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/devices/DEValice", "tok_alice", ""); r.raw != `{"device_id":"DEValice","display_name":"Laptop"}` {
		t.Fatalf("get: %s", r.raw)
	}
	if r := do(t, s, "GET", "/_matrix/client/v3/devices/NOPE", "tok_alice", ""); r.status != 404 || r.body["errcode"] != "M_NOT_FOUND" {
		t.Fatalf("get unknown: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "PUT", "/_matrix/client/v3/devices/NOPE", "tok_alice", `{"display_name":"x"}`); r.status != 404 {
		t.Fatalf("rename unknown: %d %s", r.status, r.raw)
	}

	// Deleting needs the password (UIA), and only the user's own.
	r = do(t, s, "DELETE", "/_matrix/client/v3/devices/DEValice", "tok_alice", "")
	if r.status != 401 || r.body["session"] == nil || r.raw == "" {
		t.Fatalf("delete without auth: %d %s", r.status, r.raw)
	}
	sess := r.body["session"].(string)
	// Bob cannot continue alice's session.
	if r := do(t, s, "DELETE", "/_matrix/client/v3/devices/DEVbob", "tok_bob", `{"auth":{"type":"m.login.password","session":"`+sess+`","user":"bob","password":"hunter2"}}`); r.status != 403 {
		t.Fatalf("session hijack: %d %s", r.status, r.raw)
	}
	r = do(t, s, "DELETE", "/_matrix/client/v3/devices/DEValice", "tok_alice", `{"auth":{"type":"m.login.password","session":"`+sess+`","identifier":{"type":"m.id.user","user":"alice"},"password":"wrong"}}`)
	if r.status != 401 || r.body["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("wrong password: %d %s", r.status, r.raw)
	}
	r = do(t, s, "DELETE", "/_matrix/client/v3/devices/DEValice", "tok_alice", `{"auth":{"type":"m.login.password","session":"`+sess+`","identifier":{"type":"m.id.user","user":"alice"},"password":"secret"}}`)
	if r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if _, ok := f.tokens["tok_alice"]; ok {
		t.Fatal("token of the deleted device still valid")
	}

	// POST /delete_devices with a password in the first request.
	r = do(t, s, "POST", "/_matrix/client/v3/delete_devices", "tok_bob", `{"devices":["DEVbob"],"auth":{"type":"m.login.password","user":"@bob:example.org","password":"hunter2"}}`)
	if r.status != 200 {
		t.Fatalf("delete_devices: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "POST", "/_matrix/client/v3/delete_devices", "as_token", `{}`); r.status != 400 || r.body["errcode"] != "M_MISSING_PARAM" {
		t.Fatalf("delete_devices without devices: %d %s", r.status, r.raw)
	}
}
