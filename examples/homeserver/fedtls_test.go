package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxkit/mxkit/federation"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and the
// given DNS names, and its key, into dir.
func writeSelfSigned(t *testing.T, dir string, names ...string) (certPath, keyPath string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: names, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(priv)
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// startConfig starts a homeserver from cfg (its DB and key in a fresh
// directory) and stops it when the test ends.
func startConfig(t *testing.T, cfg *Config) *Homeserver {
	t.Helper()
	dir := t.TempDir()
	cfg.DB, cfg.KeyPath = filepath.Join(dir, "hs.db"), filepath.Join(dir, "signing.key")
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.OpenRegistration == "" {
		cfg.OpenRegistration = "auto"
	}
	hs, err := New(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.Listen(); err != nil {
		hs.Close()
		t.Fatal(err)
	}
	hs.Serve(make(chan error, 2))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		hs.Close()
	})
	return hs
}

// TestFederationTLSOnly serves federation over TLS (--federation-tls-cert)
// while the client API stays plain HTTP, and reaches it from other servers:
// one that trusts the self-signed certificate with --federation-ca, one
// that does not (refused), one that names the server by its IP literal
// without --peer (refused unless --allow-private-addresses).
func TestFederationTLSOnly(t *testing.T) {
	ctx := context.Background()
	certPath, keyPath := writeSelfSigned(t, t.TempDir(), "a.test")
	a := startConfig(t, &Config{ServerName: "a.test", FederationListen: "127.0.0.1:0",
		FederationTLSCert: certPath, FederationTLSKey: keyPath})
	line := a.ReadyLine()
	if !strings.Contains(line, "client http://127.0.0.1:") || !strings.Contains(line, "federation https://127.0.0.1:") {
		t.Fatalf("ready line %q", line)
	}
	resp, err := http.Get(a.ClientURL() + "/_matrix/client/versions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("plain GET /versions: %d", resp.StatusCode)
	}
	peers := map[string]string{"a.test": a.FederationAddr()}

	trusting := startConfig(t, &Config{ServerName: "b.test", Peers: peers, FederationCA: certPath})
	if v, err := trusting.fed.client.Version(ctx, "a.test"); err != nil || v.Name == "" {
		t.Fatalf("with --federation-ca: %+v, %v", v, err)
	}
	// A server whose own federation is TLS speaks TLS to its peers too.
	untrusting := startConfig(t, &Config{ServerName: "c.test", Peers: peers, FederationListen: "127.0.0.1:0",
		FederationTLSCert: certPath, FederationTLSKey: keyPath})
	if _, err := untrusting.fed.client.Version(ctx, "a.test"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without --federation-ca: err = %v, want a certificate error", err)
	}

	// By IP literal, discovered rather than given with --peer.
	byIP := a.FederationAddr()
	guarded := startConfig(t, &Config{ServerName: "d.test", FederationListen: "127.0.0.1:0", FederationCA: certPath,
		FederationTLSCert: certPath, FederationTLSKey: keyPath})
	if _, err := guarded.fed.client.Version(ctx, byIP); !errors.Is(err, federation.ErrForbiddenAddress) {
		t.Fatalf("private address without --allow-private-addresses: err = %v", err)
	}
	// A plain federation listener (TLS terminated by a reverse proxy)
	// still speaks TLS to servers that are not --peer on loopback: the
	// answer is a certificate error (no --federation-ca), not a plain
	// HTTP request refused by a TLS server.
	proxied := startConfig(t, &Config{ServerName: "f.test", FederationListen: "127.0.0.1:0", AllowPrivateAddresses: true})
	if _, err := proxied.fed.client.Version(ctx, byIP); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("plain listener, discovered peer: err = %v, want a certificate error", err)
	}
	open := startConfig(t, &Config{ServerName: "e.test", FederationListen: "127.0.0.1:0", FederationCA: certPath,
		FederationTLSCert: certPath, FederationTLSKey: keyPath, AllowPrivateAddresses: true})
	if v, err := open.fed.client.Version(ctx, byIP); err != nil || v.Name == "" {
		t.Fatalf("with --allow-private-addresses: %+v, %v", v, err)
	}
}

// TestDefaultRoomVersion: rooms created without a room_version get
// --default-room-version, and the capabilities say so.
func TestDefaultRoomVersion(t *testing.T) {
	for _, want := range []string{"10", "11", "12"} {
		hs := startConfig(t, &Config{ServerName: "v.test", DefaultRoomVersion: want})
		alice := register(t, hs.ClientURL(), "alice")
		var room struct {
			RoomID string `json:"room_id"`
		}
		alice.must("POST", "/createRoom", map[string]any{}, &room)
		var create struct {
			RoomVersion string `json:"room_version"`
		}
		alice.must("GET", "/rooms/"+url.PathEscape(room.RoomID)+"/state/m.room.create/", nil, &create)
		if create.RoomVersion != want {
			t.Errorf("--default-room-version %s: new room of version %q", want, create.RoomVersion)
		}
		var caps struct {
			Capabilities struct {
				RoomVersions struct {
					Default string `json:"default"`
				} `json:"m.room_versions"`
			} `json:"capabilities"`
		}
		alice.must("GET", "/capabilities", nil, &caps)
		if caps.Capabilities.RoomVersions.Default != want {
			t.Errorf("--default-room-version %s: capabilities say %q", want, caps.Capabilities.RoomVersions.Default)
		}
	}
}

// TestAllowPrivateAddressesWarns: the flag is off by default, and when on
// the server says so at start, as a warning naming the flag.
func TestAllowPrivateAddressesWarns(t *testing.T) {
	for _, on := range []bool{false, true} {
		dir := t.TempDir()
		var buf bytes.Buffer
		cfg := &Config{ServerName: "p.test", Listen: "127.0.0.1:0", FederationListen: "127.0.0.1:0", OpenRegistration: "auto",
			DB: filepath.Join(dir, "hs.db"), KeyPath: filepath.Join(dir, "signing.key"), AllowPrivateAddresses: on}
		hs, err := New(cfg, slog.New(slog.NewTextHandler(&buf, nil)))
		if err != nil {
			t.Fatal(err)
		}
		hs.Close()
		warned := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "--allow-private-addresses")
		if warned != on || hs.fed.client == nil {
			t.Errorf("--allow-private-addresses=%v: warned %v; log:\n%s", on, warned, buf.String())
		}
	}
}
