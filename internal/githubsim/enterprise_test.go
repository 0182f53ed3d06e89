package githubsim

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// An installation token lives as long as WithInstallationTokenTTL says, and
// answers 401 afterwards.
func TestInstallationTokenTTL(t *testing.T) {
	var offset atomic.Int64
	sim := newTestServer(t, WithInstallationTokenTTL(90*time.Second),
		WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	addTestApp(t, sim)
	status, _, body := apiRequest(t, sim, "POST", fmt.Sprintf("/app/installations/%d/access_tokens", testInstID), validAppJWT(t), nil)
	if status != 201 {
		t.Fatalf("access token: %d %s", status, body)
	}
	tok := decodeJSON[installationTokenJSON](t, body)
	expires, err := time.Parse(time.RFC3339, tok.ExpiresAt)
	if err != nil || time.Until(expires) > 90*time.Second || time.Until(expires) < 85*time.Second {
		t.Errorf("expires_at %s, want in 90s", tok.ExpiresAt)
	}
	if status, _, _ := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks", tok.Token, nil); status != 200 {
		t.Fatalf("fresh token: %d", status)
	}
	offset.Store(int64(91 * time.Second))
	if status, _, body := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks", tok.Token, nil); status != 401 || !strings.Contains(string(body), "Bad credentials") {
		t.Errorf("expired token: %d %s", status, body)
	}
}

// An Enterprise simulator serves the API under /api/v3 over TLS, with a
// certificate of its own CA, and its deliveries carry Enterprise Server's
// headers.
func TestEnterprise(t *testing.T) {
	sim := newTestServer(t, WithEnterprise())
	if !strings.HasPrefix(sim.URL(), "https://") || !strings.HasSuffix(sim.URL(), EnterprisePrefix) {
		t.Fatalf("URL %s", sim.URL())
	}
	if _, err := http.Get(sim.URL() + "/meta"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the CA: %v, want a certificate error", err)
	}
	if status, _, body := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks", adminToken, nil); status != 200 {
		t.Errorf("under /api/v3: %d %s", status, body)
	}
	root := strings.TrimSuffix(sim.URL(), EnterprisePrefix)
	resp, err := sim.HTTPClient().Get(root + "/repos/acme/demo/hooks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("outside /api/v3: %d, want 404", resp.StatusCode)
	}

	rcv := newReceiver(t)
	if _, err := sim.SetHook(testRepo, Hook{Active: true, Config: HookConfig{URL: rcv.URL, ContentType: "json"}}); err != nil {
		t.Fatal(err)
	}
	ds, err := sim.TriggerEvent(testRepo, "push", []byte(`{"ref":"refs/heads/main"}`))
	if err != nil || len(ds) != 1 {
		t.Fatalf("TriggerEvent: %d, %v", len(ds), err)
	}
	got := rcv.received()
	if len(got) != 1 || got[0].Header.Get("X-GitHub-Enterprise-Host") != "127.0.0.1" || got[0].Header.Get("X-GitHub-Enterprise-Version") == "" {
		t.Errorf("delivery headers: %+v", got)
	}
}
