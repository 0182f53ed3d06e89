package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gogithub "github.com/google/go-github/v60/github"

	"github.com/hookwarden/hookwarden/internal/githubsim"
)

const (
	testAppID          = int64(31337)
	testInstallationID = int64(8080)
)

// withApp registers a GitHub App installed on acme with every webhook
// permission and returns its credentials.
func withApp(t *testing.T, sim *githubsim.Server) AppCredentials {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := sim.AddApp(testAppID, "hookwarden-test", keyPEM, "push"); err != nil {
		t.Fatal(err)
	}
	perms := map[string]string{githubsim.PermRepositoryHooks: githubsim.PermWrite, githubsim.PermOrganizationHooks: githubsim.PermWrite}
	if err := sim.AddInstallation(testAppID, testInstallationID, "acme", perms); err != nil {
		t.Fatal(err)
	}
	return AppCredentials{AppID: testAppID, InstallationID: testInstallationID, PrivateKey: string(keyPEM)}
}

// One client per installation: every integration using it shares its
// installation token and rate-limit state.
func TestFactorySharesOneClientPerInstallation(t *testing.T) {
	sim := newSim(t)
	app := withApp(t, sim)
	f := NewFactory()
	a, err := f.Client(sim.URL(), Credentials{App: app})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.Client(sim.URL()+"/", Credentials{App: app})
	other := app
	other.InstallationID++
	c, _ := f.Client(sim.URL(), Credentials{App: other})
	if a != b || a == c {
		t.Errorf("same installation: shared %t; another installation: shared %t", a == b, a == c)
	}
	if got := a.Fingerprint(); got != fmt.Sprintf("app:%d/installation:%d", testAppID, testInstallationID) {
		t.Errorf("fingerprint %q", got)
	}

	_, err = f.Client(sim.URL(), Credentials{App: AppCredentials{AppID: 1, InstallationID: 2, PrivateKey: "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n-----END RSA PRIVATE KEY-----"}})
	if !errors.Is(err, ErrMalformedPrivateKey) || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("malformed key: %v", err)
	}
}

// An App client reaches repository and organization hooks with its
// installation token and the App's own webhook with its JWT, whose reads
// are conditional too.
func TestAppClientAgainstSimulator(t *testing.T) {
	sim := newSim(t)
	c, err := NewFactory(WithMutationInterval(0)).Client(sim.URL(), Credentials{App: withApp(t, sim)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, target := range []string{"acme/api", "acme"} {
		hooks, err := c.Hooks(target)
		if err != nil {
			t.Fatal(err)
		}
		created, err := hooks.Create(ctx, newHook("https://hooks.example.com/"+target, "push"))
		if err != nil {
			t.Fatalf("%s: create with the installation token: %v", target, err)
		}
		if onSim, err := sim.Hook(target, created.GetID()); err != nil || onSim.Config.Secret != "0123456789abcdef" {
			t.Errorf("%s: hook on GitHub %+v, %v", target, onSim, err)
		}
	}

	app, err := c.Hooks(AppTarget)
	if err != nil {
		t.Fatal(err)
	}
	if can := app.Abilities(); can.Events || can.Delete || can.Ping {
		t.Errorf("the App's webhook claims abilities GitHub's API lacks: %+v", can)
	}
	if hooks, err := app.List(ctx); err != nil || len(hooks) != 0 {
		t.Fatalf("an App webhook without a URL lists as %v, %v; want none", hooks, err)
	}
	created, err := app.Create(ctx, newHook("https://hooks.example.com/app"))
	if err != nil || created.GetID() != testAppID {
		t.Fatalf("set the App's webhook config: %+v, %v", created, err)
	}
	if hooks, _ := sim.Hooks(githubsim.AppTarget(testAppID)); hooks[0].Config.URL != "https://hooks.example.com/app" || hooks[0].Config.Secret != "0123456789abcdef" {
		t.Errorf("the App's webhook on GitHub: %+v", hooks[0].Config)
	}
	if _, err := app.Get(ctx, testAppID); err != nil {
		t.Fatal(err)
	}
	before := sim.Stats().NotModified
	if h, err := app.Get(ctx, testAppID); err != nil || h.GetConfig().GetURL() != "https://hooks.example.com/app" {
		t.Fatalf("second read: %+v, %v", h, err)
	}
	if sim.Stats().NotModified != before+1 {
		t.Error("the second read of the App's webhook config was not answered 304")
	}
	if err := app.Delete(ctx, testAppID); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Delete of the App's webhook: %v", err)
	}
}

// A 21st hook for an event is GitHub's 422, classified as the hook limit.
func TestHookLimitIsClassified(t *testing.T) {
	sim := newSim(t)
	for i := range githubsim.MaxHooksPerEvent {
		if _, err := sim.SetHook("acme/api", githubsim.Hook{Active: true, Events: []string{"push"},
			Config: githubsim.HookConfig{URL: fmt.Sprintf("https://other.example.com/%d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	hooks := repoHooks(t, NewFactory(), sim, testToken)
	_, err := hooks.Create(context.Background(), newHook("https://hooks.example.com/21st", "push"))
	if e := Classify(err); e == nil || e.Kind != Invalid || !e.HookLimit {
		t.Fatalf("21st hook: %+v", e)
	}
	_, err = hooks.Create(context.Background(), newHook("https://hooks.example.com/bad", "pushes"))
	if e := Classify(err); e == nil || e.HookLimit {
		t.Errorf("an invalid event is not the hook limit: %+v", e)
	}
}

// GitHub Enterprise Server behind a private CA: refused as untrusted
// without the CA, reached with it.
func TestEnterpriseCA(t *testing.T) {
	sim := newSim(t, githubsim.WithEnterprise())
	f := NewFactory()
	c, err := f.Client(sim.URL(), Credentials{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	hooks, _ := c.Hooks("acme/api")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := hooks.List(ctx); Classify(err).Kind != Untrusted {
		t.Fatalf("without the CA: %v (%s)", err, Classify(err).Kind)
	}
	c, err = f.Client(sim.URL(), Credentials{Token: testToken, CA: string(sim.CACertificatePEM())})
	if err != nil {
		t.Fatal(err)
	}
	hooks, _ = c.Hooks("acme/api")
	if _, err := hooks.Create(ctx, &gogithub.Hook{Config: &gogithub.HookConfig{URL: gogithub.String("https://hooks.example.com/ghes")}}); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	if _, err := f.Client(sim.URL(), Credentials{Token: testToken, CA: "not a certificate"}); !errors.Is(err, ErrMalformedCA) {
		t.Errorf("a CA without a certificate: %v", err)
	}
}
