package webhookserver

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hookwarden/hookwarden/internal/delivery"
)

// testCert is a self-signed certificate for 127.0.0.1 and its key, PEM
// encoded as a kubernetes.io/tls Secret holds them.
type testCert struct {
	leaf            *x509.Certificate
	certPEM, keyPEM []byte
	trustedBy       *x509.CertPool
}

func newTestCert(t *testing.T, commonName string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return testCert{
		leaf:      leaf,
		certPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		trustedBy: pool,
	}
}

// install puts the pair into dir the way a Secret volume update does: each
// file is written beside its final name and renamed over it, so a reader
// never sees a half-written file.
func (c testCert) install(t *testing.T, dir string) {
	t.Helper()
	for name, data := range map[string][]byte{"tls.crt": c.certPEM, "tls.key": c.keyPEM} {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// servedCertificate opens a new TLS connection to addr trusting only pool
// and returns the certificate the receiver presented.
func servedCertificate(addr string, pool *x509.CertPool) (*x509.Certificate, error) {
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		Config: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	conn, err := dialer.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// TestReceiverServesAndReloadsCertificate: with a certificate directory the
// receiver answers deliveries over HTTPS with the pair in it, and a new
// pair written there is served to new connections without a restart.
func TestReceiverServesAndReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	certA, certB := newTestCert(t, "receiver-a"), newTestCert(t, "receiver-b")
	certA.install(t, dir)
	key := newIntegrationWithSecret(t, nil)
	rcv := startReceiver(t, Options{CertDir: dir}, logr.Discard())
	addr := rcv.server.Addr()

	if !strings.HasPrefix(rcv.url, "https://") {
		t.Fatalf("receiver URL %s", rcv.url)
	}
	got, err := servedCertificate(addr, certA.trustedBy)
	if err != nil {
		t.Fatalf("TLS connection trusting certificate A: %v", err)
	}
	if !bytes.Equal(got.Raw, certA.leaf.Raw) {
		t.Fatalf("served %s (serial %s), want certificate A", got.Subject.CommonName, got.SerialNumber)
	}
	trustA := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: certA.trustedBy, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(trustA.CloseIdleConnections)
	body := []byte(pushExample)
	code, answer := postWith(t, trustA, rcv.url, key, "push", newGUID(), body, delivery.Signature([]byte(testSecret), body), testHookID)
	if code != http.StatusOK || answer != `{"processed":true}` {
		t.Fatalf("delivery over HTTPS answered %d %s", code, answer)
	}

	certB.install(t, dir)
	eventually(t, 30*time.Second, "certificate B served", func() error {
		got, err := servedCertificate(addr, certB.trustedBy)
		if err != nil {
			return err
		}
		if !bytes.Equal(got.Raw, certB.leaf.Raw) {
			return fmt.Errorf("served %s", got.Subject.CommonName)
		}
		return nil
	})
	if _, err := servedCertificate(addr, certA.trustedBy); err == nil {
		t.Error("after the reload a client trusting only certificate A still connects")
	}
	trustB := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: certB.trustedBy, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(trustB.CloseIdleConnections)
	code, answer = postWith(t, trustB, rcv.url, key, "push", newGUID(), body, delivery.Signature([]byte(testSecret), body), testHookID)
	if code != http.StatusOK || answer != `{"processed":true}` {
		t.Fatalf("delivery over HTTPS after the reload answered %d %s", code, answer)
	}
}

// TestNewRejectsCertDirWithoutPair: a certificate directory without both
// tls.crt and tls.key stops the receiver from being created, with an error
// naming the directory and the missing file.
func TestNewRejectsCertDirWithoutPair(t *testing.T) {
	requireEnv(t)
	mgr, err := manager.New(env.Config, manager.Options{
		Scheme:                 env.Scheme,
		Logger:                 logr.Discard(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	cert := newTestCert(t, "receiver")
	for _, tc := range []struct {
		name    string
		files   map[string][]byte
		missing string
	}{
		{name: "empty directory", missing: "tls.crt"},
		{name: "certificate without key", files: map[string][]byte{"tls.crt": cert.certPEM}, missing: "tls.key"},
		{name: "key without certificate", files: map[string][]byte{"tls.key": cert.keyPEM}, missing: "tls.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := New(mgr, Options{CertDir: dir})
			if err == nil {
				t.Fatalf("New returned a receiver (%v) for a directory without a pair", s != nil)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "receiver TLS certificate in "+dir+": ") ||
				!strings.Contains(msg, filepath.Join(dir, tc.missing)) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %q does not say that %s is missing from %s", msg, tc.missing, dir)
			}
		})
	}
}
