package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	if os.Getenv("HOOKWARDEN_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	}
	testenv.Main(m, &env)
}

const (
	testToken         = "ghp_reconciler_test_token_0123456789"
	testWebhookSecret = "a-webhook-secret-of-32-characters"
)

// harnessOptions configure one test's simulator and manager.
type harnessOptions struct {
	simOptions []githubsim.Option
	repos      []string
	// failStatusPatch, when set, is asked before every status patch of the
	// reconciler; an error fails the patch without sending it.
	failStatusPatch func(obj *hookv1.GitHubIntegration) error
	concurrency     int
	// issues runs the GitHubIssue reconciler beside the integrations'.
	issues bool
	// failIssueStatusPatch, when set, is asked before every status patch
	// of a GitHubIssue; an error fails the patch without sending it.
	failIssueStatusPatch func(obj *hookv1.GitHubIssue) error
	// factoryOptions configure the shared GitHub client factory.
	factoryOptions []ghclient.FactoryOption
	// linksInterval shortens the GitHubIssue reconciler's
	// LinkedPullRequestsInterval.
	linksInterval time.Duration
	// statusLag, when set, makes the reconciler's cached reads of a
	// GitHubIntegration show the status it had before the reconciler's
	// last status write, until statusLag has passed since that write: a
	// cache that lags behind the API server, as under load.
	statusLag time.Duration
	// quietTurnWait sets the reconciler's QuietTurnWait.
	quietTurnWait time.Duration
}

// harness is one test's namespace, GitHub simulator, receiver stand-in and
// manager running the reconciler.
type harness struct {
	t        *testing.T
	ctx      context.Context
	ns       string
	sim      *githubsim.Server
	receiver *httptest.Server
	recorder *fakeRecorder

	reconciles  atomic.Int64
	statusPatch atomic.Int64
	// conflicts counts the reconciles that ended with a conflict error.
	conflicts  atomic.Int64
	maxPerLoop atomic.Int64
	// readyAfter records, per integration name, how many reconciles of
	// it had run when Ready was first seen True after one.
	readyMu    sync.Mutex
	perObject  map[string]int
	readyAfter map[string]int
	// receiverDown makes the receiver stand-in close every connection
	// without an answer, as GitHub sees an outage (status_code 0).
	receiverDown atomic.Bool
	// lagged holds, per integration, the status its cached reads show
	// until a time (harnessOptions.statusLag).
	laggedMu sync.Mutex
	lagged   map[client.ObjectKey]laggedStatus
}

// laggedStatus is what a lagging cache shows of an integration: its
// status, and its resourceVersion, from before the last status write.
type laggedStatus struct {
	until           time.Time
	status          hookv1.GitHubIntegrationStatus
	resourceVersion string
}

type writesKey struct{}

// readyOnAPI runs a harness with acme/api on the simulator and an
// integration name on it, with its Secret, and waits until it is Ready.
func readyOnAPI(t *testing.T, name string, mutate ...func(*hookv1.GitHubIntegration)) *harness {
	t.Helper()
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}})
	h.withSecret(name)
	h.integration(name, []string{"acme/api"}, mutate...)
	h.waitReady(name)
	return h
}

func newHarness(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ns := env.NewNamespace(t, "ghi")
	h := &harness{t: t, ctx: ctx, ns: ns, recorder: &fakeRecorder{}}
	h.sim = githubsim.New(opts.simOptions...)
	h.receiver = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if h.receiverDown.Load() {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	repos := opts.repos
	if repos == nil {
		repos = []string{"acme/api", "acme/web"}
	}
	for _, repo := range repos {
		if err := h.sim.AddRepo(repo); err != nil {
			t.Fatal(err)
		}
	}
	scopes := []string{"admin:repo_hook"}
	if opts.issues {
		scopes = append(scopes, "repo")
	}
	h.sim.AddToken(testToken, scopes, repos...)

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// As in cmd/hookwarden: only the Secrets hookwarden labelled are
		// cached and watched.
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}, ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: webhooksecret.ReferencedSelector()},
		}},
		Client:     client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		NewClient: func(cfg *rest.Config, o client.Options) (client.Client, error) {
			c, err := client.NewWithWatch(cfg, client.Options{Scheme: o.Scheme, Mapper: o.Mapper, HTTPClient: o.HTTPClient})
			if err != nil {
				return nil, err
			}
			// Reads come from the cache, as with the default client; writes
			// pass the interceptor.
			cached, err := client.New(cfg, o)
			if err != nil {
				return nil, err
			}
			return &cachedReads{Client: interceptor.NewClient(c, h.interceptors(opts)), reader: cached, h: h}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := setupIndexes(ctx, mgr.GetCache()); err != nil {
		t.Fatal(err)
	}
	factory := ghclient.NewFactory(append([]ghclient.FactoryOption{ghclient.WithMutationInterval(5 * time.Millisecond)}, opts.factoryOptions...)...)
	deps := Deps{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Scheme:    mgr.GetScheme(),
		Recorder:  h.recorder,
		GitHub:    factory,
	}
	r := &GitHubIntegrationReconciler{Deps: deps, PublicURL: h.receiver.URL, QuietTurnWait: opts.quietTurnWait,
		labelledSecrets: mgr.GetCache()}
	concurrency := max(opts.concurrency, 1)
	if err := r.builder(mgr, controller.Options{MaxConcurrentReconciles: concurrency}).Complete(&countingReconciler{inner: r, h: h}); err != nil {
		t.Fatal(err)
	}
	if err := r.setupSecretProtection(mgr); err != nil {
		t.Fatal(err)
	}
	if opts.issues {
		ir := &GitHubIssueReconciler{Deps: deps, LinkedPullRequestsInterval: opts.linksInterval}
		if err := ir.SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: concurrency}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() {
		if n := h.maxPerLoop.Load(); n > 1 {
			t.Errorf("a reconcile wrote status %d times, want at most once", n)
		}
		cancel()
		<-done
		h.sim.Close()
		h.receiver.Close()
	})
	return h
}

func (h *harness) interceptors(opts harnessOptions) interceptor.Funcs {
	return interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, o ...client.SubResourcePatchOption) error {
			if gi, ok := obj.(*hookv1.GitHubIntegration); ok && sub == "status" {
				if err := h.statusWrite(ctx, opts, gi); err != nil {
					return err
				}
			}
			if is, ok := obj.(*hookv1.GitHubIssue); ok && sub == "status" && opts.failIssueStatusPatch != nil {
				if err := opts.failIssueStatusPatch(is); err != nil {
					return err
				}
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, o...)
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, o ...client.SubResourceApplyOption) error {
			u, ok := obj.(interface{ UnstructuredContent() map[string]any })
			gi := &hookv1.GitHubIntegration{}
			if ok && sub == "status" && u.UnstructuredContent()["kind"] == "GitHubIntegration" {
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), gi); err != nil {
					return err
				}
				if err := h.statusWrite(ctx, opts, gi); err != nil {
					return err
				}
				if opts.statusLag > 0 {
					h.lagStatus(ctx, client.ObjectKeyFromObject(gi), opts.statusLag)
				}
			}
			return c.SubResource(sub).Apply(ctx, obj, o...)
		},
	}
}

// statusWrite counts a status write of gi and fails it when the test asks.
func (h *harness) statusWrite(ctx context.Context, opts harnessOptions, gi *hookv1.GitHubIntegration) error {
	if n, ok := ctx.Value(writesKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	h.statusPatch.Add(1)
	if opts.failStatusPatch != nil {
		return opts.failStatusPatch(gi)
	}
	return nil
}

// lagStatus makes the cached reads of an integration show its status as it
// is now, before a write, for lag (unless they already show an older one).
func (h *harness) lagStatus(ctx context.Context, key client.ObjectKey, lag time.Duration) {
	h.laggedMu.Lock()
	defer h.laggedMu.Unlock()
	if l, ok := h.lagged[key]; ok && time.Now().Before(l.until) {
		return
	}
	current := &hookv1.GitHubIntegration{}
	if err := env.Client.Get(ctx, key, current); err != nil {
		return
	}
	if h.lagged == nil {
		h.lagged = map[client.ObjectKey]laggedStatus{}
	}
	h.lagged[key] = laggedStatus{until: time.Now().Add(lag), status: current.Status, resourceVersion: current.ResourceVersion}
}

// cachedReads serves Get and List from the manager's cache.
type cachedReads struct {
	client.Client
	reader client.Reader
	h      *harness
}

func (c *cachedReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.reader.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if gi, ok := obj.(*hookv1.GitHubIntegration); ok {
		c.h.laggedMu.Lock()
		defer c.h.laggedMu.Unlock()
		if l, ok := c.h.lagged[key]; ok && time.Now().Before(l.until) {
			gi.Status = *l.status.DeepCopy()
			gi.ResourceVersion = l.resourceVersion
		}
	}
	return nil
}

func (c *cachedReads) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}

// countingReconciler counts the status writes of each reconcile.
type countingReconciler struct {
	inner reconcile.Reconciler
	h     *harness
}

func (c *countingReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	writes := &atomic.Int64{}
	res, err := c.inner.Reconcile(context.WithValue(ctx, writesKey{}, writes), req)
	c.h.reconciles.Add(1)
	if apierrors.IsConflict(err) {
		c.h.conflicts.Add(1)
	}
	c.h.noteReconcile(ctx, req)
	for {
		old := c.h.maxPerLoop.Load()
		if writes.Load() <= old || c.h.maxPerLoop.CompareAndSwap(old, writes.Load()) {
			break
		}
	}
	return res, err
}

// noteReconcile counts the reconciles of one existing integration and
// remembers after which of them Ready was first True, read from the API
// server.
func (h *harness) noteReconcile(ctx context.Context, req reconcile.Request) {
	h.readyMu.Lock()
	defer h.readyMu.Unlock()
	if h.perObject == nil {
		h.perObject, h.readyAfter = map[string]int{}, map[string]int{}
	}
	if h.readyAfter[req.Name] != 0 {
		return
	}
	gi := &hookv1.GitHubIntegration{}
	if err := env.Client.Get(ctx, req.NamespacedName, gi); err != nil {
		return // a reconcile of an object that does not exist does not count
	}
	h.perObject[req.Name]++
	if c := apimeta.FindStatusCondition(gi.Status.Conditions, hookv1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
		h.readyAfter[req.Name] = h.perObject[req.Name]
	}
}

// reconcilesToReady is the number of reconciles an integration took to
// become Ready (0 while it is not).
func (h *harness) reconcilesToReady(name string) int {
	h.readyMu.Lock()
	defer h.readyMu.Unlock()
	return h.readyAfter[name]
}

// fakeRecorder keeps Events in memory.
type fakeRecorder struct {
	mu     sync.Mutex
	events []recordedEvent
}

type recordedEvent struct {
	object, eventType, reason, note string
}

func (f *fakeRecorder) Eventf(regarding runtime.Object, _ runtime.Object, eventtype, reason, _ string, note string, args ...any) {
	name := ""
	if o, ok := regarding.(metav1.Object); ok {
		name = o.GetName()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, recordedEvent{object: name, eventType: eventtype, reason: reason, note: fmt.Sprintf(note, args...)})
}

// find returns the Events of an object with a reason.
func (f *fakeRecorder) find(object, reason string) []recordedEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recordedEvent
	for _, e := range f.events {
		if e.object == object && e.reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// secret creates the integration's Secret.
func (h *harness) secret(name string, data map[string]string) {
	h.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}, StringData: data}
	if err := env.Client.Create(h.ctx, s); err != nil {
		h.t.Fatal(err)
	}
}

// integration creates a GitHubIntegration for repos against the simulator,
// with a valid Secret unless the mutation says otherwise.
func (h *harness) integration(name string, repos []string, mutate ...func(*hookv1.GitHubIntegration)) *hookv1.GitHubIntegration {
	h.t.Helper()
	gi := &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: hookv1.GitHubIntegrationSpec{
			Repositories: repos,
			SecretRef:    hookv1.SecretReference{Name: name},
			GitHub:       &hookv1.GitHubServer{URL: h.sim.URL() + "/"},
			Interval:     metav1.Duration{Duration: time.Hour},
		},
	}
	for _, m := range mutate {
		m(gi)
	}
	if err := env.Client.Create(h.ctx, gi); err != nil {
		h.t.Fatal(err)
	}
	return gi
}

// withSecret is the usual Secret of an integration.
func (h *harness) withSecret(name string) {
	h.secret(name, map[string]string{"token": testToken, "webhook_secret": testWebhookSecret})
}

// read reads the object name of the test's namespace into obj, as a user
// would (from the API server).
func (h *harness) read(name string, obj client.Object) error {
	return env.Client.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: name}, obj)
}

// mustRead is read that fails the test on an error; it returns obj.
func mustRead[T client.Object](h *harness, name string, obj T) T {
	h.t.Helper()
	if err := h.read(name, obj); err != nil {
		h.t.Fatal(err)
	}
	return obj
}

// updateWithRetry changes an object with retries on conflicts; get reads
// it afresh for each try.
func updateWithRetry[T client.Object](h *harness, get func(string) T, name string, mutate func(T)) {
	h.t.Helper()
	h.eventually(5*time.Second, func() error {
		obj := get(name)
		mutate(obj)
		return env.Client.Update(h.ctx, obj)
	})
}

// get reads the integration as a user would.
func (h *harness) get(name string) *hookv1.GitHubIntegration {
	h.t.Helper()
	return mustRead(h, name, &hookv1.GitHubIntegration{})
}

// eventually polls cond until it returns nil or timeout passes.
func (h *harness) eventually(timeout time.Duration, cond func() error) {
	h.t.Helper()
	testenv.Eventually(h.t, timeout, "waiting", cond)
}

// waitReady waits until Ready=True for the current generation and returns
// the object.
func (h *harness) waitReady(name string) *hookv1.GitHubIntegration {
	h.t.Helper()
	return h.waitCondition(name, hookv1.ConditionReady, metav1.ConditionTrue, "", 20*time.Second)
}

// waitQuiet waits until no reconcile has run for a second (at most 20 s):
// the reconciles that events woke have run.
func (h *harness) waitQuiet() {
	h.t.Helper()
	last, since := h.reconciles.Load(), time.Now()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n := h.reconciles.Load(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= time.Second {
			return
		}
	}
	h.t.Fatalf("reconciles still running after 20 s (%d so far)", last)
}

// waitCondition waits until a condition has status (and reason, unless
// empty) for the object's current generation.
func (h *harness) waitCondition(name, condType string, want metav1.ConditionStatus, reason string, timeout time.Duration) *hookv1.GitHubIntegration {
	h.t.Helper()
	return waitObjectCondition(h, name, (*hookv1.GitHubIntegration).GetConditions, condType, want, reason, timeout)
}

// waitObjectCondition is waitCondition for any kind: conditions reads
// them from an object of kind T, read afresh for each try; it returns the
// object as last read.
func waitObjectCondition[T any, PT interface {
	*T
	client.Object
}](h *harness, name string, conditions func(PT) []metav1.Condition,
	condType string, want metav1.ConditionStatus, reason string, timeout time.Duration) PT {
	h.t.Helper()
	var obj PT
	h.eventually(timeout, func() error {
		obj = new(T)
		if err := h.read(name, obj); err != nil {
			return err
		}
		conds := conditions(obj)
		c := apimeta.FindStatusCondition(conds, condType)
		switch {
		case c == nil:
			return fmt.Errorf("%s has no %s condition; conditions %+v", name, condType, conds)
		case c.Status != want || (reason != "" && c.Reason != reason) || c.ObservedGeneration != obj.GetGeneration():
			return fmt.Errorf("%s: %s=%s reason %s (generation %d of %d): %s; want %s %s",
				name, condType, c.Status, c.Reason, c.ObservedGeneration, obj.GetGeneration(), c.Message, want, reason)
		}
		return nil
	})
	return obj
}

// waitStalledSaying waits until the object is Stalled with reason, and
// checks that Ready is False with that reason, says every one of message,
// and reveals none of secrets.
func (h *harness) waitStalledSaying(t *testing.T, name, reason string, timeout time.Duration, message []string, secrets ...string) *hookv1.GitHubIntegration {
	t.Helper()
	gi := h.waitCondition(name, hookv1.ConditionStalled, metav1.ConditionTrue, reason, timeout)
	ready := condition(gi, hookv1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != reason {
		t.Fatalf("Ready = %+v, want False %s", ready, reason)
	}
	if err := contains(ready.Message, message...); err != nil {
		t.Error(err)
	}
	for _, secret := range secrets {
		if strings.Contains(ready.Message, secret) {
			t.Errorf("the message reveals a secret value (%q): %s", secret, ready.Message)
		}
	}
	return gi
}

// update changes an integration's spec with retries on conflicts.
func (h *harness) update(name string, mutate func(*hookv1.GitHubIntegration)) {
	h.t.Helper()
	updateWithRetry(h, h.get, name, mutate)
}

// poke triggers a reconcile through an annotation change.
func (h *harness) poke(name string) {
	h.t.Helper()
	h.update(name, func(gi *hookv1.GitHubIntegration) {
		if gi.Annotations == nil {
			gi.Annotations = map[string]string{}
		}
		gi.Annotations["test.hookwarden.io/poke"] = time.Now().Format(time.RFC3339Nano)
	})
}

// simHooks returns the hooks on the simulator for a repository.
func (h *harness) simHooks(repo string) []githubsim.Hook {
	h.t.Helper()
	hooks, err := h.sim.Hooks(repo)
	if err != nil {
		h.t.Fatal(err)
	}
	return hooks
}

func (h *harness) payloadURL(name string) string {
	return h.receiver.URL + hookv1.ReceiverPath(h.ns, name)
}

// kstatus computes the object's kstatus as Argo CD or Flux would.
func kstatus(t *testing.T, gi *hookv1.GitHubIntegration) status.Status {
	t.Helper()
	return kstatusOf(t, gi, "GitHubIntegration")
}

// kstatusOf computes the kstatus of any hookwarden object of kind.
func kstatusOf(t *testing.T, obj runtime.Object, kind string) status.Status {
	t.Helper()
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: raw}
	u.SetAPIVersion(hookv1.GroupVersion.String())
	u.SetKind(kind)
	res, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func hookStatusOf(gi *hookv1.GitHubIntegration, target string) (hookv1.HookStatus, error) {
	for _, hs := range gi.Status.Hooks {
		if hs.Target == target {
			return hs, nil
		}
	}
	return hookv1.HookStatus{}, fmt.Errorf("no status.hooks entry for %s in %+v", target, gi.Status.Hooks)
}

func condition(gi *hookv1.GitHubIntegration, condType string) *metav1.Condition {
	return apimeta.FindStatusCondition(gi.Status.Conditions, condType)
}

var errInjected = errors.New("injected status patch failure")

func contains(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("%q does not contain %q", s, sub)
		}
	}
	return nil
}
