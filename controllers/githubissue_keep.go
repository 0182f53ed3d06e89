package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	gogithub "github.com/google/go-github/v60/github"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
)

// syncDue reports whether the issue is to be compared with GitHub now: the
// spec changed, it is not Ready, the resync interval has passed, or the
// linked pull requests section waits for its turn. Otherwise a reconcile
// (woken by the integration's status) only copies what the receiver
// recorded, without a GitHub call.
func (r *GitHubIssueReconciler) syncDue(obj *hookv1.GitHubIssue) (syncMark, bool) {
	mark, ok := r.synced.get(types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name})
	switch {
	case !ok, mark.uid != obj.UID, mark.generation != obj.Generation,
		!isReady(obj.Status.Conditions, obj.Generation), !r.now().Before(mark.due):
		return mark, true
	case obj.Spec.ListLinkedPullRequests && linksSection(obj) != mark.links:
		return mark, true
	}
	return mark, false
}

// keepIssue corrects what differs on GitHub from the spec (title, body,
// labels, state) in one edit, and returns when to check again.
func (r *GitHubIssueReconciler) keepIssue(ctx context.Context, obj *hookv1.GitHubIssue, gi *hookv1.GitHubIntegration, svc *ghclient.IssueService, is *gogithub.Issue) (time.Duration, error) {
	now := r.now()
	body, linksWait := r.desiredBody(obj, is)
	req := &gogithub.IssueRequest{}
	var changed []string
	if is.GetTitle() != obj.Spec.Title {
		req.Title, changed = &obj.Spec.Title, append(changed, "title")
	}
	if is.GetBody() != body {
		req.Body, changed = &body, append(changed, "body")
	}
	if want := obj.Spec.Labels; !sameLabels(is.Labels, want) {
		labels := append([]string{}, want...)
		req.Labels, changed = &labels, append(changed, "labels")
	}
	if state := obj.GetState(); is.GetState() != state {
		req.State, changed = &state, append(changed, "state")
	}
	if len(changed) > 0 {
		edited, err := svc.Edit(ctx, is.GetNumber(), req)
		if err != nil {
			return 0, err
		}
		if req.Body != nil && obj.Spec.ListLinkedPullRequests && linksSectionOf(body) != linksSectionOf(is.GetBody()) {
			obj.Status.LinkedPullRequestsTime = nowTime(now)
		}
		is = edited
		r.normal(obj, hookv1.EventIssueUpdated, "Update", fmt.Sprintf("Corrected the %s of issue #%d of %s to match the spec",
			strings.Join(changed, ", "), is.GetNumber(), svc.Repository()))
	}
	observeIssue(obj, is)

	next := jittered(gi.GetInterval())
	if linksWait > 0 {
		next = min(next, linksWait)
	}
	r.synced.put(client.ObjectKeyFromObject(obj), syncMark{uid: obj.UID, generation: obj.Generation, at: now,
		due: now.Add(next), links: linksSectionOf(is.GetBody())})
	return next, nil
}

// sameLabels compares label sets; GitHub's label names are case-insensitive.
func sameLabels(have []*gogithub.Label, want []string) bool {
	a := make([]string, 0, len(have))
	for _, l := range have {
		a = append(a, strings.ToLower(l.GetName()))
	}
	b := make([]string, 0, len(want))
	for _, l := range want {
		b = append(b, strings.ToLower(l))
	}
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
