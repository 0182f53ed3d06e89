package controllers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
)

// targetFailure is one target's failed step.
type targetFailure struct {
	target string
	err    *ghclient.Error
	// step is set when the failure is not GitHub's (e.g. a malformed name).
	step *stepError
}

func newTargetFailure(target string, err error) targetFailure {
	var step *stepError
	if errors.As(err, &step) {
		return targetFailure{target: target, step: step, err: &ghclient.Error{Kind: ghclient.Invalid, Message: step.message, RetryAt: step.retryAt}}
	}
	return targetFailure{target: target, err: ghclient.Classify(err)}
}

// explain turns a failure into the reason and message users see. Messages
// name the Secret keys of the credentials, never their values.
func (f targetFailure) explain(obj *hookv1.GitHubIntegration, sec *integrationSecret) *stepError {
	if f.step != nil {
		return f.step
	}
	e := f.err
	creds := sec.credentials()
	access := accessHint(ghclient.AccessFor(f.target), sec)
	switch {
	case e.Installation && e.Kind == ghclient.Unauthorized:
		return &stepError{reason: hookv1.ReasonUnauthorized, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: %s (GitHub answered %d) for %s: check that key %q holds the App's ID and key %q a private key of that App",
			f.target, e.Message, e.StatusCode, creds, appIDKey, privateKeyKey)}
	case e.Installation && e.Kind == ghclient.NotFound:
		return &stepError{reason: hookv1.ReasonUnauthorized, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: %s (GitHub answered 404) for %s: check key %q, and that the App is installed on the account",
			f.target, e.Message, creds, installationIDKey)}
	case e.Kind == ghclient.Untrusted:
		return &stepError{reason: hookv1.ReasonUntrustedCertificate, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: %s; for a GitHub Enterprise Server with a private CA, put the CA's certificate (PEM) under key %q of Secret %q",
			f.target, e.Message, caKey, sec.secretName)}
	case e.Kind == ghclient.Unauthorized:
		return &stepError{reason: hookv1.ReasonUnauthorized, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: GitHub refused %s (%s): it needs %s", f.target, creds, e.Error(), access)}
	case e.Kind == ghclient.NotFound:
		return &stepError{reason: hookv1.ReasonTargetNotFound, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: %s not found: it does not exist, or %s cannot see it or lacks %s",
			f.target, ghclient.TargetKind(f.target), creds, access)}
	case e.HookLimit:
		return &stepError{reason: hookv1.ReasonHookLimitReached, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: GitHub allows at most 20 hooks per event on one %s and refused one more (%s): remove a hook there, or cover the repositories with one organization hook (spec.organization) or a GitHub App's webhook (spec.app)",
			f.target, ghclient.TargetKind(f.target), e.Message)}
	case e.Kind == ghclient.Invalid:
		return &stepError{reason: hookv1.ReasonInvalid, stalled: true, retryOnInterval: true, err: e, message: fmt.Sprintf(
			"%s: GitHub rejected the hook: %s", f.target, e.Message)}
	case e.Kind == ghclient.RateLimited:
		return rateLimitedStep(e, sec, "")
	}
	return &stepError{reason: hookv1.ReasonGitHubUnavailable, err: e, message: fmt.Sprintf(
		"%s: %s; retrying with backoff", f.target, e.Error())}
}

// accessHint is what the credentials need, in the words of their kind: an
// App installation needs a permission, a token a scope or permission.
func accessHint(a ghclient.Access, sec *integrationSecret) string {
	if sec.creds.IsApp() && a.Permission != "" {
		return fmt.Sprintf("the %q permission on the App's installation", a.Permission)
	}
	return a.String()
}

// rateLimitedStep is the wait for a spent rate limit of the credentials in
// the Secret, with what hookwarden does then (note, after "resumes then").
func rateLimitedStep(e *ghclient.Error, sec *integrationSecret, note string) *stepError {
	kind := "rate limit"
	if e.Secondary {
		kind = "secondary rate limit"
	}
	return &stepError{reason: hookv1.ReasonRateLimited, retryAt: e.RetryAt, err: e, message: fmt.Sprintf(
		"GitHub's %s for %s is spent until %s; hookwarden resumes then%s",
		kind, sec.credentials(), e.RetryAt.UTC().Format(time.RFC3339), note)}
}

// summarizeFailures merges the failures of several targets into the one
// error Ready shows. Waiting or retrying wins over stalling: a rate limit or
// an outage must not be hidden behind a target the user has to fix.
func summarizeFailures(obj *hookv1.GitHubIntegration, sec *integrationSecret, failures []targetFailure) *stepError {
	explained := make([]*stepError, len(failures))
	for i, f := range failures {
		explained[i] = f.explain(obj, sec)
	}
	lead := explained[0]
	for _, e := range explained[1:] {
		if urgency(e) > urgency(lead) {
			lead = e
		}
	}
	messages := make([]string, 0, len(explained))
	seen := map[string]bool{}
	for _, e := range explained {
		if !seen[e.message] {
			seen[e.message] = true
			messages = append(messages, e.message)
		}
	}
	message := strings.Join(messages, "; ")
	if total := len(obj.Targets()); total > 1 {
		var names []string
		for _, f := range failures {
			names = append(names, f.target)
		}
		message = fmt.Sprintf("%d of %d targets failed (%s): %s", len(failures), total, strings.Join(names, ", "), message)
	}
	out := *lead
	out.message = message
	return &out
}

// urgency orders failures for the summary: an outage (retry with backoff)
// before a rate limit (wait for the reset) before a stall.
func urgency(e *stepError) int {
	switch {
	case e.stalled:
		return 0
	case !e.retryAt.IsZero():
		return 1
	}
	return 2
}
