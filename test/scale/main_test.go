// Package scale is make bench-scale: hookwarden's built binary against the
// GitHub simulator with GitHub's published limits, at the scale SPEC §3
// names. It measures convergence of 1,000 integrations over 50 tokens, the
// steady state, the operator's memory per integration and the status writes
// per delivery, and prints each figure beside its limit or baseline from the
// same run (docs/performance.md). Without -scale the measurements are
// skipped.
package scale

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/harness"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

var (
	runScale     = flag.Bool("scale", false, "run the scale measurements (make bench-scale)")
	integrations = flag.Int("scale.integrations", 1000, "integrations of the convergence and steady-state runs")
	tokens       = flag.Int("scale.tokens", 50, "tokens the integrations are spread over")
	interval     = flag.Duration("scale.interval", 30*time.Second, "spec.interval of the steady-state run (scaled down from the default 10m)")
	intervals    = flag.Int("scale.intervals", 3, "intervals the steady state is watched for")
	reconcilers  = flag.Int("scale.max-concurrent-reconciles", 0, "--max-concurrent-reconciles of the operator (0: its default)")
	memorySizes  = flag.String("scale.memory", "1000,10000", "integration counts at which RSS is measured, after 0")
	apiProfile   = flag.String("scale.apiserver-profile", "", "with TestConvergenceAndSteadyState: write the API server's CPU profile of the first 30 s of convergence to this file")
	heapProfile  = flag.String("scale.heap-profile", "", "with TestMemory: run the operator with --pprof-bind-address and write its heap profile at the largest count to this file")
	profileRate  = flag.Int("scale.heap-profile-rate", 0, "with -scale.heap-profile: sample one allocation every this many bytes (GODEBUG=memprofilerate; 0: the Go runtime's 512 KiB), which adds the profile's buckets to the RSS")
	settle       = flag.Duration("scale.settle", 150*time.Second, "with TestMemory: how long the operator is left idle after it took in a count before its RSS is sampled (150s: past the Go runtime's forced collection, every 2 minutes)")
	gogc         = flag.String("scale.gogc", "", "run the operator with this GOGC instead of the Deployment's: in TestMemory its price in memory and CPU, in TestConvergenceAndSteadyState in convergence time (docs/performance.md)")
)

var controlPlane *testenv.Env

func TestMain(m *testing.M) {
	flag.Parse()
	harness.Main(m, *runScale, &controlPlane, testenv.Start, nil)
}

func needScale(t *testing.T) {
	if !*runScale {
		t.Skip("a scale measurement: run it with make bench-scale")
	}
}

func newScene(t *testing.T, sim *githubsim.Server) (*harness.Scene, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	scene, err := harness.NewScene(ctx, controlPlane, sim, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return scene, ctx
}

func repoName(i int) string  { return fmt.Sprintf("acme/repo-%05d", i) }
func tokenName(i int) string { return fmt.Sprintf("ghp_scale_simulator_only_%012d", i) }

// createAll creates the Secrets and GitHubIntegrations from..from+n-1, with
// mutate applied to each integration.
func createAll(ctx context.Context, t *testing.T, c client.Client, ns string, from, n int, mutate func(i int, gi *hookv1.GitHubIntegration)) {
	t.Helper()
	parallel(t, from, from+n, func(i int) error {
		name := fmt.Sprintf("integration-%05d", i)
		err := c.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Data: map[string][]byte{
				"token":          []byte(tokenName(i % *tokens)),
				"webhook_secret": []byte("webhook-secret-of-" + name),
			},
		})
		if err != nil {
			return err
		}
		gi := &hookv1.GitHubIntegration{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: hookv1.GitHubIntegrationSpec{
				Repositories: []string{repoName(i)},
				SecretRef:    hookv1.SecretReference{Name: name},
			},
		}
		mutate(i, gi)
		return c.Create(ctx, gi)
	})
}
