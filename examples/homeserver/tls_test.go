package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLS serves the client API over TLS with --tls-cert and --tls-key
// (here on loopback, where plain HTTP would also be allowed) and checks a
// client that trusts the certificate gets an answer, and the ready line
// says https.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(priv)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)

	cfg, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--tls-cert", certPath, "--tls-key", keyPath,
		"--db", filepath.Join(dir, "hs.db"), "--key", filepath.Join(dir, "signing.key")}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := New(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	if err := hs.Listen(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	hs.Serve(errc)
	defer hs.Shutdown(t.Context())
	if !strings.Contains(hs.ReadyLine(), "client https://127.0.0.1:") {
		t.Fatalf("ready line %q", hs.ReadyLine())
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(hs.ClientURL() + "/_matrix/client/versions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /versions over TLS: %d", resp.StatusCode)
	}
	// Plain HTTP to the TLS port fails.
	if resp, err := http.Get(strings.Replace(hs.ClientURL(), "https:", "http:", 1) + "/_matrix/client/versions"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the TLS listener")
		}
	}
}
