package controllers

import (
	"context"
	"fmt"

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

// protectSecret adds the protection finalizer to the referenced Secret with
// a metadata patch (never an Update of the user's Secret) guarded by the
// resourceVersion read. A Secret already being deleted cannot get a new
// finalizer; it is used for as long as it exists.
func (r *GitHubIntegrationReconciler) protectSecret(ctx context.Context, obj *hookv1.GitHubIntegration, secret *corev1.Secret) error {
	if obj.Spec.DeletionPolicy == hookv1.DeletionPolicyOrphan || secret == nil ||
		controllerutil.ContainsFinalizer(secret, hookv1.SecretProtectionFinalizer) || !secret.DeletionTimestamp.IsZero() {
		return nil
	}
	meta := secretMetadata(secret.Namespace, secret.Name)
	meta.ResourceVersion = secret.ResourceVersion
	meta.Finalizers = secret.Finalizers
	patch := client.MergeFromWithOptions(meta.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(meta, hookv1.SecretProtectionFinalizer)
	if err := r.Patch(ctx, meta, patch); err != nil {
		return fmt.Errorf("protect Secret %q with finalizer %s: %w", secret.Name, hookv1.SecretProtectionFinalizer, err)
	}
	secret.Finalizers, secret.ResourceVersion = meta.Finalizers, meta.ResourceVersion
	ctrl.LoggerFrom(ctx).Info("Protected the referenced Secret until the hooks are removed", "secret", secret.Name, "finalizer", hookv1.SecretProtectionFinalizer)
	return nil
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
// needs any more.
type secretProtectionReconciler struct {
	// Client reads GitHubIntegrations from the cache and patches Secret
	// metadata.
	client.Client
	// APIReader reads the Secret's metadata from the API server.
	APIReader client.Reader
}

// setupSecretProtection registers the controller that releases referenced
// Secrets. Integrations wake it for the Secret they reference before and
// after a change that can end their need of it; Secrets wake it only while
// they carry the finalizer.
func (r *GitHubIntegrationReconciler) setupSecretProtection(mgr ctrl.Manager) error {
	p := &secretProtectionReconciler{Client: r.Client, APIReader: r.APIReader}
	return ctrl.NewControllerManagedBy(mgr).
		Named(SecretProtectionControllerName).
		WatchesMetadata(&corev1.Secret{}, &handler.EnqueueRequestForObject{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return controllerutil.ContainsFinalizer(o, hookv1.SecretProtectionFinalizer)
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
// needs any more.
func (p *secretProtectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	meta := secretMetadata(req.Namespace, req.Name)
	if err := p.APIReader.Get(ctx, req.NamespacedName, meta); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !controllerutil.ContainsFinalizer(meta, hookv1.SecretProtectionFinalizer) {
		return ctrl.Result{}, nil
	}
	user, err := secretNeededBy(ctx, p.Client, req.Namespace, req.Name)
	if err != nil || user != "" {
		return ctrl.Result{}, err
	}
	patch := client.MergeFromWithOptions(meta.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(meta, hookv1.SecretProtectionFinalizer)
	if err := p.Patch(ctx, meta, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("remove finalizer %s from Secret %q: %w", hookv1.SecretProtectionFinalizer, req.Name, err))
	}
	ctrl.LoggerFrom(ctx).Info("Released the Secret: no GitHubIntegration needs it to remove hooks", "secret", req.NamespacedName, "finalizer", hookv1.SecretProtectionFinalizer)
	return ctrl.Result{}, nil
}

// secretNeededBy names an integration that still needs the Secret to remove
// its hooks (empty when none does): one that references it with
// deletionPolicy Delete and still exists, or is being deleted and has not
// removed its hooks yet.
func secretNeededBy(ctx context.Context, c client.Reader, namespace, name string) (string, error) {
	var list hookv1.GitHubIntegrationList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{SecretRefNameField: name}); err != nil {
		return "", fmt.Errorf("list the GitHubIntegrations of Secret %q: %w", name, err)
	}
	for _, gi := range list.Items {
		if needsSecret(&gi) {
			return gi.Name, nil
		}
	}
	return "", nil
}

// needsSecret: the integration may still have to remove hooks with the
// token of its Secret.
func needsSecret(gi *hookv1.GitHubIntegration) bool {
	if gi.Spec.DeletionPolicy == hookv1.DeletionPolicyOrphan {
		return false
	}
	return gi.DeletionTimestamp.IsZero() || controllerutil.ContainsFinalizer(gi, hookv1.Finalizer)
}
