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
// first GitHub call: no hook may be created that deletion would forget.
func (r *GitHubIntegrationReconciler) ensureFinalizer(ctx context.Context, obj *hookv1.GitHubIntegration) error {
	return addFinalizer(ctx, r.Client, r.APIReader, obj)
}

// addFinalizer adds hookwarden's finalizer to obj with a metadata patch.
// The patch carries obj's resourceVersion, so that it never drops a
// finalizer another controller added meanwhile. When the API server
// refuses it because obj, read from the cache, is older than the object
// (the cache may not show yet the status this reconciler just wrote), the
// finalizers and resourceVersion are read again from the API server and
// the patch is sent again: one read, instead of a failed reconcile retried
// with backoff.
func addFinalizer(ctx context.Context, c client.Client, apiReader client.Reader, obj client.Object) error {
	if controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) {
		return nil
	}
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
		return err
	})
	if err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
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
