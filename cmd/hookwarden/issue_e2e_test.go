package main

import (
	"fmt"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
)

// An issue changed on GitHub shows in its GitHubIssue's status within
// seconds: GitHub delivers the issues event to the receiver, which records
// the managed issue (recognised by the marker in the signed body) in the
// integration's status, where the GitHubIssue controller reads it. The
// resync is an hour away, so nothing else can have brought the change.
func TestIssuesDeliveryShowsInTheGitHubIssueWithinSeconds(t *testing.T) {
	e := newE2E(t, []string{"acme/api"})
	e.sim.AddToken(e2eToken, []string{"admin:repo_hook", "repo"}, "acme/api")
	e.start()
	e.readyIntegration("exp", []string{"acme/api"}, e2eOldSecret, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Hour}
	})

	obj := &hookv1.GitHubIssue{
		ObjectMeta: metav1.ObjectMeta{Name: "review", Namespace: e.ns},
		Spec: hookv1.GitHubIssueSpec{IntegrationRef: hookv1.IntegrationReference{Name: "exp"}, Repository: "acme/api",
			Title: "Review results: checkout-flow-v2", Labels: []string{"experiment"}},
	}
	if err := e.env.Client.Create(e.ctx, obj); err != nil {
		t.Fatal(err)
	}
	get := func() *hookv1.GitHubIssue {
		is := &hookv1.GitHubIssue{}
		if err := e.env.Client.Get(e.ctx, client.ObjectKeyFromObject(obj), is); err != nil {
			t.Fatal(err)
		}
		return is
	}
	var number int64
	e.eventually(30*time.Second, func() error {
		is := get()
		if !apimeta.IsStatusConditionTrue(is.Status.Conditions, hookv1.ConditionReady) || is.Status.Number == 0 {
			return fmt.Errorf("GitHubIssue not Ready: %+v", is.Status)
		}
		number = is.Status.Number
		return nil
	})

	title, closed := "Renamed on GitHub", "closed"
	if _, err := e.sim.EditIssue("acme/api", int(number), githubsim.IssueEdit{Title: &title, State: &closed}); err != nil {
		t.Fatal(err)
	}
	e.eventually(10*time.Second, func() error {
		st := get().Status
		if st.State != "closed" || st.Title != title {
			return fmt.Errorf("status state %q title %q, want closed and %q", st.State, st.Title, title)
		}
		return nil
	})
}
