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
	"github.com/hookwarden/hookwarden/webhookserver"
)

// TestStatusWritesPerDelivery streams deliveries at 20/s to one integration
// and at 500/s over 100 integrations, with the operator's default
// --status-flush-interval and --status-write-rate, counts the writes to the
// integrations (every change the API server reports) per delivery, and
// checks that status counts every delivery answered 2xx.
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
	// GitHub pings every hook it creates, and the receiver records the
	// pings under the same write budget as the stream: n integrations take
	// n / rate seconds to write. The stream's count starts once status
	// holds every ping.
	before := waitForPings(ctx, t, scene, n)

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
	// The last flushes: within the write budget, the integrations still
	// waiting are written over (integrations / rate) seconds.
	time.Sleep(webhookserver.DefaultStatusFlushInterval +
		time.Duration(float64(n)/webhookserver.DefaultStatusWriteRate*float64(time.Second)) + 3*time.Second)
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
	if counted := receivedInStatus(ctx, t, scene) - before; counted != int64(ok) {
		t.Errorf("status counts %d deliveries, %d were answered 2xx", counted, ok)
	}
	ratio := float64(count) / float64(ok)
	fmt.Printf("\nstatus writes: %d deliveries answered 2xx in %s (%.0f/s, asked %d/s) to %d integrations: %d writes, %.4f per delivery (target ≤ 0.05) %s\n",
		ok, d, float64(len(attempts))/d.Seconds(), perSecond, n, count, ratio, metOrNot(ratio <= 0.05))
}

// receivedInStatus sums status.deliveries.received over the scene's
// integrations.
func receivedInStatus(ctx context.Context, t *testing.T, scene *harness.Scene) int64 {
	sum, _ := receivedAndPinged(ctx, t, scene)
	return sum
}

// receivedAndPinged sums status.deliveries.received over the scene's
// integrations, and counts those whose status records a delivery.
func receivedAndPinged(ctx context.Context, t *testing.T, scene *harness.Scene) (sum int64, pinged int) {
	t.Helper()
	list := &hookv1.GitHubIntegrationList{}
	if err := scene.Client.List(ctx, list, client.InNamespace(scene.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, gi := range list.Items {
		sum += gi.Status.Deliveries.Received
		if gi.Status.Deliveries.Received > 0 {
			pinged++
		}
	}
	return sum, pinged
}

// waitForPings waits until the status of each of the n integrations
// records a delivery (its hook's ping), and returns the deliveries status
// then counts.
func waitForPings(ctx context.Context, t *testing.T, scene *harness.Scene, n int) int64 {
	t.Helper()
	start := time.Now()
	deadline := start.Add(webhookserver.DefaultStatusFlushInterval +
		time.Duration(float64(n)/webhookserver.DefaultStatusWriteRate*float64(time.Second)) + time.Minute)
	for {
		sum, pinged := receivedAndPinged(ctx, t, scene)
		if pinged == n {
			fmt.Printf("status records the pings of all %d integrations %s after all were Ready\n", n, time.Since(start).Round(100*time.Millisecond))
			return sum
		}
		if time.Now().After(deadline) {
			t.Fatalf("status records the ping of %d of %d integrations", pinged, n)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
