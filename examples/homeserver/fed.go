package main

import (
	"errors"
	"net/http"
)

// fedParts is the federation side: the server handler, the client and
// the outbound queue.
type fedParts struct {
	handler http.Handler
	stop    func()
}

func newFederation(hs *Homeserver) (*fedParts, error) {
	return nil, errors.New("federation is not wired yet")
}
