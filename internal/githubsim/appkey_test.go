package githubsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// An App's key is accepted in each PEM form GitHub's and OpenSSL's tools
// write, private or public; a key that is not RSA is refused by name.
func TestAppKeyForms(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string][]byte{
		"RSA PRIVATE KEY": x509.MarshalPKCS1PrivateKey(key),
		"PRIVATE KEY":     pkcs8,
		"RSA PUBLIC KEY":  x509.MarshalPKCS1PublicKey(&key.PublicKey),
		"PUBLIC KEY":      pkix,
	}
	for typ, der := range forms {
		got, err := parseRSAPublicKey(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		if !got.Equal(&key.PublicKey) {
			t.Errorf("%s: another public key", typ)
		}
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pem  []byte
		want string
	}{
		{pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), "PRIVATE KEY is not RSA"},
		{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), "parse PUBLIC KEY"},
		{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), `unsupported PEM block "CERTIFICATE"`},
		{[]byte("no pem here"), "no PEM block"},
	} {
		if _, err := parseRSAPublicKey(tc.pem); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one saying %q", err, tc.want)
		}
	}
}
