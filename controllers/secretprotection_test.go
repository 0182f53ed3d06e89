package controllers

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// userSecret reads a Secret as a user would; nil when it is gone.
func (h *harness) userSecret(name string) *corev1.Secret {
	h.t.Helper()
	s := &corev1.Secret{}
	err := h.read(name, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// waitProtected waits until the Secret carries the protection finalizer, or
// (want false) until it no longer does.
func (h *harness) waitProtected(name string, want bool) {
	h.t.Helper()
	h.waitSecretHas(name, "finalizer "+hookv1.SecretProtectionFinalizer, want, func(s *corev1.Secret) bool {
		return slices.Contains(s.Finalizers, hookv1.SecretProtectionFinalizer)
	})
}

// waitSecretHas waits until has(Secret) is want; the Secret must exist
// throughout.
func (h *harness) waitSecretHas(name, what string, want bool, has func(*corev1.Secret) bool) {
	h.t.Helper()
	h.eventually(10*time.Second, func() error {
		s := h.userSecret(name)
		if s == nil {
			return fmt.Errorf("Secret %s is gone", name)
		}
		if got := has(s); got != want {
			return fmt.Errorf("Secret %s (labels %v, finalizers %v) has %s: %t, want %t", name, s.Labels, s.Finalizers, what, got, want)
		}
		return nil
	})
}

// kubectl delete -f of a file with both the integration and its Secret: the
// Secret is kept until the hooks are removed with its token, then both go,
// whichever of the two Delete calls comes first.
func TestIntegrationAndSecretDeletedTogether(t *testing.T) {
	for _, secretFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("secret first %t", secretFirst), func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			const name = "both"
			h.withSecret(name)
			gi := h.integration(name, []string{"acme/api", "acme/web"})
			h.waitReady(name)
			h.waitProtected(name, true)
			if n := len(h.simHooks("acme/api")) + len(h.simHooks("acme/web")); n != 2 {
				t.Fatalf("%d hooks before deletion, want 2", n)
			}

			deletes := []client.Object{gi, &corev1.Secret{ObjectMeta: gi.ObjectMeta}}
			if secretFirst {
				slices.Reverse(deletes)
			}
			for _, o := range deletes {
				if err := env.Client.Delete(h.ctx, o); err != nil {
					t.Fatal(err)
				}
			}
			h.eventually(20*time.Second, func() error {
				hooks := len(h.simHooks("acme/api")) + len(h.simHooks("acme/web"))
				err := env.Client.Get(h.ctx, client.ObjectKeyFromObject(gi), &hookv1.GitHubIntegration{})
				secret := h.userSecret(name)
				if hooks != 0 || !apierrors.IsNotFound(err) || secret != nil {
					return fmt.Errorf("%d hooks left on GitHub, integration: %w, Secret still there: %t", hooks, err, secret != nil)
				}
				return nil
			})
			if n := len(h.recorder.find(name, hookv1.EventHookDeleted)); n != 2 {
				t.Errorf("%d HookDeleted events, want 2", n)
			}
		})
	}
}

// The finalizer stays while any integration with deletionPolicy Delete
// references the Secret, and goes when none does: another Secret named,
// policy Orphan, integration deleted. The Secret itself is never deleted.
func TestSecretProtectionFollowsWhoNeedsTheSecret(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.withSecret("shared")
	h.withSecret("own")
	h.integration("first", []string{"acme/api"}, func(gi *hookv1.GitHubIntegration) { gi.Spec.SecretRef.Name = "shared" })
	h.integration("second", []string{"acme/web"}, func(gi *hookv1.GitHubIntegration) { gi.Spec.SecretRef.Name = "shared" })
	h.waitReady("first")
	h.waitReady("second")
	h.waitProtected("shared", true)
	before := h.userSecret("shared")

	h.update("first", func(gi *hookv1.GitHubIntegration) { gi.Spec.DeletionPolicy = hookv1.DeletionPolicyOrphan })
	h.waitReady("first")
	h.waitProtected("shared", true) // second still needs it

	h.update("second", func(gi *hookv1.GitHubIntegration) { gi.Spec.SecretRef.Name = "own" })
	h.waitReady("second")
	h.waitProtected("own", true)
	h.waitProtected("shared", false) // first is Orphan, second moved on

	after := h.userSecret("shared")
	if string(after.Data["token"]) != string(before.Data["token"]) || string(after.Data["webhook_secret"]) != string(before.Data["webhook_secret"]) ||
		len(after.Data) != len(before.Data) {
		t.Error("the data of the user's Secret changed")
	}

	if err := env.Client.Delete(h.ctx, h.get("second")); err != nil {
		t.Fatal(err)
	}
	h.waitProtected("own", false)
	if hooks := h.simHooks("acme/web"); len(hooks) != 0 {
		t.Errorf("%d hooks left on acme/web after deletion", len(hooks))
	}
}

// With deletionPolicy Orphan the Secret is not needed to delete anything:
// it is never protected.
func TestOrphanPolicyLeavesTheSecretUnprotected(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.withSecret("loose")
	h.integration("loose", []string{"acme/api"}, func(gi *hookv1.GitHubIntegration) { gi.Spec.DeletionPolicy = hookv1.DeletionPolicyOrphan })
	h.waitReady("loose")
	h.poke("loose")
	h.waitReady("loose")
	if s := h.userSecret("loose"); slices.Contains(s.Finalizers, hookv1.SecretProtectionFinalizer) {
		t.Errorf("Secret of an Orphan integration has finalizers %v", s.Finalizers)
	}
}

// waitLabelled waits until the Secret carries webhooksecret.ReferencedLabel,
// or (want false) until it no longer does.
func (h *harness) waitLabelled(name string, want bool) {
	h.t.Helper()
	h.waitSecretHas(name, "label "+webhooksecret.ReferencedLabel, want, func(s *corev1.Secret) bool { return webhooksecret.IsReferenced(s) })
}

// hookwarden caches only the Secrets it labels: every Secret an integration
// references, whatever its deletionPolicy and suspended or not, and its own;
// a Secret loses the label once no integration references it, and is never
// deleted for it. Other Secrets are never touched.
func TestReferencedSecretsAreLabelledWhileReferenced(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, name := range []string{"shared", "loose", "paused"} {
		h.withSecret(name)
	}
	h.secret("unrelated", map[string]string{"password": "not hookwarden's"})
	h.integration("first", []string{"acme/api"}, func(gi *hookv1.GitHubIntegration) { gi.Spec.SecretRef.Name = "shared" })
	h.integration("loose", []string{"acme/web"}, func(gi *hookv1.GitHubIntegration) { gi.Spec.DeletionPolicy = hookv1.DeletionPolicyOrphan })
	h.integration("paused", []string{"acme/api"}, func(gi *hookv1.GitHubIntegration) { gi.Spec.Suspend = true })
	h.waitReady("first")
	h.waitReady("loose")
	for _, name := range []string{"shared", "loose", "paused", webhooksecret.AppliedName("first"), webhooksecret.AppliedName("loose")} {
		h.waitLabelled(name, true)
	}
	h.waitProtected("loose", false)
	if s := h.userSecret("unrelated"); len(s.Labels) != 0 || len(s.Finalizers) != 0 {
		t.Errorf("an unrelated Secret got labels %v and finalizers %v", s.Labels, s.Finalizers)
	}

	// An Orphan integration moves to the shared Secret: its old one is
	// unlabelled, and stays.
	h.update("loose", func(gi *hookv1.GitHubIntegration) { gi.Spec.SecretRef.Name = "shared" })
	h.waitReady("loose")
	h.waitLabelled("loose", false)

	// The Delete integration goes: the shared Secret loses the finalizer
	// but keeps the label while the Orphan one references it.
	h.deleteAndWaitGone("first", 20*time.Second)
	h.waitProtected("shared", false)
	h.waitLabelled("shared", true)

	h.deleteAndWaitGone("loose", 20*time.Second)
	h.waitLabelled("shared", false)
	h.waitLabelled("paused", true)
}
