package controllers

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
)

// Each problem with GitHub App credentials, and GitHub's hook limit, stalls
// with a condition that says what to fix and never quotes the key.
func TestAppCredentialProblemsAndHookLimitStall(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api", "acme/full"}, concurrency: 4})
	key := h.testApp(allHookPerms)
	// A second installation of the App, on the same account, granted
	// neither kind of webhook permission.
	const narrowInstallation = 6060
	if err := h.sim.AddInstallation(testAppID, narrowInstallation, "acme", map[string]string{githubsim.PermIssues: githubsim.PermWrite}); err != nil {
		t.Fatal(err)
	}
	for i := range githubsim.MaxHooksPerEvent {
		if _, err := h.sim.SetHook("acme/full", githubsim.Hook{Active: true, Events: []string{"push"},
			Config: githubsim.HookConfig{URL: fmt.Sprintf("https://elsewhere.example.com/%d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	with := func(changes map[string]string) map[string]string {
		data := appSecret(key)
		for k, v := range changes {
			data[k] = v
		}
		return data
	}
	cases := []struct {
		name    string
		data    map[string]string
		org     bool
		app     bool
		repo    string
		reason  string
		message []string
	}{
		{name: "malformed-key", data: with(map[string]string{"private_key": "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n"}),
			reason: hookv1.ReasonInvalidSecret, message: []string{`key "private_key" is not a PEM-encoded RSA private key`}},
		{name: "app-id-not-a-number", data: with(map[string]string{"app_id": "my-app"}),
			reason: hookv1.ReasonInvalidSecret, message: []string{`key "app_id" is not a positive number`, "App ID"}},
		{name: "wrong-app-id", data: with(map[string]string{"app_id": "999"}),
			reason: hookv1.ReasonUnauthorized, message: []string{"GitHub refused the App's JSON web token", "GitHub App 999", `key "app_id"`, `key "private_key"`}},
		{name: "missing-installation", data: with(map[string]string{"installation_id": "777"}),
			reason: hookv1.ReasonUnauthorized, message: []string{"no such installation", "installation 777", `key "installation_id"`}},
		{name: "no-webhooks-permission", data: with(map[string]string{"installation_id": fmt.Sprint(narrowInstallation)}),
			reason: hookv1.ReasonUnauthorized, message: []string{"acme/api: GitHub refused GitHub App", "403", `"Webhooks: write" permission on the App's installation`}},
		{name: "no-org-hooks-permission", data: with(map[string]string{"installation_id": fmt.Sprint(narrowInstallation)}), org: true,
			reason: hookv1.ReasonUnauthorized, message: []string{"acme: GitHub refused GitHub App", "403", `"Organization hooks: write" permission on the App's installation`}},
		{name: "app-target-with-a-token", data: map[string]string{"token": testToken, "webhook_secret": testWebhookSecret}, app: true,
			reason: hookv1.ReasonInvalidSecret, message: []string{"app: the GitHub App's webhook needs GitHub App credentials", `"app_id", "installation_id" and "private_key"`}},
		{name: "hook-limit", data: with(nil), repo: "acme/full",
			reason: hookv1.ReasonHookLimitReached, message: []string{"acme/full:", "at most 20 hooks per event on one repository",
				`The "push" event cannot have more than 20 hooks`, "spec.organization", "spec.app"}},
	}
	for _, tc := range cases {
		h.secret(tc.name, tc.data)
		h.integration(tc.name, nil, func(gi *hookv1.GitHubIntegration) {
			switch {
			case tc.org:
				gi.Spec.Organization = "acme"
			case tc.app:
				gi.Spec.App = &hookv1.GitHubAppTarget{}
			case tc.repo != "":
				gi.Spec.Repositories = []string{tc.repo}
			default:
				gi.Spec.Repositories = []string{"acme/api"}
			}
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gi := h.waitStalledSaying(t, tc.name, tc.reason, 20*time.Second, tc.message,
				"PRIVATE KEY", "bm90IGEga2V5", "ghs_", "Bearer", testWebhookSecret)
			t.Logf("Ready: %s", condition(gi, hookv1.ConditionReady).Message)
			if evs := h.recorder.find(tc.name, tc.reason); len(evs) == 0 || evs[0].eventType != "Warning" {
				t.Errorf("Warning events with reason %s: %+v", tc.reason, evs)
			}
		})
	}
	if hooks := h.simHooks("acme/api"); len(hooks) != 0 {
		t.Errorf("%d hooks registered with bad credentials", len(hooks))
	}
	if hooks := h.simHooks("acme/full"); len(hooks) != githubsim.MaxHooksPerEvent {
		t.Errorf("acme/full has %d hooks, want the %d it had", len(hooks), githubsim.MaxHooksPerEvent)
	}
}

// GitHub Enterprise Server under /api/v3 (no trailing slash) behind a
// self-signed CA: without ca.crt the integration stalls and says to add
// it; with it, the hook is registered.
func TestEnterpriseServerWithPrivateCA(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}, simOptions: []githubsim.Option{githubsim.WithEnterprise()}})
	if !strings.HasSuffix(h.sim.URL(), "/api/v3") || !strings.HasPrefix(h.sim.URL(), "https://") {
		t.Fatalf("simulator URL %s", h.sim.URL())
	}
	h.withSecret("ghes")
	h.integration("ghes", []string{"acme/api"}, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.GitHub = &hookv1.GitHubServer{URL: h.sim.URL()}
	})
	gi := h.waitCondition("ghes", hookv1.ConditionStalled, metav1.ConditionTrue, hookv1.ReasonUntrustedCertificate, 15*time.Second)
	if err := contains(condition(gi, hookv1.ConditionReady).Message, "certificate", `key "ca.crt" of Secret "ghes"`); err != nil {
		t.Error(err)
	}

	h.eventually(5*time.Second, func() error {
		s := h.userSecret("ghes")
		s.Data["ca.crt"] = h.sim.CACertificatePEM()
		return env.Client.Update(h.ctx, s)
	})
	gi = h.waitReady("ghes")
	hooks := h.simHooks("acme/api")
	if len(hooks) != 1 || gi.Status.HookCount != 1 || hooks[0].Config.URL != h.payloadURL("ghes") {
		t.Fatalf("hooks on the Enterprise server: %+v; status %+v", hooks, gi.Status.Hooks)
	}
	// Its deliveries carry Enterprise Server's headers.
	d := h.triggerFor(hooks[0].ID)
	if loggedHeader(d.RequestHeaders, "X-GitHub-Enterprise-Host") == "" || loggedHeader(d.RequestHeaders, "X-GitHub-Enterprise-Version") == "" || !d.OK() {
		t.Errorf("delivery from the Enterprise server: %d, headers %v", d.StatusCode, d.RequestHeaders)
	}
}

// Installation tokens are renewed before they expire: reconciles running
// without pause across the lifetime of several tokens, and past the expiry
// of the first, never see a 401. The simulator's tokens live just over a
// minute (ghinstallation renews a token one minute before it expires).
func TestInstallationTokenRenewedAcrossExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for over a minute")
	}
	t.Parallel()
	const ttl = 62 * time.Second
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}, simOptions: []githubsim.Option{githubsim.WithInstallationTokenTTL(ttl)}})
	h.secret("renew", appSecret(h.testApp(allHookPerms)))
	h.integration("renew", []string{"acme/api"}, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Second}
	})
	h.waitReady("renew")
	start := time.Now()
	for time.Since(start) < ttl+3*time.Second {
		h.poke("renew")
		time.Sleep(500 * time.Millisecond)
	}
	h.waitReady("renew")

	var minted, unauthorized, afterExpiry int
	tokens := map[string]bool{}
	for _, r := range h.sim.Requests() {
		switch {
		case r.Status == http.StatusUnauthorized:
			unauthorized++
		case r.Route == "POST /app/installations/{installation_id}/access_tokens" && r.Status == http.StatusCreated:
			minted++
		case r.Token != "":
			tokens[r.Token] = true
		}
	}
	afterExpiry = len(tokens)
	if unauthorized != 0 {
		t.Errorf("%d requests answered 401", unauthorized)
	}
	// A new token every two seconds or so over more than a minute; the
	// first expired on the simulator well before the end.
	if minted < 10 || afterExpiry < 10 {
		t.Errorf("%d installation tokens minted, %d used: want them renewed throughout", minted, afterExpiry)
	}
}

// loggedHeader reads a header of the simulator's delivery log, which keeps
// GitHub's spelling of the names (X-GitHub-...) rather than Go's canonical
// one.
func loggedHeader(h http.Header, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
