package main

import (
	"testing"
	"time"
)

// TestServerTimeouts: both servers bound the time to send a request and
// close idle connections, and the client server's write timeout outlasts
// the longest /sync long poll (clientapi's MaxSyncTimeout, 5 minutes).
func TestServerTimeouts(t *testing.T) {
	p := startInProcess(t, "timeouts.test", true, nil)
	for name, srv := range map[string]*struct{ read, header, write, idle time.Duration }{
		"client":     {p.hs.clientSrv.ReadTimeout, p.hs.clientSrv.ReadHeaderTimeout, p.hs.clientSrv.WriteTimeout, p.hs.clientSrv.IdleTimeout},
		"federation": {p.hs.fedSrv.ReadTimeout, p.hs.fedSrv.ReadHeaderTimeout, p.hs.fedSrv.WriteTimeout, p.hs.fedSrv.IdleTimeout},
	} {
		if srv.read <= 0 || srv.header <= 0 || srv.write <= 0 || srv.idle <= 0 {
			t.Errorf("%s server: a timeout is unset: %+v", name, *srv)
		}
	}
	if p.hs.clientSrv.WriteTimeout <= 5*time.Minute {
		t.Errorf("client write timeout %v would cut a 5-minute /sync", p.hs.clientSrv.WriteTimeout)
	}
}
