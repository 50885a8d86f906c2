package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the homeserver: with MXKIT_HOMESERVER_MAIN
// set it runs main, so tests can start, kill and restart a real process
// without building another binary.
func TestMain(m *testing.M) {
	if os.Getenv("MXKIT_HOMESERVER_MAIN") == "1" {
		os.Args = append([]string{"homeserver"}, strings.Fields(os.Getenv("MXKIT_HOMESERVER_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// proc is a homeserver running as a child process.
type proc struct {
	cmd       *exec.Cmd
	clientURL string
	fedAddr   string
	stderr    *bytes.Buffer
	done      chan struct{}
}

// startProc starts the homeserver with args and waits for its ready line.
func startProc(t testing.TB, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MXKIT_HOMESERVER_MAIN=1", "MXKIT_HOMESERVER_ARGS="+strings.Join(args, " "))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: new(bytes.Buffer), done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	select {
	case line := <-lines:
		for _, f := range strings.Fields(line) {
			switch {
			case strings.HasPrefix(f, "http://") && p.clientURL == "":
				p.clientURL = f
			case strings.HasPrefix(f, "http://"):
				p.fedAddr = strings.TrimPrefix(f, "http://")
			}
		}
		if !strings.HasPrefix(line, "mxkit homeserver ready: client ") || p.clientURL == "" {
			t.Fatalf("unexpected ready line %q", line)
		}
	case <-p.done:
		t.Fatalf("homeserver exited before it was ready: %s", p.stderr)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("homeserver not ready after 60s: %s", p.stderr)
	}
	t.Cleanup(func() { p.kill() })
	return p
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop ends the process with SIGTERM (a clean shutdown) and waits.
func (p *proc) stop(t *testing.T) {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Errorf("homeserver did not stop within 20s of SIGINT")
		p.kill()
	}
}

// inProcess runs a homeserver in this process on loopback ports.
type inProcess struct {
	hs *Homeserver
}

func startInProcess(t testing.TB, name string, fed bool, peers map[string]string) *inProcess {
	t.Helper()
	var ln net.Listener
	if fed {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	return startInProcessWith(t, name, ln, peers)
}

// startInProcessWith starts a homeserver whose federation API (when fedLn
// is not nil) serves on fedLn.
func startInProcessWith(t testing.TB, name string, fedLn net.Listener, peers map[string]string) *inProcess {
	t.Helper()
	fed := fedLn != nil
	dir := t.TempDir()
	cfg := &Config{ServerName: name, Listen: "127.0.0.1:0", DB: filepath.Join(dir, "hs.db"), KeyPath: filepath.Join(dir, "signing.key"),
		OpenRegistration: "auto", Peers: peers}
	if fed {
		cfg.FederationListen = "127.0.0.1:0"
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("MXKIT_HOMESERVER_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("server", name)
	}
	hs, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	hs.fedLn = fedLn
	if err := hs.Listen(); err != nil {
		hs.Close()
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	hs.Serve(errc)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		hs.Close()
	})
	return &inProcess{hs: hs}
}

// requireTool fails (in CI) or skips (locally) when a client library is
// not installed.
func requireTool(t *testing.T, what string, check func() error) {
	t.Helper()
	if err := check(); err != nil {
		msg := fmt.Sprintf("%s is not installed (%v); run .ci/install-clients (as root) to install the client libraries the homeserver is tested with", what, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// runClient runs a client script with a timeout and checks it printed ok.
func runClient(t *testing.T, timeout time.Duration, dir string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out after %v\nstdout:\n%s\nstderr:\n%s", name, args, timeout, out.String(), tail(errb.String(), 4000))
	}
	if err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", name, args, err, out.String(), tail(errb.String(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// api is a minimal client for the tests' own requests.
type api struct {
	t     testing.TB
	base  string
	token string
}

func (a *api) do(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+"/_matrix/client/v3"+path, rd)
	if err != nil {
		return 0, err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != 200 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return 200, json.Unmarshal(b, out)
	}
	return 200, nil
}

func (a *api) must(method, path string, body any, out any) {
	a.t.Helper()
	if _, err := a.do(method, path, body, out); err != nil {
		a.t.Fatal(err)
	}
}

// register creates a user and returns a client logged in as it.
func register(t testing.TB, base, name string) *api {
	t.Helper()
	a := &api{t: t, base: base}
	var c struct {
		AccessToken string `json:"access_token"`
		UserID      string `json:"user_id"`
	}
	a.must("POST", "/register", map[string]any{"username": name, "password": "pw-" + name, "auth": map[string]string{"type": "m.login.dummy"}}, &c)
	a.token = c.AccessToken
	return a
}

func login(t testing.TB, base, name string) *api {
	t.Helper()
	a := &api{t: t, base: base}
	var c struct {
		AccessToken string `json:"access_token"`
	}
	a.must("POST", "/login", map[string]any{"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": name}, "password": "pw-" + name}, &c)
	a.token = c.AccessToken
	return a
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
