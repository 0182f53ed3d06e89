package indexes

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

func TestSecretRefName(t *testing.T) {
	gi := &hookv1.GitHubIntegration{Spec: hookv1.GitHubIntegrationSpec{SecretRef: hookv1.SecretReference{Name: "github-experiments"}}}
	if got := SecretRefName(gi); !reflect.DeepEqual(got, []string{"github-experiments"}) {
		t.Errorf("SecretRefName = %v, want [github-experiments]", got)
	}
	if got := SecretRefName(&hookv1.GitHubIntegration{}); got != nil {
		t.Errorf("SecretRefName without a secretRef = %v, want nil", got)
	}
	if got := SecretRefName(&corev1.Secret{}); got != nil {
		t.Errorf("SecretRefName of a Secret = %v, want nil", got)
	}
}
