package main

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// Memory does not grow with unrelated Secrets (SPEC §4): the operator's
// caches hold the Secrets integrations reference and its own, none of the
// others of the namespace. A Secret created after its integration is still
// found, and a rotation of it still reaches the receiver.
func TestOperatorCachesOnlyTheSecretsItUses(t *testing.T) {
	e := newE2E(t, []string{"acme/api"})
	for i := range 3 {
		unrelated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%d", i), Namespace: e.ns},
			Data: map[string][]byte{"password": []byte("not hookwarden's")}}
		if err := e.env.Client.Create(e.ctx, unrelated); err != nil {
			t.Fatal(err)
		}
	}
	e.start()

	// The integration first, its Secret later, as an apply of a directory
	// in the wrong order would do.
	const name, first, second = "late", "first-webhook-secret-0123456789", "second-webhook-secret-0123456789"
	gi := &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:       hookv1.GitHubIntegrationSpec{Repositories: []string{"acme/api"}, SecretRef: hookv1.SecretReference{Name: name}},
	}
	if err := e.env.Client.Create(e.ctx, gi); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Data: map[string][]byte{"token": []byte(e2eToken), "webhook_secret": []byte(first)}}
	if err := e.env.Client.Create(e.ctx, secret); err != nil {
		t.Fatal(err)
	}
	e.waitReady(name, 1)
	e.eventually(20*time.Second, func() error {
		if code := e.deliver(name, first); code != http.StatusOK {
			return fmt.Errorf("a delivery signed with the secret got %d", code)
		}
		return nil
	})

	var cached metav1.PartialObjectMetadataList
	cached.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := e.mgr.GetCache().List(e.ctx, &cached, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range cached.Items {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	if want := []string{name, webhooksecret.AppliedName(name)}; !slices.Equal(names, want) {
		t.Errorf("the operator caches the Secrets %v, want only %v", names, want)
	}

	// A rotation by the user is seen through the labelled Secret: the hook
	// gets the new secret and the receiver accepts it.
	e.setWebhookSecret(name, second)
	e.eventually(60*time.Second, func() error {
		if got := e.hookSecrets("acme/api"); len(got) != 1 || got[0] != second {
			return fmt.Errorf("the hook does not carry the new secret yet")
		}
		if code := e.deliver(name, second); code != http.StatusOK {
			return fmt.Errorf("a delivery signed with the new secret got %d", code)
		}
		return nil
	})
}
