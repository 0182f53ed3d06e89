package github

import (
	"context"
	"fmt"
	"testing"
	"time"

	gogithub "github.com/google/go-github/v60/github"

	"github.com/hookwarden/hookwarden/internal/githubsim"
)

// A burst of issue creations on one token stays within GitHub's
// content-creation limit: the client waits for the rolling window instead
// of drawing a secondary-limit answer, and every issue is created once.
func TestContentLimitKeepsABurstWithinGitHubsSecondaryLimit(t *testing.T) {
	limit := ContentLimit{Requests: 5, Period: 2 * time.Second}
	sim := newSim(t, githubsim.WithSecondaryLimit(githubsim.SecondaryLimit{MutationsPerMinute: limit.Requests, Period: limit.Period}))
	sim.AddToken(testToken, []string{"repo"}, "acme/api")
	f := NewFactory(WithMutationInterval(0), WithContentLimits(limit))
	issues, err := tokenClient(t, f, sim, testToken).RepositoryIssues("acme/api")
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	for i := range n {
		if _, err := issues.Create(context.Background(), &gogithub.IssueRequest{Title: gogithub.String(fmt.Sprintf("issue %d", i))}); err != nil {
			t.Fatalf("issue %d: %v", i, err)
		}
	}
	if st := sim.Stats(); st.RateLimited != 0 {
		t.Errorf("GitHub answered %d requests with a rate limit, want none", st.RateLimited)
	}
	created, err := sim.Issues("acme/api")
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != n {
		t.Errorf("%d issues on GitHub, want %d", len(created), n)
	}
}

func TestDefaultContentLimitsAreGitHubs(t *testing.T) {
	want := []ContentLimit{{80, time.Minute}, {500, time.Hour}}
	got := DefaultContentLimits()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("DefaultContentLimits() = %v, want GitHub's %v", got, want)
	}
}
