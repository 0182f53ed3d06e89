package github

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	gogithub "github.com/google/go-github/v60/github"

	"github.com/hookwarden/hookwarden/internal/githubsim"
)

const testToken = "ghp_test_token_0123456789abcdefghij"

// newSim starts a simulator with repository acme/api and a classic token
// that may manage its hooks.
func newSim(t *testing.T, opts ...githubsim.Option) *githubsim.Server {
	t.Helper()
	sim := githubsim.New(opts...)
	t.Cleanup(sim.Close)
	if err := sim.AddRepo("acme/api"); err != nil {
		t.Fatal(err)
	}
	sim.AddToken(testToken, []string{"admin:repo_hook"}, "acme/api")
	return sim
}

// tokenClient is f's client of token on sim.
func tokenClient(t *testing.T, f *Factory, sim *githubsim.Server, token string) *Client {
	t.Helper()
	c, err := f.Client(sim.URL(), Credentials{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func repoHooks(t *testing.T, f *Factory, sim *githubsim.Server, token string) HookService {
	t.Helper()
	hooks, err := tokenClient(t, f, sim, token).Hooks("acme/api")
	if err != nil {
		t.Fatal(err)
	}
	return hooks
}

// simWithHook is a simulator with one hook on acme/api, created through
// a client of a factory of its own.
func simWithHook(t *testing.T) (*githubsim.Server, HookService, *gogithub.Hook) {
	t.Helper()
	sim := newSim(t)
	hooks := repoHooks(t, NewFactory(WithMutationInterval(0)), sim, testToken)
	created, err := hooks.Create(context.Background(), newHook("https://hooks.example.com/a", "push"))
	if err != nil {
		t.Fatal(err)
	}
	return sim, hooks, created
}

func newHook(url string, events ...string) *gogithub.Hook {
	return &gogithub.Hook{
		Name:   gogithub.String("web"),
		Events: events,
		Active: gogithub.Bool(true),
		Config: &gogithub.HookConfig{
			URL:         gogithub.String(url),
			ContentType: gogithub.String("json"),
			InsecureSSL: gogithub.String("0"),
			Secret:      gogithub.String("0123456789abcdef"),
		},
	}
}

func TestFactorySharesOneClientPerURLAndToken(t *testing.T) {
	f := NewFactory()
	a, err := f.Client("https://ghe.example.com/api/v3", Credentials{Token: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.Client("https://ghe.example.com/api/v3/", Credentials{Token: "t1"})
	c, _ := f.Client("https://ghe.example.com/api/v3/", Credentials{Token: "t2"})
	d, _ := f.Client("", Credentials{Token: "t1"})
	if a != b {
		t.Error("the same URL (with or without trailing slash) and token got two clients: rate-limit state would not be shared")
	}
	if a == c || a == d {
		t.Error("different tokens or servers share a client")
	}
	if got := d.gh.BaseURL.String(); got != DefaultURL {
		t.Errorf("default API URL = %q, want %q", got, DefaultURL)
	}
	if _, err := f.Client("ftp://x", Credentials{Token: "t1"}); err == nil || !strings.Contains(err.Error(), "not an absolute http(s) URL") {
		t.Errorf("bad URL error = %v", err)
	}
	if _, err := f.Client(DefaultURL, Credentials{}); err == nil {
		t.Error("a client without token was created")
	}
	if fp := TokenFingerprint("t1"); strings.Contains(fp, "t1") || !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+8 {
		t.Errorf("fingerprint %q", fp)
	}
}

func TestRepositoryHooksCRUDAgainstSimulator(t *testing.T) {
	sim, hooks, created := simWithHook(t)
	ctx := context.Background()
	// More than one page: the list follows Link headers.
	events := []string{"issues", "pull_request", "create", "delete", "fork", "release"}
	for i := range 120 {
		h := githubsim.Hook{Active: true, Events: []string{events[i%len(events)]},
			Config: githubsim.HookConfig{URL: fmt.Sprintf("https://other.example.com/%d", i)}}
		if _, err := sim.SetHook("acme/api", h); err != nil {
			t.Fatal(err)
		}
	}
	all, err := hooks.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 121 {
		t.Errorf("List returned %d hooks, want 121 (all pages)", len(all))
	}
	if err := hooks.EditConfig(ctx, created.GetID(), &gogithub.HookConfig{Secret: gogithub.String("fedcba9876543210")}); err != nil {
		t.Fatal(err)
	}
	onSim, _ := sim.Hook("acme/api", created.GetID())
	if onSim.Config.Secret != "fedcba9876543210" || onSim.Config.URL != "https://hooks.example.com/a" {
		t.Errorf("EditConfig: hook config on GitHub = %+v", onSim.Config)
	}
	if _, err := hooks.Edit(ctx, created.GetID(), &gogithub.Hook{Events: []string{"push", "watch"}}); err != nil {
		t.Fatal(err)
	}
	if onSim, _ = sim.Hook("acme/api", created.GetID()); len(onSim.Events) != 2 {
		t.Errorf("Edit: events on GitHub = %v", onSim.Events)
	}
	if err := hooks.Delete(ctx, created.GetID()); err != nil {
		t.Fatal(err)
	}
	if _, err := hooks.Get(ctx, created.GetID()); !IsNotFound(err) {
		t.Errorf("Get of a deleted hook: %v, want NotFound", err)
	}
}

func TestHooksChoosesTheTargetKind(t *testing.T) {
	c, _ := NewFactory().Client(DefaultURL, Credentials{Token: "t"})
	for _, name := range []string{"", "acme/", "/api", "acme/api/x"} {
		if _, err := c.Hooks(name); err == nil {
			t.Errorf("Hooks(%q) accepted", name)
		}
	}
	for target, want := range map[string]Access{"acme/api": RepositoryHookAccess, "acme": OrganizationHookAccess} {
		svc, err := c.Hooks(target)
		if err != nil || svc.Target() != target || svc.RequiredAccess() != want {
			t.Errorf("Hooks(%q) = %v, %v", target, svc, err)
		}
	}
	// The App's own webhook needs the App's JWT: a token cannot reach it.
	if _, err := c.Hooks(AppTarget); err == nil || !strings.Contains(err.Error(), "app_id") {
		t.Errorf("Hooks(app) with a token: %v, want an error naming the App's keys", err)
	}
}

// recordingServer answers every request with 201 and records when each
// arrived.
type recordingServer struct {
	times chan time.Time
}

func (s *recordingServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.times <- time.Now()
	w.WriteHeader(http.StatusCreated)
}
