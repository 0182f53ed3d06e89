package githubsim

import (
	"context"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestCreateHookPingsReceiver(t *testing.T) {
	sim := newTestServer(t)
	rcv := newReceiver(t)
	gh := githubClient(t, sim, adminToken)
	hook, _, err := gh.Repositories.CreateHook(context.Background(), "acme", "demo", &github.Hook{
		Config: &github.HookConfig{URL: github.String(rcv.URL), ContentType: github.String("json"), Secret: github.String(testSecret)},
		Events: []string{"push", "pull_request"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if hook.Config.GetSecret() != maskedSecret {
		t.Errorf("create answered secret %q, want it masked", hook.Config.GetSecret())
	}
	sim.Drain()
	got := rcv.received()
	if len(got) != 1 || got[0].Header.Get("X-GitHub-Event") != "ping" {
		t.Fatalf("receiver got %d deliveries, want one ping", len(got))
	}
}
