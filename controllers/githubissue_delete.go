package controllers

import (
	"context"
	"fmt"

	gogithub "github.com/google/go-github/v60/github"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/issuebody"
)

// issueOrphanHint tells users how to release a GitHubIssue whose issue
// cannot be closed.
const issueOrphanHint = "; to leave the issue on GitHub and let the object go, set spec.deletionPolicy to Orphan"

// reconcileIssueDelete closes the issue (deletionPolicy Close) or leaves it
// (Orphan), then releases the object. gone reports that the finalizer was
// removed. While the integration or its Secret is missing the issue cannot
// be closed; switching to Orphan releases the object then.
func (r *GitHubIssueReconciler) reconcileIssueDelete(ctx context.Context, obj *hookv1.GitHubIssue) (ctrl.Result, bool, error) {
	if released(ctx, r.APIReader, obj, &hookv1.GitHubIssue{}) {
		return ctrl.Result{}, true, nil
	}
	if obj.GetDeletionPolicy() == hookv1.IssueDeletionPolicyOrphan {
		if obj.Status.Number != 0 {
			r.normal(obj, hookv1.EventIssueOrphaned, "Delete", fmt.Sprintf(
				"Left issue #%d of %s on GitHub as it is (deletionPolicy Orphan)", obj.Status.Number, obj.Spec.Repository))
		}
		return r.releaseIssue(ctx, obj)
	}

	issueConditions(obj).reconciling(hookv1.ReasonDeleting, "Closing the issue on GitHub")
	fail := func(gi *hookv1.GitHubIntegration, sec *integrationSecret, err error) (ctrl.Result, bool, error) {
		err = explainIssueFailure(obj, gi, sec, err)
		result, err := r.handleIssueFailure(ctx, obj, gi, sec, withHint(err, issueOrphanHint))
		return result, false, err
	}
	gi, err := r.integrationOf(ctx, obj)
	if err != nil {
		return fail(gi, nil, err)
	}
	svc, sec, err := r.issueService(ctx, obj, gi)
	if err != nil {
		return fail(gi, sec, err)
	}
	var is *gogithub.Issue
	if n := obj.Status.Number; n != 0 {
		is, err = svc.Get(ctx, int(n))
	} else {
		// Created just before a crash, never recorded: its marker finds it.
		uid := string(obj.UID)
		is, err = svc.Find(ctx, func(is *gogithub.Issue) bool { return issuebody.UID(is.GetBody()) == uid })
	}
	if err != nil {
		return fail(gi, sec, err)
	}
	if is != nil && is.GetState() != "closed" {
		closed := "closed"
		if is, err = svc.Edit(ctx, is.GetNumber(), &gogithub.IssueRequest{State: &closed}); err != nil {
			return fail(gi, sec, err)
		}
		r.normal(obj, hookv1.EventIssueClosed, "Delete", fmt.Sprintf("Closed issue #%d of %s", is.GetNumber(), svc.Repository()))
	}
	return r.releaseIssue(ctx, obj)
}

// releaseIssue removes the finalizer.
func (r *GitHubIssueReconciler) releaseIssue(ctx context.Context, obj *hookv1.GitHubIssue) (ctrl.Result, bool, error) {
	if err := dropFinalizer(ctx, r.Client, obj); err != nil {
		return ctrl.Result{}, false, err
	}
	r.synced.forget(client.ObjectKeyFromObject(obj))
	return ctrl.Result{}, true, nil
}
