package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// ensureFinalizer adds the finalizer, with a metadata patch, before the
// first GitHub call: no hook may be created that deletion would forget.
func (r *GitHubIntegrationReconciler) ensureFinalizer(ctx context.Context, obj *hookv1.GitHubIntegration) error {
	return addFinalizer(ctx, r.Client, obj)
}

// addFinalizer adds hookwarden's finalizer to obj with a metadata patch.
func addFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(obj, hookv1.Finalizer)
	if err := c.Patch(ctx, obj, patch); err != nil {
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
