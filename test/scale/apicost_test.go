package scale

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

// TestAPIServerCostPerRequest measures what each kind of request
// hookwarden makes while integrations converge costs the API server: the
// CPU time kube-apiserver spends (from /proc) for 500 requests of each
// kind, 16 at a time, on a control plane of its own. It is what says which
// requests are worth sparing (docs/performance.md).
func TestAPIServerCostPerRequest(t *testing.T) {
	needScale(t)
	env := testenv.StartForTest(t)
	host, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	port := host.Port()
	c := env.Client
	ctx := context.Background()
	ns := env.NewNamespace(t, "cost")
	const n = 500
	createAll(ctx, t, c, ns, 0, n, func(int, *hookv1.GitHubIntegration) {})
	name := func(i int) string { return fmt.Sprintf("integration-%05d", i) }
	fmt.Printf("\nAPI server CPU per request, %d requests of each kind, 16 at a time:\n", n)
	measure := func(what string, do func(i int) error) {
		time.Sleep(2 * time.Second) // let the previous kind's watch events settle
		before := apiServerCPU(t, port)
		start := time.Now()
		parallel(t, 0, n, do)
		took := time.Since(start)
		time.Sleep(time.Second)
		spent := apiServerCPU(t, port) - before
		fmt.Printf("  %-48s %6.2f ms  (%4.0f requests/s)\n", what, float64(spent.Milliseconds())/n, n/took.Seconds())
	}
	// The reconciler's part of a Ready integration's status, as it writes it.
	status := func(i int, reason string) *hookv1.GitHubIntegrationStatus {
		st := &hookv1.GitHubIntegrationStatus{Target: "repository", HookCount: 1,
			PayloadURL: "https://hooks.example.com/hooks/" + ns + "/" + name(i)}
		st.ObservedGeneration = 1
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: hookv1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: reason, Message: "All hooks are registered (" + reason + ")", ObservedGeneration: 1})
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: hookv1.ConditionReconciling, Status: metav1.ConditionFalse,
			Reason: reason, Message: "Done", ObservedGeneration: 1})
		st.Hooks = []hookv1.HookStatus{{Target: repoName(i), ID: int64(1000 + i), Active: true, Events: []string{"push", "pull_request"}}}
		st.WebhookSecret = &hookv1.WebhookSecretStatus{Fingerprint: "sha256:0123456789abcdef"}
		return st
	}
	apply := func(reason string) func(i int) error {
		return func(i int) error {
			u, err := hookv1.ReconcilerPart.Apply(ns, name(i), "", status(i, reason))
			if err != nil {
				return err
			}
			return c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
				client.FieldOwner(hookv1.ReconcilerFieldManager), client.ForceOwnership)
		}
	}
	measure("APPLY githubintegrations/status (first)", apply("First"))
	measure("APPLY githubintegrations/status (a change)", apply("Second"))
	measure("PATCH githubintegrations/status (merge, a change)", func(i int) error {
		gi := &hookv1.GitHubIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name(i)}}
		raw := `{"status":{"hookCount":2}}`
		return c.Status().Patch(ctx, gi, client.RawPatch(types.MergePatchType, []byte(raw)))
	})
	measure("GET + PATCH githubintegrations (finalizer)", func(i int) error {
		gi := &hookv1.GitHubIntegration{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name(i)}, gi); err != nil {
			return err
		}
		orig := gi.DeepCopy()
		gi.Finalizers = append(gi.Finalizers, hookv1.Finalizer)
		return c.Patch(ctx, gi, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	})
	measure("GET githubintegrations", func(i int) error {
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name(i)}, &hookv1.GitHubIntegration{})
	})
	measure("GET secrets", func(i int) error {
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name(i)}, &corev1.Secret{})
	})
	measure("GET secrets (not found)", func(i int) error {
		return client.IgnoreNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name(i) + "-none"}, &corev1.Secret{}))
	})
	measure("PATCH secrets (label and finalizer)", func(i int) error {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name(i)}}
		raw := fmt.Sprintf(`{"metadata":{"labels":{%q:%q},"finalizers":[%q]}}`,
			"integrations.hookwarden.io/referenced", "true", hookv1.SecretProtectionFinalizer)
		return c.Patch(ctx, s, client.RawPatch(types.MergePatchType, []byte(raw)))
	})
	measure("POST secrets", func(i int) error {
		return c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name(i) + "-applied"},
			Data: map[string][]byte{"webhook_secret": []byte("webhook-secret-of-" + name(i))}})
	})
	measure("POST events", func(i int) error {
		return c.Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "hook-"},
			EventTime: metav1.NowMicro(), ReportingController: "hookwarden", ReportingInstance: "scale", Type: corev1.EventTypeNormal,
			Action: "Create", Reason: "HookCreated", Note: "Created the hook on " + repoName(i),
			Regarding: corev1.ObjectReference{APIVersion: hookv1.GroupVersion.String(), Kind: "GitHubIntegration", Namespace: ns, Name: name(i)}})
	})
}

// apiServerCPU is the CPU time (user and system) of the kube-apiserver
// that serves port.
func apiServerCPU(t *testing.T, port string) time.Duration {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(raw), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "kube-apiserver" || !strings.Contains(string(raw), "="+port+"\x00") && !strings.Contains(string(raw), "\x00"+port+"\x00") {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			t.Fatal(err)
		}
		// After the command in parentheses: state is field 3, utime and
		// stime fields 14 and 15, in clock ticks (100 a second on Linux).
		fields := strings.Fields(string(stat)[strings.LastIndex(string(stat), ")")+2:])
		user, _ := strconv.Atoi(fields[11])
		system, _ := strconv.Atoi(fields[12])
		return time.Duration(user+system) * 10 * time.Millisecond
	}
	t.Fatalf("no kube-apiserver process serves port %s", port)
	return 0
}
