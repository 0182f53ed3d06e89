package github

import (
	"context"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/metrics/metricstest"
)

// TestMetricsRecordRequestsAndRateLimits: a request to GitHub is counted by
// method and code, timed, and the rate limit GitHub announced for the token
// (left, size, reset) is exported under the token's fingerprint until no
// client uses the token any more.
func TestMetricsRecordRequestsAndRateLimits(t *testing.T) {
	sim := newSim(t, githubsim.WithPrimaryLimit(githubsim.PrimaryLimit{Limit: 500}))
	f := NewFactory()
	fp := map[string]string{"token": TokenFingerprint(testToken), "resource": "core"}
	get := map[string]string{"method": "GET"}
	timedBefore, _ := metricstest.Value(t, "hookwarden_github_request_duration_seconds", get)
	okBefore, _ := metricstest.Value(t, "hookwarden_github_requests_total", map[string]string{"method": "GET", "code": "200"})

	if _, err := repoHooks(t, f, sim, testToken).List(context.Background()); err != nil {
		t.Fatal(err)
	}

	if v, _ := metricstest.Value(t, "hookwarden_github_request_duration_seconds", get); v != timedBefore+1 {
		t.Errorf("GET requests timed: %v, want %v", v, timedBefore+1)
	}
	if v, _ := metricstest.Value(t, "hookwarden_github_requests_total", map[string]string{"method": "GET", "code": "200"}); v != okBefore+1 {
		t.Errorf(`requests_total{method="GET",code="200"} = %v, want %v`, v, okBefore+1)
	}
	if len(metricstest.Series(t, "hookwarden_github_requests_total", map[string]string{"status": "200"})) > 0 {
		t.Error(`the HTTP code is still labelled "status"; kube-state-metrics and Flux call it "code"`)
	}
	if v, ok := metricstest.Value(t, "hookwarden_github_rate_limit_limit", fp); !ok || v != 500 {
		t.Errorf("rate limit size %v (exported %v), want the simulator's 500", v, ok)
	}
	if v, ok := metricstest.Value(t, "hookwarden_github_rate_limit_remaining", fp); !ok || v != 499 {
		t.Errorf("rate limit left %v (exported %v), want 499 after one request", v, ok)
	}
	reset, ok := metricstest.Value(t, "hookwarden_github_rate_limit_reset_timestamp_seconds", fp)
	if now := float64(time.Now().Unix()); !ok || reset < now-1 || reset > now+2*3600 {
		t.Errorf("rate limit reset %v (exported %v), want a Unix time within GitHub's hour from now (%v)", reset, ok, now)
	}

	f.Forget(sim.URL(), Credentials{Token: testToken})
	for _, name := range []string{"hookwarden_github_rate_limit_limit", "hookwarden_github_rate_limit_remaining",
		"hookwarden_github_rate_limit_reset_timestamp_seconds"} {
		if s := metricstest.Series(t, name, fp); len(s) > 0 {
			t.Errorf("%s still has series of a forgotten token: %v", name, s)
		}
	}
}
