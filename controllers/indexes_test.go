package controllers

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

func TestSecretRefNameIndex(t *testing.T) {
	gi := &hookv1.GitHubIntegration{Spec: hookv1.GitHubIntegrationSpec{SecretRef: hookv1.SecretReference{Name: "github-experiments"}}}
	if got := SecretRefName(gi); !slices.Equal(got, []string{"github-experiments"}) {
		t.Errorf("SecretRefName = %v, want [github-experiments]", got)
	}
	if got := SecretRefName(&hookv1.GitHubIntegration{}); got != nil {
		t.Errorf("an integration without a Secret is indexed under %v", got)
	}
	if got := SecretRefName(&corev1.Secret{}); got != nil {
		t.Errorf("a Secret is indexed under %v", got)
	}
}
