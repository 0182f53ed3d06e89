package github

import (
	"context"
	"errors"
	"strings"
	"testing"

	gogithub "github.com/google/go-github/v60/github"

	"github.com/hookwarden/hookwarden/internal/githubsim"
)

func TestClassifyGitHubAnswers(t *testing.T) {
	sim := newSim(t)
	sim.AddToken("ghp_no_scope_token_abcdefghijklmnopqr", []string{"repo:status"}, "acme/api")
	sim.AddFineGrainedToken("github_pat_no_permission_abcdefghijkl", map[string]string{"issues": "write"}, "acme/api")
	f := NewFactory(WithMutationInterval(0))
	ctx := context.Background()

	create := func(token, repo string, events ...string) error {
		hooks, err := tokenClient(t, f, sim, token).Hooks(repo)
		if err != nil {
			t.Fatal(err)
		}
		_, err = hooks.Create(ctx, newHook("https://hooks.example.com/"+token[:8], events...))
		return err
	}

	for _, tc := range []struct {
		name    string
		err     func() error
		kind    Kind
		status  int
		message string
	}{
		{"unknown token", func() error { return create("ghp_unknown_token_abcdefghijklmnopqrst", "acme/api", "push") },
			Unauthorized, 401, "Bad credentials"},
		{"fine-grained token without the permission", func() error { return create("github_pat_no_permission_abcdefghijkl", "acme/api", "push") },
			Unauthorized, 403, "Resource not accessible by personal access token"},
		{"classic token without the scope (GitHub hides the repository)", func() error { return create("ghp_no_scope_token_abcdefghijklmnopqr", "acme/api", "push") },
			NotFound, 404, "Not Found"},
		{"repository that does not exist", func() error { return create(testToken, "acme/missing", "push") },
			NotFound, 404, "Not Found"},
		{"hook GitHub rejects", func() error { return create(testToken, "acme/api", "pushes") },
			Invalid, 422, `Validation Failed: Invalid event: "pushes"`},
		{"server error", func() error {
			sim.SetFault(githubsim.FaultAll, githubsim.Fault{ErrorRate: 1, ErrorStatus: 503})
			defer sim.ClearFaults()
			return create(testToken, "acme/api", "push")
		}, Transient, 503, ""},
		{"dropped connection", func() error {
			sim.SetFault(githubsim.FaultAll, githubsim.Fault{ResetRate: 1})
			defer sim.ClearFaults()
			return create(testToken, "acme/api", "push")
		}, Transient, 0, "GitHub could not be reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			ce := Classify(err)
			if ce == nil {
				t.Fatal("no error")
			}
			if ce.Kind != tc.kind || ce.StatusCode != tc.status {
				t.Errorf("Classify(%v) = %v/%d, want %v/%d", err, ce.Kind, ce.StatusCode, tc.kind, tc.status)
			}
			if !strings.Contains(ce.Message, tc.message) {
				t.Errorf("message %q does not contain %q", ce.Message, tc.message)
			}
			for _, secret := range []string{"ghp_", "github_pat_", "Bearer"} {
				if strings.Contains(ce.Error(), secret) || strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals a credential", ce.Error())
				}
			}
		})
	}
}

func TestClassifyLocalErrors(t *testing.T) {
	if Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
	if ce := Classify(context.DeadlineExceeded); ce.Kind != Transient || ce.Message != "GitHub did not answer in time" {
		t.Errorf("deadline: %+v", ce)
	}
	wrapped := errors.Join(errors.New("list hooks"), &gogithub.AbuseRateLimitError{Message: "slow down"})
	if ce := Classify(wrapped); ce.Kind != RateLimited || !ce.Secondary || ce.RetryAt.IsZero() {
		t.Errorf("secondary limit without retry-after: %+v", ce)
	}
	if ce := Classify(Classify(wrapped)); ce.Kind != RateLimited {
		t.Error("classifying a classified error changed it")
	}
	if !strings.Contains(RepositoryHookAccess.String(), `"admin:repo_hook" scope`) || !strings.Contains(RepositoryHookAccess.String(), `"Webhooks: write" permission`) {
		t.Errorf("access hint %q", RepositoryHookAccess)
	}
}
