package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hookwarden/hookwarden/internal/indexes"
	"github.com/hookwarden/hookwarden/internal/scheme"
)

// LeaderElectionID names the lease the replicas compete for.
const LeaderElectionID = "hookwarden.integrations.hookwarden.io"

// NewManager builds the manager with every hookwarden component added.
func NewManager(ctx context.Context, cfg *rest.Config, o Options) (manager.Manager, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, managerOptions(o))
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := indexes.Setup(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("caches", cachesSynced(mgr)); err != nil {
		return nil, fmt.Errorf("add readyz check: %w", err)
	}
	return mgr, nil
}

func managerOptions(o Options) manager.Options {
	mo := manager.Options{
		Scheme:                  scheme.New(),
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsBindAddress},
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// Secrets are read on demand, never cached: a cache would hold every
		// Secret of the watched namespaces, most of them unrelated. Their
		// changes are watched through metadata only.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	}
	if len(o.WatchNamespaces) > 0 {
		mo.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range o.WatchNamespaces {
			mo.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return mo
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
