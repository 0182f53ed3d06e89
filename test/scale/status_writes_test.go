package scale

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/harness"
)

// TestStatusWritesPerDelivery streams deliveries at 20/s to one integration
// and at 500/s over 100 integrations, with the operator's default
// --status-flush-interval, and counts the writes to the integrations
// (every change the API server reports) per delivery.
func TestStatusWritesPerDelivery(t *testing.T) {
	needScale(t)
	for _, tc := range []struct {
		integrations, perSecond int
	}{{1, 20}, {100, 500}} {
		t.Run(fmt.Sprintf("%d/s over %d", tc.perSecond, tc.integrations), func(t *testing.T) {
			statusWrites(t, tc.integrations, tc.perSecond, 30*time.Second)
		})
	}
}

func statusWrites(t *testing.T, n, perSecond int, d time.Duration) {
	sim := githubsim.New(githubsim.WithSecondaryLimit(githubsim.SecondaryLimit{MutationsPerMinute: -1}))
	defer sim.Close()
	var repos []string
	for i := range n {
		if err := sim.AddRepo(repoName(i)); err != nil {
			t.Fatal(err)
		}
		repos = append(repos, repoName(i))
	}
	for tok := range *tokens {
		sim.AddToken(tokenName(tok), []string{"admin:repo_hook"}, repos...)
	}
	scene, ctx := newScene(t, sim)
	createAll(ctx, t, scene.Client, scene.Namespace, 0, n, func(_ int, gi *hookv1.GitHubIntegration) {})
	op, err := scene.Operator(ctx, "hookwarden", harness.OperatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = op.Stop(time.Minute) }()
	if _, err := scene.WaitReady(ctx, n, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // the pings' status writes

	wc, err := client.NewWithWatch(controlPlane.Config, client.Options{Scheme: controlPlane.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	w, err := wc.Watch(wctx, &hookv1.GitHubIntegrationList{}, client.InNamespace(scene.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	writes := make(chan int)
	go func() {
		count := 0
		for ev := range w.ResultChan() {
			if ev.Type == watch.Modified {
				count++
			}
		}
		writes <- count
	}()
	stream := harness.StartStream(sim, repos, perSecond)
	time.Sleep(d)
	attempts, err := stream.Stop()
	if err != nil {
		t.Error(err)
	}
	time.Sleep(5 * time.Second) // the last flush
	stop()
	w.Stop()
	count := <-writes
	ok := 0
	for _, a := range attempts {
		if a.Code >= 200 && a.Code < 300 {
			ok++
		}
	}
	if ok == 0 {
		t.Fatalf("no delivery answered 2xx of %d", len(attempts))
	}
	ratio := float64(count) / float64(ok)
	fmt.Printf("\nstatus writes: %d deliveries answered 2xx in %s (%.0f/s, asked %d/s) to %d integrations: %d writes, %.4f per delivery (target ≤ 0.05) %s\n",
		ok, d, float64(len(attempts))/d.Seconds(), perSecond, n, count, ratio, metOrNot(ratio <= 0.05))
}
