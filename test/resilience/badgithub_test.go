package resilience

import (
	"flag"
	"fmt"
	"testing"
	"time"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/harness"
)

var badGitHubDuration = flag.Duration("resilience.bad-github", 5*time.Minute, "how long the bad GitHub scenario runs")

// TestBadGitHub runs against a GitHub that answers 10 % of API requests
// 502, resets 5 % of connections and has 5 s latency spikes, for 5 minutes
// with a stream of deliveries, secret rotations, spec edits and one restart
// of the operator (whose missed deliveries must be redelivered through that
// GitHub).
func TestBadGitHub(t *testing.T) {
	s := newScenario(t, "a bad GitHub: 10 % 502, 5 % connection resets, 5 s latency spikes, with rotations, spec edits and a restart", 4)
	s.declare()
	op := s.operator("hookwarden-1", harness.OperatorOptions{})
	s.waitReady(2 * time.Minute)

	sim := s.scene.Sim
	bad := githubsim.Fault{ErrorRate: 0.10, ErrorStatus: 502, ResetRate: 0.05}
	sim.SetFault(githubsim.FaultAll, bad)
	start := time.Now()
	stream := harness.StartStream(sim, s.repos, 5)
	rotations, edits, spikes := 0, 0, 0
	restarted := false
	for tick := 1; time.Since(start) < *badGitHubDuration; tick++ {
		time.Sleep(5 * time.Second)
		name := fmt.Sprintf("service-%02d", tick%len(s.repos))
		switch tick % 6 {
		case 0: // a 5 s latency spike every 30 s
			spiked := bad
			spiked.Latency = 5 * time.Second
			sim.SetFault(githubsim.FaultAll, spiked)
			time.AfterFunc(5*time.Second, func() { sim.SetFault(githubsim.FaultAll, bad) })
			spikes++
		case 2:
			if err := s.scene.SetWebhookSecret(s.ctx, name, fmt.Sprintf("rotated-secret-%d-of-%s", tick, name)); err != nil {
				t.Fatal(err)
			}
			rotations++
		case 4:
			if _, err := s.scene.Edit(s.ctx, name, func(gi *hookv1.GitHubIntegration) {
				if len(gi.Spec.Events) == 0 {
					gi.Spec.Events = []string{"issues", "push"}
				} else {
					gi.Spec.Events = nil
				}
			}); err != nil {
				t.Fatal(err)
			}
			edits++
		}
		if !restarted && time.Since(start) > *badGitHubDuration/2 {
			if err := op.Stop(30 * time.Second); err != nil {
				t.Error(err)
			}
			time.Sleep(3 * time.Second)
			op = s.operator("hookwarden-2", harness.OperatorOptions{})
			restarted = true
		}
	}
	attempts, err := stream.Stop()
	if err != nil {
		t.Error(err)
	}
	s.note("%s with %d rotations, %d spec edits, %d latency spikes and one restart; the faults stay on until the end", time.Since(start).Round(time.Second), rotations, edits, spikes)
	if _, err := s.scene.WaitReady(s.ctx, len(s.repos), 3*time.Minute); err != nil {
		t.Errorf("integrations did not converge: %v", err)
	}
	s.ledger.AllowedUnanswered = true // while the operator restarts
	s.settle(attempts, 4*time.Minute)
	st := sim.Stats()
	s.note("GitHub API requests: %d, %d answered with an injected fault", st.Total, st.Faults)
	sim.ClearFaults() // deletion is checked on a healthy GitHub
	s.finish()
}
