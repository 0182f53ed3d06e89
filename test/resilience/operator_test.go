package resilience

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/harness"
)

// TestSIGTERMMidStream stops the operator gracefully in the middle of a
// stream and starts it again: a graceful stop loses nothing.
func TestSIGTERMMidStream(t *testing.T) {
	s, op, stream := streaming(t, "SIGTERM in the middle of a stream of 20 deliveries/s")
	stopped := time.Now()
	if err := op.Stop(30 * time.Second); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	s.note("hookwarden stopped in %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	attempts := s.restartAndEnd(stream)
	s.ledger.AllowedUnanswered = true // nothing listens between the two processes
	s.settle(attempts, 3*time.Minute)
	s.finish()
}

// TestSIGKILLMidStream kills the operator in the middle of a stream: what
// it answered but had not yet written to status is lost, at most one flush
// interval's worth.
func TestSIGKILLMidStream(t *testing.T) {
	s, op, stream := streaming(t, "SIGKILL in the middle of a stream of 20 deliveries/s")
	op.Kill()
	killed := time.Now()
	attempts := s.restartAndEnd(stream)
	// What the killed process answered 2xx in its last flush interval may
	// not have reached status; nothing older may be lost.
	answeredLastInterval := 0
	for _, a := range attempts {
		if a.Code >= 200 && a.Code < 300 && a.At.After(killed.Add(-flushInterval)) && a.At.Before(killed) {
			answeredLastInterval++
		}
	}
	s.ledger.AllowedUnanswered = true
	s.ledger.AllowedLoss = answeredLastInterval
	s.note("SIGKILL at %s; %d deliveries answered 2xx in the %s before it (one flush interval)",
		killed.Format("15:04:05.000"), answeredLastInterval, flushInterval)
	s.settle(attempts, 3*time.Minute)
	s.finish()
}

// TestSIGKILLWhileRegistering kills the operator while it registers 50
// hooks, and starts it again: no hook is registered twice.
func TestSIGKILLWhileRegistering(t *testing.T) {
	s := newScenario(t, "SIGKILL while registering 50 hooks", 50)
	// One token for all: the hooks are created one per second, so the
	// kill falls in the middle.
	s.repos = s.repos[:0]
	token := "ghp_resilience_simulator_only_registering"
	for i := range 50 {
		repo := fmt.Sprintf("acme/service-%02d", i)
		s.repos = append(s.repos, repo)
	}
	s.scene.Sim.AddToken(token, []string{"admin:repo_hook"}, s.repos...)
	for i, repo := range s.repos {
		name := fmt.Sprintf("service-%02d", i)
		if err := s.scene.Integration(s.ctx, name, token, "webhook-secret-of-"+name, []string{repo}, checkInterval); err != nil {
			t.Fatal(err)
		}
	}
	op := s.operator("hookwarden-1", harness.OperatorOptions{})
	var registered int
	err := harness.Poll(s.ctx, 2*time.Minute, 100*time.Millisecond, func() (bool, error) {
		registered = 0
		for _, repo := range s.repos {
			hooks, err := s.scene.Sim.Hooks(repo)
			if err != nil {
				return false, err
			}
			registered += len(hooks)
		}
		return registered >= 20, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	op.Kill()
	s.note("SIGKILL after %d of 50 hooks were on GitHub", registered)
	s.operator("hookwarden-2", harness.OperatorOptions{})
	s.waitReady(3 * time.Minute)
	s.settle(nil, time.Second)
	s.finish()
}
