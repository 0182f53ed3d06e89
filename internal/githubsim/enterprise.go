package githubsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"time"
)

// EnterprisePrefix is the path under which GitHub Enterprise Server serves
// its REST API.
const EnterprisePrefix = "/api/v3"

// enterpriseVersion is what X-GitHub-Enterprise-Version says on the
// deliveries of a simulated GitHub Enterprise Server.
const enterpriseVersion = "3.14.0"

// WithEnterprise makes the simulator a GitHub Enterprise Server: the API is
// served over TLS under EnterprisePrefix, with a certificate for 127.0.0.1
// and localhost signed by a CA of its own (CACertificatePEM), which no
// client trusts unless told to; deliveries carry X-GitHub-Enterprise-Host
// and X-GitHub-Enterprise-Version.
func WithEnterprise() Option { return func(o *options) { o.enterprise = true } }

// WithInstallationTokenTTL sets how long installation tokens live
// (installationTokenTTL, an hour as on GitHub, by default), so that tests
// can see tokens expire and be renewed.
func WithInstallationTokenTTL(d time.Duration) Option {
	return func(o *options) { o.installationTokenTTL = d }
}

// CACertificatePEM is the PEM certificate of the CA that signed an
// Enterprise simulator's TLS certificate (nil without WithEnterprise).
func (s *Server) CACertificatePEM() []byte { return s.caPEM }

// startEnterprise serves handler over TLS under EnterprisePrefix.
func (s *Server) startEnterprise(handler http.Handler) error {
	caPEM, cert, err := selfSignedCA()
	if err != nil {
		return err
	}
	s.caPEM = caPEM
	mux := http.NewServeMux()
	mux.Handle(EnterprisePrefix+"/", http.StripPrefix(EnterprisePrefix, handler))
	mux.HandleFunc("/", s.notFound)
	s.http.Config.Handler = mux
	// Clients that do not trust the CA are expected (that is what the
	// CA is for); their failed handshakes are not worth a log line.
	s.http.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.http.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.http.StartTLS()
	s.baseURL = s.http.URL + EnterprisePrefix
	return nil
}

// selfSignedCA makes a CA and a server certificate for the loopback
// addresses signed by it.
func selfSignedCA() (caPEM []byte, cert tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "githubsim Enterprise CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, cert, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	leafTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, cert, fmt.Errorf("sign the server certificate: %w", err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}, nil
}

// enterpriseHost is the server's host name, as X-GitHub-Enterprise-Host
// carries it.
func (s *Server) enterpriseHost() string {
	host, _, err := net.SplitHostPort(s.http.Listener.Addr().String())
	if err != nil {
		return s.http.Listener.Addr().String()
	}
	return host
}

// HTTPClient is a client for the API: one that trusts the Enterprise
// simulator's CA, or http.DefaultClient.
func (s *Server) HTTPClient() *http.Client {
	if s.caPEM == nil {
		return http.DefaultClient
	}
	return s.http.Client()
}
