package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

// Scene is one scenario's namespace on a control plane, its simulator, and
// a kubeconfig for the operator processes.
type Scene struct {
	Env        *testenv.Env
	Client     client.Client
	Namespace  string
	Sim        *githubsim.Server
	Kubeconfig string
	Dir        string
}

// NewScene creates a namespace and writes a kubeconfig into dir; the
// simulator is sim.
func NewScene(ctx context.Context, env *testenv.Env, sim *githubsim.Server, dir string) (*Scene, error) {
	ns, err := env.Namespace(ctx, "scene")
	if err != nil {
		return nil, err
	}
	raw, err := env.Kubeconfig()
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, raw, 0o600); err != nil {
		return nil, err
	}
	return &Scene{Env: env, Client: env.Client, Namespace: ns, Sim: sim, Kubeconfig: kubeconfig, Dir: dir}, nil
}

// Operator starts a hookwarden process watching the scene's namespace.
func (s *Scene) Operator(ctx context.Context, name string, o OperatorOptions) (*Operator, error) {
	o.Kubeconfig, o.GitHubURL, o.Namespace = s.Kubeconfig, s.Sim.URL(), s.Namespace
	if o.LogDir == "" {
		o.LogDir = s.Dir
	}
	if o.Binary == "" {
		o.Binary = os.Getenv("HOOKWARDEN_BINARY")
	}
	return StartOperator(ctx, name, o)
}

// Integration creates a Secret with token and webhookSecret and a
// GitHubIntegration name for repos, checked every interval. The
// repositories and the token must exist on the simulator.
func (s *Scene) Integration(ctx context.Context, name, token, webhookSecret string, repos []string, interval time.Duration) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace},
		Data:       map[string][]byte{"token": []byte(token), "webhook_secret": []byte(webhookSecret)},
	}
	if err := s.Client.Create(ctx, secret); err != nil {
		return fmt.Errorf("create Secret %s: %w", name, err)
	}
	gi := &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace},
		Spec: hookv1.GitHubIntegrationSpec{
			Repositories: repos,
			SecretRef:    hookv1.SecretReference{Name: name},
			Interval:     metav1.Duration{Duration: interval},
		},
	}
	if err := s.Client.Create(ctx, gi); err != nil {
		return fmt.Errorf("create GitHubIntegration %s: %w", name, err)
	}
	return nil
}

// Integrations lists the scene's integrations.
func (s *Scene) Integrations(ctx context.Context) ([]hookv1.GitHubIntegration, error) {
	var list hookv1.GitHubIntegrationList
	if err := s.Client.List(ctx, &list, client.InNamespace(s.Namespace)); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// IsReady reports whether gi is Ready for its current generation with
// every hook registered.
func IsReady(gi *hookv1.GitHubIntegration) bool {
	c := apimeta.FindStatusCondition(gi.Status.Conditions, hookv1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && gi.Status.ObservedGeneration == gi.Generation &&
		int(gi.Status.HookCount) == len(gi.Spec.Repositories)
}

// WaitReady waits until n integrations of the scene are Ready and returns
// the moment it saw the last of them become so. It follows a watch rather
// than polling with lists: at 1,000 integrations a list is megabytes,
// and four a second would load the API server that the measurement shares
// with hookwarden. When the watch ends (the API server stopped, or the
// watch timed out), it lists and watches again.
func (s *Scene) WaitReady(ctx context.Context, n int, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wc, err := client.NewWithWatch(s.Env.Config, client.Options{Scheme: s.Client.Scheme()})
	if err != nil {
		return time.Time{}, err
	}
	for {
		at, err := s.watchReady(ctx, wc, n)
		if err == nil {
			return at, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%w: %w", ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// watchReady lists the scene's integrations, then follows their changes
// until n are Ready; its error says how many were when the watch ended.
func (s *Scene) watchReady(ctx context.Context, wc client.WithWatch, n int) (time.Time, error) {
	var list hookv1.GitHubIntegrationList
	if err := wc.List(ctx, &list, client.InNamespace(s.Namespace)); err != nil {
		return time.Time{}, err
	}
	ready := map[string]bool{}
	for i := range list.Items {
		ready[list.Items[i].Name] = IsReady(&list.Items[i])
	}
	done := func() (bool, error) {
		count := 0
		for _, r := range ready {
			if r {
				count++
			}
		}
		return count == n && len(ready) == n, fmt.Errorf("%d of %d integrations Ready", count, n)
	}
	if ok, _ := done(); ok {
		return time.Now(), nil
	}
	w, err := wc.Watch(ctx, &hookv1.GitHubIntegrationList{}, client.InNamespace(s.Namespace),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		return time.Time{}, err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		gi, isIntegration := ev.Object.(*hookv1.GitHubIntegration)
		switch {
		case ev.Type == watch.Error:
			return time.Time{}, apierrors.FromObject(ev.Object)
		case !isIntegration:
			continue
		case ev.Type == watch.Deleted:
			delete(ready, gi.Name)
		default:
			ready[gi.Name] = IsReady(gi)
		}
		if ok, _ := done(); ok {
			return time.Now(), nil
		}
	}
	_, err = done()
	return time.Time{}, err
}

// Counted sums the push deliveries the scene's integrations count in
// status.eventCounts.
func (s *Scene) Counted(ctx context.Context) (int64, error) {
	list, err := s.Integrations(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, gi := range list {
		for _, ec := range gi.Status.EventCounts {
			if ec.Event == "push" {
				n += ec.Count
			}
		}
	}
	return n, nil
}

// WaitCounted waits until status counts want push deliveries, or until the
// count has not moved for settle; it returns the last count.
func (s *Scene) WaitCounted(ctx context.Context, want int64, settle, timeout time.Duration) (int64, error) {
	var n int64
	changed := time.Now()
	err := Poll(ctx, timeout, 250*time.Millisecond, func() (bool, error) {
		c, err := s.Counted(ctx)
		if err != nil {
			return false, nil //nolint:nilerr // the API server may be away for a while: poll again
		}
		if c != n {
			n, changed = c, time.Now()
		}
		return n >= want || time.Since(changed) > settle, nil
	})
	return n, err
}

// DeleteAll deletes every integration of the scene and waits until they
// are gone; it returns how many are still there after timeout.
func (s *Scene) DeleteAll(ctx context.Context, timeout time.Duration) (int, error) {
	if err := s.Client.DeleteAllOf(ctx, &hookv1.GitHubIntegration{}, client.InNamespace(s.Namespace)); err != nil {
		return 0, err
	}
	left := 0
	_ = Poll(ctx, timeout, 250*time.Millisecond, func() (bool, error) {
		list, err := s.Integrations(ctx)
		if err != nil {
			return false, nil //nolint:nilerr // the API server may be away for a while: poll again
		}
		left = len(list)
		return left == 0, nil
	})
	return left, nil
}

// Poll calls done every interval until it reports true or fails, or timeout
// passes.
func Poll(ctx context.Context, timeout, interval time.Duration, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not done after %s", timeout)
		case <-time.After(interval):
		}
	}
}

// Edit changes the integration name with edit and updates it, retrying on
// conflicts; it returns the new generation.
func (s *Scene) Edit(ctx context.Context, name string, edit func(*hookv1.GitHubIntegration)) (int64, error) {
	var gen int64
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		gi := &hookv1.GitHubIntegration{}
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, gi); err != nil {
			return err
		}
		edit(gi)
		if err := s.Client.Update(ctx, gi); err != nil {
			return err
		}
		gen = gi.Generation
		return nil
	})
	return gen, err
}

// SetWebhookSecret changes the webhook secret in the integration's Secret,
// as a user rotating it would.
func (s *Scene) SetWebhookSecret(ctx context.Context, name, value string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		secret := &corev1.Secret{}
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, secret); err != nil {
			return err
		}
		secret.Data["webhook_secret"] = []byte(value)
		return s.Client.Update(ctx, secret)
	})
}

// WaitObserved waits until the integration name is Ready for generation
// gen, and returns when that was seen.
func (s *Scene) WaitObserved(ctx context.Context, name string, gen int64, timeout time.Duration) (time.Time, error) {
	err := Poll(ctx, timeout, 100*time.Millisecond, func() (bool, error) {
		gi := &hookv1.GitHubIntegration{}
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, gi); err != nil {
			return false, nil //nolint:nilerr // the API server may be away for a while: poll again
		}
		return gi.Status.ObservedGeneration >= gen && IsReady(gi), nil
	})
	return time.Now(), err
}
