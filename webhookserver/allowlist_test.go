package webhookserver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/githubsim"
)

// TestAllowedSourcesFromGitHubMeta: with --allowed-source-cidrs=github the
// receiver is not ready and lets nobody in until GitHub's /meta was read,
// then admits the hooks ranges /meta lists, and follows /meta when it
// changes.
func TestAllowedSourcesFromGitHubMeta(t *testing.T) {
	// /meta lists no hooks ranges yet: the first read fails.
	sim := githubsim.New(githubsim.WithHookCIDRs())
	t.Cleanup(sim.Close)
	key := newIntegrationWithSecret(t, nil)
	// Each refresh is one anonymous /meta call, budgeted 60 an hour by
	// GitHub (and the simulator): a quarter second keeps this test well
	// within it.
	rcv := launchReceiver(t, Options{
		AllowedSourceCIDRs: []string{GitHubSources},
		GitHubURL:          sim.URL(),
		metaInterval:       250 * time.Millisecond,
	}, logr.Discard())

	deliver := func() (int, string) {
		body := []byte(pushExample)
		return post(t, rcv.url, key, "push", newGUID(), body, delivery.Signature([]byte(testSecret), body), testHookID)
	}
	err := rcv.server.ReadyCheck()(nil)
	if err == nil || !strings.Contains(err.Error(), "GitHub's hooks ranges not loaded yet") {
		t.Errorf("before /meta was read, readiness says %v", err)
	}
	if code, answer := deliver(); code != http.StatusForbidden || answer != `{"error":"source address not allowed"}` {
		t.Errorf("before /meta was read, a delivery from loopback answered %d %s", code, answer)
	}

	sim.SetHookCIDRs("127.0.0.1/32")
	eventually(t, 10*time.Second, "receiver ready once /meta lists hooks ranges", func() error { return rcv.server.ReadyCheck()(nil) })
	if code, answer := deliver(); code != http.StatusOK || answer != `{"processed":true}` {
		t.Errorf("with 127.0.0.1/32 in /meta, a delivery from loopback answered %d %s", code, answer)
	}

	sim.SetHookCIDRs("192.30.252.0/22", "140.82.112.0/20")
	eventually(t, 10*time.Second, "delivery from loopback refused after /meta changed", func() error {
		if code, answer := deliver(); code != http.StatusForbidden || answer != `{"error":"source address not allowed"}` {
			return fmt.Errorf("answered %d %s", code, answer)
		}
		return nil
	})
	if err := rcv.server.ReadyCheck()(nil); err != nil {
		t.Errorf("after a refresh, readiness says %v", err)
	}
}
