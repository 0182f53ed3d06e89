package controllers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/githubsim"
)

const issueRepo = "acme/api"

// issueHarness runs both reconcilers with an integration "exp" on acme/api
// and acme/web, Ready, resynced every interval.
func issueHarness(t *testing.T, interval time.Duration, opts harnessOptions) *harness {
	t.Helper()
	opts.issues = true
	h := newHarness(t, opts)
	h.withSecret("exp")
	h.integration("exp", []string{"acme/api", "acme/web"}, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: interval}
	})
	h.waitReady("exp")
	return h
}

func TestGitHubIssueCreatedOnceAndKeptAsDeclared(t *testing.T) {
	h := issueHarness(t, 2*time.Second, harnessOptions{})
	obj := h.ghIssue("review", "exp", issueRepo)
	got := h.waitIssueReady("review")
	issue := h.oneSimIssue(issueRepo, got, 5*time.Second, sameIssue("Review results: review", "open", "experiment"))
	if got.Status.Number != int64(issue.Number) || got.Status.State != "open" || got.Status.Title != "Review results: review" ||
		got.Status.URL != fmt.Sprintf("https://github.com/%s/issues/%d", issueRepo, issue.Number) {
		t.Errorf("status = %+v, want issue #%d open", got.Status, issue.Number)
	}
	if !strings.HasPrefix(issue.Body, "Follow-ups of the experiment.") {
		t.Errorf("body %q does not carry the declared text", issue.Body)
	}
	if n := len(h.recorder.find("review", hookv1.EventIssueCreated)); n != 1 {
		t.Errorf("%d IssueCreated Events, want 1", n)
	}
	if st := kstatusOf(t, got, "GitHubIssue"); st != status.CurrentStatus {
		t.Errorf("kstatus = %s once Ready, want Current", st)
	}
	// A resync of an unchanged issue is a conditional read answered 304.
	h.eventually(10*time.Second, func() error {
		for _, rec := range h.sim.Requests() {
			if rec.Route == "GET /repos/{owner}/{repo}/issues/{issue_number}" && rec.Status == http.StatusNotModified {
				return nil
			}
		}
		return errors.New("no resync of the issue answered 304 yet")
	})

	// Drift made on GitHub is corrected on the next resync.
	title, closed := "Renamed on GitHub", "closed"
	if _, err := h.sim.EditIssue(issueRepo, issue.Number, githubsim.IssueEdit{Title: &title, State: &closed, Labels: []string{"wontfix"}}); err != nil {
		t.Fatal(err)
	}
	h.oneSimIssue(issueRepo, obj, 15*time.Second, sameIssue("Review results: review", "open", "experiment"))
	if len(h.recorder.find("review", hookv1.EventIssueUpdated)) == 0 {
		t.Error("no IssueUpdated Event after correcting drift")
	}

	// A changed spec is applied: labels, state.
	h.updateIssue("review", func(is *hookv1.GitHubIssue) {
		is.Spec.Labels = []string{"experiment", "done"}
		is.Spec.State = "closed"
	})
	h.oneSimIssue(issueRepo, obj, 10*time.Second, sameIssue("Review results: review", "closed", "experiment", "done"))
	if got := h.waitIssueReady("review"); got.Status.State != "closed" {
		t.Errorf("status.state = %q after closing, want closed", got.Status.State)
	}
}

func TestGitHubIssueWaitsWhileItsIntegrationIsSuspended(t *testing.T) {
	h := issueHarness(t, time.Hour, harnessOptions{})
	h.update("exp", func(gi *hookv1.GitHubIntegration) { gi.Spec.Suspend = true })
	obj := h.ghIssue("paused", "exp", issueRepo)
	got := h.waitIssueCondition("paused", hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonSuspended, 10*time.Second)
	if err := contains(condition2(got.Status.Conditions, hookv1.ConditionReady).Message, `GitHubIntegration "exp" is suspended`); err != nil {
		t.Error(err)
	}
	if all := h.simIssuesOf(issueRepo, obj); len(all) != 0 {
		t.Errorf("%d issues created while the integration is suspended", len(all))
	}
	h.update("exp", func(gi *hookv1.GitHubIntegration) { gi.Spec.Suspend = false })
	h.waitIssueReady("paused")
	h.oneSimIssue(issueRepo, obj, 5*time.Second, nil)
}

func TestGitHubIssueAdoptedAfterALostCreateAnswer(t *testing.T) {
	h := issueHarness(t, time.Hour, harnessOptions{})
	h.sim.SetFault("POST /repos/{owner}/{repo}/issues", githubsim.Fault{LostAnswerRate: 1})
	obj := h.ghIssue("lost", "exp", issueRepo)
	got := h.waitIssueReady("lost")
	h.adoptedOnce(obj, got)
	if st := h.sim.Stats(); st.ByRoute["POST /repos/{owner}/{repo}/issues"] != 1 {
		t.Errorf("%d create requests, want 1", st.ByRoute["POST /repos/{owner}/{repo}/issues"])
	}
}

func TestGitHubIssueAdoptedAfterAFailedStatusWrite(t *testing.T) {
	// The API server refuses the status writes of the reconcile that
	// created the issue (the one right after creation and the final one),
	// as if the process had died.
	var failures atomic.Int64
	h := issueHarness(t, time.Hour, harnessOptions{failIssueStatusPatch: func(is *hookv1.GitHubIssue) error {
		if is.Status.Number != 0 && failures.Add(1) <= 2 {
			return errInjected
		}
		return nil
	}})
	obj := h.ghIssue("crash", "exp", issueRepo)
	got := h.waitIssueReady("crash")
	if failures.Load() < 2 {
		t.Fatal("the status writes after creation were not failed")
	}
	h.adoptedOnce(obj, got)
}

func TestGitHubIssueClosedOrOrphanedOnDelete(t *testing.T) {
	h := issueHarness(t, time.Hour, harnessOptions{})
	closeMe := h.ghIssue("close-me", "exp", issueRepo)
	leaveMe := h.ghIssue("leave-me", "exp", issueRepo, func(is *hookv1.GitHubIssue) {
		is.Spec.DeletionPolicy = hookv1.IssueDeletionPolicyOrphan
	})
	h.waitIssueReady("close-me")
	h.waitIssueReady("leave-me")
	for _, obj := range []*hookv1.GitHubIssue{closeMe, leaveMe} {
		if err := env.Client.Delete(h.ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	h.eventually(15*time.Second, func() error {
		for _, name := range []string{"close-me", "leave-me"} {
			err := h.read(name, &hookv1.GitHubIssue{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s still exists (%w)", name, err)
			}
		}
		return nil
	})
	h.oneSimIssue(issueRepo, closeMe, time.Second, sameIssue("Review results: close-me", "closed", "experiment"))
	h.oneSimIssue(issueRepo, leaveMe, time.Second, sameIssue("Review results: leave-me", "open", "experiment"))
	if len(h.recorder.find("close-me", hookv1.EventIssueClosed)) != 1 || len(h.recorder.find("leave-me", hookv1.EventIssueOrphaned)) != 1 {
		t.Errorf("want one IssueClosed and one IssueOrphaned Event: %+v", h.recorder.events)
	}
}

func TestGitHubIssueOutsideTheIntegrationIsRefused(t *testing.T) {
	h := issueHarness(t, time.Hour, harnessOptions{repos: []string{"acme/api", "acme/web", "acme/other"}})
	h.ghIssue("elsewhere", "exp", "acme/other")
	got := h.waitIssueCondition("elsewhere", hookv1.ConditionStalled, metav1.ConditionTrue, hookv1.ReasonRepositoryNotInIntegration, 10*time.Second)
	msg := condition2(got.Status.Conditions, hookv1.ConditionReady).Message
	if err := contains(msg, `"acme/other"`, `GitHubIntegration "exp"`, "acme/api, acme/web", "spec.repositories"); err != nil {
		t.Error(err)
	}
	if st := kstatusOf(t, got, "GitHubIssue"); st != status.FailedStatus {
		t.Errorf("kstatus = %s while Stalled, want Failed", st)
	}
	if all, _ := h.sim.Issues("acme/other"); len(all) != 0 {
		t.Errorf("%d issues created outside the integration", len(all))
	}
}

func TestGitHubIssueWaitsForItsIntegrationAndSecret(t *testing.T) {
	h := newHarness(t, harnessOptions{issues: true})
	obj := h.ghIssue("early", "later", issueRepo)
	got := h.waitIssueCondition("early", hookv1.ConditionStalled, metav1.ConditionTrue, hookv1.ReasonIntegrationNotFound, 10*time.Second)
	if err := contains(condition2(got.Status.Conditions, hookv1.ConditionReady).Message, `GitHubIntegration "later" not found`); err != nil {
		t.Error(err)
	}

	h.integration("later", []string{"acme/api"})
	got = h.waitIssueCondition("early", hookv1.ConditionStalled, metav1.ConditionTrue, hookv1.ReasonSecretNotFound, 10*time.Second)
	if err := contains(condition2(got.Status.Conditions, hookv1.ConditionReady).Message, `GitHubIntegration "later"`, `Secret "later" not found`); err != nil {
		t.Error(err)
	}

	h.withSecret("later")
	h.waitIssueReady("early")
	h.oneSimIssue(issueRepo, obj, 5*time.Second, nil)
}

func TestGitHubIssueWithoutItsIntegrationIsReleasedByOrphan(t *testing.T) {
	h := newHarness(t, harnessOptions{issues: true})
	obj := h.ghIssue("stuck", "missing", issueRepo)
	h.waitIssueCondition("stuck", hookv1.ConditionStalled, metav1.ConditionTrue, hookv1.ReasonIntegrationNotFound, 10*time.Second)
	if err := env.Client.Delete(h.ctx, obj); err != nil {
		t.Fatal(err)
	}
	h.eventually(10*time.Second, func() error {
		c := condition2(h.getIssue("stuck").Status.Conditions, hookv1.ConditionReady)
		if c == nil {
			return errors.New("no Ready condition")
		}
		return contains(c.Message, "set spec.deletionPolicy to Orphan")
	})
	h.updateIssue("stuck", func(is *hookv1.GitHubIssue) { is.Spec.DeletionPolicy = hookv1.IssueDeletionPolicyOrphan })
	h.eventually(10*time.Second, func() error {
		if err := env.Client.Get(h.ctx, client.ObjectKeyFromObject(obj), &hookv1.GitHubIssue{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%w)", err)
		}
		return nil
	})
}

func TestGitHubIssueRateLimitedCreationBacksOffWithoutADuplicate(t *testing.T) {
	h := issueHarness(t, time.Hour, harnessOptions{simOptions: []githubsim.Option{
		githubsim.WithPrimaryLimit(githubsim.PrimaryLimit{Limit: 1000, Window: 8 * time.Second}),
	}})
	// The integration is Ready; the window's budget is spent but for one
	// request, which the search for the marker takes.
	h.sim.SetRemaining(testToken, 1)
	_, _, _, reset := h.sim.RateLimit(testToken)
	obj := h.ghIssue("limited", "exp", issueRepo)
	got := h.waitIssueCondition("limited", hookv1.ConditionRateLimited, metav1.ConditionTrue, hookv1.ReasonRateLimited, 10*time.Second)
	if err := contains(condition2(got.Status.Conditions, hookv1.ConditionRateLimited).Message, reset.UTC().Format(time.RFC3339)); err != nil {
		t.Errorf("RateLimited does not give the reset time: %v", err)
	}
	if c := condition2(got.Status.Conditions, hookv1.ConditionReconciling); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Reconciling = %+v while rate limited, want True", c)
	}
	got = h.waitIssueCondition("limited", hookv1.ConditionReady, metav1.ConditionTrue, "", 20*time.Second)
	if c := condition2(got.Status.Conditions, hookv1.ConditionRateLimited); c != nil {
		t.Errorf("RateLimited still set once Ready: %+v", c)
	}
	h.oneSimIssue(issueRepo, obj, time.Second, nil)
	if all, _ := h.sim.Issues(issueRepo); len(all) != 1 {
		t.Errorf("%d issues on GitHub, want exactly 1", len(all))
	}
}

func TestHundredGitHubIssuesStayWithinTheContentCreationLimit(t *testing.T) {
	// GitHub's 80 content-creating requests, in a shortened window on both
	// sides, so the test does not wait minutes.
	limit := ghclient.ContentLimit{Requests: 80, Period: 4 * time.Second}
	h := issueHarness(t, time.Hour, harnessOptions{
		concurrency:    4,
		simOptions:     []githubsim.Option{githubsim.WithSecondaryLimit(githubsim.SecondaryLimit{MutationsPerMinute: limit.Requests, Period: limit.Period})},
		factoryOptions: []ghclient.FactoryOption{ghclient.WithContentLimits(limit)},
	})
	const n = 100
	objs := make([]*hookv1.GitHubIssue, n)
	for i := range n {
		objs[i] = h.ghIssue(fmt.Sprintf("issue-%03d", i), "exp", issueRepo)
	}
	h.eventually(90*time.Second, func() error {
		var list hookv1.GitHubIssueList
		if err := env.Client.List(h.ctx, &list, client.InNamespace(h.ns)); err != nil {
			return err
		}
		ready := 0
		for _, is := range list.Items {
			if isReady(is.Status.Conditions, is.Generation) {
				ready++
			}
		}
		if ready != n {
			return fmt.Errorf("%d of %d GitHubIssues Ready", ready, n)
		}
		return nil
	})
	for _, obj := range objs {
		h.oneSimIssue(issueRepo, obj, time.Second, nil)
	}
	st := h.sim.Stats()
	if st.RateLimited != 0 {
		t.Errorf("GitHub answered %d requests with a rate limit, want none", st.RateLimited)
	}
	if c := st.ByRoute["POST /repos/{owner}/{repo}/issues"]; c != n {
		t.Errorf("%d create requests for %d issues", c, n)
	}
}

func TestGitHubIssueShowsAnIssuesDeliveryWithinSeconds(t *testing.T) {
	h := issueHarness(t, time.Hour, harnessOptions{})
	h.ghIssue("live", "exp", issueRepo)
	got := h.waitIssueReady("live")
	// The receiver records an issues delivery: closed and renamed on GitHub.
	h.applyReceiverStatus("exp", &hookv1.GitHubIntegrationStatus{Issues: []hookv1.IssueStatus{{
		Repository: issueRepo, Number: got.Status.Number, Title: "Renamed", URL: got.Status.URL, State: "closed",
		UpdatedTime: metav1.Now(),
	}}})
	h.eventually(5*time.Second, func() error {
		st := h.getIssue("live").Status
		if st.State != "closed" || st.Title != "Renamed" {
			return fmt.Errorf("status state %q title %q, want closed, Renamed", st.State, st.Title)
		}
		return nil
	})
}

func TestGitHubIssueListsItsLinkedPullRequests(t *testing.T) {
	h := issueHarness(t, time.Hour, harnessOptions{linksInterval: time.Second})
	obj := h.ghIssue("links", "exp", issueRepo, func(is *hookv1.GitHubIssue) {
		is.Spec.ExperimentKey = "checkout-flow-v2"
		is.Spec.ListLinkedPullRequests = true
	})
	h.waitIssueReady("links")
	h.oneSimIssue(issueRepo, obj, 5*time.Second, bodyContains("Follow-ups of the experiment.", "Linked pull requests", "None yet"))

	now := metav1.Now()
	h.applyReceiverStatus("exp", &hookv1.GitHubIntegrationStatus{PullRequests: []hookv1.PullRequestStatus{
		{Repository: "acme/web", Number: 7, Title: "Checkout rework", URL: "https://github.com/acme/web/pull/7", State: "open", LinkKey: "checkout-flow-v2", UpdatedTime: now},
		{Repository: "acme/web", Number: 8, Title: "Unrelated", URL: "https://github.com/acme/web/pull/8", State: "open", LinkKey: "other", UpdatedTime: now},
	}})
	h.eventually(5*time.Second, func() error {
		prs := h.getIssue("links").Status.PullRequests
		if len(prs) != 1 || prs[0].Number != 7 || prs[0].Repository != "acme/web" || prs[0].Title != "Checkout rework" {
			return fmt.Errorf("status.pullRequests = %+v, want acme/web#7 only", prs)
		}
		return nil
	})
	issue := h.oneSimIssue(issueRepo, obj, 10*time.Second, bodyContains("[acme/web#7](https://github.com/acme/web/pull/7) Checkout rework (open)"))
	if strings.Contains(issue.Body, "acme/web#8") {
		t.Errorf("body lists a pull request of another key: %q", issue.Body)
	}
}

func condition2(conds []metav1.Condition, condType string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == condType {
			return &conds[i]
		}
	}
	return nil
}
