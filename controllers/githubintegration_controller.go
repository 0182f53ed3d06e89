// Package controllers holds hookwarden's reconcilers. The
// GitHubIntegration reconciler registers one webhook per target on GitHub,
// keeps it as declared, and removes it when the object goes.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/indexes"
	"github.com/hookwarden/hookwarden/internal/metrics"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// ControllerName names the controller in logs, metrics and Events.
const ControllerName = "githubintegration"

// GitHubIntegrationReconciler reconciles GitHubIntegration objects.
type GitHubIntegrationReconciler struct {
	// Client reads and patches GitHubIntegrations (cached reads).
	client.Client
	// APIReader reads the referenced Secrets straight from the API server:
	// Secrets are not cached.
	APIReader client.Reader
	// Scheme knows the hookwarden types.
	Scheme *runtime.Scheme
	// Recorder emits Kubernetes Events on the integrations.
	Recorder events.EventRecorder
	// GitHub hands out the shared GitHub client of each token.
	GitHub *ghclient.Factory
	// DefaultGitHubURL is used when spec.github.url is empty
	// (--github-url).
	DefaultGitHubURL string
	// PublicURL is where GitHub reaches the receiver (--public-url); the
	// payload URL is PublicURL followed by the receiver path unless
	// spec.payloadURL is set.
	PublicURL string
	// RedeliveryWindow is how old a failed delivery may be and still be
	// redelivered: GitHub's window, DefaultRedeliveryWindow when zero
	// (tests shorten it).
	RedeliveryWindow time.Duration
	// SecretPropagationDelay is the wait between the start of a rotation
	// and the push of the new secret to GitHub, for every receiver to learn
	// it; DefaultSecretPropagationDelay when zero.
	SecretPropagationDelay time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// tokens remembers the token each integration last used, so the
	// GitHub client of a token nobody uses any more is dropped.
	tokens tokenUsers
	// redeliveries remembers the redeliveries requested recently.
	redeliveries redeliveryLog
}

// +kubebuilder:rbac:groups=integrations.hookwarden.io,resources=githubintegrations,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=integrations.hookwarden.io,resources=githubintegrations/status,verbs=get;patch
// +kubebuilder:rbac:groups=integrations.hookwarden.io,resources=githubintegrations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the reconciler with mgr, and beside it the
// controller that releases the referenced Secrets no integration needs any
// more. The manager must have the indexes of package indexes
// (indexes.Setup).
func (r *GitHubIntegrationReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if err := r.builder(mgr, opts).Complete(r); err != nil {
		return err
	}
	return r.setupSecretProtection(mgr)
}

// builder wires the watches: integrations on spec, annotation or deletion
// changes (not on status writes, which the receiver makes often), and the
// metadata of Secrets, mapped to the integrations that reference them and
// to the integration whose webhook secrets they keep. A Stalled integration
// is retried by any of these: whatever it waits for is among them.
func (r *GitHubIntegrationReconciler) builder(mgr ctrl.Manager, opts controller.Options) *builder.Builder {
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&hookv1.GitHubIntegration{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			deletionStarted{},
		))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.integrationsForSecret)).
		WithOptions(opts)
}

// deletionStarted passes the update that sets deletionTimestamp.
type deletionStarted struct{ predicate.Funcs }

func (deletionStarted) Update(e event.UpdateEvent) bool {
	return e.ObjectOld != nil && e.ObjectNew != nil &&
		e.ObjectOld.GetDeletionTimestamp() == nil && e.ObjectNew.GetDeletionTimestamp() != nil
}

// integrationsForSecret maps a Secret to the integrations that reference it
// (spec.secretRef.name, through the field index) and to the integration
// whose webhook secrets it keeps: by the label hookwarden puts on those
// Secrets, or by their name, so that deleting a Secret that is in the way
// under that name wakes the integration too.
func (r *GitHubIntegrationReconciler) integrationsForSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	var list hookv1.GitHubIntegrationList
	if err := r.List(ctx, &list, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{indexes.SecretRefNameField: secret.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list the GitHubIntegrations of a Secret", "secret", klog.KObj(secret))
	}
	reqs := make([]reconcile.Request, 0, len(list.Items)+1)
	for _, gi := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: gi.Namespace, Name: gi.Name}})
	}
	if name := keeperOf(secret); name != "" {
		req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: secret.GetNamespace(), Name: name}}
		if !slices.Contains(reqs, req) {
			reqs = append(reqs, req)
		}
	}
	return reqs
}

// keeperOf names the integration whose webhook secrets the Secret keeps (or
// would keep, by its name); empty for any other Secret.
func keeperOf(secret client.Object) string {
	labels := secret.GetLabels()
	if labels[webhooksecret.ManagedByLabel] == webhooksecret.ManagedByValue && labels[webhooksecret.IntegrationLabel] != "" {
		return labels[webhooksecret.IntegrationLabel]
	}
	for _, suffix := range []string{webhooksecret.AppliedName(""), webhooksecret.PreviousName("")} {
		if name, ok := strings.CutSuffix(secret.GetName(), suffix); ok && name != "" {
			return name
		}
	}
	return ""
}

// Reconcile brings the hooks of one GitHubIntegration on GitHub in line with
// its spec and writes what it saw to status, in one patch.
func (r *GitHubIntegrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &hookv1.GitHubIntegration{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// One status write per reconcile, whatever path it takes: the diff
	// between the status as fetched and as left by the steps below.
	fetched := obj.Status.DeepCopy()
	gone := false
	defer func() {
		if gone {
			return
		}
		if err := r.patchStatus(ctx, obj, fetched); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()

	if !obj.DeletionTimestamp.IsZero() {
		result, gone, retErr = r.reconcileDelete(ctx, obj)
		return result, retErr
	}
	if err := r.ensureFinalizer(ctx, obj); err != nil {
		return ctrl.Result{}, err
	}
	if obj.Spec.Suspend {
		markSuspended(obj)
		return ctrl.Result{}, nil
	}

	sec, err := r.reconcileSecret(ctx, obj)
	if err != nil {
		return r.handleFailure(ctx, obj, r.withCarriedSecretNote(ctx, obj, err))
	}
	if sec.settle > 0 {
		ctrl.LoggerFrom(ctx).Info("Webhook secret changed: pushing it to the hooks once every receiver knows it", "after", sec.settle)
		return ctrl.Result{RequeueAfter: sec.settle}, nil
	}
	gh, err := r.reconcileHooks(ctx, obj, sec)
	if err != nil {
		return r.handleFailure(ctx, obj, err)
	}
	wake, err := r.finishRotation(ctx, obj, sec)
	if err != nil {
		return r.handleFailure(ctx, obj, err)
	}
	markHooksReady(obj)
	if sec.terminating {
		noteSecretTerminating(obj)
	}
	next := jittered(obj.GetInterval())
	if wake > 0 {
		next = min(next, wake)
	}
	if recheck := r.reconcileDeliveries(ctx, obj, gh); recheck > 0 {
		next = min(next, recheck)
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// now is the reconciler's clock.
func (r *GitHubIntegrationReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// patchStatus writes the reconciler's part of the status (and only that:
// hookv1.ReconcilerStatus) with server-side apply under the reconciler's
// field manager, so the fields the receiver writes meanwhile are never
// touched. No change, no write.
func (r *GitHubIntegrationReconciler) patchStatus(ctx context.Context, obj *hookv1.GitHubIntegration, fetched *hookv1.GitHubIntegrationStatus) error {
	part := obj.Status.ReconcilerPart()
	if equality.Semantic.DeepEqual(part, fetched.ReconcilerPart()) {
		return nil
	}
	apply, err := hookv1.StatusApply(obj.Namespace, obj.Name, "", part)
	if err != nil {
		return err
	}
	metrics.StatusWrites.WithLabelValues("reconciler").Inc()
	if err := r.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(apply),
		client.FieldOwner(hookv1.ReconcilerFieldManager), client.ForceOwnership); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("apply status: %w", err))
	}
	return nil
}

// ensureFinalizer adds the finalizer, with a metadata patch, before the
// first GitHub call: no hook may be created that deletion would forget.
func (r *GitHubIntegrationReconciler) ensureFinalizer(ctx context.Context, obj *hookv1.GitHubIntegration) error {
	if controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(obj.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(obj, hookv1.Finalizer)
	if err := r.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
}

// removeFinalizer releases the object once its hooks are dealt with.
func (r *GitHubIntegrationReconciler) removeFinalizer(ctx context.Context, obj *hookv1.GitHubIntegration) error {
	patch := client.MergeFromWithOptions(obj.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(obj, hookv1.Finalizer)
	if err := r.Patch(ctx, obj, patch); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("remove finalizer: %w", err))
	}
	return nil
}

// handleFailure turns a failed step into conditions and a result:
// user-fixable errors stall, rate limits wait for the reset, the rest is
// returned for the workqueue's backoff.
func (r *GitHubIntegrationReconciler) handleFailure(ctx context.Context, obj *hookv1.GitHubIntegration, err error) (ctrl.Result, error) {
	var failure *stepError
	if !errors.As(err, &failure) {
		// A Kubernetes API error or similar: retried with backoff.
		markReconciling(obj, hookv1.ReasonProgressing, err.Error())
		return ctrl.Result{}, err
	}
	r.warn(obj, failure.reason, failure.message)
	switch {
	case failure.stalled:
		markStalled(obj, failure.reason, failure.message)
		if failure.retryOnInterval {
			// The fix may happen on GitHub, where no watch sees it.
			return ctrl.Result{RequeueAfter: jittered(obj.GetInterval())}, nil
		}
		return ctrl.Result{}, nil
	case !failure.retryAt.IsZero():
		markReconciling(obj, failure.reason, failure.message)
		ctrl.LoggerFrom(ctx).Info("Waiting for GitHub's rate limit to reset", "until", failure.retryAt)
		return ctrl.Result{RequeueAfter: max(time.Until(failure.retryAt), 0) + time.Second}, nil
	default:
		markReconciling(obj, failure.reason, failure.message)
		return ctrl.Result{}, failure
	}
}

// warn emits a Warning Event.
func (r *GitHubIntegrationReconciler) warn(obj *hookv1.GitHubIntegration, reason, message string) {
	r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", message)
}

// normal emits a Normal Event.
func (r *GitHubIntegrationReconciler) normal(obj *hookv1.GitHubIntegration, reason, action, message string) {
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, action, "%s", message)
}

// jittered spreads drift checks of many integrations over time.
func jittered(d time.Duration) time.Duration {
	return wait.Jitter(d, 0.1)
}

// tokenUsers counts which integrations use which token, so that the client
// of a token is dropped from the factory once no integration uses it (a
// token rotated in the Secret would otherwise keep its client, rate-limit
// state and ETag entries forever).
type tokenUsers struct {
	mu    sync.Mutex
	users map[types.NamespacedName]tokenUse
}

type tokenUse struct {
	apiURL string
	creds  ghclient.Credentials
}

// rememberToken records the token an integration uses now and drops the
// client of the token it used before when nobody else uses it.
func (r *GitHubIntegrationReconciler) rememberToken(obj *hookv1.GitHubIntegration, creds ghclient.Credentials) {
	r.swapToken(client.ObjectKeyFromObject(obj), &tokenUse{apiURL: r.apiURL(obj), creds: creds})
}

// forgetIntegration drops what the reconciler remembers of an integration
// that went away.
func (r *GitHubIntegrationReconciler) forgetIntegration(obj *hookv1.GitHubIntegration) {
	r.swapToken(client.ObjectKeyFromObject(obj), nil)
	r.redeliveries.forgetIntegration(client.ObjectKeyFromObject(obj))
}

func (r *GitHubIntegrationReconciler) swapToken(key types.NamespacedName, use *tokenUse) {
	t := &r.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == nil {
		t.users = map[types.NamespacedName]tokenUse{}
	}
	old, had := t.users[key]
	if use != nil {
		t.users[key] = *use
	} else {
		delete(t.users, key)
	}
	if !had || (use != nil && old == *use) {
		return
	}
	for _, u := range t.users {
		if u == old {
			return
		}
	}
	if r.GitHub != nil {
		r.GitHub.Forget(old.apiURL, old.creds)
	}
}

// integrationKey labels metrics.
func integrationKey(obj *hookv1.GitHubIntegration) string {
	return obj.Namespace + "/" + obj.Name
}
