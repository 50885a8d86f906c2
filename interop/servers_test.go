//go:build unix

package interop

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dendriteVersion is the Dendrite release the suite runs against.
const dendriteVersion = "v0.13.8"

var dendriteCommands = []string{"dendrite", "generate-config", "generate-keys"}

// cacheDir is where built peers are kept between runs:
// $MXKIT_INTEROP_CACHE, or mxkit-interop in the user's cache directory.
func cacheDir(t *testing.T) string {
	if d := os.Getenv("MXKIT_INTEROP_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory (set MXKIT_INTEROP_CACHE): %v", err)
	}
	return filepath.Join(d, "mxkit-interop")
}

// installDendrite installs Dendrite's commands from the Go module proxy
// into the cache (pure Go: CGO_ENABLED=0 selects its SQLite driver written
// in Go), or reuses the ones installed by an earlier run.
func installDendrite(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(cacheDir(t), "dendrite-"+dendriteVersion)
	if haveAll(bin) {
		return bin
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(bin), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	args := []string{"install"}
	for _, c := range dendriteCommands {
		args = append(args, "github.com/matrix-org/dendrite/cmd/"+c+"@"+dendriteVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	t.Logf("installing Dendrite %s into %s (once; a few minutes)", dendriteVersion, bin)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("Dendrite installed in %v", time.Since(start).Round(time.Second))
	// The directory appears whole or not at all.
	if err := os.Rename(tmp, bin); err != nil && !haveAll(bin) {
		t.Fatal(err)
	}
	return bin
}

func haveAll(dir string) bool {
	for _, c := range dendriteCommands {
		if st, err := os.Stat(filepath.Join(dir, c)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

// buildHomeserver builds the example homeserver of this repository.
func buildHomeserver(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "homeserver")
	cmd := exec.Command("go", "build", "-o", out, "./examples/homeserver")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the example homeserver: %v\n%s", err, b)
	}
	return out
}

// freePort returns a port free on 127.0.0.1 at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost,
// served by both servers' federation listeners.
func writeCert(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// server is one homeserver process: how to start it again, where its
// client API is, and its log.
type server struct {
	kind       string // "mxkit" or "dendrite"
	name       string // server name
	clientURL  string
	dir        string
	args       []string
	logPath    string
	cmd        *exec.Cmd
	waitDone   chan struct{}
	startCount int
}

// start runs the server in its own process group and waits until its
// client API answers.
func (s *server) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s.startCount++
	fmt.Fprintf(logf, "\n=== start %d at %s\n", s.startCount, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting %s: %v", s.kind, err)
	}
	s.cmd = cmd
	done := make(chan struct{})
	s.waitDone = done
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.clientURL + "/_matrix/client/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("%s exited at start:\n%s", s.kind, s.logTail(40))
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			t.Fatalf("%s did not answer in 60s:\n%s", s.kind, s.logTail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the server's process group: SIGTERM, then SIGKILL after 10s.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.waitDone:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.waitDone
	}
	s.cmd = nil
}

func (s *server) logTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(string(bytes.TrimRight(b, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// newDendrite configures a Dendrite on loopback: server name
// 127.0.0.1:<federation port> (HTTPS with cert), client API on plain HTTP.
func newDendrite(t *testing.T, bin, dir, cert, key string) *server {
	t.Helper()
	clientPort, fedPort := freePort(t), freePort(t)
	name := fmt.Sprintf("127.0.0.1:%d", fedPort)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := exec.Command(filepath.Join(bin, "generate-config"), "-ci", "-server", name, "-dir", dir).Output()
	if err != nil {
		t.Fatalf("generate-config: %v", err)
	}
	yaml, err := dendriteConfig(string(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dendrite.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(bin, "generate-keys"), "--private-key", filepath.Join(dir, "matrix_key.pem")).CombinedOutput(); err != nil {
		t.Fatalf("generate-keys: %v\n%s", err, out)
	}
	return &server{
		kind: "dendrite", name: name, dir: dir,
		clientURL: fmt.Sprintf("http://127.0.0.1:%d", clientPort),
		logPath:   filepath.Join(dir, "dendrite.log"),
		args: []string{filepath.Join(bin, "dendrite"), "--config", "dendrite.yaml", "--really-enable-open-registration",
			"--http-bind-address", fmt.Sprintf("127.0.0.1:%d", clientPort),
			"--https-bind-address", fmt.Sprintf("127.0.0.1:%d", fedPort),
			"--tls-cert", cert, "--tls-key", key},
	}
}

// dendriteConfig edits the configuration generate-config -ci writes (no
// key perspectives, rate limiting off, registration open with a shared
// secret, presence on, SQLite files in -dir) for this suite: outbound
// federation accepts the peer's self-signed certificate, no identity
// server is trusted (nothing is asked of matrix.org or vector.im), and the
// log is at info rather than trace. Each edit must find its line: a changed
// generate-config fails here rather than running with other settings.
func dendriteConfig(generated string) (string, error) {
	lines := strings.Split(generated, "\n")
	section := ""
	edits := map[string]string{
		"federation_api/  disable_tls_validation: false": "  disable_tls_validation: true",
		"logging/  level: trace":                         "  level: info",
		"global/  trusted_third_party_id_servers:":       "  trusted_third_party_id_servers: []",
		"global/  - matrix.org":                          "",
		"global/  - vector.im":                           "",
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range lines {
		if l != "" && l[0] != ' ' && l[0] != '-' {
			section = strings.TrimSuffix(l, ":")
		}
		if repl, ok := edits[section+"/"+l]; ok {
			seen[section+"/"+l] = true
			if repl == "" {
				continue
			}
			l = repl
		}
		out = append(out, l)
	}
	lines = out
	for k := range edits {
		if !seen[k] {
			return "", fmt.Errorf("generate-config output has no %q", k)
		}
	}
	for _, want := range []string{"  key_perspectives: []", "    enabled: false", "  registration_disabled: false", "  registration_shared_secret: complement"} {
		if !strings.Contains(generated, "\n"+want+"\n") {
			return "", fmt.Errorf("generate-config -ci output lacks %q", want)
		}
	}
	return strings.Join(lines, "\n"), nil
}

// newMxkit configures the example homeserver on loopback: server name
// 127.0.0.1:<federation port>, federation over TLS with the shared
// self-signed certificate (trusted with --federation-ca), client API on
// plain HTTP.
func newMxkit(t *testing.T, bin, dir, cert, key string) *server {
	t.Helper()
	clientPort, fedPort := freePort(t), freePort(t)
	name := fmt.Sprintf("127.0.0.1:%d", fedPort)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &server{
		kind: "mxkit", name: name, dir: dir,
		clientURL: fmt.Sprintf("http://127.0.0.1:%d", clientPort),
		logPath:   filepath.Join(dir, "homeserver.log"),
		args: []string{bin, "--server-name", name,
			"--listen", fmt.Sprintf("127.0.0.1:%d", clientPort),
			"--federation-listen", fmt.Sprintf("127.0.0.1:%d", fedPort),
			"--federation-tls-cert", cert, "--federation-tls-key", key, "--federation-ca", cert,
			"--allow-private-addresses", "--open-registration",
			"--db", filepath.Join(dir, "homeserver.db"), "--key", filepath.Join(dir, "signing.key")},
	}
}
