package controllers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	gogithub "github.com/google/go-github/v60/github"
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

// The reconcile that creates a hook reads no delivery log (GitHub attempted
// nothing on the hook before), and sets the hook's checkpoint at its
// creation; the next pass reads the log back to there and redelivers what
// failed after it.
func TestNewHookStartsItsCheckpointAtItsCreation(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}})
	h.withSecret("fresh")
	h.integration("fresh", []string{"acme/api"}, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Hour} // no pass but the ones asked for
	})
	gi := h.waitReady("fresh")
	hs, err := hookStatusOf(gi, "acme/api")
	if err != nil {
		t.Fatal(err)
	}
	hook, err := h.sim.Hook("acme/api", hs.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hs.DeliveriesCheckedTime == nil || !hs.DeliveriesCheckedTime.Time.Equal(hook.CreatedAt.Truncate(time.Second)) {
		t.Fatalf("deliveriesCheckedTime = %v, want the hook's creation %s", hs.DeliveriesCheckedTime, hook.CreatedAt.UTC().Format(time.RFC3339))
	}
	logReads := func() int {
		n := 0
		for _, rec := range h.sim.Requests() {
			if rec.Method == http.MethodGet && strings.HasSuffix(rec.Path, fmt.Sprintf("/hooks/%d/deliveries", hs.ID)) {
				n++
			}
		}
		return n
	}
	if n := logReads(); n != 0 {
		t.Fatalf("the hook's delivery log was read %d times by the reconcile that created it, want 0", n)
	}

	// A delivery fails after the creation; the next pass finds it from
	// the checkpoint: as the hook's newest attempt failed, it pings first,
	// and the pass after the ping's success redelivers it.
	h.receiverDown.Store(true)
	ds, err := h.sim.TriggerEvent("acme/api", "push", []byte(`{"ref":"refs/heads/main"}`))
	if err != nil || len(ds) != 1 || ds[0].OK() {
		t.Fatalf("TriggerEvent during the outage: %d deliveries, %v", len(ds), err)
	}
	h.receiverDown.Store(false)
	h.poke("fresh")
	h.eventually(15*time.Second, func() error {
		log, err := h.sim.Deliveries("acme/api", hs.ID)
		if err != nil {
			return err
		}
		if newest := log[len(log)-1]; newest.Event != "ping" || !newest.OK() || newest.GUID == log[0].GUID {
			return fmt.Errorf("no ping after the failed delivery yet; log %s", summarizeLog(log))
		}
		return nil
	})
	h.poke("fresh")
	h.waitRedelivered("acme/api", hs.ID, ds[0].GUID, 15*time.Second)
	if n := logReads(); n == 0 {
		t.Fatal("the pass that redelivered did not read the delivery log")
	}
}

// A created hook's checkpoint is GitHub's created_at; without it, the time
// the creation was sent, less the lag allowed for the two clocks.
func TestStartCheckpoint(t *testing.T) {
	sent := time.Date(2026, 12, 1, 12, 0, 30, 400_000_000, time.UTC)
	created := time.Date(2026, 12, 1, 12, 0, 31, 0, time.UTC)
	var hs hookv1.HookStatus
	startCheckpoint(&hs, &gogithub.Hook{CreatedAt: &gogithub.Timestamp{Time: created}}, sent)
	if hs.DeliveriesCheckedTime == nil || !hs.DeliveriesCheckedTime.Time.Equal(created) {
		t.Errorf("checkpoint %v, want GitHub's created_at %v", hs.DeliveriesCheckedTime, created)
	}
	hs = hookv1.HookStatus{}
	startCheckpoint(&hs, &gogithub.Hook{}, sent)
	if want := sent.Add(-checkpointLag).Truncate(time.Second); hs.DeliveriesCheckedTime == nil || !hs.DeliveriesCheckedTime.Time.Equal(want) {
		t.Errorf("checkpoint without created_at %v, want the time sent less checkpointLag %v", hs.DeliveriesCheckedTime, want)
	}
}
