// Command roomaudit fetches a room from a Matrix server over federation
// and re-verifies every event, its authorization and the server's state,
// with the library's federation/audit package.
//
// Servers answer these requests (backfill, event_auth, state_ids) only to
// servers in the room, so roomaudit signs them as a server of yours that
// has joined it: give its name and its signing key (the one-line
// "ed25519 <version> <seed>" format that mxtool keygen writes).
//
//	go run ./examples/roomaudit --server-name my.example --key signing.key \
//	    --dest matrix.example.org --room '!abc:example.org' --room-version 12
//
// Without --event, the latest event is the one /timestamp_to_event finds
// for the present time. Exit status: 0 no finding, 1 findings (each on its
// own line) or the audit could not run, 2 unusable flags.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mxkit/mxkit/federation"
	"github.com/mxkit/mxkit/federation/audit"
	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/signing"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// staticFlag collects --resolve NAME=HOST:PORT pairs.
type staticFlag map[string]string

func (s staticFlag) String() string { return fmt.Sprint(map[string]string(s)) }

func (s staticFlag) Set(v string) error {
	name, addr, ok := strings.Cut(v, "=")
	if !ok || name == "" || addr == "" {
		return fmt.Errorf("want NAME=HOST:PORT, got %q", v)
	}
	s[name] = addr
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("roomaudit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serverName := fs.String("server-name", "", "the name of your server, which is in the room")
	keyFile := fs.String("key", "", "your server's signing key file")
	dest := fs.String("dest", "", "the server to audit")
	roomID := fs.String("room", "", "the room ID")
	versionID := fs.String("room-version", "", "the room's version")
	latest := fs.String("event", "", "the latest event to audit up to (default: the latest the server has)")
	limit := fs.Int("limit", audit.DefaultLimit, "the most events to backfill")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	plain := fs.Bool("plain-http", false, "speak plain HTTP (test servers on loopback only)")
	insecure := fs.Bool("insecure", false, "do not verify TLS certificates (test servers only)")
	static := staticFlag{}
	fs.Var(static, "resolve", "NAME=HOST:PORT: reach server NAME at HOST:PORT, skipping discovery (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "roomaudit:", msg)
		return 2
	}
	if *serverName == "" || *keyFile == "" || *dest == "" || *roomID == "" || *versionID == "" {
		return usage("--server-name, --key, --dest, --room and --room-version are required")
	}
	v, err := roomversion.Get(*versionID)
	if err != nil {
		return usage(err.Error())
	}
	data, err := os.ReadFile(*keyFile)
	if err != nil {
		return usage(err.Error())
	}
	key, err := signing.ParseKeyFile(data)
	if err != nil {
		return usage("--key: " + err.Error())
	}

	var tlsConfig *tls.Config
	if *insecure {
		tlsConfig = &tls.Config{InsecureSkipVerify: true}
	}
	transport := federation.NewTransport(&federation.Resolver{Static: static}, tlsConfig, *plain)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c := &federation.Client{ServerName: *serverName, Key: key, Transport: transport}
	if *latest == "" {
		at, err := c.TimestampToEvent(ctx, *dest, *roomID, time.Now().UnixMilli(), "b")
		if err != nil {
			fmt.Fprintln(stderr, "roomaudit: finding the latest event:", err)
			return 1
		}
		*latest = at.EventID
	}
	a := &audit.Auditor{Client: c, Keys: &federation.FetchingKeyRing{Client: &http.Client{Transport: transport}}, Limit: *limit}
	rep, err := a.Room(ctx, *dest, v, *roomID, *latest)
	if rep != nil {
		fmt.Fprintf(stdout, "%s up to %s: %d events checked, %d partial, %d findings\n", *roomID, *latest, rep.Events, rep.Partial, len(rep.Findings))
		for _, f := range rep.Findings {
			fmt.Fprintln(stdout, f)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "roomaudit:", err)
		return 1
	}
	if len(rep.Findings) > 0 {
		return 1
	}
	return 0
}
