package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// ensureFinalizer adds the finalizer, with a metadata patch, before the
// first GitHub call: no hook may be created that deletion would forget. It
// reports whether this reconcile added it: then no reconcile of this
// object has gone further before, and nothing of its own exists yet.
func (r *GitHubIntegrationReconciler) ensureFinalizer(ctx context.Context, obj *hookv1.GitHubIntegration) (bool, error) {
	return addFinalizer(ctx, r.Client, r.APIReader, obj)
}

// addFinalizer adds hookwarden's finalizer to obj with a metadata patch.
// The patch carries obj's resourceVersion, so that it never drops a
// finalizer another controller added meanwhile. When the API server
// refuses it because obj, read from the cache, is older than the object
// (the cache may not show yet the status this reconciler just wrote), the
// finalizers and resourceVersion are read again from the API server and
// the patch is sent again: one read, instead of a failed reconcile retried
// with backoff. It reports whether it added the finalizer (false when the
// object had it, as the API server showed).
func addFinalizer(ctx context.Context, c client.Client, apiReader client.Reader, obj client.Object) (bool, error) {
	if controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) {
		return false, nil
	}
	added := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		patch := client.MergeFromWithOptions(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(obj, hookv1.Finalizer)
		err := c.Patch(ctx, obj, patch)
		if apierrors.IsConflict(err) {
			fresh := obj.DeepCopyObject().(client.Object)
			if rerr := apiReader.Get(ctx, client.ObjectKeyFromObject(obj), fresh); rerr != nil {
				return rerr
			}
			obj.SetFinalizers(fresh.GetFinalizers())
			obj.SetResourceVersion(fresh.GetResourceVersion())
			if controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) {
				return nil
			}
		}
		added = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("add finalizer: %w", err)
	}
	return added, nil
}

// removeFinalizer releases the object once its hooks are dealt with.
func (r *GitHubIntegrationReconciler) removeFinalizer(ctx context.Context, obj *hookv1.GitHubIntegration) error {
	return dropFinalizer(ctx, r.Client, obj)
}

// dropFinalizer removes hookwarden's finalizer from obj.
func dropFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	patch := client.MergeFromWithOptions(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(obj, hookv1.Finalizer)
	if err := c.Patch(ctx, obj, patch); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("remove finalizer: %w", err))
	}
	return nil
}

// released reports whether obj, being deleted, no longer holds hookwarden's
// finalizer. The cache may still show an object that a previous reconcile
// released a moment ago (woken again, e.g. by its Secret being deleted with
// it), so the API server is asked too, reading into fresh: one read spares
// deleting on GitHub twice.
func released(ctx context.Context, apiReader client.Reader, obj, fresh client.Object) bool {
	if !controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) {
		return true
	}
	err := apiReader.Get(ctx, client.ObjectKeyFromObject(obj), fresh)
	return apierrors.IsNotFound(err) || (err == nil && !controllerutil.ContainsFinalizer(fresh, hookv1.Finalizer))
}
