package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// SecretProtectionControllerName names the controller that releases
// referenced Secrets no integration needs any more.
const SecretProtectionControllerName = "secretprotection"

// The protection of referenced Secrets has two halves. The GitHubIntegration
// reconciler adds hookv1.SecretProtectionFinalizer to the referenced Secret
// before its first GitHub call (protectSecret), so the token outlives the
// hooks it created whatever the order in which the integration and the
// Secret are deleted. This controller, keyed by Secret, removes the
// finalizer once no integration needs the Secret: the integration that
// needed it is gone, points at another Secret, or has deletionPolicy
// Orphan. It is a controller of its own because an integration no longer
// knows the Secret it referenced before an edit of spec.secretRef.
//
// The label webhooksecret.ReferencedLabel follows the same path with a
// wider rule: the reconciler sets it on every Secret an integration
// references, whatever its deletionPolicy, as soon as it reads it (a
// Secret that is not valid yet included, so that its fix is seen), and
// this controller removes it once no integration references the Secret.

// protectSecret adds the protection finalizer to the referenced Secret, and
// the label that keeps it in hookwarden's caches, unless the integration
// has deletionPolicy Orphan (then only the label). A Secret already being
// deleted cannot get a new finalizer; it is used for as long as it exists.
func (r *GitHubIntegrationReconciler) protectSecret(ctx context.Context, obj *hookv1.GitHubIntegration, secret *corev1.Secret) error {
	if secret == nil {
		return nil
	}
	return r.claimSecret(ctx, secret, obj.Spec.DeletionPolicy != hookv1.DeletionPolicyOrphan)
}

// claimSecret labels a Secret an integration references with
// webhooksecret.ReferencedLabel, so that hookwarden's caches, which hold
// only labelled Secrets, see its changes, and with protect adds the
// protection finalizer; one metadata patch (never an Update of the user's
// Secret) guarded by the resourceVersion read, and none when both are
// there. secret is updated with what was written.
func (r *GitHubIntegrationReconciler) claimSecret(ctx context.Context, secret metav1.Object, protect bool) error {
	addFinalizer := protect && secret.GetDeletionTimestamp().IsZero() &&
		!slices.Contains(secret.GetFinalizers(), hookv1.SecretProtectionFinalizer)
	addLabel := !webhooksecret.IsReferenced(secret)
	if !addFinalizer && !addLabel {
		return nil
	}
	meta := secretMetadata(secret.GetNamespace(), secret.GetName())
	meta.ResourceVersion = secret.GetResourceVersion()
	meta.Finalizers = secret.GetFinalizers()
	meta.Labels = maps.Clone(secret.GetLabels())
	patch := client.MergeFromWithOptions(meta.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if addFinalizer {
		controllerutil.AddFinalizer(meta, hookv1.SecretProtectionFinalizer)
	}
	if addLabel {
		if meta.Labels == nil {
			meta.Labels = map[string]string{}
		}
		meta.Labels[webhooksecret.ReferencedLabel] = webhooksecret.ReferencedValue
	}
	if err := r.Patch(ctx, meta, patch); err != nil {
		return fmt.Errorf("label Secret %q as referenced (%s) or protect it (finalizer %s): %w",
			secret.GetName(), webhooksecret.ReferencedLabel, hookv1.SecretProtectionFinalizer, err)
	}
	// Guarded by the resourceVersion read, the patch changed metadata only.
	r.SecretPatches.Note(client.ObjectKeyFromObject(meta), secret.GetResourceVersion(), meta.ResourceVersion)
	secret.SetFinalizers(meta.Finalizers)
	secret.SetLabels(meta.Labels)
	secret.SetResourceVersion(meta.ResourceVersion)
	if addFinalizer {
		ctrl.LoggerFrom(ctx).Info("Protected the referenced Secret until the hooks are removed", "secret", secret.GetName(), "finalizer", hookv1.SecretProtectionFinalizer)
	}
	return nil
}

// labelReferencedSecret labels the Secret obj references, read through its
// metadata, when it exists: for the paths that do not read its content.
func (r *GitHubIntegrationReconciler) labelReferencedSecret(ctx context.Context, obj *hookv1.GitHubIntegration) error {
	meta := secretMetadata(obj.Namespace, obj.Spec.SecretRef.Name)
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(meta), meta); err != nil {
		return client.IgnoreNotFound(err)
	}
	return r.claimSecret(ctx, meta, false)
}

// secretMetadata is a metadata-only Secret, so finalizer patches carry
// nothing of its data.
func secretMetadata(namespace, name string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	m.Namespace, m.Name = namespace, name
	return m
}

// secretProtectionReconciler releases referenced Secrets no integration
// needs any more: the finalizer goes once no integration needs the token to
// remove hooks, the label webhooksecret.ReferencedLabel once no integration
// references the Secret at all (deletionPolicy Orphan included). Neither
// deletes anything.
type secretProtectionReconciler struct {
	// Client reads GitHubIntegrations from the cache and patches Secret
	// metadata.
	client.Client
	// APIReader reads the Secret's metadata from the API server.
	APIReader client.Reader
}

// setupSecretProtection registers the controller that releases referenced
// Secrets. Integrations wake it for the Secret they reference before and
// after a change that can end their need of it; Secrets wake it while they
// carry the finalizer or, unless they are hookwarden's own, the label.
func (r *GitHubIntegrationReconciler) setupSecretProtection(mgr ctrl.Manager) error {
	p := &secretProtectionReconciler{Client: r.Client, APIReader: r.APIReader}
	return ctrl.NewControllerManagedBy(mgr).
		Named(SecretProtectionControllerName).
		WatchesMetadata(&corev1.Secret{}, &handler.EnqueueRequestForObject{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return controllerutil.ContainsFinalizer(o, hookv1.SecretProtectionFinalizer) ||
				(webhooksecret.IsReferenced(o) && !webhooksecret.IsOwned(o))
		}))).
		Watches(&hookv1.GitHubIntegration{}, referencedSecretHandler{}).
		Complete(p)
}

// referencedSecretHandler enqueues the Secrets an integration references,
// the old and the new one, on the changes that can end its need of them:
// creation, deletion, a change of spec.secretRef.name, and a change of
// whether it needs its Secret (deletionPolicy, its own finalizer). Status
// writes, which the receiver makes often, enqueue nothing.
type referencedSecretHandler struct{}

func (referencedSecretHandler) Create(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	enqueueReferencedSecret(e.Object, q)
}

func (referencedSecretHandler) Update(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	o, ok1 := e.ObjectOld.(*hookv1.GitHubIntegration)
	n, ok2 := e.ObjectNew.(*hookv1.GitHubIntegration)
	if !ok1 || !ok2 || (o.Spec.SecretRef.Name == n.Spec.SecretRef.Name && needsSecret(o) == needsSecret(n)) {
		return
	}
	enqueueReferencedSecret(o, q)
	enqueueReferencedSecret(n, q)
}

func (referencedSecretHandler) Delete(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	enqueueReferencedSecret(e.Object, q)
}

func (referencedSecretHandler) Generic(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	enqueueReferencedSecret(e.Object, q)
}

func enqueueReferencedSecret(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	gi, ok := o.(*hookv1.GitHubIntegration)
	if !ok || gi.Spec.SecretRef.Name == "" {
		return
	}
	q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: gi.Namespace, Name: gi.Spec.SecretRef.Name}})
}

// Reconcile removes the protection finalizer from a Secret no integration
// needs any more, and the label from a Secret no integration references.
//
// The integrations come from the cache, and while one of them needs the
// Secret there is nothing to release: the Secret is not read at all. That
// is every integration's creation and the label and protection hookwarden
// adds, so that converging many new integrations costs the API server no
// read here. A stale cache cannot release too early: nothing is released
// from it, and the change it has not shown yet wakes this reconciler again
// (informers update the cache before they notify). Only when no integration
// needs the Secret is its metadata read, from the API server, to act on.
func (p *secretProtectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	referrers, err := webhooksecret.Referencing(ctx, p.Client, req.Namespace, req.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if slices.ContainsFunc(referrers, func(gi hookv1.GitHubIntegration) bool { return needsSecret(&gi) }) {
		return ctrl.Result{}, nil
	}
	meta := secretMetadata(req.Namespace, req.Name)
	if err := p.APIReader.Get(ctx, req.NamespacedName, meta); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	protected := controllerutil.ContainsFinalizer(meta, hookv1.SecretProtectionFinalizer)
	labelled := webhooksecret.IsReferenced(meta) && !webhooksecret.IsOwned(meta)
	if !protected && !labelled {
		return ctrl.Result{}, nil
	}
	release := protected
	unlabel := labelled && len(referrers) == 0
	if !release && !unlabel {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFromWithOptions(meta.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if release {
		controllerutil.RemoveFinalizer(meta, hookv1.SecretProtectionFinalizer)
	}
	if unlabel {
		delete(meta.Labels, webhooksecret.ReferencedLabel)
	}
	if err := p.Patch(ctx, meta, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("release Secret %q (finalizer %s, label %s): %w",
			req.Name, hookv1.SecretProtectionFinalizer, webhooksecret.ReferencedLabel, err))
	}
	if release {
		ctrl.LoggerFrom(ctx).Info("Released the Secret: no GitHubIntegration needs it to remove hooks", "secret", req.NamespacedName, "finalizer", hookv1.SecretProtectionFinalizer)
	}
	if unlabel {
		ctrl.LoggerFrom(ctx).Info("Unlabelled the Secret: no GitHubIntegration references it", "secret", req.NamespacedName, "label", webhooksecret.ReferencedLabel)
	}
	return ctrl.Result{}, nil
}

// needsSecret: the integration may still have to remove hooks with the
// token of its Secret.
func needsSecret(gi *hookv1.GitHubIntegration) bool {
	if gi.Spec.DeletionPolicy == hookv1.DeletionPolicyOrphan {
		return false
	}
	return gi.DeletionTimestamp.IsZero() || controllerutil.ContainsFinalizer(gi, hookv1.Finalizer)
}
