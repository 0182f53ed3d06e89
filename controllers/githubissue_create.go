package controllers

import (
	"context"
	"fmt"

	gogithub "github.com/google/go-github/v60/github"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/issuebody"
)

// ensureIssue returns the issue the GitHubIssue manages: the one status
// names, else the one carrying its marker (adopted: created before a crash
// or a lost answer), else a new one. The number and URL of an adopted or
// created issue are written to status at once, so that a failure later in
// the reconcile cannot lead to a second issue.
func (r *GitHubIssueReconciler) ensureIssue(ctx context.Context, obj, written *hookv1.GitHubIssue, svc *ghclient.IssueService) (*gogithub.Issue, error) {
	if obj.Status.Number == 0 {
		// The cache may lag behind a status written a moment ago; the
		// API server knows.
		fresh := &hookv1.GitHubIssue{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err == nil && fresh.UID == obj.UID && fresh.Status.Number != 0 {
			obj.Status.Number, obj.Status.URL = fresh.Status.Number, fresh.Status.URL
			written.Status.Number, written.Status.URL = fresh.Status.Number, fresh.Status.URL
		}
	}
	if n := obj.Status.Number; n != 0 {
		return svc.Get(ctx, int(n))
	}
	uid := string(obj.UID)
	found, err := svc.Find(ctx, func(is *gogithub.Issue) bool { return issuebody.UID(is.GetBody()) == uid })
	if err != nil {
		return nil, err
	}
	if found != nil {
		if err := r.recordIssue(ctx, obj, written, found); err != nil {
			return nil, err
		}
		r.normal(obj, hookv1.EventIssueAdopted, "Adopt", fmt.Sprintf(
			"Took over issue #%d of %s, which carries this object's marker", found.GetNumber(), svc.Repository()))
		return found, nil
	}

	body, _ := r.desiredBody(obj, nil)
	labels := append([]string{}, obj.Spec.Labels...)
	created, err := svc.Create(ctx, &gogithub.IssueRequest{Title: &obj.Spec.Title, Body: &body, Labels: &labels})
	if err != nil {
		return nil, err
	}
	if err := r.recordIssue(ctx, obj, written, created); err != nil {
		return nil, err
	}
	r.normal(obj, hookv1.EventIssueCreated, "Create", fmt.Sprintf("Created issue #%d of %s", created.GetNumber(), svc.Repository()))
	return created, nil
}

// recordIssue writes the issue's number and URL to status now.
func (r *GitHubIssueReconciler) recordIssue(ctx context.Context, obj, written *hookv1.GitHubIssue, is *gogithub.Issue) error {
	observeIssue(obj, is)
	return r.patchIssueStatus(ctx, obj, written)
}

// observeIssue copies what GitHub says of the issue into status.
func observeIssue(obj *hookv1.GitHubIssue, is *gogithub.Issue) {
	obj.Status.Number = int64(is.GetNumber())
	obj.Status.URL = is.GetHTMLURL()
	obj.Status.State = is.GetState()
	obj.Status.Title = is.GetTitle()
}
