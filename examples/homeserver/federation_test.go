package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// pair is two homeservers on loopback that know each other through
// --peer, with their federation listeners open before either starts.
type pair struct{ a, b *inProcess }

func startPair(t *testing.T) pair {
	t.Helper()
	la, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peers := map[string]string{"a.test": la.Addr().String(), "b.test": lb.Addr().String()}
	a := startInProcessWith(t, "a.test", la, peers)
	b := startInProcessWith(t, "b.test", lb, peers)
	return pair{a, b}
}

// TestFederationNio runs the matrix-nio flow with its two users on two
// servers: the room is created on one, the second user is invited over
// federation, joins through the first server, and they talk.
func TestFederationNio(t *testing.T) {
	requireNio(t)
	p := startPair(t)
	runClient(t, 90*time.Second, ".", systemPython, filepath.Join("clients", "nio", "flow.py"), p.a.hs.ClientURL(), p.b.hs.ClientURL())
}

// TestFederationJS runs the matrix-js-sdk flow with its two users on two
// servers.
func TestFederationJS(t *testing.T) {
	requireJS(t)
	p := startPair(t)
	runClient(t, 90*time.Second, filepath.Join("clients", "js"), "node", "flow.mjs", p.a.hs.ClientURL(), p.b.hs.ClientURL())
}
