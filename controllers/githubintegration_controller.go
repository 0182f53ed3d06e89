// Package controllers holds hookwarden's reconcilers. The
// GitHubIntegration reconciler registers one webhook per target on GitHub,
// keeps it as declared, and removes it when the object goes.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/metrics"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// ControllerName names the controller in logs, metrics and Events.
const ControllerName = "githubintegration"

// +kubebuilder:rbac:groups=integrations.hookwarden.io,resources=githubintegrations,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=integrations.hookwarden.io,resources=githubintegrations/status,verbs=get;patch
// +kubebuilder:rbac:groups=integrations.hookwarden.io,resources=githubintegrations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the reconciler with mgr, with the field
// indexes it lists by, and beside it the controller that releases the
// referenced Secrets no integration needs any more.
func (r *GitHubIntegrationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts controller.Options) error {
	if err := setupIndexes(ctx, mgr.GetCache()); err != nil {
		return err
	}
	r.labelledSecrets = mgr.GetCache()
	if err := r.builder(mgr, opts).Complete(r); err != nil {
		return err
	}
	if r.mirrored() {
		if err := mgr.Add(mirrorSweeper{r: r, cache: mgr.GetCache()}); err != nil {
			return err
		}
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
		For(&hookv1.GitHubIntegration{}, builder.WithPredicates(specOrAnnotationChanged())).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.integrationsForSecret),
			builder.WithPredicates(notOwnSecretBookkeeping())).
		WithOptions(opts)
}

// notOwnSecretBookkeeping drops the Secret events that hookwarden's own
// bookkeeping causes, which would otherwise reconcile each new integration
// a second time for nothing (and, at scale, keep workers from the hooks
// that wait for them):
//   - every creation: the watch sees only labelled Secrets, so a Secret
//     appears in it only when hookwarden labels a referenced Secret or
//     creates one of its own, both during the integration's reconcile. A
//     Secret created after its integration carries no label yet and is
//     found by the reconcile's own retry (unwatchedSecretRetry); when the
//     watch starts, every integration is reconciled anyway.
//   - an update that only adds hookwarden's label or protection finalizer.
//
// Everything else passes: a change of data (seen through metadata only as a
// new resourceVersion), any removal of the label or finalizer, deletion.
func notOwnSecretBookkeeping() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld == nil || e.ObjectNew == nil || !onlyMarksAdded(e.ObjectOld, e.ObjectNew)
		},
	}
}

// onlyMarksAdded reports whether the only change from old to new (apart
// from resourceVersion and managedFields) is that hookwarden's referenced
// label or protection finalizer was added.
func onlyMarksAdded(old, new client.Object) bool {
	if new.GetDeletionTimestamp() != nil || old.GetDeletionTimestamp() != nil {
		return false
	}
	oldLabels, newLabels := maps.Clone(old.GetLabels()), maps.Clone(new.GetLabels())
	added := oldLabels[webhooksecret.ReferencedLabel] != newLabels[webhooksecret.ReferencedLabel]
	if added && newLabels[webhooksecret.ReferencedLabel] != webhooksecret.ReferencedValue {
		return false
	}
	delete(oldLabels, webhooksecret.ReferencedLabel)
	delete(newLabels, webhooksecret.ReferencedLabel)
	oldFinalizers := slices.DeleteFunc(slices.Clone(old.GetFinalizers()), isProtection)
	newFinalizers := slices.DeleteFunc(slices.Clone(new.GetFinalizers()), isProtection)
	if len(newFinalizers) != len(new.GetFinalizers()) && len(oldFinalizers) == len(old.GetFinalizers()) {
		added = true
	} else if len(newFinalizers) == len(new.GetFinalizers()) && len(oldFinalizers) != len(old.GetFinalizers()) {
		return false // the finalizer was removed
	}
	return added && maps.Equal(oldLabels, newLabels) && slices.Equal(oldFinalizers, newFinalizers) &&
		maps.Equal(old.GetAnnotations(), new.GetAnnotations()) &&
		equality.Semantic.DeepEqual(old.GetOwnerReferences(), new.GetOwnerReferences())
}

func isProtection(f string) bool { return f == hookv1.SecretProtectionFinalizer }

// specOrAnnotationChanged passes what a reconciler of hookwarden's kinds
// acts on: a new generation (spec), a changed annotation (among them
// reconcile.hookwarden.io/requestedAt), and the start of deletion; not
// status writes, which the receiver makes often.
func specOrAnnotationChanged() predicate.Predicate {
	return predicate.Or(
		predicate.GenerationChangedPredicate{},
		predicate.AnnotationChangedPredicate{},
		deletionStarted{},
	)
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
// Secrets, or by their name. Only labelled Secrets are watched: a Secret of
// someone else's in the way under such a name is looked at again every
// unwatchedSecretRetry instead.
func (r *GitHubIntegrationReconciler) integrationsForSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	integrations := integrationsOfSecret(ctx, r, secret)
	reqs := make([]reconcile.Request, 0, len(integrations)+1)
	for _, gi := range integrations {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: gi.Namespace, Name: gi.Name}})
	}
	if key, _, ok := webhooksecret.MirrorIntegration(secret); ok && r.mirrored() &&
		secret.GetNamespace() == r.MirrorNamespace && key.Name != "" {
		// A mirror changed or deleted by someone else is written again.
		reqs = append(reqs, reconcile.Request{NamespacedName: key})
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
// would keep, by its name); empty for any other Secret. A mirror is mapped
// by integrationsForSecret through its annotation instead.
func keeperOf(secret client.Object) string {
	if _, _, ok := webhooksecret.MirrorIntegration(secret); ok {
		return ""
	}
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
		if apierrors.IsNotFound(err) {
			// Gone without the finalizer's path (never reconciled, or
			// the finalizer removed by hand): forget it all the same.
			r.forgetIntegration(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// One status write per reconcile, whatever path it takes: the diff
	// between the status as fetched and as left by the steps below.
	fetched := obj.Status.DeepCopy()
	gone := false
	defer writeStatusOnReturn(&gone, &retErr, func() error {
		err := r.patchStatus(ctx, obj, fetched)
		exportConditions(obj)
		return err
	})
	handleReconcileRequest(obj)

	if !obj.DeletionTimestamp.IsZero() {
		result, gone, retErr = r.reconcileDelete(ctx, obj)
		return result, retErr
	}
	turn, wait, source := r.awaitFirstTurn(ctx, obj, req.String())
	if wait {
		return r.waitForFirstTurn(ctx, obj, turn), nil
	}
	first, err := r.ensureFinalizer(ctx, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	if obj.Spec.Suspend {
		markSuspended(obj)
		// The receiver keeps receiving: it must still see the Secret's
		// changes.
		return ctrl.Result{}, r.labelReferencedSecret(ctx, obj)
	}

	sec, err := r.reconcileSecret(ctx, obj, source, first)
	if err != nil {
		return r.handleFailure(ctx, obj, r.withCarriedSecretNote(ctx, obj, err))
	}
	if sec.settle > 0 {
		if len(sec.waitingFor) > 0 {
			// Checked every second at first: logged at debug level.
			ctrl.LoggerFrom(ctx).V(1).Info("Webhook secret changed: pushing it to the hooks once every receiver has loaded it",
				"waitingFor", sec.waitingFor, "checkAgainIn", sec.settle)
		} else {
			ctrl.LoggerFrom(ctx).Info("Webhook secret changed: pushing it to the hooks once every receiver knows it", "after", sec.settle)
		}
		return ctrl.Result{RequeueAfter: sec.settle}, nil
	}
	gh, err := r.githubClient(obj, sec)
	if err != nil {
		return r.handleFailure(ctx, obj, err)
	}
	created, err := r.reconcileHooks(ghclient.DeferPacing(ctx, req.String(), pacingMaxWait), obj, gh, sec)
	if err != nil {
		var deferred *ghclient.PacingDeferredError
		if errors.As(err, &deferred) {
			return waitForPacing(ctx, obj, turnOf(deferred)), nil
		}
		return r.handleFailure(ctx, obj, err)
	}
	wake, err := r.finishRotation(ctx, obj, sec)
	if err != nil {
		return r.handleFailure(ctx, obj, err)
	}
	if err := r.syncMirror(ctx, obj, sec); err != nil {
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
	if recheck := r.reconcileDeliveries(ctx, obj, gh, created); recheck > 0 {
		next = min(next, recheck)
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// patchStatus writes the reconciler's part of the status (and only that:
// hookv1.ReconcilerPart) with server-side apply under the reconciler's
// field manager, so the fields the receiver writes meanwhile are never
// touched. No change, no write.
func (r *GitHubIntegrationReconciler) patchStatus(ctx context.Context, obj *hookv1.GitHubIntegration, fetched *hookv1.GitHubIntegrationStatus) error {
	part, err := hookv1.ReconcilerPart.Of(&obj.Status)
	if err != nil {
		return err
	}
	if was, err := hookv1.ReconcilerPart.Of(fetched); err == nil && equality.Semantic.DeepEqual(part, was) {
		return nil
	}
	apply, err := hookv1.ReconcilerPart.Apply(obj.Namespace, obj.Name, "", &obj.Status)
	if err != nil {
		return err
	}
	metrics.StatusWrites.WithLabelValues(metrics.WriterReconciler).Inc()
	if err := r.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(apply),
		client.FieldOwner(hookv1.ReconcilerFieldManager), client.ForceOwnership); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		metrics.StatusWriteFailures.WithLabelValues(metrics.WriterReconciler).Inc()
		return fmt.Errorf("apply status: %w", err)
	}
	return nil
}
