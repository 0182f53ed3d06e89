package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/secrets"
)

// Secret keys of GitHub App authentication, recognised to give a clear
// message until App authentication is supported.
const (
	appIDKey          = "app_id"
	installationIDKey = "installation_id"
	privateKeyKey     = "private_key"
)

// integrationSecret is what the referenced Secret provides.
type integrationSecret struct {
	// tokenKey names the key the token came from, for error messages.
	tokenKey string
	creds    ghclient.Credentials
	// webhookSecret signs deliveries; sent to GitHub only when a hook is
	// created or its fingerprint changed.
	webhookSecret string
	fingerprint   string
}

// reconcileSecret reads the referenced Secret on every reconcile (Secrets
// are not cached), checks its keys and records the webhook secret's
// fingerprint. Rotation with a grace period builds on this step.
func (r *GitHubIntegrationReconciler) reconcileSecret(ctx context.Context, obj *hookv1.GitHubIntegration) (*integrationSecret, error) {
	ref := obj.Spec.SecretRef
	tokenKey := defaulted(ref.TokenKey, "token")
	webhookKey := defaulted(ref.WebhookSecretKey, "webhook_secret")

	var secret corev1.Secret
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, stalledError(hookv1.ReasonSecretNotFound,
				fmt.Sprintf("Secret %q not found in namespace %q: create it with the keys %q and %q", ref.Name, obj.Namespace, tokenKey, webhookKey))
		}
		return nil, fmt.Errorf("get Secret %q: %w", ref.Name, err)
	}

	token, ok := secret.Data[tokenKey]
	if !ok || len(token) == 0 {
		if _, hasApp := secret.Data[appIDKey]; hasApp {
			return nil, stalledError(hookv1.ReasonNotSupported,
				fmt.Sprintf("Secret %q holds GitHub App credentials (%s, %s, %s): App authentication is not supported yet; set key %q to a token",
					ref.Name, appIDKey, installationIDKey, privateKeyKey, tokenKey))
		}
		what := "has no key"
		if ok {
			what = "has an empty key"
		}
		return nil, stalledError(hookv1.ReasonInvalidSecret,
			fmt.Sprintf("Secret %q %s %q: set it to a GitHub token with %s", ref.Name, what, tokenKey, ghclient.RepositoryHookAccess))
	}
	webhookSecret, ok := secret.Data[webhookKey]
	if !ok {
		return nil, stalledError(hookv1.ReasonInvalidSecret,
			fmt.Sprintf("Secret %q has no key %q: set it to a random string of at least %d characters", ref.Name, webhookKey, secrets.MinWebhookSecretLength))
	}
	if err := secrets.ValidateWebhookSecret(webhookKey, webhookSecret); err != nil {
		return nil, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf("Secret %q: %v", ref.Name, err))
	}

	fingerprint := secrets.Fingerprint(webhookSecret, string(obj.UID))
	if obj.Status.WebhookSecret == nil {
		obj.Status.WebhookSecret = &hookv1.WebhookSecretStatus{}
	}
	obj.Status.WebhookSecret.Fingerprint = fingerprint
	return &integrationSecret{
		tokenKey:      tokenKey,
		creds:         ghclient.Credentials{Token: string(token)},
		webhookSecret: string(webhookSecret),
		fingerprint:   fingerprint,
	}, nil
}

func defaulted(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
