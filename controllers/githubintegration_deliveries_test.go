package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// The redelivery count is added to the value on the API server, not to a
// cached copy that may not show this reconciler's previous write yet.
func TestRedeliveredCountIsNotLostToAStaleCache(t *testing.T) {
	ctx := context.Background()
	ns, err := env.Namespace(ctx, "redelivered")
	if err != nil {
		t.Fatal(err)
	}
	gi := &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "experiments"},
		Spec: hookv1.GitHubIntegrationSpec{
			Repositories: []string{"acme/api"},
			SecretRef:    hookv1.SecretReference{Name: "github"},
		},
	}
	if err := env.Client.Create(ctx, gi); err != nil {
		t.Fatal(err)
	}
	stale := gi.DeepCopy() // what a lagging cache still shows: nothing redelivered
	written := gi.DeepCopy()
	written.Status.Deliveries.Redelivered = 5
	if err := env.Client.Status().Patch(ctx, written, client.MergeFrom(gi)); err != nil {
		t.Fatal(err)
	}

	r := &GitHubIntegrationReconciler{APIReader: env.Client}
	r.refreshRedeliveredCount(ctx, stale)
	if got := stale.Status.Deliveries.Redelivered; got != 5 {
		t.Fatalf("redelivered = %d after refreshing, want the 5 already written", got)
	}
}
