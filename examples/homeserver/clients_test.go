package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// systemPython is the Debian interpreter: python3-matrix-nio is installed
// for it, whatever python3 comes first on PATH.
const systemPython = "/usr/bin/python3"

func requireNio(t *testing.T) {
	requireTool(t, "matrix-nio (Debian package python3-matrix-nio)", func() error {
		if out, err := exec.Command(systemPython, "-c", "import nio").CombinedOutput(); err != nil {
			return errors.New(string(out))
		}
		return nil
	})
}

func requireJS(t *testing.T) {
	requireTool(t, "matrix-js-sdk (npm, clients/js)", func() error {
		if _, err := exec.LookPath("node"); err != nil {
			return err
		}
		_, err := os.Stat(filepath.Join("clients", "js", "node_modules", "matrix-js-sdk", "package.json"))
		return err
	})
}

// TestClientNio runs the client flow of clients/nio/flow.py (matrix-nio,
// r0 endpoints, access_token query parameter) against a homeserver.
func TestClientNio(t *testing.T) {
	t.Parallel()
	requireNio(t)
	hs := startInProcess(t, "nio.localhost", false, nil)
	runClient(t, 90*time.Second, ".", systemPython, filepath.Join("clients", "nio", "flow.py"), hs.hs.ClientURL())
}

// TestClientJS runs the client flow of clients/js/flow.mjs
// (matrix-js-sdk with its sync loop) against a homeserver.
func TestClientJS(t *testing.T) {
	t.Parallel()
	requireJS(t)
	hs := startInProcess(t, "js.localhost", false, nil)
	runClient(t, 90*time.Second, filepath.Join("clients", "js"), "node", "flow.mjs", hs.hs.ClientURL())
}

// TestClientJSCrossSigning runs clients/js/crosssigning.mjs: matrix-js-sdk
// with its Rust crypto bootstraps cross-signing, secret storage and a key
// backup on one device, backs up a room key, and a second device of the
// same user sees the cross-signing keys, the first device signed by them,
// and the backup version, then restores the backup and decrypts the
// message.
func TestClientJSCrossSigning(t *testing.T) {
	t.Parallel()
	requireJS(t)
	hs := startInProcess(t, "jscs.localhost", false, nil)
	runClient(t, 90*time.Second, filepath.Join("clients", "js"), "node", "crosssigning.mjs", hs.hs.ClientURL())
}

// TestClientNioEncrypted runs clients/nio/e2ee.py: two matrix-nio clients
// with Olm (python3-olm) upload keys, claim one-time keys, set up Olm
// sessions over to-device messages, share Megolm sessions and read each
// other's encrypted messages.
func TestClientNioEncrypted(t *testing.T) {
	t.Parallel()
	requireNio(t)
	requireTool(t, "python3-olm (Debian)", func() error {
		if out, err := exec.Command(systemPython, "-c", "import olm").CombinedOutput(); err != nil {
			return errors.New(string(out))
		}
		return nil
	})
	hs := startInProcess(t, "e2ee.localhost", false, nil)
	runClient(t, 120*time.Second, ".", systemPython, filepath.Join("clients", "nio", "e2ee.py"), hs.hs.ClientURL())
}

// TestFederationNioEncrypted is TestClientNioEncrypted with the two users
// on two servers: keys are queried and claimed over federation, the Olm
// messages travel as m.direct_to_device EDUs.
func TestFederationNioEncrypted(t *testing.T) {
	t.Parallel()
	requireNio(t)
	requireTool(t, "python3-olm (Debian)", func() error {
		if out, err := exec.Command(systemPython, "-c", "import olm").CombinedOutput(); err != nil {
			return errors.New(string(out))
		}
		return nil
	})
	p := startPair(t)
	runClient(t, 120*time.Second, ".", systemPython, filepath.Join("clients", "nio", "e2ee.py"), p.a.hs.ClientURL(), p.b.hs.ClientURL())
}
