package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// leftoverSecret is an operator-owned Secret as a GitHubIntegration that was
// just deleted leaves it: labelled, controlled by the old object's UID, not
// yet removed by the garbage collector.
func (h *harness) leftoverSecret(integration string, oldUID types.UID, name string, value string, annotations map[string]string) {
	h.t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: h.ns, Annotations: annotations,
			Labels: map[string]string{webhooksecret.ManagedByLabel: webhooksecret.ManagedByValue, webhooksecret.IntegrationLabel: integration},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: hookv1.GroupVersion.String(), Kind: "GitHubIntegration", Name: integration, UID: oldUID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{webhooksecret.Key: []byte(value)},
	}
	if err := env.Client.Create(h.ctx, s); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) ownedSecret(name string) *corev1.Secret {
	h.t.Helper()
	return mustRead(h, name, &corev1.Secret{})
}

// An integration deleted and created again under the same name, while the
// old object's Secrets are still there (kubectl replace --force, Argo CD's
// Replace), is Ready after its first reconcile, with one hook, and takes the
// old Secrets over with their content.
func TestRecreatedIntegrationAdoptsTheSecretsItsPredecessorLeft(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}})
	const name = "again"
	oldUID := types.UID(uuid.NewString())
	// What the old object left: its hook on GitHub (deletionPolicy Orphan),
	// carrying the applied secret, and its two Secrets, mid-grace period.
	if _, err := h.sim.SetHook("acme/api", githubsim.Hook{
		Active: true, Events: []string{"issues", "pull_request", "push"},
		Config: githubsim.HookConfig{URL: h.payloadURL(name), ContentType: "json", Secret: testWebhookSecret},
	}); err != nil {
		t.Fatal(err)
	}
	rotated := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	const olderSecret = "the-secret-before-the-last-rotation"
	h.leftoverSecret(name, oldUID, webhooksecret.AppliedName(name), testWebhookSecret, map[string]string{webhooksecret.RotatedAnnotation: rotated})
	h.leftoverSecret(name, oldUID, webhooksecret.PreviousName(name), olderSecret, map[string]string{webhooksecret.ExpiresAnnotation: expires})

	h.withSecret(name)
	h.integration(name, []string{"acme/api"})
	gi := h.waitReady(name)
	h.eventually(5*time.Second, func() error {
		if n := h.reconcilesToReady(name); n != 1 {
			return fmt.Errorf("Ready after %d reconciles, want the first", n)
		}
		return nil
	})

	hooks := h.simHooks("acme/api")
	if len(hooks) != 1 || hooks[0].Config.Secret != testWebhookSecret || hooks[0].Config.URL != h.payloadURL(name) {
		t.Fatalf("%d hooks on GitHub, want the one left behind, with the applied secret", len(hooks))
	}
	for _, secretName := range []string{webhooksecret.AppliedName(name), webhooksecret.PreviousName(name)} {
		s := h.ownedSecret(secretName)
		if !metav1.IsControlledBy(s, gi) {
			t.Errorf("Secret %s is controlled by %v, want the new integration %s", secretName, metav1.GetControllerOf(s), gi.UID)
		}
		for _, ref := range s.OwnerReferences {
			if ref.UID == oldUID {
				t.Errorf("Secret %s still names the deleted integration as owner", secretName)
			}
		}
	}
	applied := h.ownedSecret(webhooksecret.AppliedName(name))
	if string(applied.Data[webhooksecret.Key]) != testWebhookSecret || applied.Annotations[webhooksecret.RotatedAnnotation] != rotated {
		t.Error("the adopted applied Secret changed: its secret or rotated-at annotation differs")
	}
	previous := h.ownedSecret(webhooksecret.PreviousName(name))
	if string(previous.Data[webhooksecret.Key]) != olderSecret || previous.Annotations[webhooksecret.ExpiresAnnotation] != expires {
		t.Error("the adopted previous Secret changed: its secret or expiry differs")
	}
	if ps := gi.Status.WebhookSecret; ps == nil || ps.PreviousExpiresTime == nil || ps.PreviousExpiresTime.UTC().Format(time.RFC3339) != expires {
		t.Errorf("status.webhookSecret = %+v, want the adopted previous secret's expiry %s", ps, expires)
	}
	if n := len(h.recorder.find(name, hookv1.EventSecretAdopted)); n != 2 {
		t.Errorf("%d SecretAdopted events, want 2", n)
	}
	if n := len(h.recorder.find(name, hookv1.ReasonInvalidSecret)); n != 0 {
		t.Errorf("%d InvalidSecret warnings on the way to Ready", n)
	}
}

// A recreated integration whose Secret now holds another webhook secret
// than the one its predecessor's hooks carry rotates to it safely: the
// carried secret stays accepted through the grace period.
func TestRecreatedIntegrationWithANewSecretRotates(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}})
	const name = "renewed"
	const carried = "the-secret-the-old-hooks-carry-0001"
	if _, err := h.sim.SetHook("acme/api", githubsim.Hook{
		Active: true, Events: []string{"push"},
		Config: githubsim.HookConfig{URL: h.payloadURL(name), ContentType: "json", Secret: carried},
	}); err != nil {
		t.Fatal(err)
	}
	h.leftoverSecret(name, types.UID(uuid.NewString()), webhooksecret.AppliedName(name), carried,
		map[string]string{webhooksecret.RotatedAnnotation: time.Now().UTC().Format(time.RFC3339)})
	h.withSecret(name)
	h.integration(name, []string{"acme/api"})
	gi := h.waitReady(name)

	hooks := h.simHooks("acme/api")
	if len(hooks) != 1 || hooks[0].Config.Secret != testWebhookSecret {
		t.Fatalf("%d hooks; want one carrying the new integration's secret", len(hooks))
	}
	previous := h.ownedSecret(webhooksecret.PreviousName(name))
	if string(previous.Data[webhooksecret.Key]) != carried || !metav1.IsControlledBy(previous, gi) {
		t.Error("the secret the old hooks carried is not kept as the previous secret for the grace period")
	}
	if string(h.ownedSecret(webhooksecret.AppliedName(name)).Data[webhooksecret.Key]) != testWebhookSecret {
		t.Error("the applied Secret does not hold the secret the hooks carry now")
	}
}

// A Secret under the name of an owned Secret that is not hookwarden's is
// refused with a message saying why and what to do; deleting it lets the
// integration continue without any other change.
func TestForeignSecretIsRefusedUntilDeleted(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}})
	const name = "crowded"
	h.secret(webhooksecret.AppliedName(name), map[string]string{"note": "someone else's"})
	h.withSecret(name)
	h.integration(name, []string{"acme/api"})
	gi := h.waitCondition(name, hookv1.ConditionStalled, metav1.ConditionTrue, hookv1.ReasonInvalidSecret, 20*time.Second)
	msg := condition(gi, hookv1.ConditionReady).Message
	if err := contains(msg, webhooksecret.AppliedName(name), "not hookwarden's", webhooksecret.ManagedByLabel, "delete or rename"); err != nil {
		t.Error(err)
	}
	if n := len(h.simHooks("acme/api")); n != 0 {
		t.Errorf("%d hooks created while the Secret is in the way", n)
	}
	foreign := h.ownedSecret(webhooksecret.AppliedName(name))
	if string(foreign.Data["note"]) != "someone else's" || len(foreign.OwnerReferences) != 0 {
		t.Error("the foreign Secret was changed")
	}

	if err := env.Client.Delete(h.ctx, foreign); err != nil {
		t.Fatal(err)
	}
	gi = h.waitReady(name)
	if n := len(h.simHooks("acme/api")); n != 1 {
		t.Errorf("%d hooks after the Secret was deleted, want 1", n)
	}
	if !metav1.IsControlledBy(h.ownedSecret(webhooksecret.AppliedName(name)), gi) {
		t.Error("the applied Secret was not created for the integration")
	}
}

// An owned Secret deleted by hand is written again at once: the receiver
// needs it.
func TestDeletedOwnedSecretIsRecreated(t *testing.T) {
	const name = "restore"
	h := readyOnAPI(t, name)
	applied := h.ownedSecret(webhooksecret.AppliedName(name))
	if err := env.Client.Delete(h.ctx, applied); err != nil {
		t.Fatal(err)
	}
	h.eventually(10*time.Second, func() error {
		s := &corev1.Secret{}
		err := h.read(applied.Name, s)
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Errorf("Secret %s not recreated", applied.Name)
		case err != nil:
			return err
		case s.UID == applied.UID:
			return fmt.Errorf("Secret %s not deleted yet", applied.Name)
		case string(s.Data[webhooksecret.Key]) != testWebhookSecret:
			return fmt.Errorf("Secret %s recreated with another secret", applied.Name)
		}
		return nil
	})
}

// The wait between the start of a rotation and the push of the new secret
// to the hooks is counted from the start, recorded on the previous Secret:
// the reconcile that writing that Secret wakes (it is watched) does not cut
// it short.
func TestRotationWaitsForThePropagationDelay(t *testing.T) {
	const name = "settle"
	h := readyOnAPI(t, name)

	const next = "the-next-webhook-secret-0123456789"
	changed := time.Now()
	h.eventually(5*time.Second, func() error {
		s := h.ownedSecret(name)
		s.Data["webhook_secret"] = []byte(next)
		return env.Client.Update(h.ctx, s)
	})
	var pushed time.Time
	h.eventually(20*time.Second, func() error {
		if hooks := h.simHooks("acme/api"); len(hooks) == 1 && hooks[0].Config.Secret == next {
			pushed = time.Now()
			return nil
		}
		return fmt.Errorf("the hook does not carry the new secret yet")
	})
	if early := changed.Add(DefaultSecretPropagationDelay).Sub(pushed); early > 0 {
		t.Errorf("the new secret reached the hook %s before the propagation delay (%s) had passed since the change", early, DefaultSecretPropagationDelay)
	}
	previous := h.ownedSecret(webhooksecret.PreviousName(name))
	if _, ok := webhooksecret.Time(previous, webhooksecret.SupersededAnnotation); !ok {
		t.Errorf("the previous Secret has no %s annotation", webhooksecret.SupersededAnnotation)
	}
}
