package controllers

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/metrics"
)

// rememberToken records the token an integration uses now and drops the
// client of the token it used before when nobody else uses it.
func (r *GitHubIntegrationReconciler) rememberToken(obj *hookv1.GitHubIntegration, creds ghclient.Credentials) {
	r.swapToken(client.ObjectKeyFromObject(obj), &tokenUse{apiURL: r.apiURL(obj), creds: creds})
}

// forgetIntegration drops what the reconciler remembers of an integration
// that went away, its metric series included.
func (r *GitHubIntegrationReconciler) forgetIntegration(key types.NamespacedName) {
	r.swapToken(key, nil)
	r.redeliveries.forgetIntegration(key)
	r.written.forget(key)
	metrics.ForgetReconciled(key.Namespace, key.Name)
}

func (r *GitHubIntegrationReconciler) swapToken(key types.NamespacedName, use *tokenUse) {
	t := &r.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == nil {
		t.users = map[types.NamespacedName]tokenUse{}
	}
	old, had := t.users[key]
	if use != nil {
		t.users[key] = *use
	} else {
		delete(t.users, key)
	}
	if !had || (use != nil && old == *use) {
		return
	}
	for _, u := range t.users {
		if u == old {
			return
		}
	}
	if r.GitHub != nil {
		r.GitHub.Forget(old.apiURL, old.creds)
	}
}

// apiURL is spec.github.url or the operator's default.
func (r *GitHubIntegrationReconciler) apiURL(obj *hookv1.GitHubIntegration) string {
	return githubAPIURL(obj, r.DefaultGitHubURL)
}

// githubAPIURL is the integration's spec.github.url, or defaultURL (the
// operator's --github-url), or GitHub's.
func githubAPIURL(obj *hookv1.GitHubIntegration, defaultURL string) string {
	if obj.Spec.GitHub != nil && obj.Spec.GitHub.URL != "" {
		return obj.Spec.GitHub.URL
	}
	return defaulted(defaultURL, ghclient.DefaultURL)
}

// githubClient is the shared GitHub client of the integration's GitHub
// server and credentials, which every step that calls GitHub uses.
func (r *GitHubIntegrationReconciler) githubClient(obj *hookv1.GitHubIntegration, sec *integrationSecret) (*ghclient.Client, error) {
	gh, err := r.GitHub.Client(r.apiURL(obj), sec.creds)
	switch {
	case errors.Is(err, ghclient.ErrMalformedPrivateKey):
		return nil, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf("Secret %q: key %q is %v", sec.secretName, privateKeyKey, err))
	case errors.Is(err, ghclient.ErrMalformedCA):
		return nil, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf("Secret %q: key %q %v: set it to the PEM certificate of the CA that signed the GitHub server's certificate", sec.secretName, caKey, err))
	case err != nil:
		return nil, stalledError(hookv1.ReasonInvalid, err.Error())
	}
	return gh, nil
}
