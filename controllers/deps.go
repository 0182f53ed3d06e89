package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ghclient "github.com/hookwarden/hookwarden/internal/github"
)

// Deps is what both reconcilers are built from: the manager's clients, an
// event recorder, the GitHub client factory and the clock. Each reconciler
// embeds it.
type Deps struct {
	// Client reads (from the cache) and patches the reconciler's objects.
	client.Client
	// APIReader reads straight from the API server: Secrets are not
	// cached.
	APIReader client.Reader
	// Scheme knows the hookwarden types.
	Scheme *runtime.Scheme
	// Recorder emits Kubernetes Events on the reconciler's objects.
	Recorder events.EventRecorder
	// GitHub hands out the shared GitHub client of each token. Both
	// reconcilers get the same factory, so that the hooks and the issues of
	// a token share its pacing and rate-limit state.
	GitHub *ghclient.Factory
	// DefaultGitHubURL is used when an integration's spec.github.url is
	// empty (--github-url).
	DefaultGitHubURL string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// now is the reconciler's clock.
func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// writeStatusOnReturn is deferred at the top of both Reconciles, so that a
// reconcile writes its status once, whatever path it returns by: it calls
// write unless the reconcile found the object gone (*gone), and adds
// write's error to the reconcile's (*retErr).
func writeStatusOnReturn(gone *bool, retErr *error, write func() error) {
	if *gone {
		return
	}
	if err := write(); err != nil {
		*retErr = kerrors.NewAggregate([]error{*retErr, err})
	}
}
