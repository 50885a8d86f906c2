package intent_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxkit/mxkit/internal/hstest"
)

// The examples run against the example homeserver, started here with an
// application service registration whose url is a loopback listener the
// echo bot example serves on.
var (
	homeserverURL    string
	registrationFile string
	listener         net.Listener
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mxkit-intent-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer hstest.Cleanup()
	if listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	registrationFile = filepath.Join(dir, "echo.yaml")
	reg := `id: echo
url: http://` + listener.Addr().String() + `
as_token: as-token-echo
hs_token: hs-token-echo
sender_localpart: echobot
namespaces:
  users: [{exclusive: true, regex: '@echo_.*:hs\.test'}]
`
	if err := os.WriteFile(registrationFile, []byte(reg), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	url, stop, err := hstest.StartProcess(dir, "hs.test", "--appservice", registrationFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	homeserverURL = url
	code := m.Run()
	if log := stop(); code != 0 {
		fmt.Fprintf(os.Stderr, "homeserver log:\n%s", log)
	}
	return code
}
