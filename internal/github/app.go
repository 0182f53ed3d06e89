package github

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v5"
)

var (
	// ErrMalformedPrivateKey: a GitHub App's private key is not a
	// PEM-encoded RSA private key. The error never quotes the key.
	ErrMalformedPrivateKey = errors.New("not a PEM-encoded RSA private key (the .pem file GitHub lets you download for the App)")
	// ErrMalformedCA: the CA bundle holds no PEM certificate.
	ErrMalformedCA = errors.New("holds no PEM-encoded certificate")
)

// appTransports are the GitHub App's two ways to authenticate, over inner:
// its JSON web token (for the App's own endpoints, such as its webhook
// config) and its installation's access token, which ghinstallation mints
// with the JWT and renews a minute before it expires.
func appTransports(base *url.URL, inner http.RoundTripper, creds AppCredentials) (apps, installation http.RoundTripper, err error) {
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(creds.PrivateKey))
	if err != nil {
		return nil, nil, ErrMalformedPrivateKey
	}
	atr := ghinstallation.NewAppsTransportFromPrivateKey(inner, creds.AppID, key)
	atr.BaseURL = strings.TrimSuffix(base.String(), "/")
	itr := ghinstallation.NewFromAppsTransport(atr, creds.InstallationID)
	itr.BaseURL = atr.BaseURL
	// ghinstallation's AppsTransport sets its headers on the request it is
	// given: hand it a copy, as the RoundTripper contract asks.
	return cloningTransport{atr}, itr, nil
}

type cloningTransport struct{ next http.RoundTripper }

func (t cloningTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(req.Clone(req.Context()))
}

// appAuthKey marks a request to be sent with the App's JSON web token.
type appAuthKey struct{}

// withAppAuth marks every request it sends as an App request, which
// authSwitch, under the shared rate-limit transport, sends with the JWT.
type withAppAuth struct{ next http.RoundTripper }

func (t withAppAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(req.WithContext(context.WithValue(req.Context(), appAuthKey{}, true)))
}

// authSwitch sends App requests with the JWT and the others with the
// installation token.
type authSwitch struct {
	installation, app http.RoundTripper
}

func (t *authSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Context().Value(appAuthKey{}) != nil {
		return t.app.RoundTrip(req)
	}
	return t.installation.RoundTrip(req)
}

// baseTransport is the factory's transport, trusting ca (PEM) in addition
// to the system roots when it is set.
func (f *Factory) baseTransport(ca string) (http.RoundTripper, error) {
	if ca == "" {
		return f.base, nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM([]byte(ca)) {
		return nil, ErrMalformedCA
	}
	base, ok := f.base.(*http.Transport)
	if !ok {
		base = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	t.TLSClientConfig.RootCAs = roots
	return t, nil
}
