package controllers

import (
	"context"
	"errors"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
)

// orphanHint tells users how to release an object whose hooks cannot be
// removed.
const orphanHint = "; to leave the hooks on GitHub and let the object go, set spec.deletionPolicy to Orphan"

// reconcileDelete removes the hooks (deletionPolicy Delete) or leaves them
// (Orphan), then releases the object. gone reports that the finalizer was
// removed, so the object may no longer exist.
func (r *GitHubIntegrationReconciler) reconcileDelete(ctx context.Context, obj *hookv1.GitHubIntegration) (result ctrl.Result, gone bool, err error) {
	// A second round of deletions would cost GitHub calls and give users
	// duplicate HookDeleted Events.
	if released(ctx, r.APIReader, obj, &hookv1.GitHubIntegration{}) {
		return ctrl.Result{}, true, nil
	}
	if obj.Spec.DeletionPolicy == hookv1.DeletionPolicyOrphan {
		if obj.Status.HookCount > 0 {
			r.normal(obj, hookv1.EventHooksOrphaned, "Delete", fmt.Sprintf(
				"Left %d hook(s) on GitHub (deletionPolicy Orphan)", obj.Status.HookCount))
		}
		return r.release(ctx, obj)
	}

	markReconciling(obj, hookv1.ReasonDeleting, "Removing the hooks from GitHub")
	source, sec, err := r.readSecret(ctx, obj, false, nil)
	if err != nil {
		result, err := r.handleFailure(ctx, obj, withOrphanHint(err))
		return result, false, err
	}
	// Deleting the Secret right after the integration (kubectl delete -f)
	// must not take the token away before the hooks are removed.
	if err := r.protectSecret(ctx, obj, source); err != nil {
		result, err := r.handleFailure(ctx, obj, err)
		return result, false, err
	}
	gh, err := r.githubClient(obj, sec)
	if err != nil {
		result, err := r.handleFailure(ctx, obj, withOrphanHint(err))
		return result, false, err
	}

	remaining, failures := r.deleteAllHooks(ctx, obj, gh)
	setHooks(obj, remaining)
	if len(failures) > 0 {
		result, err := r.handleFailure(ctx, obj, withOrphanHint(summarizeFailures(obj, sec, failures)))
		return result, false, err
	}
	return r.release(ctx, obj)
}

// deleteAllHooks removes the hook of every target: by its ID when status has
// one, otherwise by looking for the payload URL (a hook created just before a
// crash). It returns the hooks it could not remove.
func (r *GitHubIntegrationReconciler) deleteAllHooks(ctx context.Context, obj *hookv1.GitHubIntegration, gh *ghclient.Client) ([]hookv1.HookStatus, []targetFailure) {
	payloadURL := obj.Status.PayloadURL
	if payloadURL == "" {
		payloadURL = obj.PayloadURL(r.PublicURL)
	}
	known := map[string]bool{}
	var targets []hookv1.HookStatus
	// With the hooks this process created that the cache does not show yet.
	for _, hs := range r.written.overlay(client.ObjectKeyFromObject(obj), obj.Status.Hooks) {
		known[hs.Target] = true
		targets = append(targets, hs)
	}
	for _, t := range obj.Targets() {
		if !known[t] {
			targets = append(targets, hookv1.HookStatus{Target: t})
		}
	}

	var remaining []hookv1.HookStatus
	var failures []targetFailure
	for _, hs := range targets {
		if err := r.deleteTargetHook(ctx, obj, gh, hs, payloadURL); err != nil {
			f := newTargetFailure(hs.Target, err)
			hs.LastError = f.err.Error()
			failures = append(failures, f)
			remaining = append(remaining, hs)
			if f.err.Kind == ghclient.RateLimited {
				break
			}
		}
	}
	return remaining, failures
}

func (r *GitHubIntegrationReconciler) deleteTargetHook(ctx context.Context, obj *hookv1.GitHubIntegration, gh *ghclient.Client, hs hookv1.HookStatus, payloadURL string) error {
	svc, err := hookService(gh, hs.Target)
	if err != nil {
		return err
	}
	id := hs.ID
	if id == 0 {
		if payloadURL == "" {
			return nil
		}
		h, err := findHookByURL(ctx, svc, payloadURL)
		switch {
		case ghclient.IsNotFound(err):
			return nil // the target is gone, and its hooks with it
		case err != nil:
			return err
		case h == nil:
			return nil
		}
		id = h.GetID()
	}
	return r.deleteHook(ctx, obj, svc, id)
}

// release removes the finalizer.
func (r *GitHubIntegrationReconciler) release(ctx context.Context, obj *hookv1.GitHubIntegration) (ctrl.Result, bool, error) {
	if err := r.deleteMirror(ctx, obj); err != nil {
		return ctrl.Result{}, false, err
	}
	if err := r.removeFinalizer(ctx, obj); err != nil {
		return ctrl.Result{}, false, err
	}
	r.forgetIntegration(client.ObjectKeyFromObject(obj))
	return ctrl.Result{}, true, nil
}

func withOrphanHint(err error) error { return withHint(err, orphanHint) }

// withHint adds hint to the message of a failed step.
func withHint(err error, hint string) error {
	var step *stepError
	if !errors.As(err, &step) {
		return fmt.Errorf("%w%s", err, hint)
	}
	out := *step
	out.message += hint
	return &out
}
