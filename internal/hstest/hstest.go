// Package hstest builds and starts the example homeserver
// (examples/homeserver) for the tests of the packages that drive it over
// loopback: a real server, started by the test and stopped with it.
package hstest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  string
	buildDir  string
)

// build compiles the homeserver once per test process.
func build() (string, error) {
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = "go env GOMOD: " + err.Error()
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		buildDir, err = os.MkdirTemp("", "mxkit-hs-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		bin := filepath.Join(buildDir, "homeserver")
		cmd := exec.Command("go", "build", "-o", bin, "./examples/homeserver")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = "building the homeserver: " + err.Error() + "\n" + string(out)
			return
		}
		binPath = bin
	})
	if buildErr != "" {
		return "", errors.New(buildErr)
	}
	return binPath, nil
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Start starts a homeserver named name on a loopback port with a fresh
// database and returns its client API URL. extra are more flags (such as
// --appservice FILE). The server is killed when the test ends.
func Start(t testing.TB, name string, extra ...string) string {
	t.Helper()
	url, _, _ := strings.Cut(start(t, name, extra...), " ")
	return url
}

// StartFederating is Start with the federation API on too, in plain HTTP
// on a loopback port: it returns the client API URL and the federation
// listener's host:port. Give --peer NAME=HOST:PORT in extra for the
// servers it must reach.
func StartFederating(t testing.TB, name string, extra ...string) (clientURL, federationAddr string) {
	t.Helper()
	extra = append([]string{"--federation-listen", "127.0.0.1:0", "--allow-private-addresses"}, extra...)
	urls := strings.Fields(start(t, name, extra...))
	if len(urls) != 2 {
		t.Fatalf("homeserver ready with %v, want a client and a federation URL", urls)
	}
	return urls[0], strings.TrimPrefix(urls[1], "http://")
}

// start starts the server and returns the URLs of its ready line,
// separated by spaces.
func start(t testing.TB, name string, extra ...string) string {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	urls, stop, err := run(bin, t.TempDir(), name, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		log := stop()
		if t.Failed() {
			t.Logf("homeserver log:\n%s", log)
		}
	})
	return urls
}

// StartProcess is Start for TestMain, where there is no testing.TB: the
// database goes in dir, and stop kills the server and returns its log.
func StartProcess(dir, name string, extra ...string) (url string, stop func() string, err error) {
	bin, err := build()
	if err != nil {
		return "", nil, err
	}
	urls, stop, err := run(bin, dir, name, extra...)
	url, _, _ = strings.Cut(urls, " ")
	return url, stop, err
}

func run(bin, dir, name string, extra ...string) (string, func() string, error) {
	args := append([]string{"--server-name", name, "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "hs.db"), "--key", filepath.Join(dir, "signing.key"),
		"--open-registration=true", "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	logw := &lockedWriter{w: &strings.Builder{}}
	cmd.Stderr = logw
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() string {
		cmd.Process.Kill()
		cmd.Wait()
		return logw.String()
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			ready <- sc.Text()
		}
		close(ready)
		for sc.Scan() {
		}
	}()
	select {
	case line := <-ready:
		if strings.HasPrefix(line, "mxkit homeserver ready: client ") {
			var urls []string
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, "http://") {
					urls = append(urls, f)
				}
			}
			if len(urls) > 0 {
				return strings.Join(urls, " "), stop, nil
			}
		}
		log := stop()
		return "", nil, fmt.Errorf("homeserver did not start: %q\n%s", line, log)
	case <-time.After(60 * time.Second):
		log := stop()
		return "", nil, fmt.Errorf("homeserver not ready after 60s\n%s", log)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
