package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
)

// integrationOf returns the integration spec.integrationRef names, once the
// spec's repository is checked to be one of its own: a GitHubIssue may use
// an integration's token only where the integration itself works.
func (r *GitHubIssueReconciler) integrationOf(ctx context.Context, obj *hookv1.GitHubIssue) (*hookv1.GitHubIntegration, error) {
	gi := &hookv1.GitHubIntegration{}
	name := obj.Spec.IntegrationRef.Name
	if err := r.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: name}, gi); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, stalledError(hookv1.ReasonIntegrationNotFound, fmt.Sprintf(
				"GitHubIntegration %q not found in namespace %q: create it, or set spec.integrationRef.name to an existing one", name, obj.Namespace))
		}
		return nil, fmt.Errorf("get GitHubIntegration %q: %w", name, err)
	}
	if !integrationCovers(gi, obj.Spec.Repository) {
		scope := "repositories " + strings.Join(gi.Spec.Repositories, ", ")
		if gi.Spec.Organization != "" {
			scope = "organization " + gi.Spec.Organization
		} else if len(gi.Spec.Repositories) == 0 {
			scope = "no repository"
		}
		return gi, stalledError(hookv1.ReasonRepositoryNotInIntegration, fmt.Sprintf(
			"Repository %q is not one of GitHubIntegration %q's (it covers %s): add it to the integration's spec.repositories, or set spec.repository to one of them",
			obj.Spec.Repository, name, scope))
	}
	return gi, nil
}

// integrationCovers reports whether repo ("owner/name") is one of the
// integration's repositories or in its organization (GitHub's names are
// case-insensitive).
func integrationCovers(gi *hookv1.GitHubIntegration, repo string) bool {
	if slices.ContainsFunc(gi.Spec.Repositories, func(r string) bool { return strings.EqualFold(r, repo) }) {
		return true
	}
	owner, _, _ := strings.Cut(repo, "/")
	return gi.Spec.Organization != "" && strings.EqualFold(owner, gi.Spec.Organization)
}

// issueService reads the integration's token and returns the repository's
// issues through the token's shared client.
func (r *GitHubIssueReconciler) issueService(ctx context.Context, obj *hookv1.GitHubIssue, gi *hookv1.GitHubIntegration) (*ghclient.IssueService, *integrationSecret, error) {
	_, sec, err := readToken(ctx, r.APIReader, gi)
	if err != nil {
		var step *stepError
		if errors.As(err, &step) {
			out := *step
			out.message = fmt.Sprintf("GitHubIntegration %q: %s", gi.Name, step.message)
			return nil, nil, &out
		}
		return nil, nil, err
	}
	gh, err := r.GitHub.Client(githubAPIURL(gi, r.DefaultGitHubURL), sec.creds)
	if err != nil {
		return nil, sec, stalledError(hookv1.ReasonInvalid, err.Error())
	}
	svc, err := gh.RepositoryIssues(obj.Spec.Repository)
	if err != nil {
		return nil, sec, stalledError(hookv1.ReasonInvalid, err.Error())
	}
	return svc, sec, nil
}

// handleIssueFailure turns a failed step into conditions, the RateLimited
// condition among them, and a result.
func (r *GitHubIssueReconciler) handleIssueFailure(ctx context.Context, obj *hookv1.GitHubIssue, gi *hookv1.GitHubIntegration, sec *integrationSecret, err error) (ctrl.Result, error) {
	err = explainIssueFailure(obj, gi, sec, err)
	var step *stepError
	if errors.As(err, &step) && !step.retryAt.IsZero() {
		issueConditions(obj).set(hookv1.ConditionRateLimited, metav1.ConditionTrue, hookv1.ReasonRateLimited, fmt.Sprintf(
			"GitHub's rate limit for the integration's token is spent until %s", step.retryAt.UTC().Format(time.RFC3339)))
	} else {
		apimeta.RemoveStatusCondition(&obj.Status.Conditions, hookv1.ConditionRateLimited)
	}
	interval := hookv1.DefaultInterval
	if gi != nil {
		interval = gi.GetInterval()
	}
	return handleStepFailure(ctx, issueConditions(obj), func(reason, message string) { r.warn(obj, reason, message) }, interval, err)
}

// explainIssueFailure turns GitHub's answer into the reason and message
// users see. Messages name the Secret key of the token, never the token.
func explainIssueFailure(obj *hookv1.GitHubIssue, gi *hookv1.GitHubIntegration, sec *integrationSecret, err error) error {
	var step *stepError
	if errors.As(err, &step) || gi == nil || sec == nil {
		return err
	}
	e := ghclient.Classify(err)
	if e == nil {
		return err
	}
	repo, creds := obj.Spec.Repository, sec.credentials()
	access := accessHint(ghclient.RepositoryIssueAccess, sec)
	switch e.Kind {
	case ghclient.Unauthorized:
		return &stepError{reason: hookv1.ReasonUnauthorized, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: GitHub refused %s (%s): issues need %s", repo, creds, e.Error(), access)}
	case ghclient.NotFound:
		return &stepError{reason: hookv1.ReasonIssueNotFound, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: not found: the repository (or issue #%d) does not exist, or %s cannot see it or lacks %s",
			repo, obj.Status.Number, creds, access)}
	case ghclient.Invalid:
		return &stepError{reason: hookv1.ReasonInvalid, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: GitHub rejected the issue: %s", repo, e.Message)}
	case ghclient.RateLimited:
		return rateLimitedStep(e, sec, ", without creating the issue twice")
	}
	return &stepError{reason: hookv1.ReasonGitHubUnavailable, err: e, message: fmt.Sprintf(
		"%s: %s; retrying with backoff", repo, e.Error())}
}
