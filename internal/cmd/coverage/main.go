// Command coverage writes docs/coverage.md: the client-server endpoints of
// the newest specification release (internal/specendpoints, from the
// spec's OpenAPI files) module by module, against the routes of the
// clientapi adapters (clientapi.Server.Endpoints) and the endpoints the
// example homeserver serves, found by starting it and asking each
// endpoint once (an answer other than M_UNRECOGNIZED means served).
// A short list of deliberate exceptions (exceptions), each with its
// argument, names the endpoints whose service a homeserver does not have;
// the probe checks they give the specification's answer for that case,
// and they are shown as exceptions, never counted as served.
//
// From the repository root:
//
//	go run ./internal/cmd/coverage
//
// A test of this package fails while docs/coverage.md differs from what
// the command would write.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/internal/specendpoints"
)

func main() {
	out := flag.String("o", "docs/coverage.md", "the file to write, relative to the repository root")
	flag.Parse()
	root, err := repoRoot()
	if err == nil {
		var doc []byte
		if doc, err = generate(root); err == nil {
			err = os.WriteFile(filepath.Join(root, *out), doc, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coverage:", err)
		os.Exit(1)
	}
}

// repoRoot is the directory of the module's go.mod.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the module")
	}
	return filepath.Dir(mod), nil
}

// row is one endpoint of the table.
type row struct {
	specendpoints.Endpoint
	routed, served bool
	// exception is the argument of a deliberate exception, "" for none.
	exception string
}

// exception is an endpoint the example homeserver deliberately does not
// serve: the service behind it is not part of a homeserver, and the
// homeserver gives the answer the specification defines for a server
// without it (Status and Errcode, checked by the probe). The clientapi
// adapters route each one to a backend that a program with the service
// can set.
type exception struct {
	Method, Path string
	Status       int
	Errcode      string
	Why          string
}

// exceptions is the short, named list of deliberate exceptions.
var exceptions = []exception{
	{"GET", "/_matrix/client/v3/login/sso/redirect", 404, "M_UNRECOGNIZED",
		"no identity provider: `GET /login` offers no `m.login.sso` flow, so clients never come here (`clientapi.SSO` backs it)"},
	{"GET", "/_matrix/client/v3/login/sso/redirect/{idpId}", 404, "M_UNRECOGNIZED",
		"no identity provider, as above (`clientapi.SSO`)"},
	{"GET", "/_matrix/client/v1/auth_metadata", 404, "M_UNRECOGNIZED",
		"no OAuth 2.0 API: 404 `M_UNRECOGNIZED` is the spec's answer for a server without it (`clientapi.OAuth`)"},
	{"GET", "/.well-known/matrix/policy_server", 404, "M_NOT_FOUND",
		"no policy server on this host: 404 is the spec's \"no policy server information available\" (`clientapi.PolicyServer`)"},
}

// exceptionFor returns the exception of e, if any.
func exceptionFor(e specendpoints.Endpoint) *exception {
	for i, x := range exceptions {
		if x.Method == e.Method && x.Path == e.Path {
			return &exceptions[i]
		}
	}
	return nil
}

// checkExceptions fails when an exception names no endpoint of the
// newest release: the list must not outlive the spec.
func checkExceptions(rows []row) error {
	for _, x := range exceptions {
		found := false
		for _, r := range rows {
			found = found || (r.Current() && r.Method == x.Method && r.Path == x.Path)
		}
		if !found {
			return fmt.Errorf("exception %s %s is not an endpoint of %s", x.Method, x.Path, specendpoints.Latest())
		}
	}
	return nil
}

func generate(root string) ([]byte, error) {
	var routes []specendpoints.Route
	for _, e := range (&clientapi.Server{}).Endpoints() {
		routes = append(routes, specendpoints.Route{Method: e.Method, Pattern: e.Pattern})
	}
	m := specendpoints.NewMatcher(routes)
	var rows []row
	// Every endpoint of every release, removed ones too, so that the
	// table of releases judges each release on its own endpoints.
	for _, e := range specendpoints.All() {
		rows = append(rows, row{Endpoint: e, routed: m.Serves(e)})
	}
	if err := checkExceptions(rows); err != nil {
		return nil, err
	}
	served, versions, err := probeHomeserver(root, rows)
	if err != nil {
		return nil, fmt.Errorf("example homeserver: %w", err)
	}
	for i := range rows {
		rows[i].served = served[i]
		if x := exceptionFor(rows[i].Endpoint); x != nil {
			rows[i].exception = x.Why
		}
	}
	return render(rows, versions), nil
}

// probeHomeserver builds and starts the example homeserver in a temporary
// directory, registers a user, and asks every endpoint once. It returns
// which are served and what GET /versions advertises.
func probeHomeserver(root string, rows []row) ([]bool, []string, error) {
	dir, err := os.MkdirTemp("", "mxkit-coverage-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "homeserver")
	build := exec.Command("go", "build", "-o", bin, "./examples/homeserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--server-name", "coverage.localhost", "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "hs.db"), "--key", filepath.Join(dir, "signing.key"), "--log-level", "error")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	base, err := readyURL(stdout)
	if err != nil {
		return nil, nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	p := &prober{base: base, client: &http.Client{Timeout: 5 * time.Second}}
	if err := p.register(); err != nil {
		return nil, nil, err
	}
	var versions struct {
		Versions []string `json:"versions"`
	}
	if _, body, err := p.do("GET", "/_matrix/client/versions", false); err != nil {
		return nil, nil, err
	} else if err := json.Unmarshal(body, &versions); err != nil {
		return nil, nil, fmt.Errorf("versions: %w", err)
	}
	// Endpoints that end the probe's session go last.
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return !ending(rows[order[a]].Endpoint) && ending(rows[order[b]].Endpoint) })
	served := make([]bool, len(rows))
	for _, i := range order {
		if served[i], err = p.served(rows[i].Endpoint); err != nil {
			return nil, nil, err
		}
	}
	return served, versions.Versions, nil
}

func ending(e specendpoints.Endpoint) bool {
	return strings.Contains(e.Path, "logout") || strings.Contains(e.Path, "deactivate") ||
		strings.Contains(e.Path, "delete_devices") || (e.Method == "DELETE" && strings.Contains(e.Path, "/devices/"))
}

// readyURL reads the homeserver's ready line for the client URL.
func readyURL(r io.Reader) (string, error) {
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		for _, f := range strings.Fields(line) {
			if ok && strings.HasPrefix(f, "http://") {
				return f, nil
			}
		}
		return "", fmt.Errorf("no ready line (got %q)", line)
	case <-time.After(60 * time.Second):
		return "", errors.New("not ready after 60s")
	}
}

type prober struct {
	base   string
	token  string
	client *http.Client
}

func (p *prober) register() error {
	body := `{"username":"coverage","password":"coverage-password","auth":{"type":"m.login.dummy"}}`
	req, _ := http.NewRequest("POST", p.base+"/_matrix/client/v3/register", strings.NewReader(body))
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		return fmt.Errorf("register: %d %v", resp.StatusCode, err)
	}
	p.token = out.AccessToken
	return nil
}

func (p *prober) do(method, path string, withBody bool) (int, []byte, error) {
	var body io.Reader
	if withBody {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, p.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if withBody {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, err
}

// served asks the endpoint once: any answer but M_UNRECOGNIZED (and a
// request still waiting at the client's timeout, a long poll) means
// served.
// A deliberate exception is never served: its answer must be the one the
// exception names, or the probe fails.
func (p *prober) served(e specendpoints.Endpoint) (bool, error) {
	status, body, err := p.do(e.Method, specendpoints.SampleURL(e.Path), e.Method == "POST" || e.Method == "PUT")
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", e.Method, e.Path, err)
	}
	var answer struct {
		Errcode string `json:"errcode"`
	}
	json.Unmarshal(body, &answer)
	if x := exceptionFor(e); x != nil {
		if status != x.Status || answer.Errcode != x.Errcode {
			return false, fmt.Errorf("exception %s %s: the homeserver answers %d %s, not %d %s", e.Method, e.Path, status, answer.Errcode, x.Status, x.Errcode)
		}
		return false, nil
	}
	return answer.Errcode != "M_UNRECOGNIZED", nil
}

// render writes the markdown: the releases from all rows, the rest from
// those of the newest release.
func render(all []row, versions []string) []byte {
	var rows []row
	for _, r := range all {
		if r.Current() {
			rows = append(rows, r)
		}
	}
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	routed, served, excepted := 0, 0, 0
	for _, r := range rows {
		if r.routed {
			routed++
		}
		if r.served {
			served++
		}
		if r.exception != "" {
			excepted++
		}
	}
	w("# Client-server API coverage\n\n")
	w("The client-server endpoints of the Matrix specification %s (from its OpenAPI files,\n", specendpoints.Latest())
	w("`data/api/client-server/*.yaml`), against the routes of the `clientapi` adapters and\n")
	w("the endpoints the example homeserver serves (asked once each; an answer other than\n")
	w("`M_UNRECOGNIZED` counts as served). Generated by `go run ./internal/cmd/coverage`;\n")
	w("a test fails while this file is stale.\n\n")
	w("| | endpoints | clientapi routes | homeserver serves |\n|---|---:|---:|---:|\n")
	w("| **all** | %d | %d (%d%%) | %d (%d%%) |\n\n", len(rows), routed, pct(routed, len(rows)), served, pct(served, len(rows)))
	if excepted > 0 {
		others := len(rows) - excepted
		w("With the %d deliberate exceptions below, the example homeserver serves %d of the other %d\n", excepted, served, others)
		w("endpoints (%d%%). An exception is never counted as served.\n\n", pct(served, others))
	}
	adv := "none"
	if len(versions) > 0 {
		adv = strings.Join(versions, ", ")
	}
	w("`GET /versions` of the example homeserver advertises: %s. A release is advertised\n", adv)
	w("only when all of its endpoints are served (`clientapi.Server.SupportedVersions`); the\n")
	w("deliberate exceptions count as conformant, since each gives the answer the spec defines\n")
	w("for a server without that optional service.\n\n")

	w("## Releases\n\n| release | endpoints | not routed | not served by the homeserver | of which exceptions |\n|---|---:|---:|---:|---:|\n")
	for _, rel := range specendpoints.Releases() {
		n, nr, ns, nx := 0, 0, 0, 0
		for _, r := range all {
			if !r.In(rel) {
				continue
			}
			n++
			if !r.routed {
				nr++
			}
			if !r.served {
				ns++
			}
			if exceptionFor(r.Endpoint) != nil {
				nx++
			}
		}
		w("| %s | %d | %d | %d | %d |\n", rel, n, nr, ns, nx)
	}
	w("\nEach release is judged on its own endpoints, those removed since included.\n\n")

	w("## Modules\n\n| module (OpenAPI file) | endpoints | clientapi routes | homeserver serves |\n|---|---:|---:|---:|\n")
	modules := map[string][]row{}
	var names []string
	for _, r := range rows {
		if modules[r.Module] == nil {
			names = append(names, r.Module)
		}
		modules[r.Module] = append(modules[r.Module], r)
	}
	sort.Strings(names)
	for _, n := range names {
		rs := modules[n]
		cr, cs := 0, 0
		for _, r := range rs {
			if r.routed {
				cr++
			}
			if r.served {
				cs++
			}
		}
		w("| %s | %d | %d | %d |\n", n, len(rs), cr, cs)
	}
	if excepted > 0 {
		w("\n## Deliberate exceptions\n\n")
		w("Endpoints the example homeserver does not serve on purpose: the service behind each is not\n")
		w("a homeserver's, and it gives the answer the specification defines for a server without\n")
		w("it (checked when this file is generated). The `clientapi` adapters route each one to a\n")
		w("backend that a program with the service sets.\n\n")
		w("| method | path | answer | why |\n|---|---|---|---|\n")
		for _, x := range exceptions {
			w("| %s | `%s` | %d `%s` | %s |\n", x.Method, x.Path, x.Status, x.Errcode, x.Why)
		}
	}
	w("\n## Endpoints\n\n")
	for _, n := range names {
		w("### %s\n\n| method | path | added | clientapi | homeserver |\n|---|---|---|:-:|:-:|\n", n)
		for _, r := range modules[n] {
			dep := ""
			if r.Deprecated {
				dep = " (deprecated)"
			}
			hs := mark(r.served)
			if r.exception != "" {
				hs = "exception"
			}
			w("| %s | `%s`%s | %s | %s | %s |\n", r.Method, r.Path, dep, r.Added, mark(r.routed), hs)
		}
		w("\n")
	}
	return b.Bytes()
}

func pct(a, b int) int {
	if b == 0 {
		return 0
	}
	return a * 100 / b
}

func mark(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
