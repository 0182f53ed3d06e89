package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
)

// The redelivery count is added to the value on the API server, not to a
// cached copy that may not show this reconciler's previous write yet.
func TestRedeliveredCountIsNotLostToAStaleCache(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "redelivered")
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

	r := &GitHubIntegrationReconciler{Deps: Deps{APIReader: env.Client}}
	r.refreshRedeliveredCount(ctx, stale)
	if got := stale.Status.Deliveries.Redelivered; got != 5 {
		t.Fatalf("redelivered = %d after refreshing, want the 5 already written", got)
	}
}

// A delivery GitHub got no answer for (status_code 0: the receiver was down)
// is redelivered once the receiver is back, although GitHub's status=failure
// filter never lists it.
func TestDeliveryWithoutAnAnswerIsRedelivered(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}})
	h.withSecret("outage")
	h.integration("outage", []string{"acme/api"}, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Second}
	})
	gi := h.waitReady("outage")
	hs, err := hookStatusOf(gi, "acme/api")
	if err != nil {
		t.Fatal(err)
	}

	h.receiverDown.Store(true)
	ds, err := h.sim.TriggerEvent("acme/api", "push", []byte(`{"ref":"refs/heads/main"}`))
	if err != nil || len(ds) != 1 {
		t.Fatalf("TriggerEvent: %d deliveries, %v", len(ds), err)
	}
	lost := ds[0]
	if lost.StatusCode != 0 || lost.OK() {
		t.Fatalf("the delivery during the outage got status_code %d (%s), want 0", lost.StatusCode, lost.Status)
	}
	h.receiverDown.Store(false)

	h.waitRedelivered("acme/api", hs.ID, lost.GUID, 15*time.Second)
	h.eventually(5*time.Second, func() error {
		if n := h.get("outage").Status.Deliveries.Redelivered; n < 1 {
			return fmt.Errorf("status.deliveries.redelivered = %d", n)
		}
		return nil
	})
	if evs := h.recorder.find("outage", hookv1.EventRedeliveryRequested); len(evs) == 0 {
		t.Error("no RedeliveryRequested event")
	}
}

// waitRedelivered waits until the delivery guid was redelivered to hook id
// of target (as the simulator names it) with success.
func (h *harness) waitRedelivered(target string, id int64, guid string, timeout time.Duration) {
	h.t.Helper()
	h.eventually(timeout, func() error {
		log, err := h.sim.Deliveries(target, id)
		if err != nil {
			return err
		}
		for _, d := range log {
			if d.GUID == guid && d.Redelivery && d.OK() {
				return nil
			}
		}
		return fmt.Errorf("delivery %s not redelivered yet; log %s", guid, summarizeLog(log))
	})
}

func summarizeLog(log []githubsim.Delivery) string {
	parts := make([]string, 0, len(log))
	for _, d := range log {
		parts = append(parts, fmt.Sprintf("%s/%s:%d(redelivery=%t)", d.Event, d.GUID[:8], d.StatusCode, d.Redelivery))
	}
	return strings.Join(parts, " ")
}
