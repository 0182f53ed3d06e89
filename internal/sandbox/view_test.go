package sandbox

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

func TestViewShowsWhatChangedOnly(t *testing.T) {
	gi := &hookv1.GitHubIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "experiments"}}
	gi.Status = hookv1.GitHubIntegrationStatus{
		Hooks:        []hookv1.HookStatus{{Target: "acme/demo", ID: 42, Active: true, Events: []string{"push"}}},
		Deliveries:   hookv1.DeliveryCounters{Received: 3, Processed: 2, Rejected: 1},
		PullRequests: []hookv1.PullRequestStatus{{Repository: "acme/demo", Number: 7, State: "open", Title: "Checkout flow v2", LinkKey: LinkKey}},
	}
	gi.Status.Conditions = []metav1.Condition{{Type: hookv1.ConditionReady, Status: metav1.ConditionTrue, Reason: hookv1.ReasonSucceeded, Message: "1 hook(s) registered"}}
	v := View(gi)
	for _, want := range []string{
		"default/experiments",
		"Ready        True   Succeeded",
		"hook         acme/demo id=42 active=true events=push",
		"received=3 processed=2 ignored=0 rejected=1",
		"pull request acme/demo#7 open",
		"link=" + LinkKey,
	} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	// The live view prints only when this text changes: it must not change
	// by itself.
	if again := View(gi); again != v {
		t.Errorf("the view of an unchanged status changed:\n%s\n---\n%s", v, again)
	}
	gi.Status.Deliveries.Processed++
	if View(gi) == v {
		t.Error("the view did not change with the status")
	}
}

func TestIssueViewShowsTheIssueAndItsLinks(t *testing.T) {
	is := &hookv1.GitHubIssue{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: IssueName},
		Spec: hookv1.GitHubIssueSpec{Repository: "acme/demo"}}
	is.Status = hookv1.GitHubIssueStatus{Number: 1, State: "open", Title: "Review results", URL: "https://github.com/acme/demo/issues/1",
		PullRequests: []hookv1.LinkedPullRequest{{Repository: "acme/demo", Number: 101, State: "open", Title: "Checkout flow v2"}}}
	v := IssueView(is)
	for _, want := range []string{"GitHubIssue default/" + IssueName, `acme/demo#1 open    "Review results"`, `linked PR    acme/demo#101 open    "Checkout flow v2"`} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
}
