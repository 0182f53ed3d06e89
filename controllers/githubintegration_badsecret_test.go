package controllers

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// appliedUntouched fails the test when the applied Secret changed since
// before, or when the hook on GitHub no longer carries the secret it had.
func (h *harness) appliedUntouched(name string, before *corev1.Secret) {
	h.t.Helper()
	after := h.ownedSecret(webhooksecret.AppliedName(name))
	if after.UID != before.UID || after.ResourceVersion != before.ResourceVersion ||
		string(after.Data[webhooksecret.Key]) != string(before.Data[webhooksecret.Key]) {
		h.t.Errorf("the applied Secret changed while the user's Secret was unusable")
	}
	if hooks := h.simHooks("acme/api"); len(hooks) != 1 || hooks[0].Config.Secret != testWebhookSecret {
		h.t.Errorf("the hook on GitHub no longer carries the applied secret")
	}
}

// A webhook secret too short, typed into the user's Secret, stalls the
// integration with a message that says what to fix and that deliveries
// signed with the secret the hooks carry are still accepted; the applied
// Secret the receiver reads it from is left alone.
func TestInvalidWebhookSecretKeepsTheAppliedSecret(t *testing.T) {
	const name = "typo"
	h := readyOnAPI(t, name)
	before := h.ownedSecret(webhooksecret.AppliedName(name))

	h.eventually(5*time.Second, func() error {
		s := h.ownedSecret(name)
		s.Data["webhook_secret"] = []byte("too-short")
		return env.Client.Update(h.ctx, s)
	})
	gi := h.waitCondition(name, hookv1.ConditionStalled, metav1.ConditionTrue, hookv1.ReasonInvalidSecret, 10*time.Second)
	msg := condition(gi, hookv1.ConditionReady).Message
	fingerprint := webhooksecret.Fingerprint([]byte(testWebhookSecret), string(gi.UID))
	if err := contains(msg, `key "webhook_secret"`, fmt.Sprint(webhooksecret.MinWebhookSecretLength), "still accepted",
		fingerprint, webhooksecret.AppliedName(name)); err != nil {
		t.Error(err)
	}
	if err := contains(msg, "too-short"); err == nil {
		t.Error("the condition message shows the secret's value")
	}
	h.poke(name) // a later reconcile changes nothing either
	time.Sleep(500 * time.Millisecond)
	h.appliedUntouched(name, before)
	if s := h.userSecret(webhooksecret.PreviousName(name)); s != nil {
		t.Error("a rotation started towards the invalid secret")
	}
}

// The user's Secret deleted by mistake (deletionPolicy Orphan: nothing
// protects it): SecretNotFound says to create it again and that deliveries
// are still accepted; the applied Secret is left alone.
func TestDeletedSecretKeepsTheAppliedSecret(t *testing.T) {
	const name = "oops"
	h := readyOnAPI(t, name, func(gi *hookv1.GitHubIntegration) { gi.Spec.DeletionPolicy = hookv1.DeletionPolicyOrphan })
	before := h.ownedSecret(webhooksecret.AppliedName(name))

	if err := env.Client.Delete(h.ctx, h.ownedSecret(name)); err != nil {
		t.Fatal(err)
	}
	gi := h.waitCondition(name, hookv1.ConditionStalled, metav1.ConditionTrue, hookv1.ReasonSecretNotFound, 10*time.Second)
	if err := contains(condition(gi, hookv1.ConditionReady).Message, "not found", "create it", "still accepted", webhooksecret.AppliedName(name)); err != nil {
		t.Error(err)
	}
	h.appliedUntouched(name, before)

	h.withSecret(name)
	h.waitReady(name)
	h.appliedUntouched(name, before)
}

// The user's Secret deleted by mistake while protected: it stays, the
// integration keeps working, and Ready says what happens and how to move
// to another Secret.
func TestTerminatingSecretIsUsedAndExplained(t *testing.T) {
	const name = "kept"
	h := readyOnAPI(t, name)
	h.waitProtected(name, true)
	before := h.ownedSecret(webhooksecret.AppliedName(name))

	if err := env.Client.Delete(h.ctx, h.ownedSecret(name)); err != nil {
		t.Fatal(err)
	}
	h.eventually(10*time.Second, func() error {
		gi := h.get(name)
		c := condition(gi, hookv1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready = %+v", c)
		}
		return contains(c.Message, "is being deleted", hookv1.SecretProtectionFinalizer, "spec.secretRef.name")
	})
	h.appliedUntouched(name, before)
}
