package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/controllers"
	"github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/metrics"
	"github.com/hookwarden/hookwarden/internal/scheme"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
	"github.com/hookwarden/hookwarden/webhookserver"
)

// version and commit are what hookwarden_build_info and `hookwarden
// version` say, set at build time with -ldflags "-X main.version=... -X
// main.commit=..." (BUILD_FLAGS in the Makefile, the Dockerfile's VERSION
// and COMMIT arguments).
var (
	version = "dev"
	commit  = "unknown"
)

// LeaderElectionID names the lease the replicas compete for.
const LeaderElectionID = "hookwarden.integrations.hookwarden.io"

// NewManager builds the manager with the components o.Components names.
func newManager(ctx context.Context, cfg *rest.Config, o Options) (manager.Manager, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	metrics.SetBuildInfo(version, commit, runtime.Version())
	mgr, err := ctrl.NewManager(cfg, managerOptions(o))
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("caches", cachesSynced(mgr)); err != nil {
		return nil, fmt.Errorf("add readyz check: %w", err)
	}
	// In one process, the receiver learns of the reconciler's own metadata
	// patches of Secrets instead of reading the Secrets again for them.
	var patches *webhooksecret.OwnPatches
	if o.runs(ComponentController) && o.runs(ComponentReceiver) {
		patches = webhooksecret.NewOwnPatches()
	}
	if o.runs(ComponentController) {
		if err := addControllers(ctx, mgr, o, patches); err != nil {
			return nil, err
		}
	}
	if o.runs(ComponentReceiver) {
		if err := addReceiver(mgr, o, patches); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

func managerOptions(o Options) manager.Options {
	mo := manager.Options{
		Scheme:                 scheme.New(),
		MapperProvider:         scheme.NewMapper,
		HealthProbeBindAddress: o.HealthProbeBindAddress,
		PprofBindAddress:       o.PprofBindAddress,
		Metrics:                metricsserver.Options{BindAddress: o.MetricsBindAddress},
		// A receiver-only process never reconciles, so it competes for
		// nothing: it needs no lease.
		LeaderElection:          o.LeaderElect && o.runs(ComponentController),
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// Secrets are read on demand, never cached whole. Their changes are
		// watched through metadata only, and only those of the Secrets
		// hookwarden labelled (the ones integrations reference, and its
		// own): the other Secrets of the watched namespaces cost nothing.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Cache: cache.Options{DefaultTransform: trimCachedObject, ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: webhooksecret.ReferencedSelector()},
		}},
	}
	if !o.runs(ComponentController) {
		// The split layout's receiver reads Secrets in the operator's
		// namespace only, and there only the mirrors, whole: its Role
		// grants nothing else.
		mo.Cache.ByObject = map[client.Object]cache.ByObject{&corev1.Secret{}: {
			Namespaces: map[string]cache.Config{o.OperatorNamespace: {}},
			Label:      webhooksecret.MirrorSelector(),
		}}
	}
	if o.SkipControllerNameValidation {
		mo.Controller.SkipNameValidation = ptr.To(true)
	}
	if len(o.WatchNamespaces) > 0 {
		mo.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range o.WatchNamespaces {
			mo.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return mo
}

// addControllers sets up the reconcilers; they run in the leader only.
func addControllers(ctx context.Context, mgr manager.Manager, o Options, patches *webhooksecret.OwnPatches) error {
	// One factory for both reconcilers: the hooks and the issues of a token
	// share its pacing, content-creation limits and rate-limit state.
	factory := github.NewFactory(github.WithMutationInterval(mutationInterval(o)), github.WithContentLimits(contentLimits(o)...))
	deps := func(recorderName string) controllers.Deps {
		return controllers.Deps{
			Client:           mgr.GetClient(),
			APIReader:        mgr.GetAPIReader(),
			Scheme:           mgr.GetScheme(),
			Recorder:         mgr.GetEventRecorder(recorderName),
			GitHub:           factory,
			DefaultGitHubURL: o.GitHubURL,
		}
	}
	r := &controllers.GitHubIntegrationReconciler{
		Deps:             deps(controllers.ControllerName),
		PublicURL:        o.PublicURL,
		RedeliveryWindow: o.RedeliveryWindow,
		MirrorNamespace:  o.mirrorNamespace(),
		ReceiverService:  o.ReceiverService,
		SecretPatches:    patches,
	}
	if err := r.SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}); err != nil {
		return fmt.Errorf("set up the GitHubIntegration controller: %w", err)
	}
	ir := &controllers.GitHubIssueReconciler{Deps: deps(controllers.IssueControllerName)}
	if err := ir.SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}); err != nil {
		return fmt.Errorf("set up the GitHubIssue controller: %w", err)
	}
	return nil
}

// contentLimits are GitHub's content-creation limits unless a test turned
// them off.
func contentLimits(o Options) []github.ContentLimit {
	if o.GitHubNoContentLimits {
		return nil
	}
	return github.DefaultContentLimits()
}

func mutationInterval(o Options) time.Duration {
	if o.GitHubMutationInterval > 0 {
		return o.GitHubMutationInterval
	}
	return github.DefaultMutationInterval
}

// addReceiver runs the delivery receiver in every replica.
func addReceiver(mgr manager.Manager, o Options, patches *webhooksecret.OwnPatches) error {
	opts := o.ReceiverOptions()
	opts.SecretPatches = patches
	rcv, err := webhookserver.New(mgr, opts)
	if err != nil {
		return fmt.Errorf("set up the receiver: %w", err)
	}
	if err := mgr.Add(rcv); err != nil {
		return fmt.Errorf("add the receiver: %w", err)
	}
	if err := mgr.AddReadyzCheck("receiver", rcv.ReadyCheck()); err != nil {
		return fmt.Errorf("add receiver readyz check: %w", err)
	}
	return nil
}

// cachedStrings is the pool of the strings the cached objects share.
var cachedStrings = newStringPool()

// trimCachedObject keeps the cache small and free of secret data: neither
// managedFields nor kubectl's last-applied-configuration annotation is ever
// read, and on a Secret (watched through its metadata only) that annotation
// holds the Secret's whole content. The strings many objects hold the same
// value of are shared (intern.go).
func trimCachedObject(obj any) (any, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	if m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	if a := m.GetAnnotations(); a != nil {
		if _, found := a[corev1.LastAppliedConfigAnnotation]; found {
			delete(a, corev1.LastAppliedConfigAnnotation)
			m.SetAnnotations(a)
		}
	}
	cachedStrings.internMeta(m)
	if gi, ok := obj.(*hookv1.GitHubIntegration); ok {
		cachedStrings.internIntegration(gi)
	}
	return obj, nil
}

// cachesSynced is ready once the manager's informers have synced.
func cachesSynced(mgr manager.Manager) healthz.Checker {
	return func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("caches not synced")
		}
		return nil
	}
}
