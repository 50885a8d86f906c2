// Package interop federates the example homeserver with an independent
// implementation, Dendrite, on loopback, and drives both over their
// client-server APIs (content/client-server-api, content/server-server-api
// of the specification). It is a separate module so that nothing of the
// peer enters the library's go.mod: the tests install Dendrite from the Go
// module proxy into a cache folder. README.md lists the flows and the
// known deviations of the peer.
package interop
