package scale

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/harness"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// TestMemory measures the operator's RSS (reconciler and receiver, one
// process) with no integration (as started, and then, the baseline, once
// one integration came and went), then with 1,000 and 10,000, each with its
// Secret and a filled status, and then with as many unrelated Secrets
// again. The integrations are suspended, so that no GitHub call is made;
// their status is filled as the reconciler and the receiver fill it.
func TestMemory(t *testing.T) {
	needScale(t)
	sim := githubsim.New()
	defer sim.Close()
	scene, ctx := newScene(t, sim)
	// Metrics are served, as the Deployment serves them (not scraped:
	// a scrape's garbage would be measured too).
	metricsAddr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	opts := harness.OperatorOptions{Args: []string{"--metrics-bind-address=" + metricsAddr}}
	if *gogc != "" {
		opts.Env = append(opts.Env, "GOGC="+*gogc)
		fmt.Printf("\nthe operator runs with GOGC=%s, not the Deployment's setting\n", *gogc)
	}
	var pprofAddr string
	if *heapProfile != "" {
		var err error
		if pprofAddr, err = harness.FreeAddr(); err != nil {
			t.Fatal(err)
		}
		opts.Args = append(opts.Args, "--pprof-bind-address="+pprofAddr)
		if *profileRate > 0 {
			opts.Env = append(opts.Env, fmt.Sprintf("GODEBUG=memprofilerate=%d", *profileRate))
			fmt.Printf("\nthe operator samples its heap every %d bytes: its RSS holds the profile's buckets too\n", *profileRate)
		}
	}
	op, err := scene.Operator(ctx, "hookwarden", opts)
	if err != nil {
		t.Fatal(err)
	}
	labelled := 0 // Secrets the operator has labelled when it is done
	// settled measures the steady state; name tells it in the output, tag
	// in the heap profile's file name.
	settled := func(tag, name string) int64 {
		m := settledRSS(ctx, t, op, scene.Client, scene.Namespace, labelled)
		fmt.Printf("  %s: %6.1f MiB (anonymous %.1f MiB, mapped files %.1f MiB)\n", name, mib(m.rss), mib(m.anon), mib(m.file))
		if *heapProfile != "" {
			runtimeBreakdown(ctx, t, metricsAddr)
			saveHeapProfile(ctx, t, pprofAddr, profilePath(*heapProfile, tag))
		}
		return m.rss
	}
	defer func() { _ = op.Stop(time.Minute) }()

	fmt.Printf("\nmemory: RSS of the operator (reconciler and receiver in one process)\n")
	cold := settled("0-cold", fmt.Sprintf("%6d integrations, none ever", 0))
	// The baseline is the operator with no integration after one came and
	// went: the code a reconcile runs is resident once it ran, whatever
	// the count, and counted per integration it would weigh 1 KB each at
	// 1,000 and nothing at 10,000 (docs/performance.md).
	comeAndGo(ctx, t, scene.Client, scene.Namespace)
	baseline := settled("0", fmt.Sprintf("%6d integrations, one came and went", 0))
	fmt.Printf("    %+.1f MiB over none ever\n", mib(baseline-cold))
	have := 0
	var last int64
	for _, field := range strings.Split(*memorySizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n <= have {
			t.Fatalf("-scale.memory=%q: want increasing counts", *memorySizes)
		}
		cpuBefore, before, had := cpuTime(t, op), cmp.Or(last, baseline), have
		createAll(ctx, t, scene.Client, scene.Namespace, have, n-have, func(_ int, gi *hookv1.GitHubIntegration) {
			gi.Spec.Suspend = true
		})
		fillStatus(ctx, t, scene.Client, scene.Namespace, have, n)
		have, labelled = n, n
		last = settled(strconv.Itoa(n), fmt.Sprintf("%6d integrations", n))
		perIntegration := float64(last-baseline) / float64(n)
		fmt.Printf("    %.1f KB per integration over the baseline (target ≤ 10 KB) %s; %.1f KB over none ever\n",
			perIntegration/1000, metOrNot(perIntegration <= 10_000), float64(last-cold)/float64(n)/1000)
		// What each integration added over the previous count: the cost
		// that grows with the count, apart from what the first burst of
		// work costs once (docs/performance.md).
		if had > 0 {
			fmt.Printf("    %.1f KB per integration over the %d before\n", float64(last-before)/float64(n-had)/1000, had)
		}
		// The price of the Go runtime settings (GOGC) in CPU: what the
		// operator spent taking the new integrations in and settling.
		fmt.Printf("    CPU time of the operator from their creation until measured: %.1f s\n", (cpuTime(t, op) - cpuBefore).Seconds())
	}
	unrelated(ctx, t, scene.Client, scene.Namespace, have)
	withSecrets := settled(fmt.Sprintf("%d-unrelated", have), fmt.Sprintf("+ %d unrelated Secrets (1 KiB each)", have))
	fmt.Printf("    %+.1f MiB for the unrelated Secrets (target: nothing)\n", mib(withSecrets-last))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func cpuTime(t *testing.T, op *harness.Operator) time.Duration {
	t.Helper()
	d, err := op.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// profilePath is where the heap profile of a measurement goes: path with
// its name before the extension (/tmp/heap.prof at 1000 integrations:
// /tmp/heap.1000.prof).
func profilePath(path, name string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + name + ext
}

// runtimeFigures are the Go runtime's figures (runtime/metrics, as the
// operator's metrics endpoint serves them) that tell where its RSS goes.
var runtimeFigures = regexp.MustCompile(`^go_(memory_classes_[a-z_]+_bytes|gc_heap_goal_bytes|gc_gogc_percent|gc_heap_live_bytes|gc_scan_globals_bytes|gc_scan_stack_bytes|gc_cycles_total_gc_cycles_total|sched_goroutines_goroutines) ([0-9.e+]+)$`)

// runtimeBreakdown prints the Go runtime's own account of its memory:
// the heap's objects, its unused, free and released spans, stacks and
// metadata, the collection target and the heap live at the last
// collection. It scrapes the metrics endpoint once, after RSS was
// sampled, so its garbage is not measured.
func runtimeBreakdown(ctx context.Context, t *testing.T, addr string) {
	t.Helper()
	resp := getFromOperator(ctx, t, "http://"+addr+"/metrics")
	defer resp.Body.Close()
	var parts []string
	err := metricLines(resp.Body, runtimeFigures, func(m []string) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(m[1], "memory_classes_"), "_bytes")
		if strings.HasSuffix(m[1], "_bytes") {
			parts = append(parts, fmt.Sprintf("%s %.2f", name, v/(1<<20)))
		} else {
			parts = append(parts, fmt.Sprintf("%s %.0f", name, v))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("    Go runtime (MiB): %s\n", strings.Join(parts, ", "))
}

// saveHeapProfile writes the operator's heap profile (go tool pprof reads
// it) to path. It asks for a collection first (gc=1): without one, the
// profile is the heap as of an earlier collection, and at a count the
// operator reached with few collections (0 integrations) it missed
// structures made at its start, so that they showed in the difference
// between two counts. The collection comes after RSS was sampled.
func saveHeapProfile(ctx context.Context, t *testing.T, addr, path string) {
	t.Helper()
	resp := getFromOperator(ctx, t, "http://"+addr+"/debug/pprof/heap?gc=1")
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("  heap profile: %s\n", path)
}

// getFromOperator GETs url from one of the operator's endpoints and fails
// unless it answers 200.
func getFromOperator(ctx context.Context, t *testing.T, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return resp
}

// memorySample is the medians of the process's RSS and its parts.
type memorySample struct{ rss, anon, file int64 }

// settledRSS waits for the operator to take in what changed, then returns
// the median of 9 samples a second apart: the memory of the steady state,
// not of the reconciles after a burst of creations. The operator is done
// when it has labelled the Secrets of every integration (the last write of
// a suspended integration's reconcile but its status), asked of the API
// server rather than of the operator, and -scale.settle later. An idle Go
// program collects at least every 2 minutes, and its heap's target and
// what it gives back to the OS follow what was live at the last
// collection: the default settle (150 s) passes one such collection, so
// that what only the intake held (the objects in flight, the notes of
// hookwarden's own Secret patches, kept a minute) is not counted as
// memory per integration. What the intake grew and keeps (the maps of the
// controllers' queues, which Go never shrinks) is still counted.
func settledRSS(ctx context.Context, t *testing.T, op *harness.Operator, c client.Client, ns string, labelled int) memorySample {
	t.Helper()
	start := time.Now()
	for {
		var secrets metav1.PartialObjectMetadataList
		secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
		if err := c.List(ctx, &secrets, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: webhooksecret.ReferencedSelector()}); err != nil {
			t.Fatal(err)
		}
		if len(secrets.Items) >= labelled {
			break
		}
		if time.Since(start) > 10*time.Minute {
			t.Fatalf("after 10 minutes the operator has labelled %d Secrets of %d integrations", len(secrets.Items), labelled)
		}
		time.Sleep(2 * time.Second)
	}
	if labelled > 0 {
		fmt.Printf("  (all %d Secrets labelled after %s)\n", labelled, time.Since(start).Round(time.Second))
	}
	time.Sleep(*settle)
	var rss, anon, file []int64
	for range 9 {
		r, err := op.RSS()
		if err != nil {
			t.Fatal(err)
		}
		a, f, err := op.RSSParts()
		if err != nil {
			t.Fatal(err)
		}
		rss, anon, file = append(rss, r), append(anon, a), append(file, f)
		time.Sleep(time.Second)
	}
	median := func(s []int64) int64 { slices.Sort(s); return s[len(s)/2] }
	return memorySample{rss: median(rss), anon: median(anon), file: median(file)}
}

// fillStatus writes a status as a Ready integration with one hook and
// some deliveries has, to integrations from..to.
func fillStatus(ctx context.Context, t *testing.T, c client.Client, ns string, from, to int) {
	t.Helper()
	parallel(t, from, to, func(i int) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error { return fillOne(ctx, c, ns, i) })
	})
}

func fillOne(ctx context.Context, c client.Client, ns string, i int) error {
	gi := &hookv1.GitHubIntegration{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("integration-%05d", i)}, gi); err != nil {
		return err
	}
	now := metav1.Now()
	gi.Status.ObservedGeneration = gi.Generation
	gi.Status.Conditions = []metav1.Condition{{Type: hookv1.ConditionReady, Status: metav1.ConditionTrue, Reason: "HooksRegistered",
		Message: "1 hook registered", LastTransitionTime: now, ObservedGeneration: gi.Generation}}
	gi.Status.Target = repoName(i)
	gi.Status.HookCount = 1
	gi.Status.PayloadURL = "https://hooks.example.com/hooks/" + ns + "/" + gi.Name
	gi.Status.Hooks = []hookv1.HookStatus{{Target: repoName(i), ID: 476_318_000 + int64(i), Active: true,
		Events: []string{"issues", "pull_request", "push"}, LastSyncTime: &now, SecretFingerprint: "sha256:0123456789abcdef"}}
	gi.Status.Deliveries = hookv1.DeliveryCounters{Received: 1234, Processed: 1200, Ignored: 30, Rejected: 4}
	gi.Status.EventCounts = []hookv1.EventCount{{Event: "push", Count: 900}, {Event: "pull_request", Count: 250}, {Event: "issues", Count: 50}}
	return c.Status().Update(ctx, gi)
}

// comeAndGo creates an integration as TestMemory's (suspended, its Secret,
// a filled status; deletionPolicy Orphan), waits for the operator to label its Secret, deletes
// both and waits for them to be gone.
func comeAndGo(ctx context.Context, t *testing.T, c client.Client, ns string) {
	t.Helper()
	const i = 99_999
	createAll(ctx, t, c, ns, i, 1, func(_ int, gi *hookv1.GitHubIntegration) {
		// Orphan: its hook in status is made up, and GitHub is not asked.
		gi.Spec.Suspend, gi.Spec.DeletionPolicy = true, hookv1.DeletionPolicyOrphan
	})
	fillStatus(ctx, t, c, ns, i, i+1)
	key := client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("integration-%05d", i)}
	until := func(what string, done func() (bool, error)) {
		t.Helper()
		for start := time.Now(); ; time.Sleep(time.Second) {
			ok, err := done()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return
			}
			if time.Since(start) > 2*time.Minute {
				t.Fatalf("after 2 minutes, %s", what)
			}
		}
	}
	until("the operator has not labelled the Secret of "+key.Name, func() (bool, error) {
		var secret corev1.Secret
		if err := c.Get(ctx, key, &secret); err != nil {
			return false, err
		}
		return webhooksecret.ReferencedSelector().Matches(labels.Set(secret.Labels)), nil
	})
	for _, obj := range []client.Object{&hookv1.GitHubIntegration{}, &corev1.Secret{}} {
		obj.SetNamespace(key.Namespace)
		obj.SetName(key.Name)
		if err := c.Delete(ctx, obj); err != nil {
			t.Fatal(err)
		}
		until(fmt.Sprintf("%T %s is still there", obj, key.Name), func() (bool, error) {
			err := c.Get(ctx, key, obj)
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
	}
}

// unrelated creates n Secrets hookwarden has nothing to do with.
func unrelated(ctx context.Context, t *testing.T, c client.Client, ns string, n int) {
	t.Helper()
	data := []byte(strings.Repeat("x", 1024))
	parallel(t, 0, n, func(i int) error {
		return c.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i), Namespace: ns},
			Data:       map[string][]byte{"data": data},
		})
	})
}

// parallel runs do for from..to-1 on 16 workers and fails on the first
// error.
func parallel(t *testing.T, from, to int, do func(i int) error) {
	t.Helper()
	work := make(chan int)
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			var first error
			for i := range work {
				if err := do(i); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for i := from; i < to; i++ {
		work <- i
	}
	close(work)
	var first error
	for range 16 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		t.Fatal(first)
	}
}
