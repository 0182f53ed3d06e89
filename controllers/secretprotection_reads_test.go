package controllers

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// countingReader counts the reads that would go to the API server.
type countingReader struct {
	client.Reader
	gets atomic.Int32
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets.Add(1)
	return c.Reader.Get(ctx, key, obj, opts...)
}

// TestSecretProtectionReadsNoSecretWhileItIsNeeded: while an integration
// in the cache needs its Secret, the controller that releases Secrets
// reads nothing from the API server (every integration's creation and
// every label hookwarden adds wakes it); once none needs it, it reads the
// Secret and releases it.
func TestSecretProtectionReadsNoSecretWhileItIsNeeded(t *testing.T) {
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "creds",
		Labels:     map[string]string{webhooksecret.ReferencedLabel: webhooksecret.ReferencedValue},
		Finalizers: []string{hookv1.SecretProtectionFinalizer}}}
	gi := &hookv1.GitHubIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "hooks"},
		Spec: hookv1.GitHubIntegrationSpec{Repositories: []string{"acme/api"}, SecretRef: hookv1.SecretReference{Name: "creds"}}}
	c := fake.NewClientBuilder().WithScheme(testenv.NewScheme()).WithObjects(secret, gi).
		WithIndex(&hookv1.GitHubIntegration{}, webhooksecret.SecretRefNameField, webhooksecret.SecretRefName).Build()
	reads := &countingReader{Reader: c}
	p := &secretProtectionReconciler{Client: c, APIReader: reads}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team", Name: "creds"}}
	// reconcile runs the controller once and returns the Secret after it
	// and the reads from the API server so far.
	reconcile := func() (*corev1.Secret, int32) {
		t.Helper()
		if _, err := p.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
		after := &corev1.Secret{}
		if err := c.Get(ctx, req.NamespacedName, after); err != nil {
			t.Fatal(err)
		}
		return after, reads.gets.Load()
	}

	kept, n := reconcile()
	if n != 0 {
		t.Errorf("%d reads from the API server while an integration needs the Secret, want 0", n)
	}
	if !slices.Contains(kept.Finalizers, hookv1.SecretProtectionFinalizer) || !webhooksecret.IsReferenced(kept) {
		t.Errorf("the Secret lost its protection or label while referenced: finalizers %v, labels %v", kept.Finalizers, kept.Labels)
	}

	if err := c.Delete(ctx, gi); err != nil {
		t.Fatal(err)
	}
	released, n := reconcile()
	if n != 1 {
		t.Errorf("%d reads from the API server once no integration needs the Secret, want 1 (to act on it)", n)
	}
	if slices.Contains(released.Finalizers, hookv1.SecretProtectionFinalizer) || webhooksecret.IsReferenced(released) {
		t.Errorf("the Secret is still protected or labelled with no integration left: finalizers %v, labels %v", released.Finalizers, released.Labels)
	}
}

// TestClaimSecretNotesItsPatch: the label and finalizer claimSecret adds
// are told to the receiver of the same process as a change of metadata
// only, from the version read to the version written.
func TestClaimSecretNotesItsPatch(t *testing.T) {
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "creds"},
		Data: map[string][]byte{"webhook_secret": []byte("the-webhook-secret-0123456789abcdef")}}
	c := fake.NewClientBuilder().WithScheme(testenv.NewScheme()).WithObjects(secret).Build()
	patches := webhooksecret.NewOwnPatches()
	r := &GitHubIntegrationReconciler{Deps: Deps{Client: c, APIReader: c}, SecretPatches: patches}
	read := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(secret), read); err != nil {
		t.Fatal(err)
	}
	before := read.ResourceVersion
	if err := r.claimSecret(ctx, read, true); err != nil {
		t.Fatal(err)
	}
	after := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(secret), after); err != nil {
		t.Fatal(err)
	}
	if !webhooksecret.IsReferenced(after) || after.ResourceVersion == before {
		t.Fatalf("the Secret was not labelled: %+v", after.ObjectMeta)
	}
	if !patches.SameData(client.ObjectKeyFromObject(secret), webhooksecret.ParseVersion(before), webhooksecret.ParseVersion(after.ResourceVersion)) {
		t.Errorf("the patch from version %s to %s was not noted", before, after.ResourceVersion)
	}
}
