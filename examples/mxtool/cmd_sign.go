package main

import (
	"github.com/mxkit/mxkit/event"
)

func init() {
	register(command{
		name:    "sign",
		summary: "sign an event (--room-version V) or any JSON object (--key FILE --server NAME)",
		run:     runSign,
	})
}

// runSign is "sign --key FILE --server NAME [--room-version V]". With a
// room version the input is an event, and the answer is the event with
// hashes.sha256 set to its content hash and NAME's signature of its
// redacted form added, as a server does when it sends the event. Without,
// the input is any JSON object, signed by the JSON signing algorithm.
func runSign(e *env, args []string) error {
	fs := newFlags("sign")
	keyPath := fs.String("key", "", "signing key file (required)")
	server := fs.String("server", "", "server name to sign as (required)")
	id := fs.String("room-version", "", "room version identifier: sign as an event of it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyPath == "" {
		return usagef("--key FILE is required")
	}
	if *server == "" {
		return usagef("--server NAME is required")
	}
	v, err := eventRoomVersion(*id, false)
	if err != nil {
		return err
	}
	key, err := loadKeyFile(*keyPath)
	if err != nil {
		return err
	}
	raw, err := readInput(e)
	if err != nil {
		return err
	}
	if *id == "" {
		return signPlainJSON(e, raw, key, *server)
	}
	out, err := event.Sign(v, raw, *server, key)
	if err != nil {
		// The key and server were checked; what is left is the input.
		return usagef("%v", err)
	}
	_, err = e.stdout.Write(append(out, '\n'))
	return err
}
