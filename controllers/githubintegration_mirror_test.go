package controllers

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// TestSweepRemovesOrphanMirrors: a mirror whose integration no longer
// exists (deleted while hookwarden was down) is removed by the sweep; the
// mirror of a live integration, and a Secret that is not a mirror, stay.
func TestSweepRemovesOrphanMirrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := env.NewNamespace(t, "sweep")
	operatorNS := env.NewNamespace(t, "operator")
	gi := &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "live"},
		Spec:       hookv1.GitHubIntegrationSpec{Repositories: []string{"acme/api"}, SecretRef: hookv1.SecretReference{Name: "github"}, Suspend: true},
	}
	if err := env.Client.Create(ctx, gi); err != nil {
		t.Fatal(err)
	}
	live := webhooksecret.NewMirror(operatorNS, webhooksecret.Mirror{Integration: client.ObjectKeyFromObject(gi), UID: gi.UID,
		Current: []byte(testWebhookSecret), Applied: []byte(testWebhookSecret)})
	orphan := webhooksecret.NewMirror(operatorNS, webhooksecret.Mirror{Integration: client.ObjectKey{Namespace: ns, Name: "deleted"},
		UID: "0b9f3c52-5d1e-4c55-9a43-8d1f0c0e7a11", Current: []byte(testWebhookSecret), Applied: []byte(testWebhookSecret)})
	unrelated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: "unrelated"}}
	for _, s := range []*corev1.Secret{live, orphan, unrelated} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	r := &GitHubIntegrationReconciler{Deps: Deps{Client: env.Client, APIReader: env.Client}, MirrorNamespace: operatorNS}
	if err := r.sweepMirrors(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(orphan), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("the mirror of a deleted integration is still there (get: %v)", err)
	}
	for _, s := range []*corev1.Secret{live, unrelated} {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(s), &corev1.Secret{}); err != nil {
			t.Errorf("Secret %s was removed by the sweep: %v", s.Name, err)
		}
	}
}
