package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// TestSecretWatchIgnoresOwnBookkeeping holds the integration's Secret watch
// to what it must pass: a change of data (a rotation), the removal of
// hookwarden's marks and deletion wake the integration; hookwarden's own
// labelling, protection and creations do not.
func TestSecretWatchIgnoresOwnBookkeeping(t *testing.T) {
	secret := func(rv string, labels map[string]string, finalizers ...string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: "team", ResourceVersion: rv,
			Labels: labels, Finalizers: finalizers}}
	}
	marked := map[string]string{webhooksecret.ReferencedLabel: webhooksecret.ReferencedValue, "team": "a"}
	plain := map[string]string{"team": "a"}
	now := metav1.Now()
	deleting := secret("3", marked, hookv1.SecretProtectionFinalizer)
	deleting.DeletionTimestamp = &now
	annotated := secret("2", marked, hookv1.SecretProtectionFinalizer)
	annotated.Annotations = map[string]string{"note": "x"}

	cases := []struct {
		name     string
		old, new *corev1.Secret
		wakes    bool
	}{
		{"data changed (only the resourceVersion moves)", secret("1", marked), secret("2", marked), true},
		{"protection finalizer added", secret("1", marked), secret("2", marked, hookv1.SecretProtectionFinalizer), false},
		{"label and finalizer added", secret("1", plain), secret("2", marked, hookv1.SecretProtectionFinalizer), false},
		{"protection finalizer removed", secret("1", marked, hookv1.SecretProtectionFinalizer), secret("2", marked), true},
		{"label removed", secret("1", marked), secret("2", plain), true},
		{"label set to another value", secret("1", plain), secret("2", map[string]string{webhooksecret.ReferencedLabel: "no", "team": "a"}), true},
		{"finalizer added with another label change", secret("1", marked), secret("2", map[string]string{webhooksecret.ReferencedLabel: "true", "team": "b"}, hookv1.SecretProtectionFinalizer), true},
		{"finalizer added with an annotation", secret("1", marked), annotated, true},
		{"deletion started", secret("2", marked, hookv1.SecretProtectionFinalizer), deleting, true},
	}
	p := notOwnSecretBookkeeping()
	for _, c := range cases {
		if got := p.Update(event.UpdateEvent{ObjectOld: c.old, ObjectNew: c.new}); got != c.wakes {
			t.Errorf("%s: wakes the integration = %v, want %v", c.name, got, c.wakes)
		}
	}
	if p.Create(event.CreateEvent{Object: secret("1", marked)}) {
		t.Error("a labelled Secret appearing in the watch wakes the integration; only hookwarden's own writes make one appear")
	}
	if !p.Delete(event.DeleteEvent{Object: secret("1", marked)}) {
		t.Error("a deleted Secret does not wake the integration")
	}
}
