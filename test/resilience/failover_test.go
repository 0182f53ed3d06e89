package resilience

import (
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/harness"
)

// leaseDuration and retryPeriod are controller-runtime's defaults, which
// hookwarden keeps. A standby takes the lease once leaseDuration has passed
// on its own clock since it saw the last renewal, and reads the lease every
// retryPeriod jittered by up to leaderelection.JitterFactor: it sees the
// last renewal at most one jittered period after it, and the expiry at most
// one more after that (docs/resilience.md, "Leader failover").
const (
	leaseDuration = 15 * time.Second
	retryPeriod   = 2 * time.Second
)

// takeoverBound is the longest a standby may take, after the leader's last
// renewal, to hold the lease.
var takeoverBound = leaseDuration + 2*time.Duration(float64(retryPeriod)*(1+leaderelection.JitterFactor))

// leaseName is the lease the replicas compete for (cmd/hookwarden's
// LeaderElectionID).
const leaseName = "hookwarden.integrations.hookwarden.io"

// TestLeaderFailover runs two replicas with leader election behind one
// balancer, as a Deployment behind a Service, and SIGKILLs the leader in
// the middle of a stream.
func TestLeaderFailover(t *testing.T) {
	s := newScenario(t, "leader failover: two replicas, the leader SIGKILLed during a stream of 20 deliveries/s", 4)
	// The balancer needs the receivers' addresses before they start.
	a, b := mustFreeAddr(t), mustFreeAddr(t)
	lb := harness.NewBalancer(a, b)
	t.Cleanup(lb.Close)
	s.declare()
	leader := s.operator("hookwarden-a", harness.OperatorOptions{LeaderElect: true, PublicURL: lb.URL(), Receiver: a})
	s.waitReady(2 * time.Minute)
	s.operator("hookwarden-b", harness.OperatorOptions{LeaderElect: true, PublicURL: lb.URL(), Receiver: b})

	stream := harness.StartStream(s.scene.Sim, s.repos, streamRate)
	time.Sleep(10 * time.Second)
	leader.Kill()
	killed := time.Now()
	// A spec change right after the kill: the survivor must reconcile it.
	gen, err := s.scene.Edit(s.ctx, "service-00", func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Events = []string{"issues", "push"}
	})
	if err != nil {
		t.Fatal(err)
	}
	reconciled, err := s.scene.WaitObserved(s.ctx, "service-00", gen, 2*time.Minute)
	if err != nil {
		t.Errorf("the survivor did not reconcile a spec change: %v", err)
	}
	takeover := reconciled.Sub(killed)
	lease := &coordinationv1.Lease{}
	if err := s.scene.Client.Get(s.ctx, client.ObjectKey{Namespace: s.scene.Namespace, Name: leaseName}, lease); err != nil {
		t.Fatal(err)
	}
	if lease.Spec.AcquireTime != nil {
		s.note("the survivor acquired the lease %s after the kill", lease.Spec.AcquireTime.Sub(killed).Round(100*time.Millisecond))
	}
	time.Sleep(5 * time.Second)
	attempts, err := stream.Stop()
	if err != nil {
		t.Error(err)
	}

	answers := lb.Answers()
	perBackend := map[string]int{}
	lastInterval := 0
	for _, ans := range answers {
		if ans.Code < 200 || ans.Code > 299 || !ans.At.Before(killed) {
			continue
		}
		perBackend[ans.Backend]++
		if ans.Backend == a && ans.At.After(killed.Add(-flushInterval)) {
			lastInterval++
		}
	}
	s.note("before the kill, hookwarden-a (leader) answered %d deliveries 2xx and hookwarden-b %d", perBackend[a], perBackend[b])
	s.note("the survivor reconciled a spec change made at the kill %s after it (lease %s, retried every 2 s)", takeover.Round(100*time.Millisecond), leaseDuration)
	if perBackend[a] == 0 || perBackend[b] == 0 {
		t.Errorf("both replicas must receive while both run: a answered %d, b %d", perBackend[a], perBackend[b])
	}
	// The leader renewed at the latest at the kill; 5 s are for the API
	// round trips and the reconcile itself, one paced mutation.
	if takeover > takeoverBound+5*time.Second {
		t.Errorf("the survivor took %s to reconcile, want at most %s (lease %s, retried every %s jittered by up to %v)",
			takeover, takeoverBound+5*time.Second, leaseDuration, retryPeriod, leaderelection.JitterFactor)
	}
	s.ledger.AllowedLoss = lastInterval
	s.note("hookwarden-a answered %d deliveries 2xx in the flush interval before its kill: at most those may be lost", lastInterval)
	s.settle(attempts, 3*time.Minute)
	s.finish()
	if slices.ContainsFunc(answers, func(ans harness.Answer) bool { return ans.Backend == "" }) {
		t.Error("the balancer passed on a delivery without a backend")
	}
}
