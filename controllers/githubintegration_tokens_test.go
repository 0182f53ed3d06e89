package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
)

// TestOldTokenClientsAreForgotten: when an integration's token changes, the
// factory drops the old token's client once no integration uses it, and
// keeps it while another one does.
func TestOldTokenClientsAreForgotten(t *testing.T) {
	const api = "https://github.example.com/api/v3/"
	f := ghclient.NewFactory()
	r := &GitHubIntegrationReconciler{Deps: Deps{GitHub: f}}
	obj := func(name string) *hookv1.GitHubIntegration {
		return &hookv1.GitHubIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name},
			Spec: hookv1.GitHubIntegrationSpec{GitHub: &hookv1.GitHubServer{URL: api}}}
	}
	oldToken, newToken := ghclient.Credentials{Token: "ghp_old_token"}, ghclient.Credentials{Token: "ghp_new_token"}
	client := func(c ghclient.Credentials) *ghclient.Client {
		t.Helper()
		gh, err := f.Client(api, c)
		if err != nil {
			t.Fatal(err)
		}
		return gh
	}

	shared := client(oldToken)
	r.rememberToken(obj("a"), oldToken)
	r.rememberToken(obj("b"), oldToken)
	r.rememberToken(obj("a"), newToken)
	if client(oldToken) != shared {
		t.Fatal("the old token's client was dropped while integration b still uses it")
	}
	r.rememberToken(obj("b"), newToken)
	if client(oldToken) == shared {
		t.Fatal("the old token's client is still kept after no integration uses it")
	}
	kept := client(newToken)
	r.forgetIntegration(types.NamespacedName{Namespace: "team-a", Name: "a"})
	if client(newToken) != kept {
		t.Fatal("the new token's client was dropped while integration b still uses it")
	}
	r.forgetIntegration(types.NamespacedName{Namespace: "team-a", Name: "b"})
	if client(newToken) == kept {
		t.Fatal("the client of a deleted integration's token is still kept")
	}
}
