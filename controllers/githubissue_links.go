package controllers

import (
	"time"

	gogithub "github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/issuebody"
)

// maxLinkedPullRequests bounds status.pullRequests (the CRD's MaxItems).
const maxLinkedPullRequests = 50

// linkPullRequests sets status.pullRequests to the pull requests the
// receiver recorded in the integration's status with spec.experimentKey as
// their link key, newest first as the integration lists them.
func linkPullRequests(obj *hookv1.GitHubIssue, gi *hookv1.GitHubIntegration) {
	var links []hookv1.LinkedPullRequest
	if key := obj.Spec.ExperimentKey; key != "" {
		for _, pr := range gi.Status.PullRequests {
			if pr.LinkKey == key && len(links) < maxLinkedPullRequests {
				links = append(links, hookv1.LinkedPullRequest{Repository: pr.Repository, Number: pr.Number,
					Title: pr.Title, URL: pr.URL, State: pr.State})
			}
		}
	}
	obj.Status.PullRequests = links
}

// linksSection is the section of the body listing status.pullRequests, ""
// without spec.listLinkedPullRequests.
func linksSection(obj *hookv1.GitHubIssue) string {
	if !obj.Spec.ListLinkedPullRequests {
		return ""
	}
	links := make([]issuebody.PullRequest, 0, len(obj.Status.PullRequests))
	for _, pr := range obj.Status.PullRequests {
		links = append(links, issuebody.PullRequest{Repository: pr.Repository, Number: pr.Number, Title: pr.Title, URL: pr.URL, State: pr.State})
	}
	return issuebody.ListSection(links)
}

// linksSectionOf is the section found in a body on GitHub.
func linksSectionOf(body string) string { return issuebody.Section(body) }

// desiredBody is the body the issue should have: the declared text, the
// linked pull requests section and the marker. The section a new issue is
// created with lists what is known then; afterwards a changed section is
// written at most once per LinkedPullRequestsInterval: until then the
// section on GitHub (is) is kept, and wait says when the new one is due.
func (r *GitHubIssueReconciler) desiredBody(obj *hookv1.GitHubIssue, is *gogithub.Issue) (body string, wait time.Duration) {
	uid := string(obj.UID)
	want := linksSection(obj)
	if is == nil || want == "" {
		return issuebody.Build(obj.Spec.Body, uid, want), 0
	}
	have := linksSectionOf(is.GetBody())
	if last := obj.Status.LinkedPullRequestsTime; have != want && have != "" && last != nil {
		if wait := last.Add(r.linksInterval()).Sub(r.now()); wait > 0 {
			return issuebody.Build(obj.Spec.Body, uid, have), wait
		}
	}
	return issuebody.Build(obj.Spec.Body, uid, want), 0
}

func nowTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}
