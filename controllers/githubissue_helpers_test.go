package controllers

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/issuebody"
)

// ghIssue creates a GitHubIssue using the integration for repo.
func (h *harness) ghIssue(name, integration, repo string, mutate ...func(*hookv1.GitHubIssue)) *hookv1.GitHubIssue {
	h.t.Helper()
	is := &hookv1.GitHubIssue{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: hookv1.GitHubIssueSpec{
			IntegrationRef: hookv1.IntegrationReference{Name: integration},
			Repository:     repo,
			Title:          "Review results: " + name,
			Body:           "Follow-ups of the experiment.",
			Labels:         []string{"experiment"},
		},
	}
	for _, m := range mutate {
		m(is)
	}
	if err := env.Client.Create(h.ctx, is); err != nil {
		h.t.Fatal(err)
	}
	return is
}

func (h *harness) getIssue(name string) *hookv1.GitHubIssue {
	h.t.Helper()
	return mustRead(h, name, &hookv1.GitHubIssue{})
}

// updateIssue changes a GitHubIssue's spec with retries on conflicts.
func (h *harness) updateIssue(name string, mutate func(*hookv1.GitHubIssue)) {
	h.t.Helper()
	updateWithRetry(h, h.getIssue, name, mutate)
}

// waitIssueCondition waits until a GitHubIssue's condition has status (and
// reason, unless empty) for its current generation.
func (h *harness) waitIssueCondition(name, condType string, want metav1.ConditionStatus, reason string, timeout time.Duration) *hookv1.GitHubIssue {
	h.t.Helper()
	return waitObjectCondition(h, name, func(is *hookv1.GitHubIssue) []metav1.Condition { return is.Status.Conditions },
		condType, want, reason, timeout)
}

func (h *harness) waitIssueReady(name string) *hookv1.GitHubIssue {
	h.t.Helper()
	return h.waitIssueCondition(name, hookv1.ConditionReady, metav1.ConditionTrue, "", 20*time.Second)
}

// simIssuesOf returns the issues on the simulator that carry the marker of
// the GitHubIssue.
func (h *harness) simIssuesOf(repo string, is *hookv1.GitHubIssue) []githubsim.Issue {
	h.t.Helper()
	all, err := h.sim.Issues(repo)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []githubsim.Issue
	for _, i := range all {
		if issuebody.UID(i.Body) == string(is.UID) {
			out = append(out, i)
		}
	}
	return out
}

// oneSimIssue waits until exactly one issue carries the GitHubIssue's
// marker and cond holds for it.
func (h *harness) oneSimIssue(repo string, is *hookv1.GitHubIssue, timeout time.Duration, cond func(githubsim.Issue) error) githubsim.Issue {
	h.t.Helper()
	var got githubsim.Issue
	h.eventually(timeout, func() error {
		all := h.simIssuesOf(repo, is)
		if len(all) != 1 {
			return fmt.Errorf("%d issues carry the marker of %s, want 1: %+v", len(all), is.Name, all)
		}
		got = all[0]
		if cond != nil {
			return cond(got)
		}
		return nil
	})
	return got
}

// applyReceiverStatus writes the receiver's part of an integration's status
// as the receiver does: server-side apply under its field manager.
func (h *harness) applyReceiverStatus(name string, st *hookv1.GitHubIntegrationStatus) {
	h.t.Helper()
	u, err := hookv1.ReceiverPart.Apply(h.ns, name, "", st)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := env.Client.Status().Apply(h.ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(hookv1.ReceiverFieldManager), client.ForceOwnership); err != nil {
		h.t.Fatal(err)
	}
}

func sameIssue(title, state string, labels ...string) func(githubsim.Issue) error {
	return func(i githubsim.Issue) error {
		got := slices.Sorted(slices.Values(i.Labels))
		want := slices.Sorted(slices.Values(labels))
		if i.Title != title || i.State != state || !slices.Equal(got, want) {
			return fmt.Errorf("issue #%d: title %q state %s labels %v; want %q %s %v", i.Number, i.Title, i.State, i.Labels, title, state, labels)
		}
		return nil
	}
}

func bodyContains(subs ...string) func(githubsim.Issue) error {
	return func(i githubsim.Issue) error {
		for _, s := range subs {
			if !strings.Contains(i.Body, s) {
				return fmt.Errorf("body of issue #%d %q does not contain %q", i.Number, i.Body, s)
			}
		}
		return nil
	}
}

// adoptedOnce checks that obj's issue exists once on GitHub, that got's
// status names it, and that the reconciler adopted it (one IssueAdopted
// Event) instead of creating another.
func (h *harness) adoptedOnce(obj, got *hookv1.GitHubIssue) {
	h.t.Helper()
	issue := h.oneSimIssue(issueRepo, obj, time.Second, nil)
	if got.Status.Number != int64(issue.Number) {
		h.t.Errorf("status.number = %d, want %d", got.Status.Number, issue.Number)
	}
	if all, _ := h.sim.Issues(issueRepo); len(all) != 1 {
		h.t.Errorf("%d issues on GitHub, want exactly 1", len(all))
	}
	if n := len(h.recorder.find(obj.Name, hookv1.EventIssueAdopted)); n != 1 {
		h.t.Errorf("%d IssueAdopted Events, want 1", n)
	}
}
